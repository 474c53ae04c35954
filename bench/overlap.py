"""Experiment: would a no-op push be faster if the Google client were imported, built and asked
for the changes feed in a second thread while the main thread scans?

Both variants run the same phases as a no-op push (engine imports, scan, state read, plan,
credentials + client + `changes.list`) in a child process, alternately, on the same seeded home
of `--files` files; prints best and median of each. The push keeps the sequential order unless
this shows a clear gain (the import and the scan's Python work both need the GIL).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Emulator, child_env, make_tree  # noqa: E402
from seed import seed_pushed_state  # noqa: E402

CHILD = """
import sys, threading, time
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
home, url, mode = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
box = {}

def remote():
    from jupyter_drive_sync.auth.credentials import CredentialStore
    from jupyter_drive_sync.drive.client import DriveClient
    client = DriveClient(CredentialStore(default_credentials_path(home)).load(), api_root=url)
    db = StateDB.for_home(home)
    box["changes"] = client.list_changes(db.page_token)
    db.close()

th = threading.Thread(target=remote) if mode == "overlap" else None
if th is not None:
    th.start()
else:
    remote()
snap = scan(home, Excludes.for_home(home), max_file_size=5 * 1024**4)
db = StateDB.for_home(home)
if th is not None:
    th.join()
rows = read_plan_state(db, snap)
p = plan(snap, rows, hash_candidates(home, snap, rows), policy=Policy.LAST_WRITE_WINS, delete_policy=DeletePolicy.KEEP)
assert not p.actions and "changes" in box
print(c() - t0)
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=20_000)
    ap.add_argument("--samples", type=int, default=7)
    ap.add_argument("--json-out", metavar="FILE")
    args = ap.parse_args()
    times: dict[str, list[float]] = {"seq": [], "overlap": []}
    with tempfile.TemporaryDirectory(prefix="bench-overlap-") as tmp, Emulator(profile="google") as emu:
        home = Path(tmp) / "home"
        make_tree(home, args.files, max(1, args.files // 20))
        emu.connect(home, "overlap@bench.example")
        with emu.unlimited():  # setup only; the timed children run under Google's round trip
            seed_pushed_state(home, emu.url)
        for _ in range(args.samples):
            for mode in times:
                out = subprocess.run([sys.executable, "-c", CHILD, str(home), emu.url, mode], capture_output=True,
                                     text=True, env=child_env(), check=True).stdout
                times[mode].append(float(out.split()[-1]))
    res = {"scenario": "overlap", "files": args.files, "samples": args.samples,
           "seq_best": min(times["seq"]), "seq_median": statistics.median(times["seq"]),
           "overlap_best": min(times["overlap"]), "overlap_median": statistics.median(times["overlap"])}
    gain = res["seq_median"] - res["overlap_median"]
    res["conclusion"] = (
        f"The overlap saves {gain:.3f} s at the median (the request's round trip waits while the scan "
        "works): worth doing in the push." if gain > 0.1 * res["seq_median"] else
        f"The overlap {'saves only' if gain > 0 else 'costs'} {abs(gain):.3f} s at the median: not kept "
        "(the import and the scan contend for the GIL; the push stays sequential and simple).")
    res["profile"] = emu.limits.get("profile")
    res["read_round_trip_ms"] = emu.limits.get("latency_ms")
    print(json.dumps(res))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
