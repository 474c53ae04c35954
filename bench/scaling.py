"""Scaling: how the no-op push grows with the home, and the first push with the worker count.

Two tables, one JSON object per line (then a summary line):

- `noop_scale`: homes of 1k, 10k and 100k small files (20 files a folder), already pushed
  (state seeded, see `seed.py`), pushed again unchanged as a `jupyter-drive-sync push` child.
  Drive requests (should stay flat: the changes feed, nothing else), wall time, the CLI's own
  start-up, a bare `os.scandir` walk + `lstat` of the same tree, and the scan's share of the
  push beyond start-up (the scan timed alone in a child process). Time should grow with the
  file count only through the scan (and the state rows read beside it).
- `workers`: a first push of `--worker-files` small files for each worker count: seconds,
  writes, refused writes, files per second, and the ratio to the write bound (writes ÷ 3/s).
  With Google's 600 ms a write, one worker cannot reach 3 writes/s; a few can, more do not help.

The emulator runs under `--profile google`; the no-op homes are *set up* (seeded, then one warm
push) with its limits lifted (`Emulator.unlimited`), the timed pushes run under them.

Quick look: `python bench/scaling.py --sizes 1000,5000 --workers-list 1,4 --worker-files 30`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    Emulator,
    best_of,
    child_env,
    cli,
    emit,
    machine,
    make_tree,
    run_timed,
    time_bare_walk,
    time_cli_startup,
)
from seed import seed_pushed_state  # noqa: E402

SCAN_ALONE = """
import sys, time
from pathlib import Path
from jupyter_drive_sync.home.excludes import Excludes
from jupyter_drive_sync.home.scan import scan
home = Path(sys.argv[1])
t0 = time.perf_counter()
snap = scan(home, Excludes.for_home(home), max_file_size=5 * 1024**4)
print(time.perf_counter() - t0, len(snap.entries))
"""

# Where a no-op push's time goes, measured in one child process, phase by phase, in the order
# the push runs them (the push itself interleaves nothing, so these add up to its run time).
PHASES = """
import json, sys, time
c = time.perf_counter
t0 = c()
from pathlib import Path
from jupyter_drive_sync.home.excludes import Excludes
from jupyter_drive_sync.core.model import DeletePolicy, Policy
from jupyter_drive_sync.engine.plan import plan
from jupyter_drive_sync.engine.plan_input import read_plan_state
from jupyter_drive_sync.home.scan import hash_candidates, scan
from jupyter_drive_sync.core.settings import default_credentials_path
from jupyter_drive_sync.home.state_db import StateDB
t1 = c()
from jupyter_drive_sync.auth.credentials import CredentialStore
from jupyter_drive_sync.drive.client import DriveClient
t2 = c()
home, url = Path(sys.argv[1]), sys.argv[2]
snap = scan(home, Excludes.for_home(home), max_file_size=5 * 1024**4)
t3 = c()
db = StateDB.for_home(home)
rows = read_plan_state(db, snap)
t4 = c()
p = plan(snap, rows, hash_candidates(home, snap, rows), policy=Policy.LAST_WRITE_WINS, delete_policy=DeletePolicy.KEEP)
t5 = c()
client = DriveClient(CredentialStore(default_credentials_path(home)).load(), api_root=url)
t6 = c()
changes, _ = client.list_changes(db.page_token)
t7 = c()
print(json.dumps({"engine_imports": t1 - t0, "google_client_imports": t2 - t1, "scan": t3 - t2,
                  "state_load": t4 - t3, "plan": t5 - t4, "client_build": t6 - t5, "changes_list": t7 - t6,
                  "actions": len(p.actions)}))
"""


def noop_phases(home: Path, url: str, repeat: int) -> dict[str, float]:
    """Each phase's best time over `repeat` child runs (seconds)."""
    best: dict[str, float] = {}
    for _ in range(max(1, repeat)):
        out = subprocess.run([sys.executable, "-c", PHASES, str(home), url], capture_output=True, text=True,
                             env=child_env(), check=True).stdout
        for k, v in json.loads(out.splitlines()[-1]).items():
            best[k] = min(best.get(k, v), v)
    return {k: round(v, 4) for k, v in best.items()}


def push_cmd(url: str, home: Path, workers: int | None = None) -> list[str]:
    cmd = [*cli(), "push", "--home", str(home), "--api-root", url, "--json"]
    return cmd + (["--workers", str(workers)] if workers is not None else [])


def time_scan_alone(home: Path) -> float:
    """The scan in a child process (imports done before the clock starts)."""
    out = subprocess.run([sys.executable, "-c", SCAN_ALONE, str(home)], capture_output=True, text=True,
                         env=child_env(), check=True).stdout
    return float(out.split()[0])


