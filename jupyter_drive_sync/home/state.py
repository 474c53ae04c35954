"""The per-home state DB (path ↔ Drive ID, both sides' last versions) and the per-home lock.

SQLite in WAL mode with `synchronous=NORMAL`: every confirmed Drive action is committed at
once (a commit is cheap in WAL), so a killed process loses at most the action in flight,
and a rerun converges (pending IDs are recorded before creates; create-with-ID is idempotent).

A lost or deleted DB is simply an empty one: push then adopts what Drive already holds.
A DB that is not a database any more is moved aside and replaced by an empty one.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import gc
import json
import os
import sqlite3
import stat
import threading
import time
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from ..core.errors import AlreadyRunning
from ..core.model import STATE_DIR_REL, EntryStatus, RemoteChange, StateEntry
from .private_dir import open_private_dir

SCHEMA_VERSION = 1
DB_NAME = "state.sqlite3"
LOCK_NAME = "push.lock"

META_ROOT_FOLDER_ID = "root_folder_id"
META_ACCOUNT_EMAIL = "account_email"
META_PAGE_TOKEN = "changes_page_token"
META_LAST_PUSH = "last_push"
META_LAST_PUSH_TIME = "last_push_time"
META_SCHEMA_VERSION = "schema_version"

_COLUMNS = (
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
)
_SELECT = "SELECT " + ", ".join(_COLUMNS) + " FROM entries"
_UPSERT = f"INSERT OR REPLACE INTO entries ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"

_SCHEMA = """
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
    local_deleted INTEGER NOT NULL DEFAULT 0
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

_STATUS = {s.value: s for s in EntryStatus}

# A file row in sync on both sides: confirmed, present locally when last seen, and Drive still
# holds what we wrote (same md5; modifiedTime = local mtime to the millisecond, floor division
# written as a range so that SQLite's truncating division never differs from Python's `//`).
# Such a row needs nothing unless the local (size, mtime) moved, so plan compares it as a tuple.
_CLEAN = (
    "status = 'synced' AND is_dir = 0 AND local_deleted = 0 AND drive_trashed = 0 AND drive_removed = 0"
    " AND drive_md5 IS md5 AND drive_modified_ms * 1000000 <= local_mtime_ns"
    " AND local_mtime_ns < (drive_modified_ms + 1) * 1000000"
)
_SELECT_CLEAN_KEYS = f"SELECT path, is_dir, local_size, local_mtime_ns FROM entries WHERE {_CLEAN}"
_SELECT_NOT_CLEAN = f"{_SELECT} WHERE NOT ({_CLEAN})"
_LAZY_FETCH_LIMIT = 64  # after this many single-row fetches, read the remaining rows at once
# Drive keeps a resumable session about a week; an older one is not worth a status query.
UPLOAD_SESSION_MAX_AGE_S = 6 * 24 * 3600


def state_dir_for(home: Path | str) -> Path:
    """`<home>/.local/share/jupyter/drive_sync`: state DB, lock and credentials live here."""
    return Path(home) / STATE_DIR_REL


def ensure_private_dir(path: Path) -> Path:
    """Create `path` (and parents) with mode 0700; refuse a symlink there or on the way down
    from the home (a privileged job must not be steered into writing outside the home)."""
    os.close(open_private_dir(path))
    return path


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
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


def _row_to_entry(r: tuple) -> StateEntry:
    return StateEntry(
        r[0], r[1], bool(r[2]), _STATUS[r[3]], r[4], r[5], r[6], r[7], r[8], r[9], bool(r[10]), bool(r[11]), bool(r[12])
    )


def _entry_to_row(e: StateEntry, status: EntryStatus | None = None) -> tuple:
    return (
        e.path,
        e.drive_id,
        int(e.is_dir),
        (status or e.status).value,
        e.local_size,
        e.local_mtime_ns,
        e.md5,
        e.drive_md5,
        e.drive_modified_ms,
        e.drive_head_revision,
        int(e.drive_trashed),
        int(e.drive_removed),
        int(e.local_deleted),
    )


def _subtree_clause(column: str = "path") -> str:
    # rows strictly below a folder: exact prefix compare (LIKE would treat % and _ as wildcards)
    return f"substr({column}, 1, length(?) + 1) = ? || '/'"


