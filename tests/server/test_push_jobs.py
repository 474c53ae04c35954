"""Issue 4 (2): pushes run in the background, one per home, shared lock with the CLI."""

from __future__ import annotations

import asyncio
import subprocess
import sys

from jupyter_drive_sync.engine.status import read_last_push
from jupyter_drive_sync.home.lock import HomeLock

TOOL_FILES = {"credentials.json", "state.sqlite3", "push.lock", "prompt.json", "last_job.json"}


async def test_a_push_holding_the_lock_elsewhere_shows_as_running(api, h, state_dir):
    lock = HomeLock(state_dir, kind="push")
    lock.acquire()
    try:
        code, status = await h.get_json(api, "drive-sync", "status")
        assert status["job"]["state"] == "running" and status["job"]["source"] == "external"
        code, body = await h.post_json(api, "drive-sync", "push")
        assert code == 409
        assert body["job"]["id"] == status["job"]["id"] and body["job"]["state"] == "running"
        code, body = await h.get_json(api, "drive-sync", "push", status["job"]["id"])
        assert code == 200 and body["job"]["state"] == "running"
    finally:
        lock.release()
    code, status = await h.get_json(api, "drive-sync", "status")
    assert status["job"] is None


async def test_push_runs_in_background_and_lands_on_drive(api, emulator, h, home, service):
    await h.connect(api, emulator)
    files = h.make_home_files(home)
    code, body = await h.post_json(api, "drive-sync", "push")
    assert code == 202
    job = body["job"]
    assert job["state"] in ("queued", "running") and job["id"]
    done = await h.wait_job(api, job["id"])
    assert done["state"] == "done", done
    assert done["summary"]["created"] == len(files)
    assert done["files_done"] == done["files_total"]

    folder = service.settings.folder_template.replace("{username}", service.settings.username)
    on_drive = h.drive_paths(emulator.files(h.EMAIL))
    for rel in files:
        assert f"{folder}/{rel}" in on_drive, sorted(on_drive)
    assert not h.duplicates(emulator.files(h.EMAIL))

    code, status = await h.get_json(api, "drive-sync", "status")
    assert status["job"] is None
    assert status["last_push"]["ok"] is True
    assert status["last_push"]["summary"]["created"] == len(files)
    assert status["root_folder_url"] and status["root_folder_url"].endswith(done["summary"]["root_folder_id"])


async def test_last_push_survives_a_restart(api, emulator, h, home, state_dir):
    await h.connect(api, emulator)
    h.make_home_files(home)
    code, body = await h.post_json(api, "drive-sync", "push")
    await h.wait_job(api, body["job"]["id"])
    last = read_last_push(state_dir)  # what a new server process reads from disk
    assert last and last["ok"] is True and last["summary"]["created"] == 4


async def test_second_push_while_running_is_409(api, emulator, h, home):
    await h.connect(api, emulator)
    h.make_home_files(home)
    emulator.settings(latency_ms=150)
    code, first = await h.post_json(api, "drive-sync", "push")
    assert code == 202
    code, second = await h.post_json(api, "drive-sync", "push")
    assert code == 409
    assert second["job"]["id"] == first["job"]["id"]
    assert second["job"]["state"] in ("queued", "running")
    code, status = await h.get_json(api, "drive-sync", "status")
    assert status["job"]["id"] == first["job"]["id"]
    emulator.settings(latency_ms=0)
    assert (await h.wait_job(api, first["job"]["id"]))["state"] == "done"


async def test_cli_push_during_server_push_duplicates_nothing(api, emulator, h, home, fernet_key):
    await h.connect(api, emulator)
    files = h.make_home_files(home)
    for i in range(12):
        (home / f"batch/f{i}.txt").parent.mkdir(exist_ok=True)
        (home / f"batch/f{i}.txt").write_text(f"file {i}")
    emulator.settings(latency_ms=80)
    code, body = await h.post_json(api, "drive-sync", "push")
    assert code == 202
    cli = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "jupyter_drive_sync", "push", "--home", str(home), "--api-root", emulator.url, "--json"],
        capture_output=True, text=True, timeout=120,
        env=h.fresh_env(JUPYTER_DRIVE_SYNC_KEY=fernet_key),
    )
    assert cli.returncode in (0, 1), cli.stderr  # 1: refused, the home is locked by the server's push
    if cli.returncode == 1:
        assert "already running" in (cli.stderr + cli.stdout).lower()
    emulator.settings(latency_ms=0)
    assert (await h.wait_job(api, body["job"]["id"]))["state"] == "done"
    code, again = await h.post_json(api, "drive-sync", "push")  # and once more, to converge
    assert (await h.wait_job(api, again["job"]["id"]))["state"] == "done"

    listing = emulator.files(h.EMAIL)
    assert h.duplicates(listing) == []
    names = [f["name"] for f in listing if not f.get("trashed")]
    assert names.count("f3.txt") == 1 and names.count("notebook.ipynb") == 1
    assert len([n for n in names if n.startswith("f") and n.endswith(".txt")]) == 12
    assert len(files) == 4


async def test_tool_files_never_reach_drive(api, emulator, h, home, state_dir):
    await h.connect(api, emulator)
    h.make_home_files(home)
    await h.post_json(api, "drive-sync", "prompt", body={"choice": "never"})
    for _ in range(2):  # the second run also sees last_job.json and the lock file
        code, body = await h.post_json(api, "drive-sync", "push")
        assert (await h.wait_job(api, body["job"]["id"]))["state"] == "done"
    assert {"credentials.json", "prompt.json", "last_job.json"} <= {p.name for p in state_dir.iterdir()}
    listing = emulator.files(h.EMAIL)
    assert not TOOL_FILES & {f["name"] for f in listing}
    assert not any("drive_sync" in path for path in h.drive_paths(listing))
