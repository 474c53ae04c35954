"""No duplicates, ever (issue 3, "Must show" 4 and 5), against the emulator over real HTTP.

- responses lost after the change was committed ("lost-after-commit") on creates;
- the push process SIGKILLed at random moments, then rerun;
- the state DB deleted, then pushed again (adoption: zero creates);
- two `push` processes on one home at once.

After each: exactly one Drive file per local path, the same content, nothing outside the
home's folder. The push runs as a real subprocess (`python -m jupyter_drive_sync push`) where a
process boundary matters (kill -9, two processes).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jupyter_drive_sync.core.model import FOLDER_MIME
from jupyter_drive_sync.core.options import PushOptions
from jupyter_drive_sync.engine.push import run_push
from jupyter_drive_sync.core.settings import state_dir
from jupyter_drive_sync.home.lock import LOCK_NAME

from tests.support import helpers

EMAIL = "dup@uni.edu"
USER = "dana"
STATE_REL = ".local/share/jupyter/drive_sync"
CREATE_ROUTES = ("POST /upload/drive/v3/files", "POST /drive/v3/files", "POST /batch/drive/v3")


@pytest.fixture
def home(connected_home) -> Path:
    return connected_home(USER, EMAIL)


def fill(home: Path, n: int, tag: str, *, folders: int = 4) -> None:
    """`n` small files spread over `folders` folders (two levels), content tagged per round."""
    for i in range(n):
        p = home / f"set{i % folders}" / f"sub{i % 2}" / f"{tag}-{i:03d}.txt"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(f"{tag} file {i}\n".encode() * (1 + i % 7))


def local_files(home: Path) -> dict[str, str]:
    """Relative path → md5 of every regular file the push should carry (state dir left out)."""
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(home):
        rel_dir = os.path.relpath(dirpath, home)
        if rel_dir == STATE_REL or rel_dir.startswith(STATE_REL + "/"):
            dirnames[:] = []
            continue
        for name in filenames:
            rel = os.path.normpath(os.path.join(rel_dir, name))
            out[rel] = hashlib.md5((Path(dirpath) / name).read_bytes()).hexdigest()
    return out


def drive_by_path(emulator) -> dict[str, list[dict]]:
    """Every file of the account (trashed too) by its full path on Drive, duplicates kept."""
    return helpers.drive_paths(emulator.files(EMAIL))


def assert_exact_mirror(emulator, home: Path) -> None:
    """Exactly one Drive entry per path, files equal to the local ones, nothing extra anywhere."""
    tree = drive_by_path(emulator)
    dups = {p: len(fs) for p, fs in tree.items() if len(fs) > 1}
    assert not dups, f"duplicates on Drive: {dups}"
    prefix = f"home/{USER}/"
    stray = [p for p in tree if p not in ("home", f"home/{USER}") and not p.startswith(prefix)]
    assert not stray, f"files outside the home's folder: {stray}"
    drive_files = {p[len(prefix):]: fs[0] for p, fs in tree.items()
                   if p.startswith(prefix) and fs[0]["mimeType"] != FOLDER_MIME}
    assert not [p for p, f in drive_files.items() if f["trashed"]]
    want = local_files(home)
    assert set(drive_files) == set(want)
    assert {p: f["md5Checksum"] for p, f in drive_files.items()} == want


def creates_in(stats: dict) -> int:
    return sum(n for route, n in stats["by_route"].items() if route in CREATE_ROUTES)


def wait_until_locked_by(home: Path, proc: subprocess.Popen, timeout: float = 30) -> bool:
    """Wait until `proc` holds the home's lock (started, past its imports); False if it ended."""
    lock_path = state_dir(home) / LOCK_NAME
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            holder = json.loads(lock_path.read_text() or "{}")
        except (OSError, ValueError):
            holder = {}
        if holder.get("pid") == proc.pid:
            return True
        time.sleep(0.01)
    return False


def cli_push(home: Path, emulator, *, workers: int = 4) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "jupyter_drive_sync", "push", "--home", str(home), "--user", USER,
           "--api-root", emulator.url, "--json", "--workers", str(workers)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)


# -- lost responses ---------------------------------------------------------------------------


