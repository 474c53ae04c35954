"""Make a big generated home look already pushed, without uploading every file first.

Why: a real first push of 100,000 files (or of 300 homes × 300 files) takes many minutes on two
cores, far beyond the 10 minutes `make bench` may take, and the scenarios that need such homes
only time the *no-op* push that follows. A no-op push reads the changes feed, scans, loads the
state DB and plans; it never touches a file's Drive copy. So the seeding:

1. pushes the home for real with its generated files excluded (`*.txt`: the bench homes hold
   nothing else): the root folder chain, every folder (batched), the stored changes-feed
   token: all real, on the emulator;
2. writes one state row per file exactly as a confirmed upload would (`record_synced_many`: the
   scan's size and mtime, Drive's modifiedTime = mtime in ms, the same md5 on both sides), with
   a unique placeholder Drive ID that Drive never sees.

The no-op push that follows is checked by the caller (`created == 0`, `unchanged == files`): a
wrong seed would show up as uploads, not as a flattering number.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from common import ROOT  # noqa: F401  (puts the package on sys.path)

GENERATED_FILES = ("*.txt",)  # what common.make_tree and hub.make_homes write


def seed_pushed_state(home: Path, api_root: str, *, user: str | None = None,
                      expect_created: int = 0) -> dict[str, int]:
    """Push `home`'s folders (and any file that is not generated: `expect_created` of them) for
    real, then record every generated file as pushed. Returns counts."""
    from jupyter_drive_sync.home.excludes import Excludes
    from jupyter_drive_sync.core.model import EntryStatus, StateEntry
    from jupyter_drive_sync.core.options import PushOptions
    from jupyter_drive_sync.engine.push import run_push
    from jupyter_drive_sync.home.scan import scan
    from jupyter_drive_sync.home.state_db import StateDB

    # write_rate=0: the client's own write pacer off too, as the caller lifts the emulator's limits
    # for the setup (`Emulator.unlimited`); nothing seeded is timed.
    summary = run_push(PushOptions(home=home, user=user, api_root=api_root, extra_excludes=GENERATED_FILES,
                                   write_rate=0))
    if summary.failed or summary.created != expect_created:
        raise RuntimeError(f"seeding push of {home} went wrong: {summary.failed[:3]} created={summary.created}")
    snap = scan(home, Excludes.for_home(home), max_file_size=5 * 1024**4)
    rows = []
    for n, (path, e) in enumerate(sorted(snap.entries.items())):
        if e.is_dir or not path or not path.endswith(".txt"):
            continue
        fake_md5 = hashlib.md5(f"{path}:{e.size}:{e.mtime_ns}".encode()).hexdigest()
        rows.append(StateEntry(path=path, drive_id=f"seeded{n:09d}{fake_md5[:12]}", is_dir=False,
                               status=EntryStatus.SYNCED, local_size=e.size, local_mtime_ns=e.mtime_ns,
                               md5=fake_md5, drive_md5=fake_md5, drive_modified_ms=e.mtime_ns // 1_000_000,
                               local_ino=e.ino))
    with StateDB.for_home(home) as db:
        db.record_synced_many(rows)
    return {"folders_created": summary.folders_created, "files_seeded": len(rows)}
