"""Nightly hub run: how long the unchanged nights take, and how fast a first night goes.

Two scenarios against the Drive emulator running as its own process under `--profile google`
(3 writes/s per account, 12,000 queries/min per user and per project, 230/600 ms round trips;
targets in docs/PERFORMANCE.md):

1. `first_push`: `--first-homes` homes never pushed before (scaled down: each student account
   writes at most 3 files/s, so a home's first push takes files ÷ 3 seconds whatever we do);
   users per minute, writes, refused writes, and the bound: the slowest wave of `--parallel`
   homes, each home's writes ÷ 3/s.
2. `unchanged`: 300 homes × 300 files, all already pushed and unchanged (seeded with the limits
   lifted, `seed.py`); wall time of the whole `jupyter-drive-sync hub --homes-root` process
   (target ≤ 60 s on 2 cores) and Drive requests per home (target ≤ 2).

The 20,000-student night is simulated in `hub_night.py`. Prints one JSON object. Smaller runs
for a quick look: `--homes 30 --files 50 --first-homes 4 --first-files 20`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
for _p in (str(BENCH), str(ROOT)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from common import Emulator, child_env, cli  # noqa: E402
from seed import seed_pushed_state  # noqa: E402

from google.oauth2.credentials import Credentials  # noqa: E402

from jupyter_drive_sync.core.settings import default_credentials_path  # noqa: E402
from jupyter_drive_sync.auth.credentials import DRIVE_FILE_SCOPE, CredentialStore  # noqa: E402


def _admin(emu: Emulator, method: str, path: str, body: dict | None = None) -> dict:
    return emu.admin(method, path, body)


def make_homes(emu: Emulator, root: Path, prefix: str, homes: int, files: int) -> None:
    """`homes` connected homes of `files` small files each, in folders of 30 (each folder made
    once, each file written with one open/write/close: 90,000 files are the setup's bulk)."""
    url = emu.url
    client = _admin(emu, "GET", "_emulator/client_secrets.json")["web"]
    for h in range(homes):
        name = f"{prefix}{h:03d}"
        home = root / name
        for d in range((files + 29) // 30):
            (home / f"dir{d:02d}").mkdir(parents=True, exist_ok=True)
        home.mkdir(parents=True, exist_ok=True)
        for i in range(files):
            fd = os.open(home / f"dir{i // 30:02d}" / f"f{i:04d}.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                os.write(fd, f"{name} {i}\n".encode())
            finally:
                os.close(fd)
        acct = _admin(emu, "POST", "_emulator/accounts", {"email": f"{name}@bench.example"})
        creds = Credentials(acct["access_token"], refresh_token=acct["refresh_token"], token_uri=url + "token",
                            client_id=client["client_id"], client_secret=client["client_secret"],
                            scopes=[DRIVE_FILE_SCOPE])
        CredentialStore(default_credentials_path(home)).save(creds)


def run_hub(emu: Emulator, root: Path, parallel: int, workers: int) -> dict:
    """One `hub --homes-root` process, timed from launch to exit; its summary and Drive requests.
    The project quota it paces by is the emulator's (the admin's quota, as an admin would set it)."""
    emu.reset_stats()
    cmd = [*cli(), "hub", "--homes-root", str(root), "--api-root", emu.url,
           "--parallel", str(parallel), "--workers", str(workers)]
    project_quota = emu.limits.get("project_quota_per_minute") or 0
    if project_quota:
        cmd += ["--project-quota-per-minute", str(project_quota)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=child_env())
    wall = time.perf_counter() - t0
    lines = [json.loads(x) for x in proc.stdout.splitlines() if x.startswith("{")]
    summary = next((x for x in lines if x.get("type") == "summary"), {})
    bad = [x for x in lines if x.get("type") == "user" and x.get("status") != "ok"][:3]
    users = [x for x in lines if x.get("type") == "user"]
    stats = emu.stats()
    return {"exit": proc.returncode, "seconds": round(wall, 2), "summary": summary, "not_ok_sample": bad,
            "users": users, "requests": stats["requests"], "writes": stats["writes"],
            "refused_writes": stats["refused_writes"], "refused": stats.get("refused", {}),
            "stderr_tail": proc.stderr[-500:] if proc.returncode else ""}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--homes", type=int, default=300)
    ap.add_argument("--files", type=int, default=300)
    ap.add_argument("--first-homes", type=int, default=16)
    ap.add_argument("--first-files", type=int, default=30)
    ap.add_argument("--parallel", type=int, default=8)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--seed-state", action="store_true",
                    help="make the 300 homes look pushed with bench/seed.py (limits lifted) instead of a "
                         "first hub run under Google's limits (hours at 3 writes/s per student)")
    args = ap.parse_args()
    out: dict = {"cpus": os.cpu_count(), "parallel": args.parallel, "workers": args.workers}
    with tempfile.TemporaryDirectory(prefix="bench-hub-") as tmp, \
            Emulator(profile="google", data_dir=str(Path(tmp) / "emulator")) as emu:
        out["limits"] = {k: emu.limits.get(k) for k in ("profile", "write_rate", "write_burst", "quota_per_minute",
                                                         "project_quota_per_minute", "latency_ms", "write_latency_ms")}
        # 1. A first night for a few homes under Google's limits.
        first = Path(tmp) / "first"
        make_homes(emu, first, "new", args.first_homes, args.first_files)
        r = run_hub(emu, first, args.parallel, args.workers)
        per_home_writes = r["writes"] / max(1, args.first_homes)
        rate = float(emu.limits.get("write_rate") or 0)
        waves = math.ceil(args.first_homes / args.parallel)
        bound = waves * per_home_writes / rate if rate else 0.0
        out["first_push"] = {
            "homes": args.first_homes, "files_per_home": args.first_files,
            "seconds": r["seconds"], "users_per_minute": round(60 * args.first_homes / r["seconds"], 1),
            "requests": r["requests"], "writes": r["writes"], "refused_writes": r["refused_writes"],
            "refused": r["refused"], "write_bound_seconds": round(bound, 2),
            "ratio": round(r["seconds"] / bound, 3) if bound else None, "exit": r["exit"],
            "by_status": r["summary"].get("by_status"), "not_ok_sample": r["not_ok_sample"],
            "stderr_tail": r["stderr_tail"],
        }

        # 2. 300 × 300: made to look pushed (setup, limits lifted), then the timed unchanged night.
        big = Path(tmp) / "homes"
        t0 = time.perf_counter()
        make_homes(emu, big, "u", args.homes, args.files)
        gen = time.perf_counter() - t0
        t1 = time.perf_counter()
        if args.seed_state:
            with emu.unlimited():
                for home in sorted(big.iterdir()):
                    seed_pushed_state(home, emu.url, user=home.name)
            setup = {"exit": 0, "summary": {"by_status": "seeded"}, "not_ok_sample": []}
        else:
            setup = run_hub(emu, big, args.parallel, args.workers)
        out["unchanged_setup"] = {"generate_seconds": round(gen, 1),
                                  "first_push_seconds": round(time.perf_counter() - t1, 2), "exit": setup["exit"],
                                  "by_status": setup["summary"].get("by_status"),
                                  "not_ok_sample": setup["not_ok_sample"]}
        r = run_hub(emu, big, args.parallel, args.workers)
        out["unchanged"] = {
            "homes": args.homes, "files_per_home": args.files, "seconds": r["seconds"], "target_seconds": 60,
            "requests": r["requests"], "requests_per_home": round(r["requests"] / max(1, args.homes), 2),
            "exit": r["exit"], "by_status": r["summary"].get("by_status"), "not_ok_sample": r["not_ok_sample"],
        }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
