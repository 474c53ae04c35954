"""A large file goes up resumably and survives failures mid-upload without starting over
(issue 3, "Must show" 7).

The push runs as the real CLI in a subprocess (its own interpreter, as in production), the
emulator in this process. Once the emulator has received half of the file, faults are turned
on for a few requests (a refused chunk, a dropped connection, an answer lost after the chunk
was stored), then off again. The upload must resume from what the server holds: one upload
session, at most 1.2 × the file size received in all, and the md5 on Drive equal to the file's.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from jupyter_drive_sync.emulator.sample import connect_home

EMAIL = "big@uni.edu"
USER = "bo"
SIZE = 200 * 1024 * 1024 + 123_457  # not a multiple of the chunk size: the last chunk is short
MIB = 1024 * 1024


def make_big_file(path: Path, size: int) -> str:
    """Random content (so the md5 means something), written in 1 MiB blocks; returns its md5."""
    h = hashlib.md5()
    with open(path, "wb") as fh:
        left = size
        while left:
            block = os.urandom(min(MIB, left))
            h.update(block)
            fh.write(block)
            left -= len(block)
    os.utime(path, (1_700_000_000, 1_700_000_000))
    return h.hexdigest()


# Runs the command as ITS child and reports that child's own peak RSS. Measuring pytest's direct
# child would not do: a forked child's ru_maxrss starts at its parent's resident size (pytest,
# hundreds of MB late in a run), and it is kept across exec. This launcher is a fresh, small
# interpreter, so the figure it reports is the push's own.
_PEAK_RSS_LAUNCHER = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(child.pid, 0)
with open(sys.argv[1], "w") as out:
    out.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_with_peak_rss(cmd: list[str], timeout: float, tmp: Path) -> tuple[int, bytes, bytes, float]:
    """Run `cmd`; return its exit code, output and its own peak RSS in MiB."""
    report = tmp / "peak-rss-kib"
    proc = subprocess.run([sys.executable, "-c", _PEAK_RSS_LAUNCHER, str(report), *cmd],
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    return proc.returncode, proc.stdout, proc.stderr, int(report.read_text()) / 1024


def test_large_file_resumes_after_failures_mid_upload(tmp_path, emulator):
    home = tmp_path / USER
    home.mkdir()
    connect_home(emulator.url, home, EMAIL)
    digest = make_big_file(home / "dataset.bin", SIZE)
    (home / "small.txt").write_bytes(b"small")

    stats = emulator.ctx.stats
    injected: dict[str, int] = {}

    def inject_at_half() -> None:
        """At 50 % received: faults on every request until 3 have been hit, then off."""
        deadline = time.monotonic() + 120
        while stats.snapshot()["bytes_received"] < SIZE // 2:
            if time.monotonic() > deadline:
                return
            time.sleep(0.01)
        emulator.set_faults(1.0, kinds=["503", "reset", "lost-after-commit"], seed=23)
        # Wait for the injections themselves (a request is counted when it arrives, its fault
        # is recorded a moment later), then turn faults off.
        while time.monotonic() < deadline:
            seen = emulator.http.get(emulator.url + "_emulator/faults").json()["injected"]
            if sum(seen.values()) >= 3:
                break
            time.sleep(0.002)
        injected.update(emulator.http.get(emulator.url + "_emulator/faults").json()["injected"])
        emulator.set_faults(0)  # (this also clears the tally: read above)

    watcher = threading.Thread(target=inject_at_half, daemon=True)
    emulator.reset_stats()
    watcher.start()
    returncode, stdout, stderr, peak_mib = run_with_peak_rss(
        [sys.executable, "-m", "jupyter_drive_sync", "push", "--home", str(home), "--user", USER,
         "--api-root", emulator.url, "--json"], timeout=300, tmp=tmp_path)
    watcher.join(timeout=5)
    err = stderr.decode("utf-8", "replace")
    assert returncode == 0, err
    assert "Traceback" not in err
    summary = json.loads(stdout)
    assert summary["failed"] == [] and summary["created"] == 2

    # the failures really happened, in the middle of the upload
    assert sum(injected.values()) >= 3, injected
    assert injected.get("lost-after-commit", 0) >= 1  # seed 23: the first picks are one of each kind
    s = emulator.stats()
    # one resumable session, never restarted; chunks resumed from where the server stood
    assert s["by_route"].get("POST /upload/drive/v3/files", 0) == 2  # the session + small.txt (multipart)
    assert s["by_route"].get("PUT /upload/drive/v3/files", 0) >= SIZE // (8 * MIB)
    assert s["bytes_received"] <= 1.2 * SIZE, s["bytes_received"] / SIZE

    files = {f["name"]: f for f in emulator.files(EMAIL)}
    big = files["dataset.bin"]
    assert int(big["size"]) == SIZE and big["md5Checksum"] == digest
    assert big["modifiedTime"].startswith("2023-11-14T22:13:20.000")
    # streamed in chunks, never read whole: the push process stayed far below the file's size
    assert peak_mib < 150, peak_mib

    emulator.reset_stats()  # and the next push has nothing to send
    proc = subprocess.run(
        [sys.executable, "-m", "jupyter_drive_sync", "push", "--home", str(home), "--user", USER,
         "--api-root", emulator.url, "--json"],
        capture_output=True, timeout=60, stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0 and json.loads(proc.stdout)["unchanged"] == 2
    assert emulator.stats()["bytes_received"] == 0
