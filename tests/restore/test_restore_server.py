"""Restore through the server extension (issue 7): POST drive-sync/restore, GET drive-sync/remote.

A real Jupyter server (pytest-jupyter) with the extension, a real Drive emulator, real HTTP
between them; the backup being restored was pushed from another home of the same account.
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
from pytest_jupyter.jupyter_server import *  # noqa: F403 - the server fixtures, for this module only

from jupyter_drive_sync.emulator.sample import connect_home
from jupyter_drive_sync.push import PushOptions, run_push
from jupyter_drive_sync.state import HomeLock

EMAIL = "ann@example.edu"
T0 = 1_700_000_000
BACKUP = {
    "README.md": b"# my work\n",
    "zeta.txt": b"last by name, still after the folders",
    "lab/a.ipynb": b'{"cells": []}',
    "lab/data/x.csv": b"x,y\n1,2\n",
    "Data/b.txt": b"capital folder",
}


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture
def jp_server_config(emulator: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    for name in ("JUPYTERHUB_SERVICE_PREFIX", "JUPYTERHUB_API_URL", "JUPYTERHUB_PUBLIC_HUB_URL",
                 "JUPYTERHUB_BASE_URL", "JUPYTERHUB_USER", "JUPYTER_DRIVE_SYNC_KEY", "JUPYTER_DRIVE_SYNC_API_ROOT"):
        monkeypatch.delenv(name, raising=False)
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_drive_sync": True}, "allow_unauthenticated_access": False},
        "DriveSyncApp": {"emulator_url": emulator.url, "encryption_key": Fernet.generate_key().decode(),
                         "status_check_interval": 0.0},
    }


@pytest.fixture
def home(jp_root_dir: Path) -> Path:
    return Path(jp_root_dir)


@pytest.fixture
def service(jp_serverapp: Any) -> Any:
    return jp_serverapp.web_app.settings["jupyter_drive_sync"].service


class Session:
    """`jp_fetch` with a cookie jar (one Jupyter user throughout, like a browser)."""

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
    return Session(jp_fetch)


async def get_json(api: Any, *parts: str, **kw: Any) -> tuple[int, Any]:
    resp = await api(*parts, raise_error=False, **kw)
    return resp.code, json.loads(resp.body or b"null")


async def post_json(api: Any, *parts: str, body: Any = None) -> tuple[int, Any]:
    raw = body if isinstance(body, (bytes, str)) else json.dumps(body or {})
    resp = await api(*parts, method="POST", body=raw, raise_error=False)
    return resp.code, json.loads(resp.body or b"null")


async def connect(api: Any, emulator: Any) -> None:
    """The browser's consent round trip: auth/start → emulator (auto-consent) → our callback."""
    emulator.create_account(EMAIL)
    emulator._admin("POST", "_emulator/consent", json={"auto": True, "email": EMAIL})
    start = await api("drive-sync", "auth", "start", follow_redirects=False, raise_error=False)
    assert start.code == 302
    answer = await asyncio.to_thread(requests.get, start.headers["Location"], allow_redirects=False, timeout=30)
    query = {k: v[-1] for k, v in parse_qs(urlsplit(answer.headers["Location"]).query).items()}
    resp = await api("drive-sync", "oauth2callback", params=query, raise_error=False)
    assert resp.code == 200, resp.body


async def wait_job(api: Any, job_id: str, route: str = "restore", seen: list | None = None) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        code, body = await get_json(api, "drive-sync", route, job_id)
        assert code == 200, body
        job = body["job"]
        if seen is not None:
            seen.append(job)
        if job["state"] not in ("queued", "running"):
            return job
        assert time.monotonic() < deadline, job
        await asyncio.sleep(0.02)


@pytest.fixture
def backup(service: Any, emulator: Any, tmp_path: Path) -> dict[str, bytes]:
    """A backup of this user's home, pushed earlier from another machine (another home dir)."""
    elsewhere = tmp_path / "old-hub" / "home"
    elsewhere.mkdir(parents=True)
    connect_home(emulator.url, elsewhere, EMAIL)
    for i, (rel, data) in enumerate(sorted(BACKUP.items())):
        p = elsewhere / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        os.utime(p, (T0 + i, T0 + i))
    s = run_push(PushOptions(home=elsewhere, user=service.settings.username, api_root=emulator.url))
    assert s.failed == [] and s.created == len(BACKUP)
    return BACKUP


# -- tests ---------------------------------------------------------------------------------------


async def test_status_offers_restore_only_when_drive_holds_a_backup(api, emulator, service):
    await connect(api, emulator)
    code, status = await get_json(api, "drive-sync", "status")
    assert code == 200 and status["connected"] is True and status["has_backup"] is False
    code, body = await get_json(api, "drive-sync", "remote")
    assert code == 404 and "drive.file" in body["message"]


