"""OAuth clients as Google has them, through the real google-auth-oauthlib `Flow`.

A web client accepts only the redirect URIs registered for it, character for character; a
Desktop ("installed") client accepts a loopback redirect on any port and nothing else
(Google's "OAuth 2.0 for Web Server Applications" and "OAuth 2.0 for Mobile & Desktop Apps";
reference/drive-api-v3.md, "redirect URIs"). `POST /_emulator/clients` registers either type and
`GET /_emulator/client_secrets.json?client_id=` serves its file in Google's format.
"""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import parse_qs, urlsplit

import google.auth.transport.requests
import pytest
import requests
from google_auth_oauthlib.flow import Flow
from oauthlib.oauth2.rfc6749.errors import OAuth2Error

DRIVE_FILE = "https://www.googleapis.com/auth/drive.file"
HUB_CALLBACK = "https://hub.example.edu/hub/user-redirect/drive-sync/oauth2callback"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _open_consent(secrets: dict[str, Any], redirect_uri: str, email: str) -> tuple[Flow, requests.Response]:
    """What a browser gets from the consent URL of a `Flow` for this client and redirect."""
    flow = Flow.from_client_config(secrets, scopes=[DRIVE_FILE], redirect_uri=redirect_uri)
    url, _ = flow.authorization_url(access_type="offline", prompt="consent", login_hint=email)
    return flow, requests.get(url, allow_redirects=False, timeout=10)


def _signed_in(flow: Flow, resp: requests.Response) -> Any:
    """Finish the sign-in the consent page redirected back from; the credentials, refreshed once."""
    assert resp.status_code == 302, resp.text
    location = resp.headers["Location"]
    assert location.startswith(flow.redirect_uri + "?")
    flow.fetch_token(code=parse_qs(urlsplit(location).query)["code"][0])
    creds = flow.credentials
    creds.refresh(google.auth.transport.requests.Request())
    return creds


def _assert_mismatch(resp: requests.Response, redirect_uri: str) -> None:
    """Google's answer: its own error page, no redirect, naming the refused URI."""
    assert resp.status_code == 400, resp.text
    assert "Location" not in resp.headers
    assert "Error 400: redirect_uri_mismatch" in resp.text
    assert f"redirect_uri={redirect_uri}" in resp.text


def test_builtin_web_client_refuses_a_loopback_redirect_on_any_port(emulator):
    """What `jupyter-drive-sync auth` sends (a loopback port of its own) cannot work with a web
    client at Google; the emulator's built-in web client used to accept it."""
    secrets = emulator.client_secrets()
    assert list(secrets) == ["web"]
    for redirect in (f"http://127.0.0.1:{_free_port()}/", f"http://localhost:{_free_port()}/"):
        _, resp = _open_consent(secrets, redirect, "ann@example.edu")
        _assert_mismatch(resp, redirect)


def test_web_client_matches_its_registered_redirect_exactly(emulator):
    registered = f"http://127.0.0.1:{_free_port()}/drive-sync/oauth2callback"
    client = emulator.create_client([registered])
    assert client["type"] == "web" and client["redirect_uris"] == [registered]
    secrets = client["client_secrets"]
    assert secrets == emulator.client_secrets(client["client_id"])
    assert secrets["web"]["redirect_uris"] == [registered]

    port = urlsplit(registered).port
    near_misses = [registered + "/", registered.replace("127.0.0.1", "localhost"),
                   registered.replace(str(port), str(port + 1)), registered.upper().replace("HTTP:", "http:"),
                   registered + "?x=1"]
    for redirect in near_misses:
        _, resp = _open_consent(secrets, redirect, "bob@example.edu")
        _assert_mismatch(resp, redirect)

    flow, resp = _open_consent(secrets, registered, "bob@example.edu")
    creds = _signed_in(flow, resp)
    assert creds.valid and creds.client_id == client["client_id"]


def test_installed_client_accepts_a_loopback_redirect_on_any_port(emulator):
    client = emulator.create_client(client_type="installed")
    secrets = emulator.client_secrets(client["client_id"])
    assert list(secrets) == ["installed"] and secrets == client["client_secrets"]
    section = secrets["installed"]
    assert section["client_id"] == client["client_id"]
    assert section["auth_uri"] == emulator.url + "o/oauth2/auth"
    assert section["token_uri"] == emulator.url + "token"
    assert section["redirect_uris"] == ["http://localhost"]  # what Google's Desktop download lists

    for redirect in (f"http://127.0.0.1:{_free_port()}/", f"http://127.0.0.1:{_free_port()}/callback",
                     f"http://localhost:{_free_port()}/", f"http://[::1]:{_free_port()}/", "http://127.0.0.1/"):
        flow, resp = _open_consent(secrets, redirect, "cy@example.edu")
        assert _signed_in(flow, resp).valid, redirect


