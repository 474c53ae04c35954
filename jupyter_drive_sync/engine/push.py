"""Push one home to Drive: scan, merge the Drive changes feed, plan, execute (DESIGN §2).

INTERFACE (agreed between the CLI, the server extension and the hub job):

    run_push(options: PushOptions, progress: Callable[[ProgressEvent], None] | None = None) -> PushSummary
        raises errors.NotConnected (no credentials / needs reconnect), errors.DriveRefused (storage
        full, daily cap), errors.AlreadyRunning (lock held), errors.ConfigError; per-file problems go
        in the summary. The summary is also saved in the state DB (last push) for `status`.

Duplicates can't happen: new IDs come from `generateIds` and are recorded as pending before
any create; creates carry those IDs (a retry meets 409 and becomes a get); every confirmed
action is committed to the state DB at once. A lost state DB triggers adoption: the existing
Drive folder is walked and matched by path before anything is created.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Callable, TypeVar

from ..core.settings import GOOGLE_API_ROOT  # one definition, in config
from ..core.errors import ConfigError, DriveRefused, NotConnected
from ..home.excludes import Excludes
from ..core.model import (
    Action,
    ActionKind,
    DeletePolicy,
    EntryStatus,
    LocalEntry,
    Policy,
    PushSummary,
    RemoteChange,
    Snapshot,
    StateEntry,
)
from .plan import plan
from .progress import ProgressEvent, RunProgress
from ..home.scan import NotBeneath, display_path, hash_candidates, open_beneath, scan
from ..auth.session import connect, folder_parts, home_lock, require_home, user_name
from ..home.state import StateDB, StateRows

if TYPE_CHECKING:
    from ..drive.client import DriveClient, DriveFile
    from ..drive.pacing import Pacer

log = logging.getLogger(__name__)
T = TypeVar("T")



@dataclass
class PushOptions:
    home: Path
    user: str | None = None  # default: the home's basename
    folder_template: str = "home/{username}"
    api_root: str = GOOGLE_API_ROOT
    credentials_path: Path | None = None  # default: <home>/.local/share/jupyter/drive_sync/credentials.json
    encryption_key: str | None = None  # Fernet key for the credentials file
    policy: Policy = Policy.LAST_WRITE_WINS
    delete_policy: DeletePolicy = DeletePolicy.KEEP
    workers: int = 8
    dry_run: bool = False
    max_file_size: int = 5 * 1024**4
    extra_excludes: tuple[str, ...] = ()
    wait_for_lock: float = 0.0  # seconds to wait for the home lock; 0 = fail at once
    pacer: "Pacer | None" = None  # shared by the hub job across homes
    # Upload sizes (None: the Drive client's defaults, 8 MiB chunks above 5 MiB). Small values
    # put every resumable code path in reach of small test files (tests/reliability).
    chunk_size: int | None = None
    multipart_limit: int | None = None


_UPLOADS = (ActionKind.CREATE, ActionKind.UPDATE_CONTENT)
MAX_IDS_PER_CALL = 1000  # files.generateIds
EMPTY_BATCH = 100  # empty files per batch request (Drive's limit on calls in a batch)

# A push's own writes come back in the changes feed (1,000 per page), which the next push
# (often a no-op, budgeted at 2 requests, DESIGN §10) would have to read. So a push that wrote
# thousands of items reads all but the last FEED_PAGES_LEFT_FOR_NEXT_PUSH pages of them at its
# end; the next push reads the rest.
FEED_PAGE = 1000
FEED_PAGES_LEFT_FOR_NEXT_PUSH = 2


def _ms(ns: int) -> int:
    return ns // 1_000_000


def _synced_row(path: str, f: "DriveFile", local: LocalEntry, *, md5: str | None = None) -> StateEntry:
    """What the state DB remembers after Drive confirmed a write of `local` as `f`."""
    return StateEntry(
        path=path,
        drive_id=f.id,
        is_dir=local.is_dir,
        status=EntryStatus.SYNCED,
        local_size=local.size,
        local_mtime_ns=local.mtime_ns,
        md5=md5 if md5 is not None else f.md5,
        drive_md5=f.md5,
        drive_modified_ms=f.modified_ms,
        drive_head_revision=f.head_revision,
        drive_trashed=f.trashed,
    )


def apply_changes_in_memory(state: dict[str, StateEntry], changes: list[RemoteChange]) -> None:
    """What `StateDB.apply_remote_changes` does, on a dict (for dry runs, which write nothing)."""
    by_id = {r.drive_id: r for r in state.values()}
    for ch in changes:
        r = by_id.get(ch.drive_id)
        if r is None:
            continue
        if ch.removed:
            r.drive_removed = True
            if r.is_dir:
                prefix = r.path + "/"
                for other in state.values():
                    if other.path.startswith(prefix):
                        other.drive_removed = True
        else:
            r.drive_md5, r.drive_modified_ms = ch.md5, ch.modified_ms
            r.drive_head_revision, r.drive_trashed, r.drive_removed = ch.head_revision, ch.trashed, False


class _Run(RunProgress):
    """One push: holds the client, the DB and the running summary (counters: RunProgress)."""

    summary: PushSummary

    def __init__(self, options: PushOptions, progress: Callable[[ProgressEvent], None] | None) -> None:
        super().__init__(PushSummary(), progress)
        self.o = options
        self.home = Path(options.home)
        self.user = user_name(self.home, options.user)
        self.client: DriveClient | None = None
        self.db: StateDB | None = None
        self._spare_ids: list[str] = []  # generated with the root folder's, not yet used
        # Set by the first run-ending error (reconnect, Drive full, daily cap): tasks the pool
        # has already handed to a worker then return at once instead of sending more refused
        # requests before the pool is cancelled.
        self._ending = threading.Event()

    # -- setup ---------------------------------------------------------------------------------

    def connect(self) -> "DriveClient":
        sizes = {k: v for k, v in (("chunk_size", self.o.chunk_size), ("multipart_limit", self.o.multipart_limit))
                 if v is not None}
        return connect(self.home, self.o.credentials_path, self.o.encryption_key, self.o.api_root, self.o.pacer,
                       **sizes)

    def folder_parts(self) -> list[str]:
        return folder_parts(self.o.folder_template, self.user)

    def ensure_root(self, client: "DriveClient", db: StateDB, expect_new: int = 0) -> tuple[str, bool]:
        """The home's Drive folder ID (stored, or found/created by path); True if it existed."""
        from ..drive.client import NewFolder, NotFound

        root_id = db.root_folder_id
        if root_id:
            try:
                f = client.get(root_id)
            except NotFound:
                f = None
            if f is not None and not f.trashed:
                return root_id, True
            if f is not None and f.trashed:  # the whole backup was trashed: bring it back
                client.update_metadata(root_id, trashed=False)
                return root_id, True
            db.forget_all()  # gone for good: every stored ID is meaningless now
            db.root_folder_id = None
        parent = "root"
        existed = True
        now_ms = int(time.time() * 1000)
        parts = self.folder_parts()
        spare_ids: list[str] = []
        for i, name in enumerate(parts):
            found = sorted(client.find_folders(name, parent), key=lambda f: (f.modified_ms, f.id)) if existed else []
            if found:
                if len(found) > 1:
                    self.skip(name, f"{len(found)} Drive folders are called {name!r} here; using {found[0].id}")
                parent = found[0].id
                continue
            existed = False
            if not spare_ids:  # one call for every level still missing, and the home's first IDs
                spare_ids = client.generate_ids(min(MAX_IDS_PER_CALL, len(parts) - i + expect_new))
            new_id = spare_ids.pop(0)
            result = client.create_folders([NewFolder(new_id, name, parent, now_ms)])[new_id]
            if isinstance(result, Exception):
                raise result
            parent = result.id
        self._spare_ids = spare_ids  # for _execute: a first push's creates need no extra call
        db.root_folder_id = parent
        db.account_email = db.account_email or client.about_email()
        return parent, existed

    def _setup_root(self, client: "DriveClient", db: StateDB, snap: Snapshot | None = None) -> str:
        """First push, lost state, or the root folder changed on Drive: find or make the folder,
        start the changes feed, and adopt what the folder already holds."""
        token = client.start_page_token()  # before any write of ours
        root_id, existed = self.ensure_root(client, db, len(snap.entries) if snap is not None else 0)
        db.page_token = token
        if existed and db.count() == 0:
            self.adopt(client, db, root_id, snap)
        return root_id

    def adopt(self, client: "DriveClient", db: StateDB, root_id: str, snap: Snapshot | None = None) -> None:
        """Fresh state, existing Drive folder: match what Drive holds by path and take its IDs.

        Local values are set to Drive's (size, modifiedTime), so an identical file costs nothing,
        a touched one a metadata update, and a changed one an update by ID: never a second copy.
        Drive keeps modifiedTime to the millisecond while local mtimes have nanoseconds: a local
        file of the same size whose mtime matches to the millisecond is the one we uploaded, so
        its exact mtime is recorded (else every adopted file would cost a hash and a metadata
        update, on this push and, for the hash, on every later one).
        """
        entries = snap.entries if snap is not None else {}
        rows: list[StateEntry] = []
        stack = [(root_id, "")]
        while stack:
            folder_id, prefix = stack.pop()
            by_name: dict[str, list[DriveFile]] = {}
            for f in client.list_children(folder_id):
                by_name.setdefault(f.name, []).append(f)
            for name, files in sorted(by_name.items()):
                files.sort(key=lambda f: (f.modified_ms, f.id))
                chosen = files[0]
                path = prefix + name
                if len(files) > 1:
                    self.skip(path, f"{len(files)} files with this name already on Drive; adopted {chosen.id}, "
                                    "left the others alone")
                mtime_ns = chosen.modified_ms * 1_000_000
                local = entries.get(path)
                if (local is not None and not local.is_dir and not chosen.is_folder
                        and local.size == (chosen.size or 0) and _ms(local.mtime_ns) == chosen.modified_ms):
                    mtime_ns = local.mtime_ns
                rows.append(StateEntry(
                    path=path, drive_id=chosen.id, is_dir=chosen.is_folder, status=EntryStatus.SYNCED,
                    local_size=chosen.size or 0, local_mtime_ns=mtime_ns,
                    md5=chosen.md5, drive_md5=chosen.md5, drive_modified_ms=chosen.modified_ms,
                    drive_head_revision=chosen.head_revision, drive_trashed=chosen.trashed,
                ))
                if chosen.is_folder:
                    stack.append((chosen.id, path + "/"))
        db.record_synced_many(rows)

    # -- the run -------------------------------------------------------------------------------

    def run(self) -> PushSummary:
        started = time.monotonic()
        require_home(self.home)
        with home_lock(self.home, "push", self.o.wait_for_lock):
            return self._locked_run(started)

    def _locked_run(self, started: float) -> PushSummary:
        o = self.o
        self.emit("scanning")
        excludes = Excludes.for_home(self.home, extra=o.extra_excludes)
        for problem in excludes.problems:
            self.skip(".drivesyncignore", problem)
        snap = scan(self.home, excludes, max_file_size=o.max_file_size)
        for s in snap.skipped:
            self.skip(s.path, s.reason)
        for rel, reason in excludes.secrets_among(snap.excluded):
            self.skip(rel, reason)

        client = self.connect()
        self.client = client
        db = StateDB.for_home(self.home)
        self.db = db
        try:
            return self._with_client(client, db, snap, started)
        finally:
            client.close()
            db.close()

    def _with_client(self, client: "DriveClient", db: StateDB, snap: Any, started: float) -> PushSummary:
        o = self.o
        self.emit("planning")
        if o.dry_run:
            state = db.load()
            root_id = db.root_folder_id
            if root_id and db.page_token:
                changes, _ = client.list_changes(db.page_token)
                apply_changes_in_memory(state, changes)
        else:
            root_id, token = db.root_folder_id, db.page_token
            if root_id and token:
                changes, new_token = client.list_changes(token)  # a no-op push: this one call
                db.apply_remote_changes(changes, new_token)
                self._report_same_name_arrivals(db, changes, root_id)
                if any(ch.drive_id == root_id and (ch.removed or ch.trashed) for ch in changes):
                    root_id = self._setup_root(client, db, snap)
            else:
                root_id = self._setup_root(client, db, snap)
            state = db.load_rows()
        self.summary.root_folder_id = root_id
        hashes = hash_candidates(self.home, snap, state)
        the_plan = plan(snap, state, hashes, policy=o.policy, delete_policy=o.delete_policy)
        self.summary.unchanged = the_plan.unchanged
        actions = the_plan.actions
        self.files_total = sum(1 for a in actions if a.kind in _UPLOADS or a.kind is ActionKind.UPDATE_MTIME)
        self.bytes_total = sum(a.local.size for a in actions if a.kind in _UPLOADS and a.local is not None)

        if o.dry_run:
            self._count_dry(actions)
        elif actions:
            self.emit("uploading")
            self._execute(client, db, state, root_id, actions)
            self._digest_own_writes(client, db)

        self.summary.seconds = round(time.monotonic() - started, 3)
        if not o.dry_run:
            db.set_last_push(asdict(self.summary))
        self.emit("done")
        return self.summary

    def _report_same_name_arrivals(self, db: StateDB, changes: list[RemoteChange], root_id: str) -> None:
        """Report files that appeared on Drive beside ours under the same name (another copy of
        this app elsewhere, a migration script): we keep writing by ID and leave them alone,
        but the student should know the folder now shows two of them."""
        for ch in changes:
            if ch.removed or ch.trashed or not ch.name or not ch.parent_id or db.by_drive_id(ch.drive_id) is not None:
                continue
            if ch.parent_id == root_id:
                parent_path = ""
            else:
                parent = db.by_drive_id(ch.parent_id)
                if parent is None or not parent.is_dir:
                    continue
                parent_path = parent.path + "/"
            ours = db.get(parent_path + ch.name)
            if ours is not None and ours.drive_id != ch.drive_id and not ours.drive_removed:
                self.skip(ours.path, f"another item with this name was added to this Drive folder ({ch.drive_id}); "
                                     f"the backup keeps updating its own copy ({ours.drive_id}) and leaves it alone")

    def _digest_own_writes(self, client: "DriveClient", db: StateDB) -> None:
        """Fold a big push's own writes out of the changes feed now (best effort)."""
        from ..drive.client import DriveApiError

        s = self.summary
        writes = s.folders_created + s.created + s.updated + s.metadata_updated + s.trashed
        pages = writes // FEED_PAGE + 1 - FEED_PAGES_LEFT_FOR_NEXT_PUSH
        token = db.page_token
        if pages < 1 or not token:
            return
        try:
            changes, new_token = client.list_changes(token, max_pages=pages)
        except DriveApiError as exc:  # the push itself is done; the next one reads the feed
            log.info("could not read the changes feed after the push: %s", exc)
            return
        db.apply_remote_changes(changes, new_token)

    def _count_dry(self, actions: list[Action]) -> None:
        s = self.summary
        for a in actions:
            self._count(a)
            if a.kind in _UPLOADS and a.local is not None:
                s.bytes_uploaded += a.local.size

    def _count(self, a: Action) -> None:
        s = self.summary
        k = a.kind
        with self._lock:
            if k is ActionKind.MKDIR:
                s.folders_created += 1
            elif k is ActionKind.CREATE:
                s.created += 1
            elif k is ActionKind.UPDATE_CONTENT:
                s.updated += 1
            elif k is ActionKind.UPDATE_MTIME:
                s.metadata_updated += 1
            elif k is ActionKind.TRASH:
                s.trashed += 1
            elif k is ActionKind.KEEP_DRIVE:
                s.kept_drive_copy += 1
            if a.conflict:
                s.conflicts += 1

    # -- execution -----------------------------------------------------------------------------

    def _execute(self, client: "DriveClient", db: StateDB, state: dict[str, StateEntry], root_id: str,
                 actions: list[Action]) -> None:
        from ..drive.client import NewFolder

        # 1. fresh IDs for everything new, recorded as pending before any create
        new = [a for a in actions if a.kind in (ActionKind.MKDIR, ActionKind.CREATE) and a.drive_id is None]
        if new:
            spare, self._spare_ids = self._spare_ids[:len(new)], self._spare_ids[len(new):]
            ids = spare + (client.generate_ids(len(new) - len(spare)) if len(new) > len(spare) else [])
            new_set = {id(a) for a in new}
            assigned = {a.path: i for a, i in zip(new, ids)}
            actions = [replace(a, drive_id=assigned[a.path]) if id(a) in new_set else a for a in actions]
        creates = [a for a in actions if a.kind in (ActionKind.MKDIR, ActionKind.CREATE)]
        db.record_pending(
            StateEntry(path=a.path, drive_id=a.drive_id, is_dir=a.kind is ActionKind.MKDIR,
                       local_size=a.local.size, local_mtime_ns=a.local.mtime_ns)
            for a in creates if a.local is not None and a.drive_id is not None
        )

        folder_ids: dict[str, str] = {"": root_id}
        # Folder rows are never among a StateRows' clean (file) rows: no need to build those.
        rows = state.unclean_values() if isinstance(state, StateRows) else state.values()
        for r in rows:
            if r.is_dir:
                folder_ids[r.path] = r.drive_id
        failed_folders: set[str] = set()

        def parent_id(a: Action) -> str | None:
            parent = a.parent_path or ""
            if parent in failed_folders:
                return None
            return folder_ids.get(parent)

        # 2. folders: untrash first (top-down), then creates in batches
        folder_actions = [a for a in actions if a.local is not None and a.local.is_dir
                          and a.kind in (ActionKind.MKDIR, ActionKind.UPDATE_MTIME)]
        for a in folder_actions:
            if a.kind is ActionKind.MKDIR:
                folder_ids[a.path] = a.drive_id  # children may be created in the same batch round
        for a in folder_actions:
            if a.kind is ActionKind.UPDATE_MTIME:
                self._guard(a, lambda a=a: self._folder_meta(client, db, a))
        mkdirs = [a for a in folder_actions if a.kind is ActionKind.MKDIR]
        if mkdirs:
            items = []
            for a in mkdirs:
                pid = parent_id(a)
                if pid is None:
                    failed_folders.add(a.path)
                    self.fail(a.path, "its parent folder could not be created")
                    continue
                items.append(NewFolder(a.drive_id, a.path.rpartition("/")[2], pid, _ms(a.local.mtime_ns)))
            results = client.create_folders(items)
            for a in mkdirs:
                if a.path in failed_folders:
                    continue
                r = results.get(a.drive_id)
                if r is None or isinstance(r, Exception):
                    failed_folders.add(a.path)
                    self.fail(a.path, str(r) if r is not None else "folder not created")
                    continue
                db.record_synced(_synced_row(a.path, r, a.local))
                self._count(a)

        # 3. files, in a worker pool
        in_folders = {id(a) for a in folder_actions}
        file_actions = [a for a in actions if a.kind is not ActionKind.TRASH and id(a) not in in_folders]
        forget = [a.path for a in file_actions if a.kind is ActionKind.FORGET_LOCAL]
        if forget:
            db.mark_local_deleted(forget)
        from concurrent.futures import Future, ThreadPoolExecutor

        from .pool import raise_first_error

        with ThreadPoolExecutor(max_workers=max(1, self.o.workers), thread_name_prefix="push") as pool:
            futures: list[Future] = []
            empties: list[tuple[Action, str]] = []
            for a in file_actions:
                if a.kind in (ActionKind.KEEP_DRIVE, ActionKind.SKIP):
                    self._count(a)
                    continue
                if a.kind is ActionKind.FORGET_LOCAL:
                    continue
                pid = parent_id(a)
                if pid is None:
                    self.fail(a.path, "its parent folder could not be created")
                    continue
                if a.kind is ActionKind.CREATE and a.local is not None and a.local.size == 0:
                    empties.append((a, pid))  # no media: created in batches below
                    continue
                futures.append(pool.submit(self._guard, a, lambda a=a, pid=pid: self._file(client, db, state, a, pid)))
            for start in range(0, len(empties), EMPTY_BATCH):
                futures.append(pool.submit(self._unless_ending, self._empty_batch, client, db, state,
                                           empties[start:start + EMPTY_BATCH]))
            raise_first_error(futures)  # run-ending (reauth, storage full, daily cap)

        # 4. trashes
        for a in actions:
            if a.kind is ActionKind.TRASH:
                self._guard(a, lambda a=a: self._trash(client, db, state, a))

    def _guard(self, a: Action, fn: Callable[[], T]) -> T | None:
        """Run one action; per-file errors go to the summary (then None), run-ending ones propagate."""
        from ..drive.client import DriveApiError

        try:
            return self._unless_ending(fn)
        except (NotConnected, DriveRefused):
            raise
        except FileNotFoundError:
            self.skip(a.path, "disappeared before it could be uploaded")
        except PermissionError as exc:
            self.fail(a.path, f"cannot read: {exc.strerror or exc}")
        except DriveApiError as exc:
            self.fail(a.path, str(exc))
        except OSError as exc:
            self.fail(a.path, f"{type(exc).__name__}: {exc.strerror or exc}")
        except Exception as exc:  # noqa: BLE001 - one file's surprise must not end the run
            log.exception("unexpected error on %s", display_path(a.path))
            self.fail(a.path, f"{type(exc).__name__}: {exc}")

    def _unless_ending(self, fn: Callable[..., T], *args: Any) -> T | None:
        """Run a pool task unless the run is ending; a run-ending error it raises ends it."""
        if self._ending.is_set():
            return None
        try:
            return fn(*args)
        except (NotConnected, DriveRefused):
            self._ending.set()
            raise

    def _empty_batch(self, client: "DriveClient", db: StateDB, state: dict[str, StateEntry],
                     group: list[tuple[Action, str]]) -> None:
        """Create files that were empty at the scan in one batch request (metadata only).

        Each is stat'ed again first (safely, as an upload would open it): one that is no longer
        empty goes the normal way (an upload), one that is gone or unreadable is reported as an
        upload would report it. Drive gets the mtime seen now, and the state DB records what
        Drive confirmed, as for any create.
        """
        from ..drive.client import DriveApiError, NewEmptyFile, mime_type_for

        still_empty: list[tuple[Action, LocalEntry]] = []
        items: list[NewEmptyFile] = []
        grown: list[tuple[Action, str]] = []
        for a, pid in group:
            st = self._guard(a, lambda a=a: self._restat(a))
            if st is None:
                continue
            if st.st_size:
                grown.append((a, pid))
                continue
            assert a.drive_id is not None
            still_empty.append((a, LocalEntry(a.path, False, 0, st.st_mtime_ns)))
            items.append(NewEmptyFile(a.drive_id, a.path.rpartition("/")[2], pid, _ms(st.st_mtime_ns),
                                      mime_type_for(self.home / a.path)))
        if items:
            self.emit("uploading", still_empty[0][0].path)
            try:
                results: dict[str, Any] = client.create_empty_files(items)
            except (NotConnected, DriveRefused):
                raise
            except Exception as exc:  # noqa: BLE001 - as _guard does, for each file of the batch
                if not isinstance(exc, DriveApiError):
                    log.exception("unexpected error creating %d empty files", len(items))
                results = {f.id: exc for f in items}
            self._record_empties(db, still_empty, results)
        for a, pid in grown:
            self._guard(a, lambda a=a, pid=pid: self._file(client, db, state, a, pid))

    def _record_empties(self, db: StateDB, created: list[tuple[Action, LocalEntry]], results: dict[str, Any]) -> None:
        """Record what the batch confirmed (one transaction), report what it did not."""
        from ..drive.client import DriveApiError

        rows: list[StateEntry] = []
        done: list[tuple[Action, LocalEntry]] = []
        for a, local in created:
            r = results.get(a.drive_id or "")
            if r is None:
                self.fail(a.path, "not created")
            elif isinstance(r, Exception):
                self.fail(a.path, str(r) if isinstance(r, DriveApiError) else f"{type(r).__name__}: {r}")
            else:
                rows.append(_synced_row(a.path, r, local))
                done.append((a, local))
        db.record_synced_many(rows)
        with self._lock:
            self.files_done += len(done)
        for a, _ in done:
            self._count(a)
        if done:
            self.emit("uploading", done[-1][0].path)
        for a, local in done:
            if self._changed_since(a.path, local):
                self.skip(a.path, "changed while it was being uploaded: Drive has the empty version seen then; "
                                  "the next push sends it again")

    def _restat(self, a: Action) -> os.stat_result | None:
        """The file's stat now, reached the way an upload reaches it (no symlink on the way);
        None, reported, if it is no longer a regular file beneath the home."""
        try:
            fh = open_beneath(self.home, a.path)
        except NotBeneath as exc:
            self.skip(a.path, exc.strerror or "no longer a regular file")
            return None
        with fh:
            return os.fstat(fh.fileno())

    def _changed_since(self, path: str, local: LocalEntry) -> bool:
        """Whether `path` no longer matches `local` (quietly False if it cannot be looked at)."""
        try:
            with open_beneath(self.home, path) as fh:
                st = os.fstat(fh.fileno())
        except OSError:  # NotBeneath too
            return False
        return (st.st_size, st.st_mtime_ns) != (local.size, local.mtime_ns)

    def _folder_meta(self, client: "DriveClient", db: StateDB, a: Action) -> None:
        f = client.update_metadata(a.drive_id, modified_ms=_ms(a.local.mtime_ns), trashed=False if a.untrash else None)
        db.record_synced(_synced_row(a.path, f, a.local))
        self._count(a)

    def _file(self, client: "DriveClient", db: StateDB, state: dict[str, StateEntry], a: Action, pid: str) -> None:
        self.emit("uploading", a.path)
        if a.kind not in _UPLOADS:
            self._file_action(client, db, state, a, pid, None)
            return
        try:
            # never through a symlink, even one swapped in since the scan (see open_beneath)
            source = open_beneath(self.home, a.path)
        except NotBeneath as exc:
            self.skip(a.path, exc.strerror or "no longer a regular file")
            return
        with source:
            before = os.fstat(source.fileno())
            if not self._file_action(client, db, state, a, pid, source):
                return
            after = os.fstat(source.fileno())
        if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns):
            # Drive has what was read then (a prefix, for a growing log); the state DB keeps the
            # scan's size and time, so the next push sends the file again.
            self.skip(a.path, "changed while it was being uploaded: Drive has the version read then; "
                              "the next push sends it again")

    def _file_action(self, client: "DriveClient", db: StateDB, state: dict[str, StateEntry], a: Action,
                     pid: str, source: BinaryIO | None) -> bool:
        """Do one file action (reading content from `source`); True once Drive confirmed it."""
        local = a.local
        assert local is not None and a.drive_id is not None
        abs_path = self.home / a.path
        progress = self.byte_counter()
        mtime_ms = _ms(local.mtime_ns)
        # A big upload's session is kept in the state DB under the version actually read, so a
        # run killed mid-upload is continued by the next one (only used above multipart size).
        st = os.fstat(source.fileno()) if source is not None else None
        resume = db.resume_slot(a.path, a.drive_id, st.st_size if st else local.size,
                                st.st_mtime_ns if st else local.mtime_ns)
        if a.kind is ActionKind.CREATE:
            f = client.create_file(file_id=a.drive_id, name=a.path.rpartition("/")[2], parent_id=pid,
                                   local_path=abs_path, size=local.size, modified_ms=mtime_ms, progress=progress,
                                   source=source, resume=resume)
            row = _synced_row(a.path, f, local)
        elif a.kind is ActionKind.UPDATE_CONTENT:
            if a.pin_revision:
                client.pin_revision(a.drive_id, a.pin_revision)
            f = client.update_content(a.drive_id, abs_path, local.size, mtime_ms, untrash=a.untrash, progress=progress,
                                      source=source, resume=resume)
            row = _synced_row(a.path, f, local)
        elif a.kind is ActionKind.UPDATE_MTIME:
            f = client.update_metadata(a.drive_id, modified_ms=mtime_ms, trashed=False if a.untrash else None)
            old = state.get(a.path)
            row = _synced_row(a.path, f, local, md5=old.md5 if old is not None else None)
        else:
            return False
        db.record_synced(row)
        with self._lock:
            self.files_done += 1
            if a.kind in _UPLOADS:
                self.summary.bytes_uploaded += local.size
        self._count(a)
        self.emit("uploading", a.path)
        return True

    def _trash(self, client: "DriveClient", db: StateDB, state: dict[str, StateEntry], a: Action) -> None:
        from ..drive.client import NotFound

        try:
            client.update_metadata(a.drive_id, trashed=True)
        except NotFound:
            pass  # never created, or already gone: the goal is reached
        current = db.get(a.path)
        if current is not None and current.drive_id == a.drive_id:  # not a kind change: the row is still ours
            db.mark_drive_trashed(a.drive_id, local_deleted=True)
        old = state.get(a.path)
        if old is not None and old.is_dir and old.drive_id == a.drive_id:
            prefix = a.path + "/"
            db.mark_local_deleted([p for p in state if p.startswith(prefix)])
        self._count(a)


