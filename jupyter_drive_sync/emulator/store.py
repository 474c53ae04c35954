"""DriveStore: the emulator's files, revisions and change log, in memory and on disk.

Everything lives in memory, indexed by id, by parent and by owner, so a request costs a few
dict operations (the emulator must take hundreds of creates a second). Every mutation is
written through to SQLite (WAL) in the same call, so a restarted emulator, or one killed
with -9, comes back with exactly what it last acknowledged. Content goes to the blob store
(`blobs.py`), once per distinct SHA-256, reference-counted across revisions.

Old revisions go as on Google (`surviving_revisions`): purged 30 days after newer content
arrived, or beyond 100 unpinned ones when more arrives; pinned ones stay and count against
the owner's storage quota.
"""

from __future__ import annotations

import base64
import contextlib
import json
import random
import secrets
import sqlite3
import threading
import time
from collections import OrderedDict, defaultdict
from dataclasses import asdict, fields, replace
from pathlib import Path
from typing import Any, Iterator

from .blobs import BlobStore
from .records import FOLDER_MIME, FileRec, RevRec, format_time, now_ms, surviving_revisions
from .settings import EmulatorSettings

ID_LENGTH = 33  # a Drive file id: 33 characters of [A-Za-z0-9_-]
_FILE_COLUMNS = [f.name for f in fields(FileRec) if f.name != "revisions"]


def _file_to_json(rec: FileRec) -> str:
    return json.dumps({k: getattr(rec, k) for k in _FILE_COLUMNS}, separators=(",", ":"))


# ---------------------------------------------------------------- the store