def test_installed_client_refuses_anything_but_a_plain_loopback_redirect(emulator):
    secrets = emulator.create_client(client_type="installed")["client_secrets"]
    port = _free_port()
    for redirect in (HUB_CALLBACK, f"https://127.0.0.1:{port}/", f"http://10.0.0.5:{port}/",
                     f"http://127.0.0.1.evil.example:{port}/", f"http://localhost@evil.example:{port}/"):
        _, resp = _open_consent(secrets, redirect, "dee@example.edu")
        _assert_mismatch(resp, redirect)
    _, oob = _open_consent(secrets, "urn:ietf:wg:oauth:2.0:oob", "dee@example.edu")
    assert oob.status_code == 400 and "Error 400: invalid_request" in oob.text and "out-of-band" in oob.text


def test_token_endpoint_answers_redirect_uri_mismatch_for_another_redirect(emulator):
    """The code is bound to the redirect it was issued for; Google's token endpoint answers
    `{"error": "redirect_uri_mismatch"}` for any other, and the client library raises."""
    client = emulator.create_client([HUB_CALLBACK])
    flow, resp = _open_consent(client["client_secrets"], HUB_CALLBACK, "eve@example.edu")
    code = parse_qs(urlsplit(resp.headers["Location"]).query)["code"][0]
    flow.redirect_uri = HUB_CALLBACK + "/"
    with pytest.raises(OAuth2Error) as err:
        flow.fetch_token(code=code)
    assert err.value.error == "redirect_uri_mismatch"


def test_clients_are_registered_as_googles_console_allows(emulator):
    bad = {
        "http://hub.example.edu/cb": "https",  # plain http beyond localhost
        "https://hub.example.edu/cb#top": "fragment",
        "https://*.example.edu/cb": "wildcard",
        "https://user:pw@hub.example.edu/cb": "userinfo",
        "https://hub.example.edu/a/../cb": "traversal",
        "https://192.0.2.7/cb": "raw IP",
        "hub.example.edu/cb": "absolute",
    }
    for uri, why in bad.items():
        resp = emulator.http.post(emulator.url + "_emulator/clients", json={"redirect_uris": [uri]}, timeout=10)
        assert resp.status_code == 400 and why in resp.json()["error"], (uri, resp.text)
    for body in ({"type": "installed", "redirect_uris": [HUB_CALLBACK]}, {"type": "android"}):
        resp = emulator.http.post(emulator.url + "_emulator/clients", json=body, timeout=10)
        assert resp.status_code == 400, body
    ok = emulator.create_client([HUB_CALLBACK, "http://localhost:8000/cb", "http://127.0.0.1/cb"])
    assert ok["redirect_uris"] == [HUB_CALLBACK, "http://localhost:8000/cb", "http://127.0.0.1/cb"]

    installed = emulator.create_client(client_type="installed")
    more = emulator.http.post(emulator.url + "_emulator/clients", timeout=10,
                              json={"client_id": installed["client_id"], "redirect_uris": [HUB_CALLBACK]})
    assert more.status_code == 400  # a Desktop client has no redirect URIs to add
    missing = emulator.http.get(emulator.url + "_emulator/client_secrets.json",
                                params={"client_id": "nobody.apps.googleusercontent.com"}, timeout=10)
    assert missing.status_code == 404


def test_builtin_client_file_is_unchanged_in_shape_and_lists_what_it_accepts(emulator):
    secrets = emulator.client_secrets()
    web = secrets["web"]
    assert set(web) == {"client_id", "client_secret", "project_id", "auth_uri", "token_uri", "revoke_uri",
                        "auth_provider_x509_cert_url", "redirect_uris"}
    for redirect in web["redirect_uris"]:  # each listed URI is one it accepts
        flow, resp = _open_consent(secrets, redirect, "fay@example.edu")
        assert _signed_in(flow, resp).valid
    emulator.register_redirect_uri(HUB_CALLBACK)
    assert HUB_CALLBACK in emulator.client_secrets()["web"]["redirect_uris"]
