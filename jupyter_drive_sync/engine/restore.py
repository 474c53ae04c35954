"""Restore: bring a home (or one folder or file of it) back from the user's Drive folder.

INTERFACE (CLI `restore`, the server's restore job):

    run_restore(options: RestoreOptions, progress: Callable[[ProgressEvent], None] | None = None) -> RestoreSummary
        raises errors.NotConnected, errors.DriveRefused, errors.AlreadyRunning, errors.ConfigError,
        NothingToRestore (no backup folder on Drive, or nothing at the sub-path); per-file problems
        go in the summary.

What the restore dialog lists comes from `drive_browse`. Drive is only read, never written.

Why it is built this way:
- Nothing is ever half-written in place: each file streams into `.<name>.drive-sync-part` in the
  same folder, is checked against Drive's md5, fsynced, given Drive's modifiedTime, then renamed
  over the target. A killed restore leaves at most a temp file, which scan ignores and the next
  restore removes.
- Nothing is written outside the home: every local path is reached through directory file
  descriptors opened with O_NOFOLLOW from the home (`home.fs_guards`), so a symlink anywhere
  below the home is a refusal, never a redirection; Drive names are mapped to safe local names
  first (`restore_names`).
- Secrets and the tool's own state are never written, whatever Drive holds: a sub-path that is
  (or is inside) one is refused before anything is read, and the survey skips every Drive item
  whose local path push's rules call a secret (`home.excludes.never_synced`, one matcher for both).
- Run as root (an admin's `sudo`, a nightly job), every file and folder it creates is given to
  the home's owner (uid and gid of the home folder), by descriptor, as push does its own files.
- The state DB learns every file the restore wrote or found identical, so the next push makes
  no uploads; local files the restore kept (overwrite policy) are recorded as *conflicts*, so
  the next push settles them by last-write-wins instead of creating a second copy on Drive.
  Rows are written only after the local side matches them, so a kill at any moment leaves a DB
  that a push can trust.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import stat
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from ..auth.session import connect, home_lock, require_home
from ..core.errors import ConfigError, DriveRefused, NotConnected
from ..core.model import EntryStatus, StateEntry, clamp_mtime_ns, ns_to_ms
from ..core.options import Overwrite, RestoreOptions
from ..drive.client import DriveClient
from ..drive.errors import DriveApiError, NotFound
from ..home.fs_guards import Blocked, HomeFS, create_part_file, unlink_quietly
from ..home.private_dir import match_folder_owner
from ..home.scan import display_path
from ..home.state_db import StateDB
from .account_check import settle_account
from .drive_browse import SCOPE_NOTE, NothingToRestore, backup_parts, find_root, no_backup, restorable_subpath
from .plan_order import kind_of
from .pool import raise_first_error
from .progress import ProgressEvent, RunProgress
from .restore_names import join, match_child, part_name
from .restore_survey import FileTask, FolderTask, Survey, folder_row, keeps_local

log = logging.getLogger(__name__)

META_LAST_RESTORE = "last_restore"
_ROW_BATCH = 500


@dataclass
class RestoreSummary:
    """The `restore --json` summary (shaped like push's)."""

    restored: int = 0  # files that were missing locally and were written
    replaced: int = 0  # local files replaced by Drive's copy (overwrite older/always)
    unchanged: int = 0  # already identical locally (same size and md5)
    skipped_existing: int = 0  # local files kept because of the overwrite policy
    folders_created: int = 0
    renamed: list[dict[str, str]] = field(default_factory=list)  # {path, drive_name, reason}
    skipped: list[dict[str, str]] = field(default_factory=list)  # {path, reason}
    failed: list[dict[str, str]] = field(default_factory=list)  # {path, error}
    bytes_downloaded: int = 0
    seconds: float = 0.0
    root_folder_id: str | None = None


class _HashingWriter:
    """What MediaIoBaseDownload writes into: the temp file, hashed on the way."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.size = 0

    def write(self, data: bytes) -> int:
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]
        self.md5.update(data)
        self.size += len(data)
        return len(data)


class _Mismatch(Exception):
    """The bytes we got are not the file Drive described."""


class _Run(RunProgress):
    """One restore: the client, the DB, the running summary and progress (counters: RunProgress)."""

    summary: RestoreSummary

    def __init__(self, options: RestoreOptions, progress: Callable[[ProgressEvent], None] | None) -> None:
        super().__init__(RestoreSummary(), progress)
        self.o = options
        self.home = Path(options.home)
        self.overwrite = Overwrite(options.overwrite)
        self.write_db = False  # decided once the state DB has been looked at
        self._sizes: dict[str, int] = {}  # display path -> size, of the files to download (their kind)

    # -- reporting (also the survey's Reporter) ----------------------------------------------

    def emit(self, phase: str, current: str | None = None, *, force: bool = True) -> None:
        super().emit(phase, display_path(current) if current is not None else None, force=force)

    def kind_of(self, path: str | None) -> str | None:
        """The `current_kind` of a download's events (plan_order's kinds, as a push names them)."""
        size = self._sizes.get(path) if path is not None else None
        return None if size is None else kind_of(path or "", size)

    def count(self, what: str, n: int = 1) -> None:
        with self._lock:
            setattr(self.summary, what, getattr(self.summary, what) + n)

    def renamed(self, path: str, drive_name: str, reason: str) -> None:
        with self._lock:
            self.summary.renamed.append({"path": display_path(path), "drive_name": drive_name, "reason": reason})

    # -- the run -----------------------------------------------------------------------------

    def run(self) -> RestoreSummary:
        started = time.monotonic()
        require_home(self.home)
        try:
            parts = restorable_subpath(self.o.path)  # nothing is read nor written for a refused path
        except ValueError as exc:
            raise ConfigError(f"--path {self.o.path!r}: {exc}") from exc
        if self.o.workers < 1:
            raise ConfigError("--workers must be at least 1")
        roots = backup_parts(self.o)
        with home_lock(self.home, "restore", self.o.wait_for_lock):
            client = connect(self.home, self.o.credentials_path, self.o.encryption_key, self.o.api_root, self.o.pacer)
            db = StateDB.for_home(self.home)
            fs = HomeFS(self.home)
            try:
                self._locked_run(client, db, fs, roots, parts)
            finally:
                fs.close()
                client.close()
                self.summary.seconds = round(time.monotonic() - started, 3)
                if not self.o.dry_run:
                    try:
                        db.set_meta(META_LAST_RESTORE, json.dumps(asdict(self.summary)))
                    except Exception:  # noqa: BLE001 - the record is a nicety
                        log.warning("could not record the restore summary")
                db.close()
        self.emit("done")
        return self.summary

    def _locked_run(self, client: DriveClient, db: StateDB, fs: HomeFS, roots: list[str], parts: list[str]) -> None:
        self.emit("listing")
        # The stored IDs must be the connected account's: another account reads its own backup.
        account = settle_account(client, db, dry_run=self.o.dry_run)
        if account.switched:
            self.skip(".", account.note() or "another Google account is connected")
        stored_root = None if account.fresh else db.root_folder_id
        needs_meta = not stored_root or not db.page_token
        token = client.start_page_token() if needs_meta and not self.o.dry_run else None  # before reading
        root = find_root(client, stored_root, roots)
        if root is None:
            raise no_backup(roots)
        self.summary.root_folder_id = root.id
        state = db.load() if not account.fresh else {}
        if db.root_folder_id != root.id:
            needs_meta = True
            state = {}  # rows about another (lost) folder mean nothing now
        # A fresh state DB and only part of the home: write no rows, so the next push adopts
        # the whole Drive folder by path (rows for one subtree would stop that adoption).
        self.write_db = not self.o.dry_run and (bool(state) or not parts)
        if self.write_db and db.root_folder_id != root.id and db.count():
            db.forget_all()

        # 1. what Drive holds (listing only), with the local side looked at (reads only)
        survey = Survey(self, fs, state, overwrite=self.overwrite, dry_run=self.o.dry_run)
        node, rel = root, ""
        for i, part in enumerate(parts):
            match = match_child(client.list_children(node.id), part, survey.known_names)
            if match is None:
                raise NothingToRestore(f"nothing called {display_path(join(rel, part))!r} in the Drive backup. "
                                       f"{SCOPE_NOTE}")
            node, rel = match, join(rel, part)
            if node.is_folder:
                if not survey.folder(rel, node):
                    return
            elif i < len(parts) - 1:
                raise NothingToRestore(f"{display_path(rel)!r} is a file on Drive, not a folder")
        if node.is_folder:
            if not parts:
                survey.sweep(fs.fd)
            survey.walk(client, rel, node)
        else:
            survey.file(rel, node)

        # 2. rows for what already matches, then where the changes feed starts. Written only
        #    now, before any local write: a kill at any point leaves rows the home matches.
        if self.write_db:
            db.record_synced_many(survey.rows)
            if needs_meta:
                db.root_folder_id = root.id
                if token is not None:
                    db.page_token = token
                if not db.account_email:
                    db.account_email = client.about_email()

        # 3. folders, then files
        tasks = survey.tasks
        self.files_total = len(tasks)
        self.bytes_total = sum(t.file.size or 0 for t in tasks)
        self._sizes = {display_path(t.rel): t.file.size or 0 for t in tasks}
        if self.o.dry_run:
            self.count("folders_created", sum(1 for f in survey.folders if not f.exists))
            for t in tasks:
                self.count("replaced" if t.replace else "restored")
                self.summary.bytes_downloaded += t.file.size or 0
            return
        blocked = self._make_folders(fs, db, survey.folders)
        self.emit("downloading")
        todo = [t for t in tasks if not any(t.rel.startswith(b + "/") for b in blocked)]
        with ThreadPoolExecutor(max_workers=self.o.workers, thread_name_prefix="restore") as pool:
            futures = [pool.submit(self._guarded, fs, db, client, t) for t in todo]
            raise_first_error(futures)  # run-ending: reconnect needed, Drive refused
        if self.write_db and needs_meta and not parts and not self.summary.failed and not survey.obstructed:
            db.finish_adoption(root.id, [], None)  # all of it linked: nothing left for a push to adopt

    # -- writing -----------------------------------------------------------------------------

    def _make_folders(self, fs: HomeFS, db: StateDB, folders: list[FolderTask]) -> set[str]:
        """Create the missing folders (parents first) and record them; the blocked ones' paths."""
        blocked: set[str] = set()
        rows: list[StateEntry] = []
        for folder in folders:
            if folder.exists:
                continue
            if any(folder.rel.startswith(b + "/") for b in blocked):
                blocked.add(folder.rel)
                continue
            created: list[str] = []
            try:
                fd = fs.open_dir(folder.rel, create=True, created=created)
            except Blocked as exc:
                self._give_to_home_owner(fs, created)
                self.skip(folder.rel, f"{exc}: nothing restored into it")
                blocked.add(folder.rel)
                continue
            except OSError as exc:
                self._give_to_home_owner(fs, created)
                self.fail(folder.rel, f"cannot create the folder: {exc.strerror or exc}")
                blocked.add(folder.rel)
                continue
            try:
                if folder.rel in created:
                    match_folder_owner(fd, fs.fd)  # a root run: the home's owner's, like every file it writes
                st = os.fstat(fd)
            finally:
                os.close(fd)
            self._give_to_home_owner(fs, [rel for rel in created if rel != folder.rel])
            if folder.rel in created:
                self.count("folders_created")
            if self.write_db:
                rows.append(folder_row(folder.rel, folder.file, st))
            if len(rows) >= _ROW_BATCH:
                db.record_synced_many(rows)
                rows = []
        db.record_synced_many(rows)
        return blocked

    @staticmethod
    def _give_to_home_owner(fs: HomeFS, rels: list[str]) -> None:
        """Folders made on the way to another (a sub-path restore's parents) get the home's
        owner too; each reached by descriptor, never through a symlink (a no-op unless root)."""
        for rel in rels:
            fd = fs.open_dir(rel)
            if fd is not None:
                try:
                    match_folder_owner(fd, fs.fd)
                finally:
                    os.close(fd)

    def _guarded(self, fs: HomeFS, db: StateDB, client: DriveClient, t: FileTask) -> None:
        try:
            self._download(fs, db, client, t)
        except (NotConnected, DriveRefused):
            raise
        except NotFound:
            self.skip(t.rel, "no longer on Drive (deleted while restoring)")
        except Blocked as exc:
            self.skip(t.rel, str(exc))
        except DriveApiError as exc:
            self.fail(t.rel, str(exc))
        except OSError as exc:
            self.fail(t.rel, f"{type(exc).__name__}: {exc.strerror or exc}")
        except Exception as exc:  # noqa: BLE001 - one file's surprise must not end the run
            log.exception("unexpected error restoring %s", display_path(t.rel))
            self.fail(t.rel, f"{type(exc).__name__}: {exc}")
        finally:
            with self._lock:
                self.files_done += 1
            self.emit("downloading", t.rel, force=False)

    def _download(self, fs: HomeFS, db: StateDB, client: DriveClient, t: FileTask) -> None:
        parent, _, name = t.rel.rpartition("/")
        f = t.file
        dfd = fs.open_dir(parent)
        if dfd is None:
            raise FileNotFoundError(errno.ENOENT, "its folder disappeared", t.rel)
        tmp = part_name(name)
        try:
            fd = create_part_file(dfd, tmp)
            placed = False
            try:
                match_folder_owner(fd, fs.fd)  # run as root (sudo, a nightly job): the home's owner's
                progress = self.byte_counter(lambda: self.emit("downloading", t.rel, force=False))
                out = _HashingWriter(fd)
                client.download(f.id, out, progress=progress)  # type: ignore[arg-type]
                if f.size is not None and out.size != f.size:
                    raise _Mismatch(f"downloaded {out.size} bytes, Drive says {f.size}")
                md5 = out.md5.hexdigest()
                if f.md5 is not None and md5 != f.md5:
                    raise _Mismatch("downloaded content does not match Drive's md5 (changed while restoring?)")
                _set_mtime(fd, f.modified_ms)
                os.fsync(fd)
                if not self._may_place(dfd, name, t):
                    return
                os.replace(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
                placed = True
                st = os.fstat(fd)
            finally:
                os.close(fd)
                if not placed:
                    unlink_quietly(dfd, tmp)
            try:
                os.fsync(dfd)  # the rename itself survives a crash
            except OSError:
                pass
        except _Mismatch as exc:
            self.fail(t.rel, str(exc))
            return
        finally:
            os.close(dfd)
        if self.write_db:
            # Drive's time as the file system kept it (ext4 keeps nothing before 1901-12-13): the
            # two copies are one version, recorded so that the next push sees neither as edited.
            mtime_ns = clamp_mtime_ns(st.st_mtime_ns)
            db.record_synced(StateEntry(
                path=t.rel, drive_id=f.id, is_dir=False, status=EntryStatus.SYNCED,
                local_size=st.st_size, local_mtime_ns=mtime_ns, md5=md5,
                drive_md5=f.md5, drive_modified_ms=ns_to_ms(mtime_ns), drive_head_revision=f.head_revision,
                local_ino=st.st_ino,  # its rename before the next push is a move by ID
            ))
        with self._lock:
            self.summary.bytes_downloaded += st.st_size
        self.count("replaced" if t.replace else "restored")

    def _may_place(self, dfd: int, name: str, t: FileTask) -> bool:
        """Re-check the target just before the rename: the user may have acted meanwhile."""
        try:
            st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
        except FileNotFoundError:
            return True
        if stat.S_ISLNK(st.st_mode) or not stat.S_ISREG(st.st_mode):
            self.skip(t.rel, "something other than a file appeared at this path: not replaced")
            return False
        # A file there now (new since we looked, or edited meanwhile): the policy decides again.
        if keeps_local(self.overwrite, st.st_mtime_ns, t.file):
            self.count("skipped_existing")
            return False
        return True


def _set_mtime(fd: int, modified_ms: int) -> None:
    """Give a downloaded file Drive's modifiedTime (already within the sync's range, see
    `drive.types.from_rfc3339`). A file system may keep less (ext4: 1901..2446, and it clamps
    quietly) or refuse a time (some network file systems): the file then keeps what it holds,
    which the state DB records, instead of failing its restore."""
    mtime_ns = clamp_mtime_ns(modified_ms * 1_000_000)
    try:
        os.utime(fd, ns=(mtime_ns, mtime_ns))
    except (OSError, OverflowError) as exc:
        log.info("could not set the modified time of a restored file: %s", exc)


def run_restore(options: RestoreOptions, progress: Callable[[ProgressEvent], None] | None = None) -> RestoreSummary:
    """Restore one home, or `options.path` of it (see the module docstring for what it raises)."""
    return _Run(options, progress).run()
