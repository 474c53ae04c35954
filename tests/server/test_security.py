"""Issue 4 (3): every route needs the Jupyter login; POSTs need XSRF; no open redirect."""

from __future__ import annotations

import re
from typing import Any, Iterator
from urllib.parse import urlencode

import pytest
from tornado.routing import PathMatches, Rule
from tornado.web import RequestHandler

VERBS = ("get", "post", "put", "patch", "delete", "head")


def _walk(rules: list[Rule]) -> Iterator[Rule]:
    for rule in rules:
        yield rule
        nested = getattr(rule.target, "rules", None)
        if nested:
            yield from _walk(nested)


def drive_sync_routes(serverapp: Any) -> list[tuple[str, type[RequestHandler]]]:
    """Every route the web app would dispatch to one of our handlers (read from its router)."""
    found = []
    for rule in _walk(serverapp.web_app.default_router.rules):
        target = rule.target
        if isinstance(rule.matcher, PathMatches) and isinstance(target, type) \
                and issubclass(target, RequestHandler) and target.__module__.startswith("jupyter_drive_sync"):
            found.append((rule.matcher.regex.pattern, target))
    return found


def sample_path(pattern: str) -> str:
    """A concrete path for a route regex (each capture group gets a plausible value)."""
    path = re.sub(r"\([^)]*\)", "abc123", pattern.rstrip("$"))
    return path.replace("\\", "")


def own_verbs(handler: type[RequestHandler]) -> list[str]:
    return [v for v in VERBS if getattr(handler, v) is not getattr(RequestHandler, v)]


async def test_the_contract_routes_are_registered(jp_serverapp):
    paths = {sample_path(p) for p, _ in drive_sync_routes(jp_serverapp)}
    base = jp_serverapp.base_url
    for route in ("status", "auth/start", "oauth2callback", "push", "push/abc123", "disconnect", "prompt"):
        assert f"{base}drive-sync/{route}" in paths


async def test_every_route_refuses_unauthenticated_requests(jp_serverapp, http_server_client, credentials_file):
    routes = drive_sync_routes(jp_serverapp)
    assert len(routes) >= 7
    checked = 0
    for pattern, handler in routes:
        for verb in own_verbs(handler):
            method = verb.upper()
            resp = await http_server_client.fetch(
                sample_path(pattern) + "?" + urlencode({"state": "x", "code": "y"}),
                method=method,
                body=b"{}" if method in ("POST", "PUT", "PATCH") else None,
                follow_redirects=False,
                raise_error=False,
            )
            if resp.code == 302:  # a browser page: off to the login form, nothing done
                assert "/login" in resp.headers["Location"], (method, pattern)
            else:
                assert resp.code == 403, (method, pattern, resp.code)
            checked += 1
    assert checked >= 7
    assert not credentials_file.exists()


async def _login_cookies(http_server_client: Any, serverapp: Any) -> dict[str, str]:
    """Log in through /login with the token, like a browser, and keep the cookies."""
    cookies: dict[str, str] = {}

    def keep(resp: Any) -> None:
        for raw in resp.headers.get_list("Set-Cookie"):
            name, _, rest = raw.partition("=")
            cookies[name.strip()] = rest.split(";", 1)[0]

    login = serverapp.base_url + "login"
    keep(await http_server_client.fetch(login, raise_error=False, follow_redirects=False))
    assert "_xsrf" in cookies
    body = urlencode({"password": serverapp.identity_provider.token, "_xsrf": cookies["_xsrf"]})
    resp = await http_server_client.fetch(
        login, method="POST", body=body, raise_error=False, follow_redirects=False,
        headers={"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())},
    )
    assert resp.code == 302, resp.code
    keep(resp)
    return cookies


@pytest.mark.parametrize("route", ["push", "disconnect", "prompt"])
async def test_posts_without_xsrf_are_refused(jp_serverapp, http_server_client, route, state_dir):
    cookies = await _login_cookies(http_server_client, jp_serverapp)
    cookie_header = "; ".join(f"{k}={v}" for k, v in cookies.items())
    url = f"{jp_serverapp.base_url}drive-sync/{route}"
    body = b'{"choice": "never"}'

    # The browser session is good: a GET works with the cookie alone.
    ok = await http_server_client.fetch(
        f"{jp_serverapp.base_url}drive-sync/status",
        headers={"Cookie": cookie_header}, raise_error=False)
    assert ok.code == 200

    refused = await http_server_client.fetch(url, method="POST", body=body, raise_error=False,
                                             headers={"Cookie": cookie_header})
    assert refused.code == 403
    assert not (state_dir / "prompt.json").exists()

    if route == "prompt":  # the same request with the XSRF token goes through
        accepted = await http_server_client.fetch(
            url, method="POST", body=body, raise_error=False,
            headers={"Cookie": cookie_header, "X-XSRFToken": cookies["_xsrf"]})
        assert accepted.code == 200
        assert (state_dir / "prompt.json").exists()


async def test_auth_start_ignores_any_redirect_target(api, emulator):
    """No user-supplied destination: the 302 always goes to the configured consent page."""
    resp = await api("drive-sync", "auth", "start", params={"next": "https://evil.example/",
                                                            "redirect_uri": "https://evil.example/cb"},
                     follow_redirects=False, raise_error=False)
    assert resp.code == 302
    location = resp.headers["Location"]
    assert location.startswith(emulator.url + "o/oauth2/auth?")
    assert "evil.example" not in location


async def test_unknown_job_is_404(api, h):
    code, body = await h.get_json(api, "drive-sync", "push", "nosuchjob")
    assert code == 404
    assert "traceback" not in body
