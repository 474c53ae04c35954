"""Push benchmarks under `emulator --profile google` (DESIGN §10), one JSON object per line, then a summary.

Every push is a `jupyter-drive-sync push` child process, timed from spawn to exit, against the
emulator in its own process with Google's limits on: 3 sustained writes/s per account (burst
10), 12,000 queries/min per user and per project, 230 ms a read and 600 ms a write round trip
(jupyter_drive_sync/emulator/settings.py, each figure with its source). Only *setting up* a
scenario may lift the limits (`Emulator.unlimited`); what is measured never runs without them.

- `first_push`: `--first-files` small files in `--first-dirs` folders, never pushed. Google's
  bound is the writes the push made ÷ the sustained write rate (nothing can be faster: every
  create and every folder is a write). Wall, bound, ratio (target ≤ 1.05), writes against
  files + folders + the root chain, refused writes (target ≤ 2 %), failed (target 0).
- `work_first`: a mixed home (notebooks, code, text, data and media, one 20 MiB file) pushed for
  the first time while the emulator's admin listing is sampled: the share of the home's
  notebooks on Drive at 25 % of the push's wall time (target ≥ 80 %). It measures whatever order
  the product uploads in.
- `rename` / `move`: in that home, a folder of 100 files renamed and the 20 MiB file moved to
  another folder, each pushed: requests (target ≤ 3), bytes uploaded (0), Drive's file count
  (unchanged).
- `noop`: a home of 20,000 files in 1,000 folders, already pushed (19,980 seeded as pushed,
  `seed.py`, plus 20 files pushed for real; the setup runs without limits), pushed again
  unchanged: requests (target ≤ 2) and the wall beyond the CLI's start-up, against a bare
  `os.scandir` walk plus the round trips of the requests made.
- `changed`: those 20 real files rewritten, pushed: requests (target ≤ 25).

Numbers from one run on this machine; nothing is asserted. Quick look:
`python bench/push.py --files 2000 --dirs 100 --first-files 60 --first-dirs 6 --mixed-scale 0.3`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    Emulator,
    Timed,
    best_of,
    change_files,
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

MIB = 1024 * 1024
ROOT_CHAIN = 2  # `home/<username>`: two folders a first push creates before the home's own


def push_cmd(url: str, home: Path, workers: int | None = None) -> list[str]:
    cmd = [*cli(), "push", "--home", str(home), "--api-root", url, "--json"]
    if workers is not None:
        cmd += ["--workers", str(workers)]
    return cmd


def timed_push(emu: Emulator, home: Path, workers: int | None = None) -> tuple[Timed, dict[str, Any]]:
    """One push with fresh emulator stats: (Timed, stats after it)."""
    emu.reset_stats()
    t = run_timed(push_cmd(emu.url, home, workers))
    if t.returncode != 0:
        sys.stderr.write(f"push exited {t.returncode}: {t.stderr[-2000:]}\n")
    return t, emu.stats()


def counts(summary: dict[str, Any] | None) -> dict[str, Any]:
    if not summary:
        return {}
    keys = ("created", "updated", "metadata_updated", "unchanged", "folders_created", "trashed", "moved",
            "writes", "refused_writes")
    out = {k: summary.get(k) for k in keys if k in summary}
    out["skipped"] = len(summary.get("skipped") or [])
    out["failed"] = len(summary.get("failed") or [])
    return out


def write_bound(emu: Emulator, writes: int) -> float:
    """Google's floor for `writes` write calls: writes ÷ the sustained write rate (the burst
    allowance is not subtracted, as issue 14 defines the bound)."""
    rate = float(emu.limits.get("write_rate") or 0)
    return writes / rate if rate else 0.0


def limits_note(emu: Emulator) -> dict[str, Any]:
    keys = ("profile", "write_rate", "write_burst", "quota_per_minute", "project_quota_per_minute",
            "latency_ms", "write_latency_ms")
    return {k: emu.limits.get(k) for k in keys}


# -- first push ---------------------------------------------------------------------------------


def scenario_first_push(emu: Emulator, home: Path, args: argparse.Namespace,
                        results: list[dict[str, Any]]) -> None:
    make_tree(home, args.first_files, args.first_dirs, size=args.size, seed="first ")
    emu.connect(home, "first@bench.example")
    t, stats = timed_push(emu, home, args.first_workers)
    s = t.json() or {}
    writes = stats["writes"]
    bound = write_bound(emu, writes)
    attempts = writes + stats["refused_writes"]
    emit({
        "scenario": "first_push", "files": args.first_files, "dirs": args.first_dirs, "limits": limits_note(emu),
        "workers": args.first_workers, "seconds": round(t.seconds, 2), "writes": writes,
        "expected_writes": args.first_files + args.first_dirs + ROOT_CHAIN,
        "refused_writes": stats["refused_writes"],
        "refused_share": round(stats["refused_writes"] / attempts, 4) if attempts else 0.0,
        "refused_by_limit": stats.get("refused", {}), "write_bound_seconds": round(bound, 2),
        "ratio": round(t.seconds / bound, 3) if bound else None, "target_ratio": 1.05,
        "requests": stats["requests"], "units": stats["units"], "by_route": stats["by_route"],
        "in_run_seconds": s.get("seconds"), "reported_writes": s.get("writes"),
        "reported_refused_writes": s.get("refused_writes"),
        "peak_rss_mb": round(t.peak_rss_mb, 1), "exit": t.returncode, **counts(s),
    }, results)


# -- the mixed home: what is on Drive at 25 % of a first push, then a rename and a move -----------


def _notebook(title: str, cells: int) -> bytes:
    src = [{"cell_type": "code", "execution_count": i + 1, "metadata": {}, "outputs": [],
            "source": [f"# {title}: step {i}\n", f"x_{i} = [k * {i} for k in range(100)]\n", f"print(x_{i}[:5])\n"]}
           for i in range(cells)]
    return json.dumps({"cells": src, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
                       "nbformat": 4, "nbformat_minor": 5}, indent=1).encode()


def _write(path: Path, data: bytes, age_days: float, now: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    t = now - age_days * 86400
    os.utime(path, (t, t))


def make_mixed_home(home: Path, scale: float) -> dict[str, Any]:
    """A student's home as it looks at a first push: course folders with notebooks (edited
    lately), code and text (older), data files beside them (oldest), a 100-file raw-data
    folder, some media and one 20 MiB file. Sizes are small enough for loopback, large enough
    to make the data the bulk of the bytes. Returns what the scenarios need to know."""
    now = time.time()
    rnd = os.urandom
    courses, weeks = max(1, round(4 * scale)), 5
    raw_files = 100  # the rename scenario's folder: always 100 files
    n = 0
    for c in range(1, courses + 1):
        for w in range(1, weeks + 1):
            d = home / f"course{c}" / f"week{w}"
            _write(d / "lab.ipynb", _notebook(f"course {c} week {w} lab", 20), 0.5 + w * 0.1, now)
            _write(d / "notes.ipynb", _notebook(f"course {c} week {w} notes", 8), 1.0 + w * 0.1, now)
            _write(d / "helpers.py", f"def f{c}_{w}(x):\n    return x * {w}\n".encode() * 40, 10, now)
            _write(d / "solution.py", f"# solution {c}.{w}\n".encode() * 200, 12, now)
            _write(d / "README.md", f"# Week {w}\n\nRead the lab first.\n".encode() * 30, 20, now)
            _write(d / "data_small.csv", rnd(200 * 1024), 60, now)
            _write(d / "measurements.parquet", rnd(MIB), 60, now)
            n += 7
    raw = home / "datasets" / "raw"
    for i in range(raw_files):
        _write(raw / f"sample_{i:03d}.csv", rnd(32 * 1024), 90, now)
    media = max(1, round(20 * scale))
    for i in range(media):
        _write(home / "datasets" / "images" / f"img_{i:03d}.png", rnd(512 * 1024), 75, now)
    _write(home / "datasets" / "survey.h5", rnd(20 * MIB), 45, now)
    thesis = home / "projects" / "thesis"
    extra_nb = max(1, round(5 * scale))
    for i in range(extra_nb):
        _write(thesis / f"analysis_{i}.ipynb", _notebook(f"analysis {i}", 30), 0.2 + i * 0.05, now)
    for i in range(max(1, round(10 * scale))):
        _write(thesis / f"module_{i}.py", f"VALUE_{i} = {i}\n".encode() * 100, 5, now)
    for i in range(max(1, round(5 * scale))):
        _write(thesis / f"chapter_{i}.md", f"## Chapter {i}\n\nText.\n".encode() * 100, 3, now)
    files = [p for p in home.rglob("*") if p.is_file()]
    notebooks = [p for p in files if p.suffix == ".ipynb"]
    folders = [p for p in home.rglob("*") if p.is_dir()]
    return {"files": len(files), "notebooks": len(notebooks), "folders": len(folders),
            "bytes": sum(p.stat().st_size for p in files), "raw_folder": "datasets/raw",
            "big_file": "datasets/survey.h5", "big_file_to": "projects/thesis/survey.h5"}


def _drive_counts(emu: Emulator, email: str) -> tuple[int, int]:
    """(notebooks, files) the account holds on Drive, folders and trashed excluded."""
    files = [f for f in emu.files(email)
             if f.get("mimeType") != "application/vnd.google-apps.folder" and not f.get("trashed")]
    return sum(1 for f in files if str(f.get("name", "")).endswith(".ipynb")), len(files)


def scenario_work_first(emu: Emulator, home: Path, args: argparse.Namespace,
                        results: list[dict[str, Any]]) -> dict[str, Any]:
    layout = make_mixed_home(home, args.mixed_scale)
    email = "mixed@bench.example"
    emu.connect(home, email)
    emu.reset_stats()
    samples: list[tuple[float, int, int]] = []
    t0 = time.perf_counter()
    proc = subprocess.Popen(push_cmd(emu.url, home), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=child_env(), text=True)
    while proc.poll() is None:
        nb, nf = _drive_counts(emu, email)
        samples.append((time.perf_counter() - t0, nb, nf))
        time.sleep(args.sample_every)
    wall = time.perf_counter() - t0
    out, err = proc.communicate()
    if proc.returncode != 0:
        sys.stderr.write(f"mixed push exited {proc.returncode}: {err[-2000:]}\n")
    stats = emu.stats()
    nb, nf = _drive_counts(emu, email)
    samples.append((wall, nb, nf))
    summary = next((json.loads(x) for x in reversed(out.splitlines()) if x.startswith("{")), {})

    def at(share: float) -> tuple[float, int, int]:
        """The last sample taken at or before `share` of the wall time (what a push stopped
        there would have left on Drive)."""
        cut = share * wall
        return max((s for s in samples if s[0] <= cut), key=lambda s: s[0], default=(0.0, 0, 0))

    marks = {f"{int(q * 100)}%": {"t": round(at(q)[0], 1), "notebooks": at(q)[1], "files": at(q)[2]}
             for q in (0.1, 0.25, 0.5, 0.75)}
    q25 = at(0.25)
    writes = stats["writes"]
    bound = write_bound(emu, writes)
    emit({
        "scenario": "work_first", **{k: layout[k] for k in ("files", "notebooks", "folders", "bytes")},
        "seconds": round(wall, 2), "writes": writes, "refused_writes": stats["refused_writes"],
        "write_bound_seconds": round(bound, 2), "ratio": round(wall / bound, 3) if bound else None,
        "notebooks_at_25pct": q25[1], "notebooks_share_at_25pct": round(q25[1] / layout["notebooks"], 3),
        "files_at_25pct": q25[2], "sample_at_seconds": round(q25[0], 2), "target_share": 0.8,
        "marks": marks, "samples": len(samples), "in_run_seconds": summary.get("seconds"),
        "exit": proc.returncode, **counts(summary),
    }, results)
    return layout


def scenario_reorganise(emu: Emulator, home: Path, layout: dict[str, Any], results: list[dict[str, Any]]) -> None:
    """A local folder rename (100 files) and a 20 MiB file moved, one push each."""
    email = "mixed@bench.example"
    steps = [("rename", layout["raw_folder"], layout["raw_folder"] + "_2026", 100),
             ("move", layout["big_file"], layout["big_file_to"], 1)]
    for name, src, dst, nfiles in steps:
        before = _drive_counts(emu, email)[1]
        os.rename(home / src, home / dst)
        t, stats = timed_push(emu, home)
        after = _drive_counts(emu, email)[1]
        emit({"scenario": name, "from": src, "to": dst, "files_moved": nfiles, "requests": stats["requests"],
              "target_requests": 3, "bytes_uploaded": stats["bytes_received"], "writes": stats["writes"],
              "drive_files_before": before, "drive_files_after": after, "by_route": stats["by_route"],
              "seconds": round(t.seconds, 2), "exit": t.returncode, **counts(t.json())}, results)


# -- no-op and 20 changed files in a 20,000-file home --------------------------------------------


def make_noop_home(home: Path, files: int, dirs: int, changed: int, size: int) -> list[str]:
    """`files` files: all generated `.txt` but `changed` `.py` files spread over the tree (those
    are pushed for real in the setup, so the `changed` scenario updates real Drive files)."""
    paths = make_tree(home, files, dirs, size=size)
    step = max(1, len(paths) // max(1, changed))
    real = []
    for rel in paths[::step][:changed]:
        new = rel[:-4] + ".py"
        os.rename(home / rel, home / new)
        real.append(new)
    return real


def scenario_noop(emu: Emulator, home: Path, args: argparse.Namespace, results: list[dict[str, Any]]) -> list[str]:
    real = make_noop_home(home, args.files, args.dirs, args.changed, args.size)
    emu.connect(home, "noop@bench.example")
    t0 = time.perf_counter()
    with emu.unlimited():
        seeded = seed_pushed_state(home, emu.url, expect_created=len(real))
    emit({"scenario": "noop_setup", "files": args.files, "dirs": args.dirs, "real_files": len(real),
          "seconds": round(time.perf_counter() - t0, 2), "limits": "none (setup only)", **seeded}, results)

    startup, startup_samples = best_of(time_cli_startup, args.repeat)
    walk, walk_samples = best_of(lambda: time_bare_walk(home), args.repeat)
    pushes = [timed_push(emu, home) for _ in range(args.repeat)]
    best = min(pushes, key=lambda p: p[0].seconds)
    push_s = best[0].seconds
    beyond = push_s - startup
    requests = max(p[1]["requests"] for p in pushes)
    read_rtt = float(emu.limits.get("latency_ms") or 0) / 1000
    bound = walk + best[1]["requests"] * read_rtt
    emit({
        "scenario": "noop", "files": args.files, "dirs": args.dirs,
        "requests": requests, "target_requests": 2,
        "requests_samples": [p[1]["requests"] for p in pushes], "by_route": best[1]["by_route"],
        "push_seconds": round(push_s, 4), "startup_seconds": round(startup, 4),
        "push_beyond_startup_seconds": round(beyond, 4), "bare_walk_seconds": round(walk, 4),
        "round_trip_seconds": read_rtt, "bound_seconds": round(bound, 4), "ratio": round(beyond / bound, 2),
        "push_samples": [round(p[0].seconds, 4) for p in pushes],
        "startup_samples": [round(x, 4) for x in startup_samples],
        "walk_samples": [round(x, 4) for x in walk_samples],
        "in_run_seconds": (best[0].json() or {}).get("seconds"),
        "peak_rss_mb": round(best[0].peak_rss_mb, 1), "exit": best[0].returncode,
        **counts(best[0].json()),
    }, results)
    return real


def scenario_changed(emu: Emulator, home: Path, real: list[str], args: argparse.Namespace,
                     results: list[dict[str, Any]]) -> None:
    change_files(home, real)
    t, stats = timed_push(emu, home)
    emit({"scenario": "changed", "files": args.files, "changed": len(real),
          "requests": stats["requests"], "target_requests": 25, "writes": stats["writes"],
          "refused_writes": stats["refused_writes"], "units": stats["units"],
          "by_route": stats["by_route"], "seconds": round(t.seconds, 3), "exit": t.returncode,
          **counts(t.json())}, results)


def summarize(results: list[dict[str, Any]]) -> dict[str, Any]:
    by = {r["scenario"]: r for r in results}
    checks: dict[str, Any] = {}
    if "first_push" in by:
        r = by["first_push"]
        checks["first_push_ratio"] = {"value": r["ratio"], "target": "<= 1.05",
                                      "met": r["ratio"] is not None and r["ratio"] <= 1.05}
        checks["first_push_refused"] = {"value": r["refused_share"], "target": "<= 0.02",
                                        "met": r["refused_share"] <= 0.02}
        checks["first_push_failed"] = {"value": r.get("failed"), "target": "0", "met": r.get("failed") == 0}
    if "work_first" in by:
        r = by["work_first"]
        checks["notebooks_at_25pct"] = {"value": r["notebooks_share_at_25pct"], "target": ">= 0.8",
                                        "met": r["notebooks_share_at_25pct"] >= 0.8}
    for name in ("rename", "move"):
        if name in by:
            r = by[name]
            checks[f"{name}_requests"] = {"value": r["requests"], "target": "<= 3, 0 bytes, count unchanged",
                                          "met": r["requests"] <= 3 and r["bytes_uploaded"] == 0
                                          and r["drive_files_before"] == r["drive_files_after"]}
    if "noop" in by:
        r = by["noop"]
        checks["noop_requests"] = {"value": r["requests"], "target": "<= 2", "met": r["requests"] <= 2}
    if "changed" in by:
        r = by["changed"]
        checks["changed_requests"] = {"value": r["requests"], "target": "<= 25", "met": r["requests"] <= 25}
    return {"scenario": "summary", "machine": machine(), "targets": checks,
            "all_met": all(c["met"] for c in checks.values())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=20_000, help="files in the no-op/changed home")
    ap.add_argument("--dirs", type=int, default=1_000, help="folders in the no-op/changed home")
    ap.add_argument("--changed", type=int, default=20, help="files rewritten for the `changed` scenario")
    ap.add_argument("--first-files", type=int, default=360, help="files of the first push (DESIGN: 2,000; "
                    "at 3 writes/s that is ~12 minutes, beyond make bench)")
    ap.add_argument("--first-dirs", type=int, default=27)
    ap.add_argument("--first-workers", type=int, default=None, help="push --workers for the first push")
    ap.add_argument("--mixed-scale", type=float, default=1.0, help="size of the mixed home (1: ~280 files)")
    ap.add_argument("--sample-every", type=float, default=0.5, help="seconds between admin listings")
    ap.add_argument("--size", type=int, default=64, help="bytes per generated file")
    ap.add_argument("--repeat", type=int, default=3, help="timed samples of the no-op push, start-up and walk")
    ap.add_argument("--only", choices=["noop", "first_push", "work_first"], default=None,
                    help="run one scenario group")
    ap.add_argument("--json-out", metavar="FILE", help="also write every line as one JSON array here")
    args = ap.parse_args()

    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-push-") as tmp, Emulator(profile="google") as emu:
        emit({"scenario": "limits", **limits_note(emu)}, results)
        if args.only in (None, "first_push"):
            scenario_first_push(emu, Path(tmp) / "first", args, results)
        if args.only in (None, "work_first"):
            home = Path(tmp) / "mixed"
            layout = scenario_work_first(emu, home, args, results)
            scenario_reorganise(emu, home, layout, results)
        if args.only in (None, "noop"):
            home = Path(tmp) / "noop"
            real = scenario_noop(emu, home, args, results)
            scenario_changed(emu, home, real, args, results)
    summary = summarize(results)
    emit(summary)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps([*results, summary], indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