class DriveStore:
    """All accounts' Drive contents. Thread-safe: every public method holds `lock` (an RLock)."""

    def __init__(self, settings: EmulatorSettings) -> None:
        self.lock = threading.RLock()
        self.dir = Path(settings.data_dir) / "drive"
        self._clock = settings.clock  # revision purge runs on the emulator's clock, which tests move
        self.blobs = BlobStore(self.dir / "blobs", self.dir / "tmp", self.lock)
        for d in (self.dir, self.blobs.dir, self.blobs.tmp_dir):
            d.mkdir(parents=True, exist_ok=True)
        seed = settings.seed
        self._rng: random.Random = random.Random(seed) if seed is not None else secrets.SystemRandom()
        self._files: dict[str, FileRec] = {}
        self._children: dict[str, set[str]] = defaultdict(set)
        self._by_owner: dict[str, set[str]] = defaultdict(set)
        self._roots: dict[str, str] = {}
        self._usage: dict[str, int] = defaultdict(int)
        self._trash_usage: dict[str, int] = defaultdict(int)
        self._generated: dict[str, list[Any]] = {}  # id -> [owner, used]
        self._changes: dict[str, OrderedDict[str, tuple[int, int, str]]] = defaultdict(OrderedDict)
        self._next_seq = 1
        self._next_rev_seq = 0
        self._uploads: dict[tuple[str, str], int] = {}
        self._tx_depth = 0
        self._db = sqlite3.connect(str(self.dir / "drive.sqlite3"), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(
            """
            CREATE TABLE IF NOT EXISTS files (id TEXT PRIMARY KEY, owner TEXT NOT NULL, data TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS revisions (file_id TEXT NOT NULL, rev_id TEXT NOT NULL,
                seq INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (file_id, rev_id));
            CREATE TABLE IF NOT EXISTS changes (owner TEXT NOT NULL, file_id TEXT NOT NULL, seq INTEGER NOT NULL,
                time_ms INTEGER NOT NULL, client TEXT NOT NULL, PRIMARY KEY (owner, file_id));
            CREATE TABLE IF NOT EXISTS generated (id TEXT PRIMARY KEY, owner TEXT NOT NULL, used INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS uploads (owner TEXT NOT NULL, day TEXT NOT NULL, bytes INTEGER NOT NULL,
                PRIMARY KEY (owner, day));
            """
        )
        self._load()
        if seed is not None and self._next_seq > 1:
            # a restarted seeded emulator must not replay the id stream it already used
            self._rng = random.Random(f"{seed}:{self._next_seq}:{len(self._files)}")

    # ------------------------------------------------------------ loading and persistence

    def _load(self) -> None:
        revs: dict[str, list[tuple[int, RevRec]]] = defaultdict(list)
        for file_id, seq, data in self._db.execute("SELECT file_id, seq, data FROM revisions"):
            revs[file_id].append((seq, RevRec(**json.loads(data))))
            self._next_rev_seq = max(self._next_rev_seq, seq + 1)
        for (data,) in self._db.execute("SELECT data FROM files"):
            rec = FileRec(**json.loads(data))
            rec.revisions = [r for _, r in sorted(revs.get(rec.id, []), key=lambda p: p[0])]
            self._index(rec)
            if rec.is_root:
                self._roots[rec.owner] = rec.id
        rows = self._db.execute("SELECT owner, file_id, seq, time_ms, client FROM changes ORDER BY seq").fetchall()
        for owner, file_id, seq, time_ms, client in rows:
            self._changes[owner][file_id] = (seq, time_ms, client)
            self._next_seq = max(self._next_seq, seq + 1)
        for id_, owner, used in self._db.execute("SELECT id, owner, used FROM generated"):
            self._generated[id_] = [owner, bool(used)]
        for owner, day, nbytes in self._db.execute("SELECT owner, day, bytes FROM uploads"):
            self._uploads[(owner, day)] = nbytes

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Group several writes into one SQLite commit (e.g. trashing a whole folder tree)."""
        with self.lock:
            if self._tx_depth == 0:
                self._db.execute("BEGIN")
            self._tx_depth += 1
            try:
                yield
            except BaseException:
                self._tx_depth -= 1
                if self._tx_depth == 0:
                    self._db.execute("COMMIT")  # memory already changed: keep disk in step
                raise
            self._tx_depth -= 1
            if self._tx_depth == 0:
                self._db.execute("COMMIT")

    def close(self) -> None:
        with self.lock:
            try:
                self._db.close()
            except sqlite3.Error:
                pass

    # ------------------------------------------------------------ indexes

    def _index(self, rec: FileRec) -> None:
        self._files[rec.id] = rec
        self._by_owner[rec.owner].add(rec.id)
        if rec.parent:
            self._children[rec.parent].add(rec.id)
        self._usage[rec.owner] += rec.quota_bytes
        if rec.trashed:
            self._trash_usage[rec.owner] += rec.quota_bytes
        for rev in rec.revisions:
            self.blobs.add_ref(rev.sha256)

    def _unindex(self, rec: FileRec) -> None:
        self._files.pop(rec.id, None)
        self._by_owner[rec.owner].discard(rec.id)
        if rec.parent:
            kids = self._children.get(rec.parent)
            if kids is not None:
                kids.discard(rec.id)
                if not kids:
                    del self._children[rec.parent]
        self._usage[rec.owner] -= rec.quota_bytes
        if rec.trashed:
            self._trash_usage[rec.owner] -= rec.quota_bytes
        for rev in rec.revisions:
            self.blobs.drop_ref(rev.sha256)

    # ------------------------------------------------------------ ids

    def _random_id(self, length: int = ID_LENGTH, prefix: str = "1") -> str:
        # base64url of random bytes is exactly the [A-Za-z0-9_-] alphabet, and cheap to make
        n = length - len(prefix)
        raw = base64.urlsafe_b64encode(self._rng.randbytes((n * 3 + 3) // 4)).decode("ascii")
        return prefix + raw[:n]

    def new_id(self) -> str:
        with self.lock:
            while True:
                id_ = self._random_id()
                if id_ not in self._files and id_ not in self._generated:
                    return id_

    def new_revision_id(self, taken: set[str] | frozenset[str] = frozenset()) -> str:
        """A revision id not in `taken` (the file's current revision ids)."""
        with self.lock:
            while True:
                rev_id = self._random_id(length=51, prefix="0B")
                if rev_id not in taken:
                    return rev_id

    def generate_ids(self, owner: str, count: int) -> list[str]:
        """Reserve `count` fresh ids for `owner` (persisted: a restart keeps them usable)."""
        with self.lock:
            ids: list[str] = []
            while len(ids) < count:
                id_ = self._random_id()
                if id_ not in self._files and id_ not in self._generated:
                    self._generated[id_] = [owner, False]
                    ids.append(id_)
            with self.transaction():
                self._db.executemany(
                    "INSERT OR REPLACE INTO generated (id, owner, used) VALUES (?, ?, 0)", [(i, owner) for i in ids]
                )
            return ids

    def id_status(self, id_: str) -> str | None:
        """'file' (exists), 'used' (was created, since deleted), 'generated' (free to use) or None."""
        with self.lock:
            if id_ in self._files:
                return "file"
            gen = self._generated.get(id_)
            if gen is None:
                return None
            return "used" if gen[1] else "generated"

    def generated_owner(self, id_: str) -> str | None:
        """The account `generate_ids` handed `id_` to, if any."""
        with self.lock:
            gen = self._generated.get(id_)
            return gen[0] if gen else None

    # ------------------------------------------------------------ reads

    def get(self, file_id: str) -> FileRec | None:
        return self._files.get(file_id)

    def children(self, parent_id: str) -> list[FileRec]:
        with self.lock:
            return [self._files[c] for c in self._children.get(parent_id, ())]

    def owned(self, owner: str) -> list[FileRec]:
        with self.lock:
            return [self._files[i] for i in self._by_owner.get(owner, ())]

    def descendants(self, folder_id: str) -> list[FileRec]:
        """Every file below `folder_id` (breadth first, the folder itself excluded)."""
        with self.lock:
            out: list[FileRec] = []
            queue = [folder_id]
            while queue:
                for child_id in self._children.get(queue.pop(), ()):
                    child = self._files[child_id]
                    out.append(child)
                    if child.is_folder:
                        queue.append(child_id)
            return out

    def is_ancestor(self, maybe_ancestor: str, file_id: str) -> bool:
        with self.lock:
            seen: set[str] = set()
            cur = self._files.get(file_id)
            while cur is not None and cur.parent and cur.id not in seen:
                seen.add(cur.id)
                if cur.parent == maybe_ancestor:
                    return True
                cur = self._files.get(cur.parent)
            return False

    def root_id(self, owner: str, client_id: str = "") -> str:
        """The id of `owner`'s My Drive root folder, created on first use."""
        with self.lock:
            root = self._roots.get(owner)
            if root is None:
                ts = now_ms()
                rec = FileRec(
                    id=self.new_id(), owner=owner, name="My Drive", mime_type=FOLDER_MIME, parent=None,
                    creator_client="", created_ms=ts, modified_ms=ts, version=1, is_root=True,
                )
                self._index(rec)
                self._roots[owner] = rec.id
                self._persist_file(rec)
                root = rec.id
            return root

    def usage(self, owner: str) -> tuple[int, int]:
        """(bytes `owner`'s files cost their storage quota: head contents and pinned revisions;
        of which in the trash)."""
        with self.lock:
            return self._usage.get(owner, 0), self._trash_usage.get(owner, 0)

    def usage_bytes(self, email: str) -> int:
        return self.usage(email)[0]

    def all_files(self, email: str) -> list[dict[str, Any]]:
        """Admin view of every file of `email`, trashed ones too (the admin API's files listing)."""
        with self.lock:
            out = []
            for rec in sorted(self.owned(email), key=lambda r: (r.created_ms, r.id)):
                if rec.is_root:
                    continue
                out.append(
                    {
                        "id": rec.id,
                        "name": rec.name,
                        "mimeType": rec.mime_type,
                        "parents": [rec.parent] if rec.parent else [],
                        "md5Checksum": rec.head.md5 if rec.head and not rec.is_folder else None,
                        "size": str(rec.size) if not rec.is_folder else None,
                        "modifiedTime": format_time(rec.modified_ms),
                        "trashed": rec.trashed,
                        "appProperties": {k: v for m in rec.app_properties.values() for k, v in m.items()},
                    }
                )
            return out

    # ------------------------------------------------------------ writes

    def write(self, rec: FileRec, *, log_change: bool = True) -> FileRec:
        """Store `rec` (a new record or an edited `copy()`): bump its version, log the change."""
        with self.lock:
            old = self._files.get(rec.id)
            if old is rec:
                raise ValueError("write() needs a copy(), not the stored record")
            self._stamp_and_purge(rec, old)
            rec.version = (old.version if old else 0) + 1
            if old is not None:
                self._unindex(old)
            self._index(rec)
            with self.transaction():
                self._persist_file(rec)
                old_revs = {id(r) for r in old.revisions} if old else set()
                old_ids = {r.id for r in old.revisions} if old else set()
                new_ids = {r.id for r in rec.revisions}
                for rev in rec.revisions:
                    if id(rev) in old_revs:
                        continue
                    if rev.id in old_ids:  # same revision, changed (pinned): keeps its place
                        self._db.execute("UPDATE revisions SET data=? WHERE file_id=? AND rev_id=?",
                                         (json.dumps(asdict(rev)), rec.id, rev.id))
                        continue
                    # `seq` orders a file's revisions on reload: one counter for the whole store,
                    # so new content sorts last even after older revisions were purged or deleted
                    self._db.execute(
                        "INSERT OR REPLACE INTO revisions (file_id, rev_id, seq, data) VALUES (?, ?, ?, ?)",
                        (rec.id, rev.id, self._next_rev_seq, json.dumps(asdict(rev))),
                    )
                    self._next_rev_seq += 1
                if old is not None:
                    gone = [r for r in old.revisions if r.id not in new_ids]
                    for rev in gone:
                        self._db.execute("DELETE FROM revisions WHERE file_id=? AND rev_id=?", (rec.id, rev.id))
                    self.blobs.collect({r.sha256 for r in gone})
                gen = self._generated.get(rec.id)
                if gen is not None and not gen[1]:
                    gen[1] = True
                    self._db.execute("UPDATE generated SET used=1 WHERE id=?", (rec.id,))
                if log_change:
                    self._log_change(rec.owner, rec.id, rec.creator_client)
            return rec

    def _now_ms(self) -> int:
        return int(self._clock.time() * 1000)

    def _stamp_and_purge(self, rec: FileRec, old: FileRec | None) -> None:
        """Date the revisions `rec` brings (by the emulator's clock) and drop those Google
        would have purged by now (the 100-revision rule only when content arrived)."""
        before = {id(r) for r in old.revisions} if old else set()
        now = self._now_ms()
        uploaded = False
        for i, rev in enumerate(rec.revisions):
            if id(rev) not in before:
                uploaded = True
                if rev.uploaded_ms is None:
                    rec.revisions[i] = replace(rev, uploaded_ms=now)
        rec.revisions = surviving_revisions(rec.revisions, now, uploaded=uploaded)

    def expire_revisions(self, file_id: str) -> FileRec | None:
        """The file with the revisions Google has purged by now gone for good (content too).

        Called before revisions are read or changed: purging on the emulator's clock when
        someone looks is indistinguishable, for a client, from purging in the background.
        The file's version does not move and the feed hears nothing (Google's purge is not a
        change to the file)."""
        with self.lock:
            cur = self._files.get(file_id)
            if cur is None:
                return None
            kept = surviving_revisions(cur.revisions, self._now_ms(), uploaded=False)
            if len(kept) == len(cur.revisions):
                return cur
            rec = cur.copy()
            rec.revisions = kept
            self._unindex(cur)
            self._index(rec)
            kept_ids = {r.id for r in kept}
            gone = [r for r in cur.revisions if r.id not in kept_ids]
            with self.transaction():
                for rev in gone:
                    self._db.execute("DELETE FROM revisions WHERE file_id=? AND rev_id=?", (rec.id, rev.id))
                self.blobs.collect({r.sha256 for r in gone})
            return rec

    def delete(self, recs: list[FileRec]) -> None:
        """Delete for good (no trash): records, their revisions, unreferenced blobs."""
        with self.lock, self.transaction():
            hashes: set[str] = set()
            for rec in recs:
                cur = self._files.get(rec.id)
                if cur is None:
                    continue
                self._unindex(cur)
                hashes.update(r.sha256 for r in cur.revisions)
                self._db.execute("DELETE FROM files WHERE id=?", (cur.id,))
                self._db.execute("DELETE FROM revisions WHERE file_id=?", (cur.id,))
                self._log_change(cur.owner, cur.id, cur.creator_client)
            self.blobs.collect(hashes)

    def _persist_file(self, rec: FileRec) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO files (id, owner, data) VALUES (?, ?, ?)", (rec.id, rec.owner, _file_to_json(rec))
        )

    # ------------------------------------------------------------ changes feed

    def _log_change(self, owner: str, file_id: str, client: str) -> None:
        seq, ts = self._next_seq, now_ms()
        self._next_seq += 1
        log = self._changes[owner]
        log.pop(file_id, None)
        log[file_id] = (seq, ts, client)
        self._db.execute(
            "INSERT OR REPLACE INTO changes (owner, file_id, seq, time_ms, client) VALUES (?, ?, ?, ?, ?)",
            (owner, file_id, seq, ts, client),
        )

    def start_page_token(self) -> int:
        """The token that will see every change made from now on."""
        with self.lock:
            return self._next_seq

    def changes_since(self, owner: str, token: int) -> list[tuple[str, int, int, str]]:
        """(file_id, seq, time_ms, creator_client) of files changed at or after `token`, oldest first."""
        with self.lock:
            out = []
            for file_id in reversed(self._changes.get(owner, {})):
                seq, ts, client = self._changes[owner][file_id]
                if seq < token:
                    break
                out.append((file_id, seq, ts, client))
            out.reverse()
            return out

    # ------------------------------------------------------------ daily upload volume

    @staticmethod
    def _today() -> str:
        return time.strftime("%Y-%m-%d", time.gmtime())

    def uploaded_today(self, owner: str) -> int:
        with self.lock:
            return self._uploads.get((owner, self._today()), 0)

    def add_uploaded(self, owner: str, nbytes: int) -> None:
        with self.lock:
            key = (owner, self._today())
            self._uploads[key] = self._uploads.get(key, 0) + nbytes
            self._db.execute(
                "INSERT OR REPLACE INTO uploads (owner, day, bytes) VALUES (?, ?, ?)", (owner, key[1], self._uploads[key])
            )
