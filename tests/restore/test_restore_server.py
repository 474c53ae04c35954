"""Restore through the server extension (issue 7): POST drive-sync/restore, GET drive-sync/remote.

A real Jupyter server (pytest-jupyter) with the extension, a real Drive emulator, real HTTP
between them; the backup being restored was pushed from another home of the same account.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from jupyter_drive_sync.emulator.sample import connect_home
from jupyter_drive_sync.core.options import PushOptions
from jupyter_drive_sync.engine.push import run_push
from jupyter_drive_sync.home.lock import HomeLock

from tests.support.helpers import SERVER_EMAIL as EMAIL
from tests.support.helpers import connect, get_json, post_json, wait_job
from tests.support.server_fixtures import *  # noqa: F403 - the server fixtures (pytest-jupyter's and ours), for this module only

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
    assert names == [("Data", True), ("lab", True), ("README.md", False), ("zeta.txt", False)]
    code, lab = await get_json(api, "drive-sync", "remote", params={"path": "lab"})
    assert [(e["path"], e["is_folder"]) for e in lab["entries"]] == [("lab/data", True), ("lab/a.ipynb", False)]
    nb = lab["entries"][1]
    assert nb["size"] == len(backup["lab/a.ipynb"]) and nb["md5"] and nb["modified_time"].endswith("Z")

    emulator.settings(latency_ms=40)  # slow enough to watch the job run
    code, body = await post_json(api, "drive-sync", "restore", body={"path": "lab", "overwrite": "never"})
    assert code == 202, body
    assert body["job"]["kind"] == "restore" and body["job"]["state"] in ("queued", "running")
    seen: list[dict] = []
    done = await wait_job(api, body["job"]["id"], route="restore", seen=seen, poll=0.02)
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
