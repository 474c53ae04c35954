"""Reliability in numbers: pushes under 20 % faults, and kill -9 at random moments.

Reuses the reliability suite's pieces (tests/reliability: the home builder and editor of the
fault test, `Mirror`, the byte-for-byte comparison against the emulator's admin view), with an
emulator in this process:

- `faults`: for each seed, a fresh home (~40 small files in nested folders, an empty file, two
  multi-chunk resumable files at 256 KiB chunks) pushed with 20 % of Drive requests failing
  (500, 503, 429, 403 rate limit, connection reset, change applied then the answer lost, slow
  answers) until Drive equals the home, at most `--max-runs` pushes; then the home is edited and
  the same again. Per seed: runs needed, duplicates, lost or wrong files.
- `kill9`: one home; each trial adds a folder of files and edits others, starts
  `jupyter-drive-sync push`, SIGKILLs it after a random delay
  once it holds the home lock, runs the same push to the end and compares. Per trial: did the
  kill land, converged after one rerun, duplicates.

Both under `--profile google` (3 writes/s per account, quotas, 230/600 ms round trips), the
faults on top. Defaults are small (`make bench` time); DESIGN counts: `--seeds 50 --kills 30`.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
for p in (str(BENCH), str(ROOT)):
    if p not in sys.path:
        sys.path.insert(0, p)

from common import emit, machine  # noqa: E402
from tests.reliability.conftest import Mirror, lock_holder  # noqa: E402
from tests.reliability.test_fault_convergence import build_home, change_home  # noqa: E402

from jupyter_drive_sync.emulator.pytest_plugin import EmulatorHandle  # noqa: E402  (admin API helpers)
from jupyter_drive_sync.emulator.settings import EmulatorSettings  # noqa: E402
from jupyter_drive_sync.emulator.sample import connect_home  # noqa: E402
from jupyter_drive_sync.emulator.server import start_in_thread  # noqa: E402
from jupyter_drive_sync.core.errors import SyncError  # noqa: E402
from jupyter_drive_sync.core.options import PushOptions  # noqa: E402
from jupyter_drive_sync.engine.push import run_push  # noqa: E402

RATE = 0.20
logging.getLogger("tornado.access").setLevel(logging.ERROR)  # the emulator in this process: no 4xx lines
CHUNK = 256 * 1024
CLI = [sys.executable, "-m", "jupyter_drive_sync"]


def start_emulator(data_dir: Path) -> tuple[Any, EmulatorHandle]:
    """The emulator under `--profile google` (Google's write rate, quotas and round trips), the
    faults injected on top of them."""
    settings = EmulatorSettings.for_profile("google", data_dir=data_dir, persistent=False, auto_consent=True)
    running = start_in_thread(settings)
    return running, EmulatorHandle(running)


def converge(home: Path, user: str, emu: EmulatorHandle, mirror: Mirror, seed: int, max_runs: int,
             injected: Counter) -> tuple[int | None, Any]:
    """Push under faults until Drive equals the home: (runs it took or None, last comparison)."""
    report = None
    for n in range(1, max_runs + 1):
        emu.set_faults(RATE, seed=seed * 1000 + n, slow_ms=100)
        try:
            run_push(PushOptions(home=home, user=user, api_root=emu.url, workers=4, chunk_size=CHUNK,
                                 multipart_limit=CHUNK))
        except SyncError:
            pass  # a run may end early under faults; the next one picks it up
        finally:
            injected.update(emu.http.get(emu.url + "_emulator/faults").json()["injected"])
            emu.set_faults(0)
        report = mirror.compare(home)
        if report.ok:
            return n, report
    return None, report


def fault_seed(tmp: Path, seed: int, max_runs: int) -> dict[str, Any]:
    running, emu = start_emulator(tmp / f"emu-faults-{seed}")
    try:
        rng = random.Random(seed)
        user, email = f"f{seed}", f"faults{seed}@bench.example"
        home = tmp / user
        home.mkdir()
        connect_home(emu.url, home, email)
        build_home(home, rng)
        mirror = Mirror(emu, email, user)
        injected: Counter = Counter()
        first, rep1 = converge(home, user, emu, mirror, seed, max_runs, injected)
        change_home(home, rng, 1)
        second, rep2 = converge(home, user, emu, mirror, seed + 500, max_runs, injected)
        return {"scenario": "faults", "seed": seed, "runs_first": first, "runs_changes": second,
                "duplicates": len(rep1.duplicates) + len(rep2.duplicates),
                "lost": len(rep2.lost), "wrong": len(rep2.wrong), "extra": len(rep2.extra),
                "files": rep2.files, "folders": rep2.folders, "injected": dict(injected),
                "converged": first is not None and second is not None}
    finally:
        emu.http.close()
        running.stop()


def add_work(home: Path, rng: random.Random, trial: int) -> None:
    d = home / f"t{trial:02d}"
    d.mkdir()
    for i in range(15):
        (d / f"n{i}.txt").write_bytes(rng.randbytes(rng.randrange(10, 4000)))
    olds = sorted(p for p in home.glob("t*/*.txt"))
    for p in rng.sample(olds, min(3, len(olds))):
        p.write_bytes(p.read_bytes() + b"edit\n")


def kill_trials(tmp: Path, kills: int, seed: int) -> list[dict[str, Any]]:
    running, emu = start_emulator(tmp / "emu-kill")
    out: list[dict[str, Any]] = []
    try:
        rng = random.Random(seed)
        user, email = "killer", "kill@bench.example"
        home = tmp / user
        home.mkdir()
        connect_home(emu.url, home, email)
        mirror = Mirror(emu, email, user)
        args = [*CLI, "push", "--home", str(home), "--user", user, "--api-root", emu.url, "--json", "--workers", "4"]
        for trial in range(kills):
            add_work(home, rng, trial)
            proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    stdin=subprocess.DEVNULL)
            deadline = time.monotonic() + 60
            while lock_holder(home).get("pid") != proc.pid and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.002)
            delay = rng.uniform(0.0, 1.2)
            time.sleep(delay)
            landed = proc.poll() is None
            if landed:
                proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=60)
            requests_before_kill = emu.stats()["requests"]
            rerun = subprocess.run(args, capture_output=True, stdin=subprocess.DEVNULL, timeout=300)
            rep = mirror.compare(home, download=False)
            out.append({"scenario": "kill9", "trial": trial, "landed": landed, "delay_s": round(delay, 3),
                        "requests_so_far": requests_before_kill, "rerun_exit": rerun.returncode,
                        "converged": rep.ok, "duplicates": len(rep.duplicates), "lost": len(rep.lost),
                        "wrong": len(rep.wrong), "files": rep.files})
    finally:
        emu.http.close()
        running.stop()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5, help="fault seeds (DESIGN: 50)")
    ap.add_argument("--kills", type=int, default=10, help="kill -9 trials (DESIGN: 30)")
    ap.add_argument("--max-runs", type=int, default=3, help="pushes allowed to converge under faults")
    ap.add_argument("--seed", type=int, default=7, help="random seed of the kill trials")
    ap.add_argument("--json-out", metavar="FILE", help="also write every line as one JSON array here")
    args = ap.parse_args()
    results: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-rel-") as tmp:
        for seed in range(1, args.seeds + 1):
            emit(fault_seed(Path(tmp), seed, args.max_runs), results)
        for r in kill_trials(Path(tmp), args.kills, args.seed):
            emit(r, results)
    faults = [r for r in results if r["scenario"] == "faults"]
    kills = [r for r in results if r["scenario"] == "kill9"]
    runs = [r[k] for r in faults for k in ("runs_first", "runs_changes") if r[k] is not None]
    summary = {
        "scenario": "summary", "machine": machine(), "seconds": round(time.perf_counter() - t0, 1),
        "faults": {"seeds": len(faults), "converged": sum(r["converged"] for r in faults),
                   "max_runs_needed": max(runs) if runs else None,
                   "runs_histogram": dict(sorted(Counter(runs).items())),
                   "duplicates": sum(r["duplicates"] for r in faults),
                   "lost": sum(r["lost"] for r in faults), "wrong": sum(r["wrong"] for r in faults)},
        "kill9": {"trials": len(kills), "landed": sum(r["landed"] for r in kills),
                  "converged": sum(r["converged"] for r in kills),
                  "duplicates": sum(r["duplicates"] for r in kills), "lost": sum(r["lost"] for r in kills)},
    }
    f, k = summary["faults"], summary["kill9"]
    summary["targets"] = {
        "faults_converge_in_3": {"value": f"{f['converged']}/{f['seeds']} seeds, max {f['max_runs_needed']} runs",
                                 "met": f["converged"] == f["seeds"] and (f["max_runs_needed"] or 0) <= 3},
        "faults_no_duplicates_or_losses": {"value": f"{f['duplicates']} duplicates, {f['lost']} lost",
                                           "met": f["duplicates"] == 0 and f["lost"] == 0 and f["wrong"] == 0},
        "kill9_converges": {"value": f"{k['converged']}/{k['trials']} ({k['landed']} kills landed)",
                            "met": k["converged"] == k["trials"]},
        "kill9_no_duplicates": {"value": k["duplicates"], "met": k["duplicates"] == 0},
    }
    summary["all_met"] = all(t["met"] for t in summary["targets"].values())
    emit(summary)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps([*results, summary], indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