class StateDB:
    """The state of one home. Thread-safe (one connection behind a lock); open once per run."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.recovered_from: Path | None = None  # where a corrupt DB was moved, if it was
        ensure_private_dir(self.path.parent)
        self._lock = threading.RLock()
        try:
            self._conn = self._open()
        except sqlite3.DatabaseError:
            aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
            os.replace(self.path, aside)
            for suffix in ("-wal", "-shm"):
                try:
                    os.unlink(str(self.path) + suffix)
                except FileNotFoundError:
                    pass
            self.recovered_from = aside
            self._conn = self._open()

    @classmethod
    def for_home(cls, home: Path | str) -> "StateDB":
        return cls(state_dir_for(home) / DB_NAME)

    def _open(self) -> sqlite3.Connection:
        # O_NONBLOCK: a FIFO put here must not hang the run; anything but a regular file (a
        # symlink, a FIFO) is moved aside like a corrupt DB. fchmod: never a chmod by name.
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENXIO, errno.EISDIR):
                raise sqlite3.DatabaseError(f"the state DB is not a regular file ({exc.strerror})") from None
            raise
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise sqlite3.DatabaseError("the state DB is not a regular file")
            if stat.S_IMODE(st.st_mode) != 0o600:
                os.fchmod(fd, 0o600)
        finally:
            os.close(fd)
        conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False, timeout=30)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(_SCHEMA)
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (META_SCHEMA_VERSION,)).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES (?, ?)", (META_SCHEMA_VERSION, str(SCHEMA_VERSION))
                )
        except sqlite3.DatabaseError:
            conn.close()
            raise
        return conn

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> "StateDB":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading -----------------------------------------------------------------------------

    def load(self) -> dict[str, StateEntry]:
        """Every row, in one query, keyed by path."""
        with self._lock:
            rows = self._conn.execute(_SELECT).fetchall()
        conv = _row_to_entry
        return {r[0]: conv(r) for r in rows}

    def load_rows(self) -> "StateRows":
        """Every row, cheaply: what a push plans with.

        Rows in sync on both sides (nearly all of them on a quiet day) come back as bare
        `(path, is_dir, size, mtime_ns)` tuples, built into StateEntry only if asked for;
        the others as StateEntry at once. One read transaction, two table scans.
        """
        with self._lock, _gc_paused():
            c = self._conn
            c.execute("BEGIN")
            try:
                clean = {r[0]: r for r in c.execute(_SELECT_CLEAN_KEYS)}
                rest = c.execute(_SELECT_NOT_CLEAN).fetchall()
            finally:
                c.execute("COMMIT")
            conv = _row_to_entry
            return StateRows(self, clean, {r[0]: conv(r) for r in rest})

    def get(self, path: str) -> StateEntry | None:
        with self._lock:
            r = self._conn.execute(_SELECT + " WHERE path = ?", (path,)).fetchone()
        return _row_to_entry(r) if r else None

    def by_drive_id(self, drive_id: str) -> StateEntry | None:
        with self._lock:
            r = self._conn.execute(_SELECT + " WHERE drive_id = ?", (drive_id,)).fetchone()
        return _row_to_entry(r) if r else None

    def count(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT count(*) FROM entries").fetchone()[0]

    # -- writing -----------------------------------------------------------------------------

    def _tx(self) -> "_Tx":
        return _Tx(self)

    def record_pending(self, entries: Iterable[StateEntry]) -> None:
        """Record generated IDs as pending, BEFORE their creates, all in one transaction.

        A row at the same path (or with the same ID) is replaced: the path now belongs to
        the new ID.
        """
        rows = [_entry_to_row(e, EntryStatus.PENDING) for e in entries]
        if not rows:
            return
        with self._tx() as c:
            c.executemany(_UPSERT, rows)

    def record_synced(self, entry: StateEntry) -> None:
        """Drive confirmed an action on `entry.path`: store it, committed at once."""
        with self._tx() as c:
            c.execute(_UPSERT, _entry_to_row(entry, EntryStatus.SYNCED))

    def record_synced_many(self, entries: Iterable[StateEntry]) -> None:
        rows = [_entry_to_row(e, EntryStatus.SYNCED) for e in entries]
        if rows:
            with self._tx() as c:
                c.executemany(_UPSERT, rows)

    def apply_remote_changes(self, changes: Iterable[RemoteChange], new_token: str | None) -> int:
        """Fold Drive's changes feed into the drive_* columns, and store the next page token.

        One transaction: the token only moves forward together with what it covered. Unknown
        IDs are ignored (not ours, or not tracked). A removed folder takes every row below it
        along (Drive deletes descendants for good; the feed may not list them all). Returns the
        number of rows changed.
        """
        changed = 0
        with self._tx() as c:
            for ch in changes:
                if ch.removed:
                    r = c.execute("SELECT path, is_dir FROM entries WHERE drive_id = ?", (ch.drive_id,)).fetchone()
                    if r is None:
                        continue
                    c.execute("UPDATE entries SET drive_removed = 1 WHERE drive_id = ?", (ch.drive_id,))
                    changed += 1
                    if r[1]:
                        cur = c.execute(
                            f"UPDATE entries SET drive_removed = 1 WHERE {_subtree_clause()}", (r[0], r[0])
                        )
                        changed += cur.rowcount
                else:
                    cur = c.execute(
                        "UPDATE entries SET drive_md5 = ?, drive_modified_ms = ?, drive_head_revision = ?,"
                        " drive_trashed = ?, drive_removed = 0 WHERE drive_id = ?",
                        (ch.md5, ch.modified_ms, ch.head_revision, int(ch.trashed), ch.drive_id),
                    )
                    changed += cur.rowcount
            if new_token is not None:
                c.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (META_PAGE_TOKEN, new_token))
        return changed

    def mark_local_deleted(self, paths: Iterable[str], *, recursive: bool = False) -> None:
        """The paths are gone locally; keep the rows so a reappearance reuses the Drive ID."""
        paths = list(paths)
        with self._tx() as c:
            c.executemany("UPDATE entries SET local_deleted = 1 WHERE path = ?", [(p,) for p in paths])
            if recursive:
                c.executemany(
                    f"UPDATE entries SET local_deleted = 1 WHERE {_subtree_clause()}", [(p, p) for p in paths]
                )

    def mark_drive_trashed(self, drive_id: str, *, local_deleted: bool | None = None) -> None:
        """We trashed `drive_id` ourselves (the changes feed would say the same later)."""
        with self._tx() as c:
            c.execute("UPDATE entries SET drive_trashed = 1 WHERE drive_id = ?", (drive_id,))
            if local_deleted is not None:
                c.execute("UPDATE entries SET local_deleted = ? WHERE drive_id = ?", (int(local_deleted), drive_id))

    def forget(self, paths: Iterable[str], *, recursive: bool = False) -> None:
        paths = list(paths)
        with self._tx() as c:
            c.executemany("DELETE FROM entries WHERE path = ?", [(p,) for p in paths])
            if recursive:
                c.executemany(f"DELETE FROM entries WHERE {_subtree_clause()}", [(p, p) for p in paths])

    def forget_all(self) -> None:
        """Drop every row (the root folder changed: the old IDs mean nothing any more)."""
        with self._tx() as c:
            c.execute("DELETE FROM entries")
            c.execute("DELETE FROM upload_sessions")

    # -- resumable upload sessions ------------------------------------------------------------

    def upload_session(self, path: str, drive_id: str, size: int, mtime_ns: int) -> str | None:
        """The session URI of an unfinished upload of this very file (same Drive ID, size and
        mtime as when it started, and young enough), so a new run continues it instead of
        sending the whole file again. A row for another version of the file is dropped."""
        with self._lock:
            r = self._conn.execute(
                "SELECT drive_id, size, mtime_ns, uri, started FROM upload_sessions WHERE path = ?", (path,)
            ).fetchone()
        if r is None:
            return None
        if r[:3] == (drive_id, size, mtime_ns) and time.time() - r[4] < UPLOAD_SESSION_MAX_AGE_S:
            return r[3]
        self.drop_upload_session(path)
        return None

    def save_upload_session(self, path: str, drive_id: str, size: int, mtime_ns: int, uri: str) -> None:
        """Remember a resumable session as soon as Drive granted it (committed at once: the run
        may be killed mid-upload)."""
        with self._tx() as c:
            c.execute(
                "INSERT OR REPLACE INTO upload_sessions (path, drive_id, size, mtime_ns, uri, started)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (path, drive_id, size, mtime_ns, uri, time.time()),
            )

    def drop_upload_session(self, path: str) -> None:
        with self._tx() as c:
            c.execute("DELETE FROM upload_sessions WHERE path = ?", (path,))

    def resume_slot(self, path: str, drive_id: str, size: int, mtime_ns: int) -> "UploadSessionSlot":
        """A `drive.ResumeSlot` for one upload of this file version, backed by this DB."""
        return UploadSessionSlot(self, path, drive_id, size, mtime_ns)

    def upload_session_paths(self) -> list[str]:
        """Paths with a remembered session (for tests and status displays)."""
        with self._lock:
            return [r[0] for r in self._conn.execute("SELECT path FROM upload_sessions ORDER BY path")]

    # -- meta --------------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        with self._lock:
            r = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return r[0] if r else None

    def set_meta(self, key: str, value: str | None) -> None:
        with self._tx() as c:
            if value is None:
                c.execute("DELETE FROM meta WHERE key = ?", (key,))
            else:
                c.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    @property
    def root_folder_id(self) -> str | None:
        return self.get_meta(META_ROOT_FOLDER_ID)

    @root_folder_id.setter
    def root_folder_id(self, value: str | None) -> None:
        self.set_meta(META_ROOT_FOLDER_ID, value)

    @property
    def account_email(self) -> str | None:
        return self.get_meta(META_ACCOUNT_EMAIL)

    @account_email.setter
    def account_email(self, value: str | None) -> None:
        self.set_meta(META_ACCOUNT_EMAIL, value)

    @property
    def page_token(self) -> str | None:
        return self.get_meta(META_PAGE_TOKEN)

    @page_token.setter
    def page_token(self, value: str | None) -> None:
        self.set_meta(META_PAGE_TOKEN, value)

    def set_last_push(self, summary: dict[str, Any], when: float | None = None) -> None:
        with self._tx() as c:
            c.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (META_LAST_PUSH, json.dumps(summary))
            )
            c.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                (META_LAST_PUSH_TIME, repr(time.time() if when is None else when)),
            )

    def last_push(self) -> tuple[dict[str, Any], float] | None:
        """The last push summary and its time (epoch seconds), or None if there was none."""
        summary, when = self.get_meta(META_LAST_PUSH), self.get_meta(META_LAST_PUSH_TIME)
        if summary is None or when is None:
            return None
        try:
            return json.loads(summary), float(when)
        except ValueError:
            return None


class UploadSessionSlot:
    """One file version's resumable session in the state DB (implements `drive.ResumeSlot`)."""

    __slots__ = ("_db", "_key")

    def __init__(self, db: StateDB, path: str, drive_id: str, size: int, mtime_ns: int) -> None:
        self._db = db
        self._key = (path, drive_id, size, mtime_ns)

    def saved(self) -> str | None:
        return self._db.upload_session(*self._key)

    def started(self, uri: str) -> None:
        self._db.save_upload_session(*self._key, uri)

    def finished(self) -> None:
        self._db.drop_upload_session(self._key[0])


