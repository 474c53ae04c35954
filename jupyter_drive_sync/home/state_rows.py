"""How the state DB's rows look in Python, and the cheap mapping of them a push plans with.

Kept apart from the DB's connection handling so that the row format (schema and its in-place
migration, columns, conversions, the "in sync on both sides" test) has one home, shared by
`StateDB` and `StateRows`; and the small views of it handed out (`UploadSessionSlot`).
"""

from __future__ import annotations

import contextlib
import gc
import sqlite3
from typing import Any, Iterator, Mapping, Protocol

from ..core.model import EntryStatus, StateEntry, clamp_mtime_ms, clamp_mtime_ns

COLUMNS = (
    "path",
    "drive_id",
    "is_dir",
    "status",
    "local_size",
    "local_mtime_ns",
    "md5",
    "drive_md5",
    "drive_modified_ms",
    "drive_head_revision",
    "drive_trashed",
    "drive_removed",
    "local_deleted",
    "local_ino",
)
SELECT_ROWS = "SELECT " + ", ".join(COLUMNS) + " FROM entries"
UPSERT_ROW = f"INSERT OR REPLACE INTO entries ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"

_STATUS = {s.value: s for s in EntryStatus}

# Columns added later are added in place by `migrate` (rows kept; an older version of this
# tool still reads and writes such a DB: it names its columns, and a new one has a default).
SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    path TEXT PRIMARY KEY NOT NULL,
    drive_id TEXT NOT NULL,
    is_dir INTEGER NOT NULL,
    status TEXT NOT NULL,
    local_size INTEGER NOT NULL DEFAULT 0,
    local_mtime_ns INTEGER NOT NULL DEFAULT 0,
    md5 TEXT,
    drive_md5 TEXT,
    drive_modified_ms INTEGER NOT NULL DEFAULT 0,
    drive_head_revision TEXT,
    drive_trashed INTEGER NOT NULL DEFAULT 0,
    drive_removed INTEGER NOT NULL DEFAULT 0,
    local_deleted INTEGER NOT NULL DEFAULT 0,
    local_ino INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS entries_drive_id ON entries (drive_id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY NOT NULL, value TEXT);
CREATE TABLE IF NOT EXISTS upload_sessions (
    path TEXT PRIMARY KEY NOT NULL,
    drive_id TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    uri TEXT NOT NULL,
    started REAL NOT NULL
);
"""


def migrate(conn: sqlite3.Connection) -> None:
    """Bring a state DB written by an earlier version up to this schema, in place (rows kept)."""
    columns = {r[1] for r in conn.execute("PRAGMA table_info(entries)")}
    if "local_ino" not in columns:  # the inodes are then noted by the next push, no Drive request
        conn.execute("ALTER TABLE entries ADD COLUMN local_ino INTEGER NOT NULL DEFAULT 0")


# A file row in sync on both sides: confirmed, present locally when last seen, and Drive still
# holds what we wrote (same md5; modifiedTime = local mtime to the millisecond, floor division
# written as a range so that SQLite's truncating division never differs from Python's `//`).
# Such a row needs nothing unless the local (size, mtime, inode) moved, so plan compares it as a
# tuple with the scan's entry.
CLEAN = (
    "status = 'synced' AND is_dir = 0 AND local_deleted = 0 AND drive_trashed = 0 AND drive_removed = 0"
    " AND drive_md5 IS md5 AND drive_modified_ms * 1000000 <= local_mtime_ns"
    " AND local_mtime_ns < (drive_modified_ms + 1) * 1000000"
)
SELECT_CLEAN_KEYS = f"SELECT path, is_dir, local_size, local_mtime_ns, local_ino FROM entries WHERE {CLEAN}"
SELECT_NOT_CLEAN = f"{SELECT_ROWS} WHERE NOT ({CLEAN})"
_LAZY_FETCH_LIMIT = 64  # after this many single-row fetches, read the remaining rows at once


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Reading 20,000 rows allocates 20,000 tuples, and every few hundred allocations the cyclic
    GC walks the young objects, every few thousand all of them: that doubled the load time.
    Rows hold no reference cycles, so the collector can wait until they are read."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def row_to_entry(r: tuple) -> StateEntry:
    return StateEntry(
        r[0], r[1], bool(r[2]), _STATUS[r[3]], r[4], r[5], r[6], r[7], r[8], r[9], bool(r[10]), bool(r[11]),
        bool(r[12]), r[13],
    )


def entry_to_row(e: StateEntry, status: EntryStatus | None = None) -> tuple:
    """The row's values. Times are clamped as the scan clamps them (`core.model`): a time that
    SQLite's 64-bit INTEGER cannot hold, from any source, must not end a run."""
    return (
        e.path,
        e.drive_id,
        int(e.is_dir),
        (status or e.status).value,
        e.local_size,
        clamp_mtime_ns(e.local_mtime_ns),
        e.md5,
        e.drive_md5,
        clamp_mtime_ms(e.drive_modified_ms),
        e.drive_head_revision,
        int(e.drive_trashed),
        int(e.drive_removed),
        int(e.local_deleted),
        e.local_ino,
    )


