"""server-extension edge cases found in review (each test failed before its fix)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from tests.support.helpers import SERVER_EMAIL as EMAIL
from tests.support.helpers import connect, get_json, post_json, wait_job


class TestMissingClientSecrets:
    """An admin points the extension at a client-secrets file that is not there (a Secret not
    mounted in this pod): the extension says "not configured" instead of failing every route."""

    @pytest.fixture
    def drive_sync_config(self, emulator, fernet_key, tmp_path):
        return {"client_secrets_file": str(tmp_path / "missing" / "client_secrets.json"),
                "api_root": emulator.url, "encryption_key": fernet_key}

    async def test_status_answers_and_says_not_configured(self, api):
        code, body = await get_json(api, "drive-sync", "status")
        assert code == 200, body
        assert body["configured"] is False and body["connected"] is False

    async def test_auth_start_is_a_503_page_that_leaks_no_path(self, api, tmp_path):
        resp = await api("drive-sync", "auth", "start", follow_redirects=False, raise_error=False)
        assert resp.code == 503
        page = resp.body.decode()
        assert "not configured" in page and str(tmp_path) not in page and "Traceback" not in page


@pytest.mark.parametrize("body", [{"path": False}, {"path": []}, {"path": 0}, {"path": {}},
                                  {"overwrite": False}, {"overwrite": []}])
async def test_restore_refuses_falsy_non_strings_instead_of_restoring_everything(api, emulator, service, body):
    await connect(api, emulator)
    code, answer = await post_json(api, "drive-sync", "restore", body=body)
    assert code == 400, answer
    assert service.jobs.current() is None


def release_readers(fifos: list[Path], rounds: int = 30) -> None:
    """Give any thread stuck reading one of `fifos` an end of file, so a failure cannot hang
    the test run at exit (the stuck readers come one after another)."""
    for _ in range(rounds):
        for fifo in fifos:
            try:
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass  # nobody reading it now
        time.sleep(0.1)


@pytest.mark.timeout(60)
async def test_a_fifo_in_the_state_dir_hangs_no_route(api, emulator, home: Path):
    """prompt.json and last_job.json are read on every status call: a FIFO there (opened for
    reading) would block a worker thread for good, and status never answered again."""
    state = home / ".local/share/jupyter/drive_sync"
    state.mkdir(parents=True, exist_ok=True)
    fifos = [state / "prompt.json", state / "last_job.json"]
    for fifo in fifos:
        os.mkfifo(fifo)
    try:
        code, body = await get_json(api, "drive-sync", "status", request_timeout=20)
    finally:
        release_readers(fifos)
    assert code == 200 and body["prompt"] is True and body["last_push"] is None
    code, body = await post_json(api, "drive-sync", "prompt", body={"choice": "never"})
    assert code == 200, body
    code, body = await get_json(api, "drive-sync", "status")
    assert body["prompt"] is False
    assert json.loads((state / "prompt.json").read_text())["choice"] == "never"


class TestRootDirAboveTheHome:
    """`c.ServerApp.root_dir = "/"` (a file browser over the whole machine) is common; the
    extension backed up root_dir, i.e. everything the server could read, not the home."""

    @pytest.fixture
    def jp_home_dir(self, jp_root_dir):
        home = jp_root_dir / "home" / "ann"
        home.mkdir(parents=True)
        return home

    async def test_the_home_is_backed_up_not_the_folder_above_it(self, api, emulator, service, jp_root_dir,
                                                                 jp_home_dir):
        assert service.settings.home == jp_home_dir.resolve()
        (jp_home_dir / "mine.txt").write_text("mine")
        (jp_root_dir / "srv").mkdir()
        (jp_root_dir / "srv" / "not-mine.txt").write_text("someone else's")
        await connect(api, emulator)
        code, body = await post_json(api, "drive-sync", "push", body={})
        assert code == 202, body
        done = await wait_job(api, body["job"]["id"])
        assert done["state"] == "done", done
        names = {f["name"] for f in emulator.files(EMAIL) if not f.get("trashed")}
        assert "mine.txt" in names and "not-mine.txt" not in names and "srv" not in names
