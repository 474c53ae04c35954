"""Nightly hub run: how long the unchanged nights take, and how fast a first night goes.

Two scenarios against the Drive emulator running as its own process (targets in docs/PERFORMANCE.md):

1. `first_push`: 50 homes never pushed before, emulator at `--latency-ms`; users per minute.
2. `unchanged`: 300 homes × 300 files, all already pushed and unchanged; wall time of the whole
   `jupyter-drive-sync hub --homes-root` process (target ≤ 60 s on 2 cores) and Drive requests
   per home (target ≤ 2).

Prints one JSON object. Smaller runs for a quick look: `--homes 30 --files 50`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from google.oauth2.credentials import Credentials  # noqa: E402

from jupyter_drive_sync.core.settings import default_credentials_path  # noqa: E402
from jupyter_drive_sync.auth.credentials import DRIVE_FILE_SCOPE, CredentialStore  # noqa: E402


def _cli() -> list[str]:
    exe = Path(sys.executable).with_name("jupyter-drive-sync")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "jupyter_drive_sync"]


def _admin(url: str, method: str, path: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else (b"" if method == "POST" else None)
    req = urllib.request.Request(url + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.load(resp)


def start_emulator(data_dir: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([*_cli(), "emulator", "--port", "0", "--data-dir", data_dir],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()  # type: ignore[union-attr]
    if not line.startswith("Drive emulator listening on "):
        proc.kill()
        raise SystemExit(f"emulator did not start: {line!r}")
    return proc, line.strip().rsplit(" ", 1)[1].rstrip("/") + "/"


def make_homes(url: str, root: Path, prefix: str, homes: int, files: int) -> None:
    """`homes` connected homes of `files` small files each, in folders of 30."""
    client = _admin(url, "GET", "_emulator/client_secrets.json")["web"]
    for h in range(homes):
        name = f"{prefix}{h:03d}"
        home = root / name
        for i in range(files):
            path = home / f"dir{i // 30:02d}" / f"f{i:04d}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(f"{name} {i}\n".encode())
        acct = _admin(url, "POST", "_emulator/accounts", {"email": f"{name}@bench.example"})
        creds = Credentials(acct["access_token"], refresh_token=acct["refresh_token"], token_uri=url + "token",
                            client_id=client["client_id"], client_secret=client["client_secret"],
                            scopes=[DRIVE_FILE_SCOPE])
        CredentialStore(default_credentials_path(home)).save(creds)


def run_hub(url: str, root: Path, parallel: int, workers: int) -> dict:
    """One `hub --homes-root` process, timed from launch to exit; its summary and Drive requests."""
    _admin(url, "POST", "_emulator/stats/reset")
    t0 = time.perf_counter()
    proc = subprocess.run([*_cli(), "hub", "--homes-root", str(root), "--api-root", url,
                           "--parallel", str(parallel), "--workers", str(workers)],
                          capture_output=True, text=True)
    wall = time.perf_counter() - t0
    lines = [json.loads(x) for x in proc.stdout.splitlines() if x.startswith("{")]
    summary = next((x for x in lines if x.get("type") == "summary"), {})
    bad = [x for x in lines if x.get("type") == "user" and x.get("status") != "ok"][:3]
    stats = _admin(url, "GET", "_emulator/stats")
    return {"exit": proc.returncode, "seconds": round(wall, 2), "summary": summary, "not_ok_sample": bad,
            "requests": stats["requests"], "stderr_tail": proc.stderr[-500:] if proc.returncode else ""}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--homes", type=int, default=300)
    ap.add_argument("--files", type=int, default=300)
    ap.add_argument("--first-homes", type=int, default=50)
    ap.add_argument("--first-files", type=int, default=100)
    ap.add_argument("--latency-ms", type=float, default=30.0, help="emulator latency for the first push")
    ap.add_argument("--parallel", type=int, default=8)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--seed-state", action="store_true",
                    help="make the 300 homes look pushed with bench/seed.py instead of a first hub run "
                         "(which takes many minutes); the timed unchanged night is the same")
    args = ap.parse_args()
    out: dict = {"cpus": os.cpu_count(), "parallel": args.parallel, "workers": args.workers}
    with tempfile.TemporaryDirectory(prefix="bench-hub-") as tmp:
        proc, url = start_emulator(str(Path(tmp) / "emulator"))
        try:
            # 1. A first night for 50 homes at the emulator's latency.
            first = Path(tmp) / "first"
            make_homes(url, first, "new", args.first_homes, args.first_files)
            _admin(url, "POST", "_emulator/settings", {"latency_ms": args.latency_ms})
            r = run_hub(url, first, args.parallel, args.workers)
            out["first_push"] = {
                "homes": args.first_homes, "files_per_home": args.first_files, "latency_ms": args.latency_ms,
                "seconds": r["seconds"], "users_per_minute": round(60 * args.first_homes / r["seconds"], 1),
                "requests": r["requests"], "exit": r["exit"], "by_status": r["summary"].get("by_status"),
                "not_ok_sample": r["not_ok_sample"], "stderr_tail": r["stderr_tail"],
            }
            _admin(url, "POST", "_emulator/settings", {"latency_ms": 0})

            # 2. 300 × 300: pushed once (setup, reported), then the timed unchanged night.
            big = Path(tmp) / "homes"
            t0 = time.perf_counter()
            make_homes(url, big, "u", args.homes, args.files)
            if args.seed_state:
                sys.path.insert(0, str(Path(__file__).resolve().parent))
                from seed import seed_pushed_state

                t1 = time.perf_counter()
                for home in sorted(big.iterdir()):
                    seed_pushed_state(home, url, user=home.name)
                setup = {"seconds": round(time.perf_counter() - t1, 2), "exit": 0, "summary": {"by_status": "seeded"},
                         "not_ok_sample": []}
            else:
                setup = run_hub(url, big, args.parallel, args.workers)
            out["unchanged_setup"] = {"generate_seconds": round(time.perf_counter() - t0 - setup["seconds"], 1),
                                      "first_push_seconds": setup["seconds"], "exit": setup["exit"],
                                      "by_status": setup["summary"].get("by_status"),
                                      "not_ok_sample": setup["not_ok_sample"]}
            r = run_hub(url, big, args.parallel, args.workers)
            out["unchanged"] = {
                "homes": args.homes, "files_per_home": args.files, "seconds": r["seconds"], "target_seconds": 60,
                "requests": r["requests"], "requests_per_home": round(r["requests"] / max(1, args.homes), 2),
                "exit": r["exit"], "by_status": r["summary"].get("by_status"), "not_ok_sample": r["not_ok_sample"],
            }
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
