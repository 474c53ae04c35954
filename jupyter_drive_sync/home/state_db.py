"""The per-home state DB: path ↔ Drive ID, both sides' last versions, resumable uploads, meta.

SQLite in WAL mode with `synchronous=NORMAL`: every confirmed Drive action is committed at
once (a commit is cheap in WAL), so a killed process loses at most the action in flight,
and a rerun converges (pending IDs are recorded before creates; create-with-ID is idempotent).

A lost or deleted DB is simply an empty one: push then adopts what Drive already holds.
A DB that is not a database any more is moved aside and replaced by an empty one.
"""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import stat
import threading
import time
from pathlib import Path
from typing import Any, Iterable

from ..core.model import EntryStatus, RemoteChange, StateEntry, clamp_mtime_ns
from ..core.settings import state_dir
from ..core.errors import EnvironmentProblem
from .machine_errors import raise_if_machine_problem, state_db_problem
from .private_dir import ensure_private_dir, match_folder_owner
from .state_rows import (
    SCHEMA,
    SCHEMA_VERSION,
    SELECT_CLEAN_KEYS,
    SELECT_NOT_CLEAN,
    SELECT_ROWS,
    UPSERT_ROW,
    StateRows,
    UploadSessionSlot,
    entry_to_row,
    gc_paused,
    migrate,
    row_to_entry,
)

DB_NAME = "state.sqlite3"

META_ROOT_FOLDER_ID = "root_folder_id"
META_ACCOUNT_EMAIL = "account_email"
META_ACCOUNT_PERMISSION_ID = "account_permission_id"  # Drive's stable ID of that account
META_ACCOUNT_GRANT = "account_grant"  # fingerprint of the sign-in last checked against it
META_PAGE_TOKEN = "changes_page_token"
META_ADOPTED_ROOT = "adopted_root"  # the root folder whose adoption finished (see finish_adoption)
META_LAST_PUSH = "last_push"
META_LAST_PUSH_TIME = "last_push_time"
META_SCHEMA_VERSION = "schema_version"


# Drive keeps a resumable session about a week; an older one is not worth a status query.
UPLOAD_SESSION_MAX_AGE_S = 6 * 24 * 3600


def _subtree_clause(column: str = "path") -> str:
    # rows strictly below a folder: exact prefix compare (LIKE would treat % and _ as wildcards)
    return f"substr({column}, 1, length(?) + 1) = ? || '/'"


