"""kill -9 at random moments, then rerun: converges, 0 duplicates.

tests/engine already kills plain pushes of new files. These kill elsewhere, each timed from a
landmark the emulator or the file system shows (never from the start: interpreter start-up
varies with load), then a random delay:

- during the folder batches (a deep tree: one batch round per level);
- during the merge of Drive's changes feed (Drive-side edits and trashes, `--policy local-wins`);
- during a restore (`restore --overwrite always` over locally edited files);
- during a hub run over several homes (`hub --homes-root`, several pushes in one process).

After every kill the same command runs again to the end, and the Drive folder must equal the
home byte for byte (one Drive file per path), or for a restore, the home must equal Drive.
"""

from __future__ import annotations

import json
import random
import signal
import time
from pathlib import Path

import pytest
import requests

from jupyter_drive_sync.emulator.sample import connect_home

from .conftest import CREATE_ROUTES, Mirror, cli, lock_holder, md5, route_count, run_cli, trials, wait_for

EMAIL = "kill@uni.edu"
USER = "kim"
FULL_DRIVE = "https://www.googleapis.com/auth/drive"
KILLS: dict[str, list[str]] = {}  # scenario → what was under way at each kill (printed for the docs)


@pytest.fixture
def home(connected_home) -> Path:
    return connected_home(USER, EMAIL)


def push_args(home: Path, emulator, *extra: str) -> list[str]:
    return ["push", "--home", str(home), "--user", USER, "--api-root", emulator.url, "--json", *extra]