class StateRows(Mapping[str, StateEntry]):
    """The state DB's rows by path, as `StateDB.load_rows` read them (a read-only mapping).

    `clean` maps each path whose row is in sync on both sides to `(path, is_dir, size,
    mtime_ns)`, which equals the scan's `LocalEntry` of an untouched file: plan and
    `hash_candidates` skip such files with one tuple compare, without building a StateEntry.
    Looking a clean path up builds its StateEntry from the DB (once; the same object after);
    iterating values or items reads all remaining rows in one query. Read before the push
    writes anything (plan looks up every path it acts on), so lazily built rows are the ones
    the plan saw.
    """

    __slots__ = ("_db", "clean", "_full", "_fetched")

    def __init__(self, db: StateDB | None, clean: dict[str, tuple], full: dict[str, StateEntry]) -> None:
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
        rows: dict[str, tuple] = {}
        if self._db is not None:
            with self._db._lock:
                rows = {r[0]: r for r in self._db._conn.execute(_SELECT)}
        for p in missing:
            r = rows.get(p)
            if r is None:
                del self.clean[p]
            else:
                full[p] = _row_to_entry(r)


class _Tx:
    """BEGIN IMMEDIATE … COMMIT (ROLLBACK on error) under the DB's thread lock."""

    def __init__(self, db: StateDB) -> None:
        self._db = db

    def __enter__(self) -> sqlite3.Connection:
        self._db._lock.acquire()
        try:
            self._db._conn.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._db._lock.release()
            raise
        return self._db._conn

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            self._db._conn.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self._db._lock.release()