class RowSource(Protocol):
    """What `StateRows` reads its lazily built rows from (a `StateDB`)."""

    def get(self, path: str) -> StateEntry | None: ...

    def load(self) -> dict[str, StateEntry]: ...


class StateRows(Mapping[str, StateEntry]):
    """The state DB's rows by path, as `StateDB.load_rows` read them (a read-only mapping).

    `clean` maps each path whose row is in sync on both sides to `(path, is_dir, size,
    mtime_ns, ino)`, which equals the scan's `LocalEntry` of an untouched file: plan and
    `hash_candidates` skip such files with one tuple compare, without building a StateEntry.
    Looking a clean path up builds its StateEntry from the DB (once; the same object after);
    iterating values or items reads all remaining rows in one query. Read before the push
    writes anything (plan looks up every path it acts on), so lazily built rows are the ones
    the plan saw.
    """

    __slots__ = ("_db", "clean", "_full", "_fetched")

    def __init__(self, db: RowSource | None, clean: dict[str, tuple], full: dict[str, StateEntry]) -> None:
        self._db = db
        self.clean = clean
        self._full = full
        self._fetched = 0

    def __getitem__(self, path: str) -> StateEntry:
        e = self._full.get(path)
        if e is None and (path not in self.clean or (e := self._build(path)) is None):
            raise KeyError(path)
        return e

    def get(self, path: str, default: Any = None) -> Any:
        e = self._full.get(path)
        if e is None and (path not in self.clean or (e := self._build(path)) is None):
            return default
        return e

    def __contains__(self, path: object) -> bool:
        return path in self._full or path in self.clean

    def __iter__(self) -> Iterator[str]:
        full = self._full
        yield from list(full)
        for p in list(self.clean):
            if p not in full:
                yield p

    def __len__(self) -> int:
        full = self._full
        return len(full) + sum(1 for p in self.clean if p not in full)

    def unclean_values(self) -> list[StateEntry]:
        """The rows not in sync on both sides (and any clean row already built), cheaply."""
        return list(self._full.values())

    def values(self) -> Any:  # type: ignore[override]
        self._build_all()
        return self._full.values()

    def items(self) -> Any:  # type: ignore[override]
        self._build_all()
        return self._full.items()

    def _build(self, path: str) -> StateEntry | None:
        """The StateEntry of a clean path, read from the DB (None if the row is gone)."""
        self._fetched += 1
        if self._fetched > _LAZY_FETCH_LIMIT or self._db is None:
            self._build_all()
            return self._full.get(path)
        e = self._db.get(path)
        if e is None:
            del self.clean[path]
        else:
            self._full[path] = e
        return e

    def _build_all(self) -> None:
        full = self._full
        missing = [p for p in self.clean if p not in full]
        if not missing:
            return
        rows = self._db.load() if self._db is not None else {}
        for p in missing:
            e = rows.get(p)
            if e is None:
                del self.clean[p]
            else:
                full[p] = e


class SessionStore(Protocol):
    """Where `UploadSessionSlot` keeps its URI (a `StateDB`)."""

    def upload_session(self, path: str, drive_id: str, size: int, mtime_ns: int) -> str | None: ...

    def save_upload_session(self, path: str, drive_id: str, size: int, mtime_ns: int, uri: str) -> None: ...

    def drop_upload_session(self, path: str) -> None: ...


class UploadSessionSlot:
    """One file version's resumable session in the state DB (implements `drive.ResumeSlot`)."""

    __slots__ = ("_db", "_key")

    def __init__(self, db: SessionStore, path: str, drive_id: str, size: int, mtime_ns: int) -> None:
        self._db = db
        self._key = (path, drive_id, size, mtime_ns)

    def saved(self) -> str | None:
        return self._db.upload_session(*self._key)

    def started(self, uri: str) -> None:
        self._db.save_upload_session(*self._key, uri)

    def finished(self) -> None:
        self._db.drop_upload_session(self._key[0])