def run_push(options: PushOptions, progress: Callable[[ProgressEvent], None] | None = None) -> PushSummary:
    """Push one home (see the module docstring for what it raises)."""
    return _Run(options, progress).run()


def summary_dict(summary: PushSummary) -> dict[str, Any]:
    return asdict(summary)


# -- CLI ----------------------------------------------------------------------------------------


PHASES = {"scanning": "scanning…", "planning": "planning…"}  # the progress bar's phases without counts


def cmd_push(args: Any) -> int:
    """`jupyter-drive-sync push` (DESIGN §6): exit 0 ok, 1 failures, 2 usage, 3 reconnect, 4 refused."""
    from ..cli.output import run_command

    def start(settings: Any, progress: Callable[[ProgressEvent], None] | None) -> PushSummary:
        overrides: dict[str, Any] = {"dry_run": bool(args.dry_run)}
        if args.workers is not None:
            if args.workers < 1:
                raise ConfigError("--workers must be at least 1")
            overrides["workers"] = args.workers
        if args.policy:
            overrides["policy"] = Policy(args.policy)
        if args.delete:
            overrides["delete_policy"] = DeletePolicy(args.delete)
        return run_push(settings.push_options(**overrides), progress)

    return run_command("push", args, start, PHASES, _describe)


def _describe(s: PushSummary) -> None:
    print(f"created {s.created}, updated {s.updated}, metadata {s.metadata_updated}, unchanged {s.unchanged}, "
          f"folders {s.folders_created}, trashed {s.trashed}, kept Drive copy {s.kept_drive_copy}, "
          f"conflicts {s.conflicts}, skipped {len(s.skipped)}, failed {len(s.failed)}, "
          f"{s.bytes_uploaded} bytes in {s.seconds:.1f}s")