class StateDB:
    """The state of one home. Thread-safe (one connection behind a lock); open once per run."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.recovered_from: Path | None = None  # where a corrupt DB was moved, if it was
        self._lock = threading.RLock()
        try:
            ensure_private_dir(self.path.parent)
            self._conn = self._open()
        except (sqlite3.DatabaseError, OSError) as exc:  # a bad file is moved aside, a bad machine said in words
            problem = state_db_problem(exc, self.path)
            if problem is not None or isinstance(exc, OSError):
                raise problem or exc from None
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
        return cls(state_dir(home) / DB_NAME)

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
            if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:  # a hard link is not ours either
                raise sqlite3.DatabaseError("the state DB is not a regular file")
            if stat.S_IMODE(st.st_mode) != 0o600:
                os.fchmod(fd, 0o600)
            match_folder_owner(fd, self.path.parent)  # root: the student's (SQLite gives -wal/-shm the same owner)
        finally:
            os.close(fd)
        conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False, timeout=30)
        try:
            _refuse_unknown_schema(conn, self.path)  # before WAL mode rewrites another app's file
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(SCHEMA)
            migrate(conn)
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (META_SCHEMA_VERSION,)).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES (?, ?)", (META_SCHEMA_VERSION, str(SCHEMA_VERSION))
                )
        except (sqlite3.DatabaseError, EnvironmentProblem):
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
            rows = self._conn.execute(SELECT_ROWS).fetchall()
        conv = row_to_entry
        return {r[0]: conv(r) for r in rows}

    def load_rows(self) -> "StateRows":
        """Every row, cheaply: what a push plans with.

        Rows in sync on both sides (nearly all of them on a quiet day) come back as bare
        `(path, is_dir, size, mtime_ns, ino)` tuples, built into StateEntry only if asked for;
        the others as StateEntry at once. One read transaction, two table scans.
        """
        with self._lock, gc_paused():
            c = self._conn
            c.execute("BEGIN")
            try:
                clean = {r[0]: r for r in c.execute(SELECT_CLEAN_KEYS)}
                rest = c.execute(SELECT_NOT_CLEAN).fetchall()
            finally:
                c.execute("COMMIT")
            conv = row_to_entry
            return StateRows(self, clean, {r[0]: conv(r) for r in rest})

    def get(self, path: str) -> StateEntry | None:
        with self._lock:
            r = self._conn.execute(SELECT_ROWS + " WHERE path = ?", (path,)).fetchone()
        return row_to_entry(r) if r else None

    def rows_at(self, paths: Iterable[str]) -> dict[str, StateEntry]:
        """The rows of `paths` that exist, by path: one pass, a few hundred paths a query
        (a push reads the rows planning needs this way before planning)."""
        wanted = list(paths)
        out: dict[str, StateEntry] = {}
        with self._lock, gc_paused():
            c = self._conn
            c.execute("BEGIN")
            try:
                for start in range(0, len(wanted), 500):
                    chunk = wanted[start:start + 500]
                    query = f"{SELECT_ROWS} WHERE path IN ({','.join('?' * len(chunk))})"
                    out.update((r[0], row_to_entry(r)) for r in c.execute(query, chunk))
            finally:
                c.execute("COMMIT")
        return out

    def by_drive_id(self, drive_id: str) -> StateEntry | None:
        with self._lock:
            r = self._conn.execute(SELECT_ROWS + " WHERE drive_id = ?", (drive_id,)).fetchone()
        return row_to_entry(r) if r else None

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
        rows = [entry_to_row(e, EntryStatus.PENDING) for e in entries]
        if not rows:
            return
        with self._tx() as c:
            c.executemany(UPSERT_ROW, rows)

    def record_synced(self, entry: StateEntry) -> None:
        """Drive confirmed an action on `entry.path`: store it, committed at once."""
        with self._tx() as c:
            c.execute(UPSERT_ROW, entry_to_row(entry, EntryStatus.SYNCED))

    def record_synced_many(self, entries: Iterable[StateEntry]) -> None:
        rows = [entry_to_row(e, EntryStatus.SYNCED) for e in entries]
        if rows:
            with self._tx() as c:
                c.executemany(UPSERT_ROW, rows)

    def adoption_finished(self, root_id: str) -> bool:
        """A root folder on record is not enough: a run killed while adopting has one, no rows."""
        return self.get_meta(META_ADOPTED_ROOT) == root_id

    def finish_adoption(self, root_id: str, entries: Iterable[StateEntry], page_token: str | None) -> None:
        """Adopted rows, the feed's start (None: keep it) and the "adopted" mark: one transaction."""
        meta = [(META_ROOT_FOLDER_ID, root_id), (META_ADOPTED_ROOT, root_id)]
        meta += [(META_PAGE_TOKEN, page_token)] if page_token else []
        with self._tx() as c:
            c.executemany(UPSERT_ROW, [entry_to_row(e, EntryStatus.SYNCED) for e in entries])
            c.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", meta)

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

    def record_move(self, source_path: str, entry: StateEntry) -> None:
        """Drive confirmed a local rename or move: the row of `source_path` becomes `entry`, and
        the rows (and upload sessions) below a folder follow it in the same transaction, as Drive
        moved its subtree in that one request. A stale row in the way gives way."""
        old, new = source_path, entry.path
        with self._tx() as c:  # the upsert replaces the row of this Drive ID, at the old path
            c.execute(UPSERT_ROW, entry_to_row(entry, EntryStatus.SYNCED))
            if old != new:
                c.execute("UPDATE OR REPLACE upload_sessions SET path = ? WHERE path = ?", (new, old))
            for table in ("entries", "upload_sessions") if entry.is_dir and old != new else ():
                c.execute(f"UPDATE OR REPLACE {table} SET path = ? || substr(path, length(?) + 1)"
                          f" WHERE {_subtree_clause()}", (new, old, old, old))

    def record_inodes(self, inodes: Iterable[tuple[str, int]]) -> None:
        """Note the local inode of rows whose file is unchanged (content as pushed), no Drive
        request: the file was rewritten in place under a new inode, or the row predates inodes."""
        rows = [(ino, path) for path, ino in inodes]
        if rows:
            with self._tx() as c:
                c.executemany("UPDATE entries SET local_ino = ? WHERE path = ?", rows)

    def record_local_sides(self, files: Iterable[tuple[str, int, int, int | None]]) -> None:
        """Note (path, size, mtime_ns, inode) as the local file a row last saw, its content
        version (`md5`) untouched: a file whose Drive copy won a last-write-wins decision stays
        known by identity (a later rename is a move) while its content stays unmerged (a later
        local edit still pins Drive's version before replacing it)."""
        rows = [(size, clamp_mtime_ns(mtime_ns), ino, path) for path, size, mtime_ns, ino in files]
        if rows:
            with self._tx() as c:
                c.executemany("UPDATE entries SET local_size = ?, local_mtime_ns = ?, local_ino = ? WHERE path = ?", rows)

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

    def start_fresh(self, meta: dict[str, str]) -> None:
        """Forget every Drive ID (rows, pending IDs, upload sessions, the root folder, the feed
        token, every record about that Drive) and store `meta` instead, in one transaction:
        another Google account is connected, and none of the old IDs mean anything to it."""
        with self._tx() as c:
            c.execute("DELETE FROM entries")
            c.execute("DELETE FROM upload_sessions")
            c.execute("DELETE FROM meta WHERE key != ?", (META_SCHEMA_VERSION,))
            c.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", list(meta.items()))

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
                (path, drive_id, size, clamp_mtime_ns(mtime_ns), uri, time.time()),
            )

    def drop_upload_session(self, path: str) -> None:
        with self._tx() as c:
            c.execute("DELETE FROM upload_sessions WHERE path = ?", (path,))

    def resume_slot(self, path: str, drive_id: str, size: int, mtime_ns: int) -> UploadSessionSlot:
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


def _refuse_unknown_schema(conn: sqlite3.Connection, path: Path) -> None:
    """A DB with tables but without our schema_version is another app's: DatabaseError, moved
    aside like a corrupt one. A newer schema is left alone: EnvironmentProblem (upgrade)."""
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (META_SCHEMA_VERSION,)).fetchone() \
        if "meta" in tables else None
    if tables and (row is None or not str(row[0]).isdigit()):
        raise sqlite3.DatabaseError("not a drive-sync state DB (another app's database)")
    if row is not None and int(row[0]) > SCHEMA_VERSION:
        raise EnvironmentProblem(f"the state DB {path} was written by a newer jupyter-drive-sync (schema "
                                 f"{row[0]}, this one knows {SCHEMA_VERSION}): upgrade jupyter-drive-sync")


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

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        try:
            self._db._conn.execute("ROLLBACK" if exc_type else "COMMIT")
        except sqlite3.OperationalError as failed:  # a full disk at COMMIT, or no transaction left to roll back
            exc = exc or failed
        finally:
            self._db._lock.release()
        raise_if_machine_problem(exc, self._db.path)  # a full disk ends the run in one line, not per file
        if exc is not None and exc_type is None:
            raise exc
