"""A Jupyter server with the drive-sync extension, wired to a fresh Drive emulator.

The home is the server's root_dir (the extension's default). The emulator runs in its own
thread; everything between the server, the emulator and the client libraries is real HTTP.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from cryptography.fernet import Fernet

# pytest_jupyter's server fixtures and hooks, for this directory only. (The plugin's usual
# `pytest_plugins = ("pytest_jupyter.jupyter_server",)` is refused by pytest in a conftest
# below the rootdir; importing it here scopes it to these tests instead of the whole suite.)
from pytest_jupyter.jupyter_server import *  # noqa: E402,F403

EMAIL = "ann@example.edu"
HUB_VARS = (
    "JUPYTERHUB_SERVICE_PREFIX",
    "JUPYTERHUB_API_URL",
    "JUPYTERHUB_PUBLIC_HUB_URL",
    "JUPYTERHUB_BASE_URL",
    "JUPYTERHUB_USER",
)


@pytest.fixture
def fernet_key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture
def standalone_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No JupyterHub variables leak in from the machine running the tests."""
    for name in HUB_VARS + ("JUPYTER_DRIVE_SYNC_KEY", "JUPYTER_DRIVE_SYNC_API_ROOT"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def drive_sync_config(emulator: Any, fernet_key: str) -> dict[str, Any]:
    """`c.DriveSyncApp` for the tests; override in a module to change it."""
    return {"emulator_url": emulator.url, "encryption_key": fernet_key, "status_check_interval": 0.0}


@pytest.fixture
def jp_server_config(standalone_env: None, drive_sync_config: dict[str, Any]) -> dict[str, Any]:
    return {
        "ServerApp": {
            "jpserver_extensions": {"jupyter_drive_sync": True},
            "allow_unauthenticated_access": False,
        },
        "DriveSyncApp": drive_sync_config,
    }


@pytest.fixture
def home(jp_root_dir: Path) -> Path:
    return Path(jp_root_dir)


@pytest.fixture
def state_dir(home: Path) -> Path:
    return home / ".local/share/jupyter/drive_sync"


@pytest.fixture
def credentials_file(state_dir: Path) -> Path:
    return state_dir / "credentials.json"


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


@pytest.fixture
def api(jp_fetch: Any) -> Session:
    """A browser-like client of the server (one Jupyter user throughout)."""
    return Session(jp_fetch)


@pytest.fixture
def service(jp_serverapp: Any) -> Any:
    """The extension's long-lived service object (for white-box checks only)."""
    app = jp_serverapp.web_app.settings["jupyter_drive_sync"]
    return app.service


async def get_json(jp_fetch: Any, *parts: str, **kw: Any) -> tuple[int, Any]:
    resp = await jp_fetch(*parts, raise_error=False, **kw)
    return resp.code, json.loads(resp.body or b"null")


async def post_json(jp_fetch: Any, *parts: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
    resp = await jp_fetch(*parts, method="POST", body=json.dumps(body or {}), raise_error=False, **kw)
    return resp.code, json.loads(resp.body or b"null")


async def consent(jp_fetch: Any, emulator: Any, email: str = EMAIL) -> dict[str, str]:
    """auth/start → the emulator's consent page (automatic) → the query our callback gets."""
    emulator.create_account(email)
    emulator._admin("POST", "_emulator/consent", json={"auto": True, "email": email})
    start = await jp_fetch("drive-sync", "auth", "start", follow_redirects=False, raise_error=False)
    assert start.code == 302, start.body
    location = start.headers["Location"]
    assert location.startswith(emulator.url)
    answer = await asyncio.to_thread(requests.get, location, allow_redirects=False, timeout=30)
    assert answer.status_code in (302, 303), answer.text
    back = urlsplit(answer.headers["Location"])
    assert back.path.endswith("/drive-sync/oauth2callback")
    return {k: v[-1] for k, v in parse_qs(back.query).items()}


async def connect(jp_fetch: Any, emulator: Any, email: str = EMAIL) -> Any:
    params = await consent(jp_fetch, emulator, email)
    resp = await jp_fetch("drive-sync", "oauth2callback", params=params, raise_error=False)
    assert resp.code == 200, resp.body
    return resp


async def wait_job(jp_fetch: Any, job_id: str, timeout: float = 60.0) -> dict[str, Any]:
    """Poll GET push/<id> until the job ends; returns the last snapshot."""
    deadline = time.monotonic() + timeout
    while True:
        code, body = await get_json(jp_fetch, "drive-sync", "push", job_id)
        assert code == 200, body
        job = body["job"]
        if job["state"] not in ("queued", "running"):
            return job
        assert time.monotonic() < deadline, f"job still {job['state']}: {job}"
        await asyncio.sleep(0.05)


def make_home_files(home: Path) -> dict[str, bytes]:
    files = {
        "notebook.ipynb": b'{"cells": []}',
        "data/a.csv": b"x,y\n1,2\n",
        "data/deep/b.txt": b"hello",
        "README.md": b"# my work\n",
    }
    for rel, data in files.items():
        path = home / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return files


def drive_paths(files: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The emulator's flat listing → {"home/ann/data/a.csv": file} (not trashed), via parents."""
    by_id = {f["id"]: f for f in files}

    def path_of(f: dict[str, Any]) -> str:
        parts = [f["name"]]
        seen = set()
        while f.get("parents"):
            parent = by_id.get(f["parents"][0])
            if parent is None or parent["id"] in seen:
                break
            seen.add(parent["id"])
            parts.append(parent["name"])
            f = parent
        return "/".join(reversed(parts))

    out: dict[str, dict[str, Any]] = {}
    for f in files:
        if not f.get("trashed"):
            out.setdefault(path_of(f), f)
    return out


def duplicates(files: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(parent, name) pairs that occur more than once among untrashed files."""
    seen: dict[tuple[str, str], int] = {}
    for f in files:
        if f.get("trashed"):
            continue
        key = ((f.get("parents") or [""])[0], f["name"])
        seen[key] = seen.get(key, 0) + 1
    return [k for k, n in seen.items() if n > 1]


def push_is_real() -> bool:
    """push.py still holds only the agreed interface until the engine lands."""
    try:
        from jupyter_drive_sync import push
    except ImportError:
        return False
    return hasattr(push, "run_push")


needs_push = pytest.mark.skipif(not push_is_real(), reason="push.run_push has not landed yet")


def fresh_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTERHUB_")}
    env.update(extra)
    return env


class Helpers:
    """The helpers above, handed to tests as the `h` fixture (test modules cannot import conftest)."""

    EMAIL = EMAIL
    get_json = staticmethod(get_json)
    post_json = staticmethod(post_json)
    consent = staticmethod(consent)
    connect = staticmethod(connect)
    wait_job = staticmethod(wait_job)
    make_home_files = staticmethod(make_home_files)
    drive_paths = staticmethod(drive_paths)
    duplicates = staticmethod(duplicates)
    fresh_env = staticmethod(fresh_env)


@pytest.fixture
def h() -> type[Helpers]:
    return Helpers


@pytest.fixture
def require_push() -> None:
    """Skip until the push engine (push.run_push) has landed."""
    if not push_is_real():
        pytest.skip("push.run_push has not landed yet")
