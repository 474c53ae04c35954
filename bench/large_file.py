"""One big file: peak RSS of the push, and how much an interrupted push sends again.

A generated file of `--size-mb` random bytes (default 1 GiB) in a home of its own:

1. `full`: pushed in one go by a `jupyter-drive-sync push` child: wall time, MB/s, the child's
   peak RSS (target ≤ 150 MB: the file is streamed in chunks, never read whole), bytes the
   emulator received, md5 on Drive equal to the file's.
2. `interrupted`: the same file in a second home (a hard link: same bytes, a new Drive account)
   pushed by a child that is SIGKILLed once the emulator has received `--kill-at` of it (polling
   the admin stats), then pushed again to the end. Bytes the rerun sent as a share of the file
   (target ≤ 0.6: the rerun continues the session the killed run kept in its state DB), both
   runs' peak RSS, md5 on Drive.

The emulator runs as its own process, under `--profile google` with its round trips off by
default (`--latency-ms 0 --write-latency-ms 0`): the write rate and the quotas stay, and the
600 ms each 8 MiB chunk would wait changes neither the peak RSS nor the bytes re-sent. Prints one JSON object per line, then a summary line.
Quick look: `python bench/large_file.py --size-mb 64`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Emulator, child_env, cli, emit, machine, run_timed  # noqa: E402

MIB = 1024 * 1024
RSS_TARGET_MB = 150
RESENT_TARGET = 0.6


def make_big_file(path: Path, size: int) -> str:
    """Random bytes in 8 MiB blocks (so the md5 means something); returns the md5."""
    h = hashlib.md5()
    with open(path, "wb") as fh:
        left = size
        while left:
            block = os.urandom(min(8 * MIB, left))
            h.update(block)
            fh.write(block)
            left -= len(block)
    os.utime(path, (1_700_000_000, 1_700_000_000))
    return h.hexdigest()


def push_cmd(url: str, home: Path) -> list[str]:
    return [*cli(), "push", "--home", str(home), "--api-root", url, "--json"]


def drive_copy(emu: Emulator, email: str, name: str) -> dict[str, Any]:
    files = [f for f in emu.admin("GET", f"_emulator/accounts/{email}/files")["files"] if f["name"] == name]
    return {"copies": len(files), "md5": files[0].get("md5Checksum") if files else None,
            "size": int(files[0]["size"]) if files and files[0].get("size") else None}


def kill_when_received(emu: Emulator, cmd: list[str], threshold: int, timeout: float) -> dict[str, Any]:
    """Run `cmd`; SIGKILL it once the emulator has received `threshold` bytes."""
    emu.reset_stats()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=child_env())
    killed = False
    received = 0
    while time.perf_counter() - t0 < timeout:
        received = emu.stats()["bytes_received"]
        if received >= threshold:
            proc.send_signal(signal.SIGKILL)
            killed = True
            break
        if proc.poll() is not None:
            break
        time.sleep(0.01)
    else:
        proc.send_signal(signal.SIGKILL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {"killed": killed, "seconds": round(time.perf_counter() - t0, 2),
            "bytes_received_at_kill": received, "bytes_received": emu.stats()["bytes_received"],
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=int, default=1024)
    ap.add_argument("--kill-at", type=float, default=0.5, help="share of the file received when the push is killed")
    ap.add_argument("--latency-ms", type=float, default=0.0, help="read round trip (google profile: 230)")
    ap.add_argument("--write-latency-ms", type=float, default=0.0, help="write round trip (google profile: 600)")
    ap.add_argument("--json-out", metavar="FILE", help="also write every line as one JSON array here")
    args = ap.parse_args()
    size = args.size_mb * MIB
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-large-") as tmp:
        base = Path(tmp)
        # Google's limits (write rate, quotas) as everywhere, but not its round trips: 128 chunk
        # PUTs of 600 ms each would add ~2.5 minutes of waiting to `make bench` and change
        # neither the peak RSS nor the bytes re-sent, which are what this step measures.
        with Emulator(profile="google", latency_ms=args.latency_ms, write_latency_ms=args.write_latency_ms,
                      data_dir=str(base / "emulator")) as emu:
            home = base / "big"
            home.mkdir()
            t0 = time.perf_counter()
            digest = make_big_file(home / "dataset.bin", size)
            generate_s = time.perf_counter() - t0
            emu.connect(home, "big@bench.example")

            # 1. one push, start to end
            emu.reset_stats()
            t = run_timed(push_cmd(emu.url, home))
            stats = emu.stats()
            copy = drive_copy(emu, "big@bench.example", "dataset.bin")
            emit({"scenario": "large_full", "size_mb": args.size_mb, "profile": emu.profile,
                  "latency_ms": emu.limits.get("latency_ms"), "write_latency_ms": emu.limits.get("write_latency_ms"),
                  "generate_seconds": round(generate_s, 1),
                  "seconds": round(t.seconds, 2), "mb_per_s": round(args.size_mb / t.seconds, 1),
                  "peak_rss_mb": round(t.peak_rss_mb, 1), "target_rss_mb": RSS_TARGET_MB,
                  "bytes_received": stats["bytes_received"], "requests": stats["requests"],
                  "md5_ok": copy["md5"] == digest, "copies": copy["copies"], "exit": t.returncode}, results)

            # 2. killed at ~50 %, then run again
            home2 = base / "big2"
            home2.mkdir()
            os.link(home / "dataset.bin", home2 / "dataset.bin")
            emu.connect(home2, "big2@bench.example")
            first = kill_when_received(emu, push_cmd(emu.url, home2), int(size * args.kill_at),
                                       timeout=max(120.0, 4 * t.seconds))
            emu.reset_stats()
            again = run_timed(push_cmd(emu.url, home2))
            stats2 = emu.stats()
            copy2 = drive_copy(emu, "big2@bench.example", "dataset.bin")
            resent = stats2["bytes_received"] / size
            emit({"scenario": "large_interrupted", "size_mb": args.size_mb, "kill_at": args.kill_at,
                  "first_run": first, "rerun_seconds": round(again.seconds, 2),
                  "rerun_bytes_received": stats2["bytes_received"], "rerun_share_of_file": round(resent, 3),
                  "target_share": RESENT_TARGET,
                  "total_share_of_file": round((first["bytes_received"] + stats2["bytes_received"]) / size, 3),
                  "new_sessions_in_rerun": stats2["by_route"].get("POST /upload/drive/v3/files", 0),
                  "rerun_peak_rss_mb": round(again.peak_rss_mb, 1), "md5_ok": copy2["md5"] == digest,
                  "copies": copy2["copies"], "exit": again.returncode}, results)
    full, inter = results
    peak = max(full["peak_rss_mb"], inter["first_run"]["peak_rss_mb"], inter["rerun_peak_rss_mb"])
    summary = {"scenario": "summary", "machine": machine(), "targets": {
        "peak_rss_mb": {"value": peak, "target": f"<= {RSS_TARGET_MB}", "met": peak <= RSS_TARGET_MB},
        "resent_share": {"value": inter["rerun_share_of_file"], "target": f"<= {RESENT_TARGET}",
                         "met": inter["first_run"]["killed"] and inter["rerun_share_of_file"] <= RESENT_TARGET},
        "md5_equal": {"value": full["md5_ok"] and inter["md5_ok"], "target": "true",
                      "met": full["md5_ok"] and inter["md5_ok"] and inter["copies"] == 1},
    }}
    summary["all_met"] = all(c["met"] for c in summary["targets"].values())
    emit(summary)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps([*results, summary], indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