def kill(proc) -> bool:
    """SIGKILL `proc` if it still runs; True if the kill landed (it had not finished)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        return True
    proc.communicate(timeout=60)
    return False


def finish_push(home: Path, emulator, *extra: str) -> dict:
    code, out, err = run_cli(*push_args(home, emulator, *extra))
    assert code == 0, err
    assert "Traceback" not in err
    return json.loads(out)


def holds_lock(home: Path, proc) -> bool:
    return lock_holder(home).get("pid") == proc.pid


# -- 1. during the folder batches ---------------------------------------------------------------


def deep_folders(home: Path, tag: str, rng: random.Random) -> None:
    """A tree 8 levels deep, 12 folders a level, one small file in each leaf."""
    for branch in range(12):
        d = home / tag
        for level in range(8):
            d = d / f"b{branch}-l{level}"
        d.mkdir(parents=True)
        (d / "leaf.txt").write_bytes(rng.randbytes(64))


def test_kill_during_folder_batches(home, emulator):
    rng = random.Random(901)
    mirror = Mirror(emulator, EMAIL, USER)
    emulator.settings(latency_ms=40)  # each batch round takes a while: kills land between rounds
    landed = []
    for trial in range(trials(2, 8)):
        deep_folders(home, f"t{trial}", rng)
        before = route_count(emulator, "POST /batch/drive/v3")
        proc = cli(*push_args(home, emulator, "--workers", "2"))
        assert wait_for(lambda: holds_lock(home, proc), proc)
        # the plan's folder batches start after the root chain (2 batches on the first push)
        assert wait_for(lambda: route_count(emulator, "POST /batch/drive/v3") >= before + (3 if trial == 0 else 1),
                        proc), proc.communicate()
        time.sleep(rng.uniform(0.0, 0.25))
        batches = route_count(emulator, "POST /batch/drive/v3") - before
        files = route_count(emulator, "POST /upload/drive/v3/files")
        if kill(proc):
            landed.append(f"after {batches} batch requests, {files} file uploads so far")
        emulator.settings(latency_ms=0)
        finish_push(home, emulator)
        mirror.assert_equal(home, download=False)
        emulator.settings(latency_ms=40)
    KILLS["folder batches"] = landed
    print("kills during folder batches:", landed)
    assert len(landed) >= max(1, trials(2, 8) // 2)  # most kills really hit a running push
    emulator.settings(latency_ms=0)
    mirror.assert_equal(home)


# -- 2. during the changes merge ----------------------------------------------------------------


class DriveSide:
    """Another client of the same account with the full `drive` scope (the student in Drive's UI)."""

    def __init__(self, emulator) -> None:
        self.url = emulator.url
        self.token = emulator.create_account(EMAIL, scopes=[FULL_DRIVE])["access_token"]

    def _h(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def trash(self, file_id: str) -> None:
        r = requests.patch(f"{self.url}drive/v3/files/{file_id}", json={"trashed": True}, headers=self._h(), timeout=30)
        r.raise_for_status()

    def edit(self, file_id: str, data: bytes) -> None:
        r = requests.patch(f"{self.url}upload/drive/v3/files/{file_id}", params={"uploadType": "media"},
                           data=data, headers={**self._h(), "Content-Type": "text/plain"}, timeout=30)
        r.raise_for_status()


def test_kill_during_changes_merge(home, emulator):
    rng = random.Random(902)
    mirror = Mirror(emulator, EMAIL, USER)
    for i in range(120):
        p = home / f"d{i % 6}" / f"f{i:03d}.txt"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(rng.randbytes(100))
    finish_push(home, emulator)
    other = DriveSide(emulator)
    landed = []
    for trial in range(trials(1, 8)):
        ids = {p: fs[0]["id"] for p, fs in mirror.tree().items() if p.endswith(".txt")}
        chosen = rng.sample(sorted(ids), 30)
        for n, p in enumerate(chosen):  # on Drive: 15 edited, 15 trashed
            if n % 2:
                other.trash(ids[p])
            else:
                other.edit(ids[p], f"edited on Drive {trial}".encode())
        emulator.settings(latency_ms=60)
        before = route_count(emulator, "GET /drive/v3/changes")
        patches = route_count(emulator, "PATCH /")
        proc = cli(*push_args(home, emulator, "--policy", "local-wins", "--workers", "2"))
        assert wait_for(lambda: route_count(emulator, "GET /drive/v3/changes") > before, proc)
        time.sleep(rng.uniform(0.0, 0.12))  # the answer arrives after 60 ms, then the merge
        writes = route_count(emulator, "PATCH /") - patches
        if kill(proc):
            landed.append(f"{writes} of the push's 30 repairs (PATCH) sent")
        emulator.settings(latency_ms=0)
        finish_push(home, emulator, "--policy", "local-wins")
        mirror.assert_equal(home, download=True)
    KILLS["changes merge"] = landed
    print("kills during the changes merge:", landed)
    assert landed


# -- 3. during a restore ------------------------------------------------------------------------


def test_kill_during_restore_with_overwrite(home, emulator):
    rng = random.Random(903)
    mirror = Mirror(emulator, EMAIL, USER)
    originals: dict[str, bytes] = {}
    for i in range(80):
        rel = f"r{i % 5}/sub{i % 3}/f{i:03d}.bin"
        data = rng.randbytes(rng.randrange(1000, 40000))
        (home / rel).parent.mkdir(parents=True, exist_ok=True)
        (home / rel).write_bytes(data)
        originals[rel] = data
    finish_push(home, emulator)
    landed = []
    for trial in range(trials(1, 7)):
        # the local copies go wrong (edited later than Drive, or deleted): restore --overwrite always
        for n, rel in enumerate(rng.sample(sorted(originals), 40)):
            if n % 2:
                (home / rel).unlink()
            else:
                (home / rel).write_bytes(b"local damage " + bytes([trial]))
        emulator.settings(latency_ms=30)
        proc = cli("restore", "--home", str(home), "--user", USER, "--api-root", emulator.url, "--json",
                   "--overwrite", "always", "--workers", "2")
        assert wait_for(lambda: holds_lock(home, proc), proc)
        assert wait_for(lambda: sum(1 for rel, d in originals.items()
                                    if (home / rel).is_file() and md5((home / rel).read_bytes()) == md5(d)) > 45, proc)
        time.sleep(rng.uniform(0.0, 0.3))
        if kill(proc):
            landed.append("mid-download")
        emulator.settings(latency_ms=0)
        code, out, err = run_cli("restore", "--home", str(home), "--user", USER, "--api-root", emulator.url,
                                 "--json", "--overwrite", "always")
        assert code == 0, err
        # the home equals Drive again, no temp files left, and a push has nothing to send
        assert {rel: (home / rel).read_bytes() for rel in originals} == originals
        assert not [p for p in home.rglob("*") if p.name.endswith(".drive-sync-part")]
        emulator.reset_stats()
        summary = finish_push(home, emulator)
        assert (summary["created"], summary["updated"], summary["folders_created"]) == (0, 0, 0), summary
        assert route_count(emulator, *CREATE_ROUTES) == 0
        mirror.assert_equal(home, download=False)
    KILLS["restore"] = landed
    print("kills during a restore:", landed)
    assert landed


# -- 4. during a hub run over several homes -----------------------------------------------------


def test_kill_during_hub_run_over_several_homes(tmp_path, emulator):
    rng = random.Random(904)
    root = tmp_path / "homes"
    root.mkdir()
    users = [f"user{i}" for i in range(4)]
    mirrors: dict[str, Mirror] = {}
    for u in users:
        h = root / u
        h.mkdir()
        connect_home(emulator.url, h, f"{u}@uni.edu")
        mirrors[u] = Mirror(emulator, f"{u}@uni.edu", u)
    hub_args = ["hub", "--homes-root", str(root), "--api-root", emulator.url, "--parallel", "2", "--workers", "2"]
    landed = []
    for trial in range(trials(1, 7)):
        for u in users:
            for i in range(25):
                p = root / u / f"t{trial}" / f"d{i % 4}" / f"f{i}.txt"
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_bytes(rng.randbytes(rng.randrange(10, 3000)))
        emulator.settings(latency_ms=30)
        before = route_count(emulator, "POST /upload/drive/v3/files")
        proc = cli(*hub_args)
        assert wait_for(lambda: route_count(emulator, "POST /upload/drive/v3/files") > before, proc)
        time.sleep(rng.uniform(0.0, 1.0))
        uploads = route_count(emulator, "POST /upload/drive/v3/files") - before
        if kill(proc):
            landed.append(f"after {uploads} of {4 * 25} uploads")
        emulator.settings(latency_ms=0)
        code, out, err = run_cli(*hub_args)
        assert code == 0, err + out
        lines = [json.loads(x) for x in out.splitlines()]
        assert {x["user"]: x["status"] for x in lines if x["type"] == "user"} == {u: "ok" for u in users}
        for u in users:
            mirrors[u].assert_equal(root / u, download=False)
    KILLS["hub run"] = landed
    print("kills during a hub run:", landed)
    assert landed
    for u in users:
        mirrors[u].assert_equal(root / u)