# -- the per-home lock ------------------------------------------------------------------------


class HomeLock:
    """One push (or restore) per home at a time, across processes: `fcntl.flock` on
    `push.lock` beside the state DB. The holder writes its pid, kind and start time into the
    file so that a refused caller can say who holds it. The kernel drops the lock when the
    holder dies, so a crashed run never leaves the home locked.

    Also exclusive within one process (each acquire opens its own file description).
    """

    def __init__(self, state_dir: Path | str, *, kind: str = "push") -> None:
        self.state_dir = Path(state_dir)
        self.path = self.state_dir / LOCK_NAME
        self.kind = kind
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def _open(self) -> int:
        """The lock file, opened through the state dir's descriptor (no symlink followed on the
        way); anything but a regular file there (a FIFO, a symlink) is replaced by one."""
        dfd = open_private_dir(self.state_dir)
        try:
            for _ in range(3):
                try:
                    fd = os.open(LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                                 0o600, dir_fd=dfd)
                except OSError as exc:
                    if exc.errno not in (errno.ELOOP, errno.ENXIO, errno.EISDIR):
                        raise
                else:
                    if stat.S_ISREG(os.fstat(fd).st_mode):
                        return fd
                    os.close(fd)
                try:
                    os.unlink(LOCK_NAME, dir_fd=dfd)  # unlink never follows a symlink
                except IsADirectoryError:
                    os.rmdir(LOCK_NAME, dir_fd=dfd)
                except FileNotFoundError:
                    pass
            raise OSError(errno.EINVAL, "cannot make the home's lock file a regular file", str(self.path))
        finally:
            os.close(dfd)

    def try_acquire(self) -> bool:
        """Take the lock if it is free; False (and nothing held) if another holder has it."""
        if self._fd is not None:
            raise RuntimeError("this HomeLock is already held")
        fd = self._open()
        try:
            _flock_unless_held(fd)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        info = {"pid": os.getpid(), "kind": self.kind, "started": time.time(), "host": os.uname().nodename}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        self._fd = fd
        return True

    def acquire(self, *, timeout: float = 0.0, poll: float = 0.1) -> "HomeLock":
        """Take the lock, waiting up to `timeout` seconds; raise `AlreadyRunning` with the holder."""
        deadline = time.monotonic() + max(0.0, timeout)
        while not self.try_acquire():
            if time.monotonic() >= deadline:
                holder = self._read_info()
                what = f"{holder.get('kind', 'a push')} (pid {holder.get('pid', '?')})" if holder else "another run"
                raise AlreadyRunning(f"{what} is already running for this home", holder)
            time.sleep(poll)
        return self

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)
        except OSError:
            pass
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    def holder(self) -> dict[str, Any] | None:
        """Who holds the lock, as its holder wrote it; None when the lock is free.

        Probes with a shared non-blocking flock, for status displays; an acquirer that meets
        such a probe tries again (`_flock_unless_held`) instead of reporting the home busy.
        """
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None  # not a lock file anything could hold (the next acquire replaces it)
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return _parse_info(os.pread(fd, 4096, 0))
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)

    def _read_info(self) -> dict[str, Any]:
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            return {}
        try:
            return _parse_info(os.pread(fd, 4096, 0)) if stat.S_ISREG(os.fstat(fd).st_mode) else {}
        finally:
            os.close(fd)

    def __enter__(self) -> "HomeLock":
        if self._fd is None:
            self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


_PROBE_GRACE_S = 1.0  # a status probe holds its shared lock for microseconds


def _flock_unless_held(fd: int) -> None:
    """Take the exclusive lock, or raise BlockingIOError if another run holds it.

    A failed exclusive attempt may only mean that a status probe (`holder()`, a shared lock
    held for an instant) was looking: then a shared attempt succeeds, and we try again instead
    of telling a nightly run that the home is busy when nothing runs.
    """
    deadline = time.monotonic() + _PROBE_GRACE_S
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                raise  # an exclusive holder: a real run
            fcntl.flock(fd, fcntl.LOCK_UN)
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.001)


def _parse_info(data: bytes) -> dict[str, Any]:
    try:
        info = json.loads(data.decode())
    except (ValueError, UnicodeDecodeError):
        return {}
    return info if isinstance(info, dict) else {}


def iter_subtree(state: dict[str, StateEntry], path: str) -> Iterator[StateEntry]:
    """Rows at `path` and below it (pure helper for push and restore)."""
    prefix = path + "/"
    for p, e in state.items():
        if p == path or p.startswith(prefix):
            yield e