async def test_restore_a_subfolder_then_everything_with_progress(api, emulator, service, home, backup):
    await connect(api, emulator)
    code, status = await get_json(api, "drive-sync", "status")
    assert status["has_backup"] is True and status["last_push"] is None

    code, listing = await get_json(api, "drive-sync", "remote")
    assert code == 200, listing
    names = [(e["name"], e["is_folder"]) for e in listing["entries"]]
    assert names == [(".local", True), ("Data", True), ("lab", True), ("README.md", False), ("zeta.txt", False)]
    code, lab = await get_json(api, "drive-sync", "remote", params={"path": "lab"})
    assert [(e["path"], e["is_folder"]) for e in lab["entries"]] == [("lab/data", True), ("lab/a.ipynb", False)]
    nb = lab["entries"][1]
    assert nb["size"] == len(backup["lab/a.ipynb"]) and nb["md5"] and nb["modified_time"].endswith("Z")

    emulator.settings(latency_ms=40)  # slow enough to watch the job run
    code, body = await post_json(api, "drive-sync", "restore", body={"path": "lab", "overwrite": "never"})
    assert code == 202, body
    assert body["job"]["kind"] == "restore" and body["job"]["state"] in ("queued", "running")
    seen: list[dict] = []
    done = await wait_job(api, body["job"]["id"], seen=seen)
    assert done["state"] == "done", done
    assert any(j["state"] == "running" for j in seen)
    assert (done["files_done"], done["files_total"]) == (2, 2) and done["bytes_done"] == done["bytes_total"] > 0
    assert done["summary"]["restored"] == 2 and done["summary"]["failed"] == []
    assert (home / "lab/a.ipynb").read_bytes() == backup["lab/a.ipynb"]
    assert not (home / "README.md").exists()
    emulator.settings(latency_ms=0)

    code, body = await post_json(api, "drive-sync", "restore", body={"path": "", "overwrite": "never"})
    done = await wait_job(api, body["job"]["id"], route="push")  # the push job API reads restores too
    assert done["state"] == "done" and done["summary"]["restored"] == 3 and done["summary"]["unchanged"] == 2
    for rel, data in backup.items():
        assert (home / rel).read_bytes() == data

    # a restore is not a push: status still shows no push; the next push uploads nothing
    code, status = await get_json(api, "drive-sync", "status")
    assert status["last_push"] is None and status["job"] is None
    code, body = await post_json(api, "drive-sync", "push")
    pushed = await wait_job(api, body["job"]["id"], route="push")
    assert pushed["state"] == "done", pushed
    assert (pushed["summary"]["created"], pushed["summary"]["updated"]) == (0, 0)


async def test_restore_is_409_while_a_push_runs(api, emulator, service, home, backup):
    await connect(api, emulator)
    lock = HomeLock(service.settings.state_dir, kind="push")  # the nightly job, say
    lock.acquire()
    try:
        code, body = await post_json(api, "drive-sync", "restore", body={"path": ""})
        assert code == 409 and body["job"]["kind"] == "push" and body["job"]["source"] == "external"
    finally:
        lock.release()

    (home / "new.txt").write_bytes(b"x")
    emulator.settings(latency_ms=150)
    code, push = await post_json(api, "drive-sync", "push")
    assert code == 202
    code, body = await post_json(api, "drive-sync", "restore", body={"path": ""})
    assert code == 409 and body["job"]["id"] == push["job"]["id"]
    emulator.settings(latency_ms=0)
    assert (await wait_job(api, push["job"]["id"], route="push"))["state"] == "done"
    assert not (home / "README.md").exists()  # the refused restore did nothing


@pytest.mark.parametrize("body", [
    {"path": "../escape"}, {"path": "/etc"}, {"path": "a/../../b"}, {"overwrite": "sometimes"},
    {"path": 3}, [1, 2], "not json",
])
async def test_bad_restore_requests_are_400(api, emulator, service, body):
    await connect(api, emulator)
    code, answer = await post_json(api, "drive-sync", "restore", body=body)
    assert code == 400, answer
    assert "message" in answer and "Traceback" not in json.dumps(answer)


async def test_remote_refuses_paths_outside_the_backup(api, emulator, service, backup):
    await connect(api, emulator)
    for bad in ("..", "../..", "/etc", "lab/../.."):
        code, body = await get_json(api, "drive-sync", "remote", params={"path": bad})
        assert code == 400, (bad, body)
    code, body = await get_json(api, "drive-sync", "remote", params={"path": "no/such"})
    assert code == 404
    code, body = await get_json(api, "drive-sync", "remote", params={"path": "README.md"})
    assert code == 404  # a file is not a folder to list


async def test_unauthenticated_requests_are_refused(jp_serverapp, http_server_client, service, home):
    base = jp_serverapp.base_url
    for method, route, body in (("POST", "drive-sync/restore", b'{"path": ""}'),
                                ("GET", "drive-sync/remote?path=", None),
                                ("GET", "drive-sync/restore/abc123", None)):
        resp = await http_server_client.fetch(base + route, method=method, body=body,
                                              raise_error=False, follow_redirects=False)
        assert resp.code == 403, (route, resp.code)
    assert service.jobs.current() is None
    assert not (home / ".local/share/jupyter/drive_sync/last_restore.json").exists()