@pytest.mark.timeout(180)  # retries back off at random (up to 8 tries): bound the worst case
@pytest.mark.parametrize("seed", [11, 12])
def test_lost_after_commit_never_duplicates(home, emulator, seed):
    # The emulator's faults hit every route alike, so a rate of 1.0 would also swallow the 409s
    # that settle a retried create. A high rate over several runs loses many create answers
    # (files one by one, folders in their batch) while letting runs progress; higher rates
    # only add long backoff sleeps (8 tries, doubling) without testing anything more.
    fill(home, 24, "a")
    emulator.set_faults(0.35, kinds=["lost-after-commit"], seed=seed)
    injected, stats = helpers.push_under_faults(emulator, PushOptions(home=home, user=USER, api_root=emulator.url, workers=4))
    assert injected.get("lost-after-commit", 0) >= 8
    # the answers were lost, the creates were retried: more create requests than things created
    assert creates_in(stats) > 24

    s = run_push(PushOptions(home=home, user=USER, api_root=emulator.url, workers=4))
    assert s.failed == []
    assert_exact_mirror(emulator, home)


# -- kill -9 at random moments ----------------------------------------------------------------


def test_sigkill_at_random_points_then_rerun_converges(home, emulator):
    emulator.settings(latency_ms=40)  # each request takes a while: kills land mid-push
    rng = random.Random(20240611)
    mid_upload = 0
    for trial in range(8):
        fill(home, 40, f"t{trial}", folders=3 + trial)  # new files (and folders) to create every trial
        if trial % 2:  # and changes to files already on Drive
            for p in sorted(home.glob("set0/sub0/*.txt"))[:3]:
                p.write_bytes(p.read_bytes() + f"edit {trial}\n".encode())
        proc = cli_push(home, emulator, workers=2)
        # Random moments counted from landmarks, not from the start (interpreter start-up varies
        # with the machine's load): even trials anywhere after the push took the lock (setup,
        # ID generation, folder batch, uploads), odd ones once its first file reached Drive.
        wait_until_locked_by(home, proc)
        if trial % 2:
            deadline = time.monotonic() + 30
            while proc.poll() is None and time.monotonic() < deadline and \
                    not any(f"/t{trial}-" in p for p in drive_by_path(emulator)):
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, 0.5))
        else:
            time.sleep(rng.uniform(0.0, 2.0))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=60)
            on_drive = {p for p in drive_by_path(emulator) if f"/t{trial}-" in p}
            if 0 < len(on_drive) < 40:
                mid_upload += 1  # killed while this trial's files were going up
        else:
            proc.communicate(timeout=60)
    # the test is about interrupted pushes: several kills must have landed among the uploads
    assert mid_upload >= 3

    emulator.settings(latency_ms=0)
    proc = cli_push(home, emulator)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()
    summary = json.loads(out)
    assert summary["failed"] == []
    assert_exact_mirror(emulator, home)

    # a second run has nothing left to do
    emulator.reset_stats()
    s = run_push(PushOptions(home=home, user=USER, api_root=emulator.url))
    assert (s.created, s.updated, s.folders_created) == (0, 0, 0)
    assert emulator.stats()["requests"] <= 2

    # -- the state DB is lost (new volume, deleted ~/.local): adoption, zero creates
    sdir = state_dir(home)
    for name in os.listdir(sdir):
        if name.startswith("state.sqlite3"):
            os.unlink(sdir / name)
    assert not [n for n in os.listdir(sdir) if n.startswith("state")]
    emulator.reset_stats()
    s = run_push(PushOptions(home=home, user=USER, api_root=emulator.url))
    stats = emulator.stats()
    assert creates_in(stats) == 0, stats["by_route"]
    assert not [r for r in stats["by_route"] if "/upload/" in r]  # identical files: nothing uploaded
    assert (s.created, s.folders_created, s.updated, s.failed) == (0, 0, 0, [])
    assert s.unchanged == len(local_files(home))
    assert_exact_mirror(emulator, home)


# -- two pushes at once -----------------------------------------------------------------------


def test_two_pushes_at_once_one_reports_already_running(home, emulator):
    """Contract chosen: the second push does not wait (the CLI has no wait option); it exits
    with status 1 and says "already running" on stderr, printing no summary; the first
    finishes normally. The lock is the fcntl lock beside the state DB."""
    fill(home, 40, "two")
    emulator.settings(latency_ms=40)
    first = cli_push(home, emulator)
    assert wait_until_locked_by(home, first), "the first push ended before the second could start"

    second = cli_push(home, emulator)
    out2, err2 = second.communicate(timeout=60)
    out1, err1 = first.communicate(timeout=120)
    assert second.returncode == 1
    assert "already running" in err2.decode()
    assert str(first.pid) in err2.decode()  # it says who holds the lock
    assert out2 == b"" and b"Traceback" not in err2
    assert first.returncode == 0, err1.decode()
    assert json.loads(out1)["created"] == 40

    emulator.settings(latency_ms=0)
    proc = cli_push(home, emulator)  # the lock is free again once the first is done
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    assert json.loads(out)["created"] == 0
    assert_exact_mirror(emulator, home)
