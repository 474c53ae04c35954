"""Push benchmarks for the targeted scenarios (docs/PERFORMANCE.md), one JSON object per line, then a summary line.

Scenarios (the emulator runs as its own process; every push is a `jupyter-drive-sync push`
child process, timed from spawn to exit):

- `noop`: a home of 20,000 files in ~1,000 folders, already pushed, pushed again unchanged.
  Drive requests (target ≤ 2) and the push's wall time beyond the CLI's own start-up
  (`jupyter-drive-sync --version`) against a bare `os.scandir` walk + `lstat` of the same tree
  (target ratio ≤ 1.5). Times are the best of `--repeat` runs, each run measured here.
- `changed`: 20 of those files rewritten, pushed: requests (target ≤ 25).
- `first_push`: 2,000 small files in 150 folders, never pushed, emulator at 30 ms latency and a
  quota of 12,000 units/min: requests (target ≤ files + folders/50 + 10), quota units, seconds
  and the ratio to the quota bound, units ÷ 200/s (target ≤ 1.3).

Numbers from one run on this machine; nothing is asserted. Quick look:
`python bench/push.py --files 2000 --dirs 100 --first-files 300 --first-dirs 30`.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    Emulator,
    best_of,
    change_files,
    cli,
    emit,
    machine,
    make_tree,
    run_timed,
    time_bare_walk,
    time_cli_startup,
)

QUOTA_RATE = 200.0  # units per second = 12,000 per minute (Google's per-user budget)


def push_cmd(url: str, home: Path, workers: int | None) -> list[str]:
    cmd = [*cli(), "push", "--home", str(home), "--api-root", url, "--json"]
    if workers is not None:
        cmd += ["--workers", str(workers)]
    return cmd


def timed_push(emu: Emulator, home: Path, workers: int | None) -> tuple[Any, dict[str, Any]]:
    """One push with fresh emulator stats: (Timed, stats after it)."""
    emu.reset_stats()
    t = run_timed(push_cmd(emu.url, home, workers))
    if t.returncode != 0:
        sys.stderr.write(f"push exited {t.returncode}: {t.stderr[-2000:]}\n")
    return t, emu.stats()


def counts(summary: dict[str, Any] | None) -> dict[str, Any]:
    if not summary:
        return {}
    keys = ("created", "updated", "metadata_updated", "unchanged", "folders_created", "trashed")
    out = {k: summary.get(k) for k in keys}
    out["skipped"] = len(summary.get("skipped") or [])
    out["failed"] = len(summary.get("failed") or [])
    return out


def scenario_noop(emu: Emulator, home: Path, args: argparse.Namespace, results: list[dict[str, Any]]) -> None:
    make_tree(home, args.files, args.dirs, size=args.size)
    emu.connect(home, "noop@bench.example")
    setup, stats = timed_push(emu, home, args.workers)
    emit({"scenario": "noop_setup", "files": args.files, "dirs": args.dirs, "seconds": round(setup.seconds, 2),
          "requests": stats["requests"], "units": stats["units"], "exit": setup.returncode,
          **counts(setup.json())}, results)

    startup, startup_samples = best_of(time_cli_startup, args.repeat)
    walk, walk_samples = best_of(lambda: time_bare_walk(home), args.repeat)
    pushes = [timed_push(emu, home, args.workers) for _ in range(args.repeat)]
    best = min(pushes, key=lambda p: p[0].seconds)
    push_s = best[0].seconds
    beyond = push_s - startup
    requests = max(p[1]["requests"] for p in pushes)
    emit({
        "scenario": "noop", "files": args.files, "dirs": args.dirs,
        "requests": requests, "target_requests": 2,
        "requests_samples": [p[1]["requests"] for p in pushes], "by_route": best[1]["by_route"],
        "push_seconds": round(push_s, 4), "startup_seconds": round(startup, 4),
        "push_beyond_startup_seconds": round(beyond, 4), "bare_walk_seconds": round(walk, 4),
        "ratio": round(beyond / walk, 2), "target_ratio": 1.5,
        "push_samples": [round(p[0].seconds, 4) for p in pushes],
        "startup_samples": [round(x, 4) for x in startup_samples],
        "walk_samples": [round(x, 4) for x in walk_samples],
        "in_run_seconds": (best[0].json() or {}).get("seconds"),
        "peak_rss_mb": round(best[0].peak_rss_mb, 1), "exit": best[0].returncode,
        **counts(best[0].json()),
    }, results)


def scenario_changed(emu: Emulator, home: Path, args: argparse.Namespace, results: list[dict[str, Any]]) -> None:
    files = sorted(str(p.relative_to(home)) for p in home.glob("d*/**/f*.txt"))
    step = max(1, len(files) // max(1, args.changed))
    picked = files[::step][: args.changed]
    change_files(home, picked)
    t, stats = timed_push(emu, home, args.workers)
    emit({"scenario": "changed", "files": len(files), "changed": len(picked),
          "requests": stats["requests"], "target_requests": 25, "units": stats["units"],
          "by_route": stats["by_route"], "seconds": round(t.seconds, 3), "exit": t.returncode,
          **counts(t.json())}, results)


def scenario_first_push(emu: Emulator, home: Path, args: argparse.Namespace,
                        results: list[dict[str, Any]]) -> None:
    make_tree(home, args.first_files, args.first_dirs, size=args.size, seed="first ")
    emu.connect(home, "first@bench.example")
    emu.settings(latency_ms=args.latency_ms, quota_per_minute=args.quota_per_minute)
    try:
        t, stats = timed_push(emu, home, args.first_workers)
    finally:
        emu.settings(latency_ms=0, quota_per_minute=0)
    units = stats["units"]
    rate = args.quota_per_minute / 60.0 if args.quota_per_minute else QUOTA_RATE
    bound = units / rate
    emit({
        "scenario": "first_push", "files": args.first_files, "dirs": args.first_dirs,
        "latency_ms": args.latency_ms, "quota_per_minute": args.quota_per_minute,
        "workers": args.first_workers, "requests": stats["requests"],
        "target_requests": int(args.first_files + args.first_dirs / 50 + 10),
        "units": units, "by_route": stats["by_route"], "seconds": round(t.seconds, 2),
        "quota_bound_seconds": round(bound, 2), "ratio": round(t.seconds / bound, 2) if bound else None,
        "target_ratio": 1.3, "in_run_seconds": (t.json() or {}).get("seconds"),
        "peak_rss_mb": round(t.peak_rss_mb, 1), "exit": t.returncode, **counts(t.json()),
    }, results)


def summarize(results: list[dict[str, Any]]) -> dict[str, Any]:
    by = {r["scenario"]: r for r in results}
    checks: dict[str, Any] = {}
    if "noop" in by:
        r = by["noop"]
        checks["noop_requests"] = {"value": r["requests"], "target": "<= 2", "met": r["requests"] <= 2}
        checks["noop_ratio"] = {"value": r["ratio"], "target": "<= 1.5", "met": r["ratio"] <= 1.5}
    if "changed" in by:
        r = by["changed"]
        checks["changed_requests"] = {"value": r["requests"], "target": "<= 25", "met": r["requests"] <= 25}
    if "first_push" in by:
        r = by["first_push"]
        checks["first_push_requests"] = {"value": r["requests"], "target": f"<= {r['target_requests']}",
                                         "met": r["requests"] <= r["target_requests"]}
        checks["first_push_ratio"] = {"value": r["ratio"], "target": "<= 1.3",
                                      "met": r["ratio"] is not None and r["ratio"] <= 1.3}
    return {"scenario": "summary", "machine": machine(), "targets": checks,
            "all_met": all(c["met"] for c in checks.values())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=20_000, help="files in the no-op/changed home")
    ap.add_argument("--dirs", type=int, default=1_000, help="folders in the no-op/changed home")
    ap.add_argument("--changed", type=int, default=20, help="files rewritten for the `changed` scenario")
    ap.add_argument("--first-files", type=int, default=2_000)
    ap.add_argument("--first-dirs", type=int, default=150)
    ap.add_argument("--latency-ms", type=float, default=30.0, help="emulator latency for the first push")
    ap.add_argument("--quota-per-minute", type=int, default=12_000, help="emulator quota for the first push")
    ap.add_argument("--size", type=int, default=64, help="bytes per generated file")
    ap.add_argument("--workers", type=int, default=None, help="push --workers for noop/changed (default: the CLI's)")
    ap.add_argument("--first-workers", type=int, default=None, help="push --workers for the first push")
    ap.add_argument("--repeat", type=int, default=5, help="timed samples of the no-op push, start-up and walk")
    ap.add_argument("--only", choices=["noop", "first_push"], default=None, help="run one scenario group")
    ap.add_argument("--json-out", metavar="FILE", help="also write every line as one JSON array here")
    args = ap.parse_args()

    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-push-") as tmp, Emulator() as emu:
        if args.only in (None, "noop"):
            home = Path(tmp) / "noop"
            scenario_noop(emu, home, args, results)
            scenario_changed(emu, home, args, results)
        if args.only in (None, "first_push"):
            scenario_first_push(emu, Path(tmp) / "first", args, results)
    summary = summarize(results)
    emit(summary)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps([*results, summary], indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
