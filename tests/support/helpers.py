"""Helpers shared by the test folders, written once: files in a home, the Drive tree as the
emulator's admin view shows it, and a browser-like client of the Jupyter server extension.

Import with `from tests.support.helpers import ...`. Fixtures live in the conftest files and
the emulator's pytest plugin; the server ones that must follow pytest-jupyter's own
(`jp_server_config`) are in `server_fixtures.py` beside this module.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import parse_qs, urlsplit

import requests

SERVER_EMAIL = "ann@example.edu"  # the account the server tests connect by default


# -- a home's files ------------------------------------------------------------------------------


def write(home: Path, rel: str, data: bytes, mtime_s: float | None = None) -> None:
    """Write `home/rel` (parents too), with its mtime set to `mtime_s` seconds when given."""
    p = home / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    if mtime_s is not None:
        os.utime(p, (mtime_s, mtime_s))


@contextmanager
def traversable_dir(prefix: str) -> Iterator[Path]:
    """A fresh temp dir others may enter (pytest's tmp dirs are 0700: a push run as an
    unprivileged user could not), removed afterwards even if a test left folders unreadable."""
    d = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(d, 0o755)
    try:
        yield d
    finally:
        for dirpath, dirnames, _ in os.walk(d):
            for n in dirnames:
                p = os.path.join(dirpath, n)
                if not os.path.islink(p):
                    os.chmod(p, 0o755)
        shutil.rmtree(d, ignore_errors=True)


# -- the Drive side (admin view: every file of the account, trashed too) -------------------------


def drive_paths(files: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The admin listing by full Drive path ("home/ann/a/b.txt"), items at the same path kept
    as a list (in listing order)."""
    by_id = {f["id"]: f for f in files}
    out: dict[str, list[dict[str, Any]]] = {}
    for f in files:
        parts, g, seen = [f["name"]], f, {f["id"]}
        while g.get("parents") and g["parents"][0] in by_id and g["parents"][0] not in seen:
            g = by_id[g["parents"][0]]
            seen.add(g["id"])
            parts.append(g["name"])
        out.setdefault("/".join(reversed(parts)), []).append(f)
    return out


def drive_tree(emulator: Any, email: str, folder: str, *, trashed: bool = True) -> dict[str, dict[str, Any]]:
    """Path relative to the Drive folder `folder` ("home/ann") → file; fails if two items of the
    account share a path. `trashed=False`: trashed items are left out before paths are made."""
    files = emulator.files(email)
    if not trashed:
        files = [f for f in files if not f.get("trashed")]
    prefix = folder.rstrip("/") + "/"
    out: dict[str, dict[str, Any]] = {}
    for path, group in drive_paths(files).items():
        assert len(group) == 1, f"duplicate on Drive: {path!r}"
        if path.startswith(prefix):
            out[path[len(prefix):]] = group[0]
    return out


# -- the Jupyter server extension, over HTTP ------------------------------------------------------


def push_under_faults(emulator: Any, options: Any, tries: int = 4) -> tuple[dict[str, int], dict[str, Any]]:
    """Push with the emulator's faults on until a run ends with nothing failed (at most `tries`
    runs; a run may also end early, which is the point of the next one). Returns the faults
    injected by kind and the emulator's stats, then turns the faults off."""
    from jupyter_drive_sync.engine.push import run_push

    for _ in range(tries):
        try:
            summary = run_push(options)
        except Exception:  # noqa: BLE001 - a run may end early under faults
            continue
        if not summary.failed:
            break
    injected = emulator.http.get(emulator.url + "_emulator/faults").json()["injected"]
    stats = emulator.stats()
    emulator.set_faults(0)
    return injected, stats


class Session:
    """`jp_fetch` with a cookie jar, like a browser: the token's first answer sets the login
    cookie, which keeps the Jupyter user the same across requests (the OAuth state is bound
    to that user; without the cookie every token request is a fresh anonymous user)."""

    def __init__(self, jp_fetch: Any) -> None:
        self._fetch = jp_fetch
        self.cookies: dict[str, str] = {}

    async def __call__(self, *parts: str, headers: dict[str, str] | None = None, **kw: Any) -> Any:
        headers = dict(headers or {})
        if self.cookies:
            headers.setdefault("Cookie", "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        resp = await self._fetch(*parts, headers=headers, **kw)
        for raw in resp.headers.get_list("Set-Cookie"):
            name, _, rest = raw.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        return resp


async def get_json(fetch: Any, *parts: str, **kw: Any) -> tuple[int, Any]:
    resp = await fetch(*parts, raise_error=False, **kw)
    return resp.code, json.loads(resp.body or b"null")


async def post_json(fetch: Any, *parts: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
    """POST `body` as JSON (bytes or str are sent as they are, to test malformed requests)."""
    raw = body if isinstance(body, (bytes, str)) else json.dumps(body or {})
    resp = await fetch(*parts, method="POST", body=raw, raise_error=False, **kw)
    return resp.code, json.loads(resp.body or b"null")


async def consent(fetch: Any, emulator: Any, email: str = SERVER_EMAIL) -> dict[str, str]:
    """auth/start → the emulator's consent page (automatic) → the query our callback gets."""
    emulator.create_account(email)
    emulator._admin("POST", "_emulator/consent", json={"auto": True, "email": email})
    start = await fetch("drive-sync", "auth", "start", follow_redirects=False, raise_error=False)
    assert start.code == 302, start.body
    location = start.headers["Location"]
    assert location.startswith(emulator.url)
    answer = await asyncio.to_thread(requests.get, location, allow_redirects=False, timeout=30)
    assert answer.status_code in (302, 303), answer.text
    back = urlsplit(answer.headers["Location"])
    assert back.path.endswith("/drive-sync/oauth2callback")
    return {k: v[-1] for k, v in parse_qs(back.query).items()}


async def connect(fetch: Any, emulator: Any, email: str = SERVER_EMAIL) -> Any:
    """The browser's whole consent round trip: auth/start → emulator → our callback (200)."""
    params = await consent(fetch, emulator, email)
    resp = await fetch("drive-sync", "oauth2callback", params=params, raise_error=False)
    assert resp.code == 200, resp.body
    return resp


async def wait_job(fetch: Any, job_id: str, route: str = "push", timeout: float = 60.0,
                   seen: list | None = None, poll: float = 0.05) -> dict[str, Any]:
    """Poll GET <route>/<id> until the job ends; returns the last snapshot (each one is also
    appended to `seen`)."""
    deadline = time.monotonic() + timeout
    while True:
        code, body = await get_json(fetch, "drive-sync", route, job_id)
        assert code == 200, body
        job = body["job"]
        if seen is not None:
            seen.append(job)
        if job["state"] not in ("queued", "running"):
            return job
        assert time.monotonic() < deadline, f"job still {job['state']}: {job}"
        await asyncio.sleep(poll)