def noop_scale(emu: Emulator, tmp: Path, files: int, repeat: int) -> dict[str, Any]:
    home = tmp / f"noop{files}"
    make_tree(home, files, max(1, files // 20))
    emu.connect(home, f"scale{files}@bench.example")
    with emu.unlimited():
        seeded = seed_pushed_state(home, emu.url)
        warm = run_timed(push_cmd(emu.url, home))  # reads what is left of the seeding's own changes
    if warm.returncode != 0:
        raise SystemExit(f"warm-up push failed: {warm.stderr[-2000:]}")
    pushes = []
    for _ in range(repeat):
        emu.reset_stats()
        t = run_timed(push_cmd(emu.url, home))
        pushes.append((t, emu.stats()))
    best_t, best_stats = min(pushes, key=lambda p: p[0].seconds)
    summary = best_t.json() or {}
    startup, _ = best_of(time_cli_startup, repeat)
    walk, _ = best_of(lambda: time_bare_walk(home), repeat)
    scan_s, _ = best_of(lambda: time_scan_alone(home), repeat)
    beyond = best_t.seconds - startup
    phases = noop_phases(home, emu.url, repeat)
    return {
        "scenario": "noop_scale", "files": files, "folders": seeded["folders_created"],
        "requests": max(p[1]["requests"] for p in pushes), "requests_samples": [p[1]["requests"] for p in pushes],
        "push_seconds": round(best_t.seconds, 4), "startup_seconds": round(startup, 4),
        "push_beyond_startup_seconds": round(beyond, 4), "bare_walk_seconds": round(walk, 4),
        "scan_seconds": round(scan_s, 4), "scan_share": round(scan_s / beyond, 2) if beyond > 0 else None,
        "ratio_to_walk": round(beyond / walk, 2) if walk else None,
        "push_samples": [round(p[0].seconds, 4) for p in pushes], "peak_rss_mb": round(best_t.peak_rss_mb, 1),
        "unchanged": summary.get("unchanged"), "created": summary.get("created"), "updated": summary.get("updated"),
        "exit": best_t.returncode, "phases": phases,
    }


def first_push_workers(emu: Emulator, tmp: Path, files: int, workers: int) -> dict[str, Any]:
    home = tmp / f"workers{workers}"
    make_tree(home, files, max(1, files // 20), seed=f"w{workers} ")
    emu.connect(home, f"workers{workers}@bench.example")
    emu.reset_stats()
    t = run_timed(push_cmd(emu.url, home, workers))
    stats = emu.stats()
    s = t.json() or {}
    rate = float(emu.limits.get("write_rate") or 0)
    bound = stats["writes"] / rate if rate else 0.0
    return {
        "scenario": "workers", "workers": workers, "files": files, "profile": emu.profile,
        "latency_ms": emu.limits.get("latency_ms"), "write_latency_ms": emu.limits.get("write_latency_ms"),
        "write_rate": rate, "seconds": round(t.seconds, 2), "requests": stats["requests"],
        "writes": stats["writes"], "refused_writes": stats["refused_writes"],
        "write_bound_seconds": round(bound, 2), "ratio": round(t.seconds / bound, 3) if bound else None,
        "files_per_second": round(files / t.seconds, 1), "created": s.get("created"),
        "failed": len(s.get("failed") or []), "exit": t.returncode,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000,100000", help="file counts of the no-op homes")
    ap.add_argument("--repeat", type=int, default=3, help="timed samples per no-op size")
    ap.add_argument("--workers-list", default="1,4,16")
    ap.add_argument("--worker-files", type=int, default=45, help="files in each first-push home")
    ap.add_argument("--json-out", metavar="FILE", help="also write every line as one JSON array here")
    args = ap.parse_args()

    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-scaling-") as tmp, Emulator(profile="google") as emu:
        for n in (int(x) for x in args.sizes.split(",") if x):
            emit(noop_scale(emu, Path(tmp), n, args.repeat), results)
        for w in (int(x) for x in args.workers_list.split(",") if x):
            emit(first_push_workers(emu, Path(tmp), args.worker_files, w), results)
    noop = [r for r in results if r["scenario"] == "noop_scale"]
    summary = {"scenario": "summary", "machine": machine(),
               "noop_requests_flat": len({r["requests"] for r in noop}) <= 1,
               "noop_all_unchanged": all(r["created"] == 0 and r["unchanged"] == r["files"] for r in noop)}
    emit(summary)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps([*results, summary], indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
