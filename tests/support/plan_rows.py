"""Hand-made scan entries and state rows for the pure planner's tests (engine/plan.py), written once.

Every row stands for a path pushed at `T0` with content `OLD` (Drive revision "rev-1"); a test
changes what it needs by keyword. An inode of 0 is "not recorded" (core/model.py), the default
of both `LocalEntry` and `StateEntry`, so tests that do not follow inodes may leave it out.
"""

from __future__ import annotations

from typing import Any

from jupyter_drive_sync.core.model import LocalEntry, Plan, Snapshot, StateEntry
from jupyter_drive_sync.engine.plan import plan

MS = 1_000_000  # nanoseconds in a millisecond
T0 = 1_700_000_000_000  # ms: local mtime and Drive modifiedTime at the last push
OLD, NEW = "0" * 32, "1" * 32  # md5s: the content last pushed, and other content


def lfile(path: str, ino: int = 0, size: int = 10, mtime_ms: int = T0) -> LocalEntry:
    """A file the scan found: by default the size and mtime `row` records for it."""
    return LocalEntry(path, False, size, mtime_ms * MS, ino)


def ldir(path: str, ino: int = 0) -> LocalEntry:
    """A folder the scan found."""
    return LocalEntry(path, True, 0, T0 * MS, ino)


def row(path: str, ino: int = 0, *, is_dir: bool = False, **kw: Any) -> StateEntry:
    """The state DB's row for a path as the last push left it; its Drive ID is made from the path."""
    base: dict[str, Any] = dict(local_size=0 if is_dir else 10, local_mtime_ns=T0 * MS,
                                md5=None if is_dir else OLD, drive_md5=None if is_dir else OLD,
                                drive_modified_ms=T0, drive_head_revision=None if is_dir else "rev-1",
                                local_ino=ino)
    base.update(kw)
    return StateEntry(path=path, drive_id="id-" + path.replace("/", "-"), is_dir=is_dir, **base)


def run(entries: Any = (), rows: Any = (), hashes: dict[str, str] | None = None, **kw: Any) -> Plan:
    """`plan` over these scan entries and state rows (`hashes`: the md5s plan asks for)."""
    snap = Snapshot(entries={e.path: e for e in entries})
    return plan(snap, {r.path: r for r in rows}, hashes or {}, **kw)
