"""A big upload killed halfway is continued by the next run, not sent again (the target
"interrupted at 50 % then rerun: ≤ 60 % of the bytes sent again").

The push runs in its own process with 256 KiB chunks (so an 8 MiB file is a 32-chunk resumable
upload) against the emulator in this process, slowed down enough to stop it in the middle: once
the emulator has received half of the file the push process is SIGKILLed. The session URI it
kept in the state DB lets the rerun ask Drive where the upload stands (`bytes */TOTAL`) and send
only the rest. A session Drive no longer knows (404) or a file changed since the kill starts
over cleanly, still without a second copy.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from jupyter_drive_sync.emulator.sample import connect_home
from jupyter_drive_sync.home.state_db import StateDB

EMAIL = "resume@uni.edu"
USER = "rex"
CHUNK = 256 * 1024
SIZE = 8 * 1024 * 1024 + 4321  # 33 chunks, the last one short
NAME = "big.bin"

PUSH_SCRIPT = """
import json, sys
from pathlib import Path
from jupyter_drive_sync.core.options import PushOptions
from jupyter_drive_sync.engine.push import run_push
s = run_push(PushOptions(home=Path(sys.argv[1]), user=sys.argv[2], api_root=sys.argv[3], workers=2,
                         chunk_size=int(sys.argv[4]), multipart_limit=int(sys.argv[4])))
print(json.dumps({"created": s.created, "updated": s.updated, "failed": s.failed}))
"""


def push_cmd(home: Path, url: str) -> list[str]:
    return [sys.executable, "-c", PUSH_SCRIPT, str(home), USER, url, str(CHUNK)]


def write_random(path: Path, size: int, mtime: int = 1_700_000_000) -> str:
    data = os.urandom(size)
    path.write_bytes(data)
    os.utime(path, (mtime, mtime))
    return hashlib.md5(data).hexdigest()


def kill_at_half(home: Path, emulator) -> int:
    """Start a push, SIGKILL it once the emulator holds ≥ 50 % of the file; bytes received."""
    emulator.settings(latency_ms=15)  # ~0.5 s for the whole file: time to stop it midway
    emulator.reset_stats()
    proc = subprocess.Popen(push_cmd(home, emulator.url), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while emulator.ctx.stats.snapshot()["bytes_received"] < SIZE // 2:
            assert proc.poll() is None, proc.stderr.read().decode()  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the upload never reached half"
            time.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        emulator.settings(latency_ms=0)
    received = emulator.stats()["bytes_received"]
    assert received < SIZE, "the push finished before it could be stopped"
    return received


def rerun(home: Path, emulator) -> tuple[dict, dict]:
    emulator.reset_stats()
    proc = subprocess.run(push_cmd(home, emulator.url), capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr.decode()
    return json.loads(proc.stdout), emulator.stats()


def drive_copies(emulator) -> list[dict]:
    return [f for f in emulator.files(EMAIL) if f["name"] == NAME]


def setup_home(tmp_path: Path, emulator) -> tuple[Path, str]:
    home = tmp_path / USER
    home.mkdir()
    connect_home(emulator.url, home, EMAIL)
    digest = write_random(home / NAME, SIZE)
    return home, digest


def test_killed_upload_is_continued_by_the_next_run(tmp_path, emulator):
    home, digest = setup_home(tmp_path, emulator)
    first = kill_at_half(home, emulator)
    with StateDB.for_home(home) as db:
        assert db.upload_session_paths() == [NAME]  # remembered before the kill

    summary, stats = rerun(home, emulator)
    assert summary["created"] == 1 and summary["failed"] == []
    # the same session, continued: no new one started, only the missing part sent
    assert stats["by_route"].get("POST /upload/drive/v3/files", 0) == 0, stats["by_route"]
    assert stats["bytes_received"] <= SIZE - first + CHUNK, (first, stats["bytes_received"])
    assert stats["bytes_received"] <= 0.6 * SIZE
    assert first + stats["bytes_received"] <= 1.6 * SIZE

    (copy,) = drive_copies(emulator)
    assert int(copy["size"]) == SIZE and copy["md5Checksum"] == digest and not copy["trashed"]
    with StateDB.for_home(home) as db:
        assert db.upload_session_paths() == []  # forgotten once complete
        assert db.get(NAME).drive_id == copy["id"]

    summary, stats = rerun(home, emulator)  # and nothing is left to do
    assert summary["created"] == 0 and stats["bytes_received"] == 0


def test_a_session_drive_forgot_starts_over_without_a_copy(tmp_path, emulator):
    home, digest = setup_home(tmp_path, emulator)
    kill_at_half(home, emulator)
    with StateDB.for_home(home) as db:  # as if the week-long session had expired on Drive
        (path,) = db.upload_session_paths()
        row = db.get(path)
        st = os.stat(home / NAME)
        db.save_upload_session(path, row.drive_id, st.st_size, st.st_mtime_ns,
                               emulator.url + "upload/drive/v3/files?uploadType=resumable&upload_id=gone")

    summary, stats = rerun(home, emulator)
    assert summary["created"] == 1 and summary["failed"] == []
    assert stats["by_route"].get("POST /upload/drive/v3/files", 0) == 1  # a new session
    assert stats["bytes_received"] >= SIZE
    (copy,) = drive_copies(emulator)
    assert copy["md5Checksum"] == digest
    with StateDB.for_home(home) as db:
        assert db.upload_session_paths() == []


def test_a_file_changed_since_the_kill_is_sent_whole(tmp_path, emulator):
    home, _ = setup_home(tmp_path, emulator)
    kill_at_half(home, emulator)
    digest = write_random(home / NAME, SIZE, mtime=1_700_000_100)  # same size, new content and time

    summary, stats = rerun(home, emulator)
    assert summary["created"] == 1 and summary["failed"] == []
    assert stats["bytes_received"] >= SIZE  # the old session's bytes belong to the old version
    (copy,) = drive_copies(emulator)
    assert copy["md5Checksum"] == digest and copy["modifiedTime"].startswith("2023-11-14T22:15:00")
