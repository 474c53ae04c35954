"""Restore: bring a home (or one folder or file of it) back from the user's Drive folder.

INTERFACE (CLI `restore`, the server's restore job and `GET drive-sync/remote`):

    run_restore(options: RestoreOptions, progress: Callable[[ProgressEvent], None] | None = None) -> RestoreSummary
        raises errors.NotConnected, errors.DriveRefused, errors.AlreadyRunning, errors.ConfigError,
        NothingToRestore (no backup folder on Drive, or nothing at the sub-path); per-file problems
        go in the summary.
    list_remote(options, path="") -> {path, root_folder_id, entries: [...]}   (folders first)
    probe_backup(options) -> bool   (does the user's Drive folder hold anything? a cheap check)

Drive is only read, never written. With the `drive.file` scope a restore sees only what this
app put on Drive (what earlier pushes uploaded), not other files of the user's Drive.

Why it is built this way:
- Nothing is ever half-written in place: each file streams into `.<name>.drive-sync-part` in the
  same folder, is checked against Drive's md5, fsynced, given Drive's modifiedTime, then renamed
  over the target. A killed restore leaves at most a temp file, which scan ignores and the next
  restore removes.
- Nothing is written outside the home: every local path is reached through directory file
  descriptors opened with O_NOFOLLOW from the home, so a symlink anywhere below the home is a
  refusal, never a redirection; Drive names are mapped to safe local names first (`safe_names`).
- The state DB learns every file the restore wrote or found identical, so the next push makes
  no uploads; local files the restore kept (overwrite policy) are recorded as *conflicts*, so
  the next push settles them by last-write-wins instead of creating a second copy on Drive.
  Rows are written only after the local side matches them, so a kill at any moment leaves a DB
  that a push can trust.
"""

from __future__ import annotations

import enum
import errno
import hashlib
import json
import logging
import os
import stat
import sys
import time
import unicodedata
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from ..core.settings import GOOGLE_API_ROOT  # one definition, in config
from ..core.errors import ConfigError, DriveRefused, NotConnected, SyncError
from ..home.excludes import Excludes
from ..core.model import EntryStatus, StateEntry
from .pool import raise_first_error
from .progress import ProgressEvent, RunProgress
from ..home.scan import RESTORE_PART_SUFFIX, display_path, md5_of
from ..auth.session import connect, folder_parts, home_lock, require_home, user_name
from ..home.state import StateDB, state_dir_for

if TYPE_CHECKING:
    from ..core.settings import SyncSettings
    from ..drive.client import DriveClient, DriveFile
    from ..drive.pacing import Pacer

log = logging.getLogger(__name__)

GOOGLE_APPS_PREFIX = "application/vnd.google-apps."
PART_SUFFIX = RESTORE_PART_SUFFIX
MAX_NAME_BYTES = 255
MAX_EXT_BYTES = 32
META_LAST_RESTORE = "last_restore"
SCOPE_NOTE = ("With the drive.file permission, restore sees only what this app put on Drive "
              "(what earlier backups uploaded), not other files in your Drive.")

_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | _O_CLOEXEC
_ROW_BATCH = 500


class Overwrite(str, enum.Enum):
    NEVER = "never"  # a local file is never replaced (default)
    OLDER = "older"  # replaced only when the local mtime is older than Drive's modifiedTime
    ALWAYS = "always"  # Drive's copy replaces a different local file


class NothingToRestore(SyncError):
    """No backup folder on Drive for this home, or nothing at the requested sub-path."""

    exit_code = 1
    error_kind = "nothing_to_restore"


@dataclass
class RestoreOptions:
    home: Path
    user: str | None = None  # default: the home's basename
    folder_template: str = "home/{username}"
    api_root: str = GOOGLE_API_ROOT
    credentials_path: Path | None = None  # default: in the home's state dir
    encryption_key: str | None = None
    path: str = ""  # sub-path of the home to restore ("" = everything)
    overwrite: Overwrite = Overwrite.NEVER
    dry_run: bool = False
    workers: int = 8
    wait_for_lock: float = 0.0
    pacer: "Pacer | None" = None


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


# -- paths and names (pure) --------------------------------------------------------------------


def split_subpath(path: str | None) -> list[str]:
    """A user-supplied sub-path → its parts; ValueError for anything that could leave the home."""
    text = path or ""
    if "\x00" in text:
        raise ValueError("the path contains a NUL character")
    if text.startswith("/"):
        raise ValueError("the path must be relative to the home folder")
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ValueError("the path must not contain '..'")
    return parts


def is_part_name(name: str) -> bool:
    """A restore's temporary file (`.<name>.drive-sync-part`): never pushed, removed on rerun."""
    return name.startswith(".") and name.endswith(PART_SUFFIX)


def part_name(name: str) -> str:
    tmp = f".{name}{PART_SUFFIX}"
    if len(tmp.encode("utf-8")) <= MAX_NAME_BYTES:
        return tmp
    return f".{hashlib.sha1(name.encode('utf-8')).hexdigest()[:20]}{PART_SUFFIX}"


def _cut_bytes(text: str, limit: int) -> str:
    return text.encode("utf-8")[:max(0, limit)].decode("utf-8", "ignore")


def with_tag(name: str, tag: str, limit: int = MAX_NAME_BYTES) -> str:
    """`name` with `~tag` before its extension, shortened to `limit` bytes (extension kept)."""
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem or not ext or len(ext.encode("utf-8")) > MAX_EXT_BYTES:
        stem, ext = name, ""
    suffix = f"~{tag}" + (f".{ext}" if ext else "")
    return _cut_bytes(stem, limit - len(suffix.encode("utf-8"))) + suffix


def _tag(key: str, n: int = 8) -> str:
    return hashlib.sha1(key.encode("utf-8", "surrogatepass")).hexdigest()[:n]


def clean_name(name: str, key: str) -> tuple[str, list[str]]:
    """A Drive name → a safe single local name component, and why it had to change.

    `key` (the Drive ID) makes shortened names unique and stable across runs.
    """
    reasons: list[str] = []
    text = name.encode("utf-8", "replace").decode("utf-8")  # lone surrogates from JSON
    if text != name:
        reasons.append("name is not valid Unicode")
    text = unicodedata.normalize("NFC", text)
    if "/" in text:
        text = text.replace("/", "_")
        reasons.append("name contains '/'")
    if "\x00" in text:
        text = text.replace("\x00", "_")
        reasons.append("name contains a NUL character")
    if text in ("", ".", ".."):
        text = "_" + (text or "unnamed")
        reasons.append(f"{name!r} is not a usable file name")
    elif is_part_name(text):
        text += "_"
        reasons.append("name looks like a restore's temporary file")
    if len(text.encode("utf-8")) > MAX_NAME_BYTES:
        text = with_tag(text, _tag(key))
        reasons.append(f"name longer than {MAX_NAME_BYTES} bytes (shortened)")
    return text, reasons


@dataclass
class Named:
    """One child of a Drive folder and the local name it restores to (None: not restorable)."""

    file: "DriveFile"
    local: str | None
    renamed: str | None = None  # why the local name differs from Drive's
    skipped: str | None = None  # why it is not restored


def safe_names(children: Iterable["DriveFile"]) -> list[Named]:
    """Map one Drive folder's children to distinct, safe local names (deterministic).

    Drive allows duplicate names, '/', '..' and very long names; a folder holds at most one of
    each local name. On a clash (the same name, or the same after NFC normalisation), the item
    whose name needed no change keeps it, then the oldest (modifiedTime, id) — the one push's
    adoption would pick; the others get a `~<hash of their ID>` tag before the extension.
    """
    out: list[Named] = []
    groups: dict[str, list[tuple[Named, bool]]] = {}
    for f in children:
        if f.mime_type.startswith(GOOGLE_APPS_PREFIX) and not f.is_folder:
            why = ("a Drive shortcut: not restored" if f.mime_type.endswith(".shortcut")
                   else "Google Docs format: open it in Drive")
            out.append(Named(f, None, skipped=why))
            continue
        local, reasons = clean_name(f.name, f.id)
        named = Named(f, local, renamed="; ".join(reasons) or None)
        out.append(named)
        groups.setdefault(local, []).append((named, local == f.name))
    taken = set(groups)
    for local, members in groups.items():
        if len(members) < 2:
            continue
        members.sort(key=lambda m: (not m[1], m[0].file.modified_ms, m[0].file.id))
        for named, _ in members[1:]:
            n = 8
            new = with_tag(local, _tag(named.file.id, n))
            while new in taken and n < 40:
                n += 4
                new = with_tag(local, _tag(named.file.id, n))
            taken.add(new)
            named.local = new
            why = "another item in this Drive folder has the same name"
            if named.file.name != local or any(m[0].file.name != local for m in members):
                why += " (after Unicode normalisation)" if _nfc_clash(members) else ""
            named.renamed = "; ".join(filter(None, [named.renamed, why]))
    return out


def _nfc_clash(members: list[tuple[Named, bool]]) -> bool:
    names = {m[0].file.name for m in members}
    return len(names) > 1 and len({unicodedata.normalize("NFC", n) for n in names}) < len(names)


def _join(rel: str, name: str) -> str:
    return f"{rel}/{name}" if rel else name


def _ms(ns: int) -> int:
    return ns // 1_000_000


# -- the home, reached only through O_NOFOLLOW directory descriptors ------------------------------


class Blocked(Exception):
    """Something that is not a real folder stands where a folder must be."""


class HomeFS:
    """Local file operations confined to the home. Never follows a symlink below the home."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.fd = os.open(home, os.O_RDONLY | os.O_DIRECTORY | _O_CLOEXEC)  # the home itself may be a link

    def close(self) -> None:
        os.close(self.fd)

    def _describe(self, dir_fd: int, name: str, rel: str) -> str:
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except OSError:
            return f"cannot open the folder {display_path(rel)}"
        if stat.S_ISLNK(st.st_mode):
            return f"a symbolic link is in the way at {display_path(rel)} (not followed)"
        return f"a file is in the way at {display_path(rel)}"

    def open_dir(self, rel: str, *, create: bool = False, created: list[str] | None = None) -> int | None:
        """A descriptor for folder `rel` (None if missing and not `create`); Blocked if a
        component is a symlink or not a folder."""
        fd = os.dup(self.fd)
        done = ""
        try:
            for part in (rel.split("/") if rel else []):
                done = _join(done, part)
                try:
                    nfd = os.open(part, _DIR_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        os.close(fd)
                        return None
                    try:
                        os.mkdir(part, 0o777, dir_fd=fd)
                        if created is not None:
                            created.append(done)
                    except FileExistsError:
                        pass
                    try:
                        nfd = os.open(part, _DIR_FLAGS, dir_fd=fd)
                    except OSError as exc:
                        raise Blocked(self._describe(fd, part, done)) from exc
                except OSError as exc:
                    if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
                        raise Blocked(self._describe(fd, part, done)) from exc
                    raise
                os.close(fd)
                fd = nfd
        except BaseException:
            os.close(fd)
            raise
        return fd


def _md5_at(dir_fd: int, name: str) -> str:
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | _O_CLOEXEC, dir_fd=dir_fd)
    with os.fdopen(fd, "rb", buffering=0) as fh:
        return md5_of(fh)


def _sweep_parts(dir_fd: int) -> None:
    """Remove a killed restore's temp files from one folder (never a link's target)."""
    try:
        with os.scandir(dir_fd) as it:
            names = [e.name for e in it if is_part_name(e.name) and e.is_file(follow_symlinks=False)]
    except OSError:
        return
    for name in names:
        try:
            os.unlink(name, dir_fd=dir_fd)
        except OSError:
            pass


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


# -- planning the restore ------------------------------------------------------------------------


@dataclass
class _Task:
    rel: str
    file: "DriveFile"
    replace: bool  # a local file is there and will be replaced


@dataclass
class _Folder:
    rel: str
    file: "DriveFile"
    exists: bool  # already a real folder locally


def find_root(client: "DriveClient", stored_id: str | None, parts: list[str]) -> "DriveFile | None":
    """The home's Drive folder: by its stored ID, else by the template path. Read-only."""
    from ..drive.client import NotFound

    if stored_id:
        try:
            f = client.get(stored_id)
        except NotFound:
            f = None
        if f is not None and not f.trashed and f.is_folder:
            return f
    parent = "root"
    found: DriveFile | None = None
    for name in parts:
        hits = sorted(client.find_folders(name, parent), key=lambda f: (f.modified_ms, f.id))
        if not hits:
            return None
        found = hits[0]
        parent = found.id
    return found


def _stored_root_id(home: Path) -> str | None:
    """The root folder ID from the state DB, read-only (listing must never write the DB)."""
    from ..server.jobs import _read_state_meta
    from ..home.state import META_ROOT_FOLDER_ID

    return _read_state_meta(state_dir_for(home), (META_ROOT_FOLDER_ID,)).get(META_ROOT_FOLDER_ID)


def _user(options: RestoreOptions) -> str:
    return user_name(Path(options.home), options.user)


class _Run(RunProgress):
    """One restore: the client, the DB, the running summary and progress (counters: RunProgress)."""

    summary: RestoreSummary

    def __init__(self, options: RestoreOptions, progress: Callable[[ProgressEvent], None] | None) -> None:
        super().__init__(RestoreSummary(), progress)
        self.o = options
        self.home = Path(options.home)
        self.overwrite = Overwrite(options.overwrite)
        self.guard = Excludes(defaults=(), always=True)  # secrets and our own state: never restored
        self.write_db = False  # decided once the state DB has been looked at

    # -- reporting ---------------------------------------------------------------------------

    def emit(self, phase: str, current: str | None = None, *, force: bool = True) -> None:
        super().emit(phase, display_path(current) if current is not None else None, force=force)

    def count(self, what: str, n: int = 1) -> None:
        with self._lock:
            setattr(self.summary, what, getattr(self.summary, what) + n)

    # -- the run -----------------------------------------------------------------------------

    def run(self) -> RestoreSummary:
        started = time.monotonic()
        require_home(self.home)
        try:
            parts = split_subpath(self.o.path)
        except ValueError as exc:
            raise ConfigError(f"--path {self.o.path!r}: {exc}") from exc
        if self.o.workers < 1:
            raise ConfigError("--workers must be at least 1")
        roots = folder_parts(self.o.folder_template, _user(self.o))
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

    def _locked_run(self, client: "DriveClient", db: StateDB, fs: HomeFS, roots: list[str], parts: list[str]) -> None:
        self.emit("listing")
        needs_meta = not db.root_folder_id or not db.page_token
        token = client.start_page_token() if needs_meta and not self.o.dry_run else None  # before reading
        root = find_root(client, db.root_folder_id, roots)
        if root is None:
            raise NothingToRestore(f"there is no backup at {'/'.join(roots)} in this Google Drive. {SCOPE_NOTE}")
        self.summary.root_folder_id = root.id
        state = db.load()
        if db.root_folder_id != root.id:
            needs_meta = True
            state = {}  # rows about another (lost) folder mean nothing now
        # A fresh state DB and only part of the home: write no rows, so the next push adopts
        # the whole Drive folder by path (rows for one subtree would stop that adoption).
        self.write_db = not self.o.dry_run and (bool(state) or not parts)
        if self.write_db and db.root_folder_id != root.id and db.count():
            db.forget_all()

        # 1. what Drive holds (listing only), with the local side looked at (reads only)
        folders: list[_Folder] = []
        tasks: list[_Task] = []
        rows: list[StateEntry] = []  # rows the local side already matches
        node, rel = root, ""
        for i, part in enumerate(parts):
            match = next((n for n in safe_names(client.list_children(node.id)) if n.local == part), None)
            if match is None:
                raise NothingToRestore(f"nothing called {display_path(_join(rel, part))!r} in the Drive backup. "
                                       f"{SCOPE_NOTE}")
            node, rel = match.file, _join(rel, part)
            if node.is_folder:
                if not self._folder(fs, rel, node, folders, state, rows):
                    return
            elif i < len(parts) - 1:
                raise NothingToRestore(f"{display_path(rel)!r} is a file on Drive, not a folder")
        if node.is_folder:
            if not parts and not self.o.dry_run:
                _sweep_parts(fs.fd)
            self._walk(client, fs, rel, node, folders, tasks, state, rows)
        else:
            self._file(fs, rel, node, tasks, state, rows)

        # 2. rows for what already matches, then where the changes feed starts. Written only
        #    now, before any local write: a kill at any point leaves rows the home matches.
        if self.write_db:
            db.record_synced_many(rows)
            if needs_meta:
                db.root_folder_id = root.id
                if token is not None:
                    db.page_token = token
                if not db.account_email:
                    db.account_email = client.about_email()

        # 3. folders, then files
        self.files_total = len(tasks)
        self.bytes_total = sum(t.file.size or 0 for t in tasks)
        if self.o.dry_run:
            self.count("folders_created", sum(1 for f in folders if not f.exists))
            for t in tasks:
                self.count("replaced" if t.replace else "restored")
                self.summary.bytes_downloaded += t.file.size or 0
            return
        blocked = self._make_folders(fs, db, folders)
        self.emit("downloading")
        todo = [t for t in tasks if not any(t.rel.startswith(b + "/") for b in blocked)]
        with ThreadPoolExecutor(max_workers=self.o.workers, thread_name_prefix="restore") as pool:
            futures = [pool.submit(self._guarded, fs, db, client, t) for t in todo]
            raise_first_error(futures)  # run-ending: reconnect needed, Drive refused

    # -- walking -----------------------------------------------------------------------------

    def _folder(self, fs: HomeFS, rel: str, f: "DriveFile", folders: list[_Folder],
                state: dict[str, StateEntry], rows: list[StateEntry]) -> bool:
        """Note a Drive folder; False if the local side blocks it (reported)."""
        try:
            fd = fs.open_dir(rel)
        except Blocked as exc:
            self.skip(rel, f"{exc}: nothing restored into it")
            return False
        except OSError as exc:
            self.fail(rel, f"cannot open the folder: {exc.strerror or exc}")
            return False
        exists = fd is not None
        if fd is not None:
            try:
                st = os.fstat(fd)
                if not self.o.dry_run:
                    _sweep_parts(fd)
            finally:
                os.close(fd)
            row = state.get(rel)
            if row is None or row.drive_id != f.id or not row.is_dir:
                rows.append(_folder_row(rel, f, st.st_mtime_ns))
        folders.append(_Folder(rel, f, exists))
        return True

    def _walk(self, client: "DriveClient", fs: HomeFS, rel: str, top: "DriveFile", folders: list[_Folder],
              tasks: list[_Task], state: dict[str, StateEntry], rows: list[StateEntry]) -> None:
        queue = deque([(rel, top)])
        while queue:
            rel, folder = queue.popleft()
            try:
                dfd = fs.open_dir(rel)  # once per folder, for all its files
            except (Blocked, OSError):
                dfd = -1  # each file opens (and reports) on its own
            try:
                self._walk_folder(client, fs, rel, folder, dfd, folders, tasks, state, rows, queue)
            finally:
                if dfd is not None and dfd >= 0:
                    os.close(dfd)
            self.emit("listing", rel, force=False)

    def _walk_folder(self, client: "DriveClient", fs: HomeFS, rel: str, folder: "DriveFile", dfd: int | None,
                     folders: list[_Folder], tasks: list[_Task], state: dict[str, StateEntry],
                     rows: list[StateEntry], queue: "deque[tuple[str, DriveFile]]") -> None:
        for n in sorted(safe_names(client.list_children(folder.id)), key=lambda n: n.local or ""):
            f = n.file
            if n.local is None:
                self.skip(_join(rel, f.name), n.skipped or "not restorable")
                continue
            child = _join(rel, n.local)
            if n.renamed:
                with self._lock:
                    self.summary.renamed.append({"path": display_path(child), "drive_name": f.name,
                                                 "reason": n.renamed})
            why = self.guard.why(child, f.is_folder)
            if why is not None:
                self.skip(child, f"never restored ({why})")
                continue
            if f.is_folder:
                if self._folder(fs, child, f, folders, state, rows):
                    queue.append((child, f))
            else:
                self._file(fs, child, f, tasks, state, rows, dfd)

    def _file(self, fs: HomeFS, rel: str, f: "DriveFile", tasks: list[_Task],
              state: dict[str, StateEntry], rows: list[StateEntry], parent_fd: int | None = -1) -> None:
        """Decide one Drive file against the local side (reads only). `parent_fd`: its folder,
        already open (None: the folder does not exist locally; -1: open it here)."""
        parent, _, name = rel.rpartition("/")
        if parent_fd is None:
            tasks.append(_Task(rel, f, replace=False))
            return
        if parent_fd >= 0:
            self._file_at(parent_fd, rel, name, f, tasks, state, rows)
            return
        try:
            dfd = fs.open_dir(parent)
        except Blocked as exc:
            self.skip(rel, str(exc))
            return
        except OSError as exc:
            self.fail(rel, f"cannot open its folder: {exc.strerror or exc}")
            return
        if dfd is None:
            tasks.append(_Task(rel, f, replace=False))
            return
        try:
            self._file_at(dfd, rel, name, f, tasks, state, rows)
        finally:
            os.close(dfd)

    def _file_at(self, dfd: int, rel: str, name: str, f: "DriveFile", tasks: list[_Task],
                 state: dict[str, StateEntry], rows: list[StateEntry]) -> None:
        try:
            st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
        except FileNotFoundError:
            tasks.append(_Task(rel, f, replace=False))
            return
        if stat.S_ISLNK(st.st_mode):
            self.skip(rel, "a symbolic link is at this path: not replaced")
            return
        if not stat.S_ISREG(st.st_mode):
            what = "folder" if stat.S_ISDIR(st.st_mode) else "special file"
            self.skip(rel, f"a {what} is at this path: not replaced")
            return
        row = state.get(rel)
        if self._identical(dfd, name, st, f, row):
            self.count("unchanged")
            if not (row is not None and row.drive_id == f.id and row.local_size == st.st_size
                    and row.local_mtime_ns == st.st_mtime_ns and row.md5 == f.md5
                    and row.status is EntryStatus.SYNCED and not row.local_deleted):
                rows.append(_identical_row(rel, f, st))
            return
        keep = (self.overwrite is Overwrite.NEVER
                or (self.overwrite is Overwrite.OLDER and _ms(st.st_mtime_ns) >= f.modified_ms))
        if row is None or row.drive_id != f.id:
            rows.append(_conflict_row(rel, f))  # the next push settles it by last-write-wins
        if keep:
            self.count("skipped_existing")
        else:
            tasks.append(_Task(rel, f, replace=True))

    def _identical(self, dfd: int, name: str, st: os.stat_result, f: "DriveFile", row: StateEntry | None) -> bool:
        if f.size is None or st.st_size != f.size or f.md5 is None:
            return False
        if (row is not None and row.drive_id == f.id and row.md5 == f.md5 and row.local_size == st.st_size
                and row.local_mtime_ns == st.st_mtime_ns and not row.local_deleted):
            return True  # what the state DB says we synced: no need to read it again
        try:
            return _md5_at(dfd, name) == f.md5
        except OSError:
            return False

    # -- writing -----------------------------------------------------------------------------

    def _make_folders(self, fs: HomeFS, db: StateDB, folders: list[_Folder]) -> set[str]:
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
                self.skip(folder.rel, f"{exc}: nothing restored into it")
                blocked.add(folder.rel)
                continue
            except OSError as exc:
                self.fail(folder.rel, f"cannot create the folder: {exc.strerror or exc}")
                blocked.add(folder.rel)
                continue
            try:
                st = os.fstat(fd)
            finally:
                os.close(fd)
            if folder.rel in created:
                self.count("folders_created")
            if self.write_db:
                rows.append(_folder_row(folder.rel, folder.file, st.st_mtime_ns))
            if len(rows) >= _ROW_BATCH:
                db.record_synced_many(rows)
                rows = []
        db.record_synced_many(rows)
        return blocked

    def _guarded(self, fs: HomeFS, db: StateDB, client: "DriveClient", t: _Task) -> None:
        from ..drive.client import DriveApiError, NotFound

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

    def _download(self, fs: HomeFS, db: StateDB, client: "DriveClient", t: _Task) -> None:
        parent, _, name = t.rel.rpartition("/")
        f = t.file
        dfd = fs.open_dir(parent)
        if dfd is None:
            raise FileNotFoundError(errno.ENOENT, "its folder disappeared", t.rel)
        tmp = part_name(name)
        try:
            try:
                os.unlink(tmp, dir_fd=dfd)  # a leftover of a killed run (never followed: unlink)
            except FileNotFoundError:
                pass
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | _O_CLOEXEC, 0o666, dir_fd=dfd)
            placed = False
            try:
                progress = self.byte_counter(lambda: self.emit("downloading", t.rel, force=False))
                out = _HashingWriter(fd)
                client.download(f.id, out, progress=progress)  # type: ignore[arg-type]
                if f.size is not None and out.size != f.size:
                    raise _Mismatch(f"downloaded {out.size} bytes, Drive says {f.size}")
                md5 = out.md5.hexdigest()
                if f.md5 is not None and md5 != f.md5:
                    raise _Mismatch("downloaded content does not match Drive's md5 (changed while restoring?)")
                mtime_ns = f.modified_ms * 1_000_000
                os.utime(fd, ns=(mtime_ns, mtime_ns))
                os.fsync(fd)
                if not self._may_place(dfd, name, t):
                    return
                os.replace(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
                placed = True
                st = os.fstat(fd)
            finally:
                os.close(fd)
                if not placed:
                    try:
                        os.unlink(tmp, dir_fd=dfd)
                    except OSError:
                        pass
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
            db.record_synced(StateEntry(
                path=t.rel, drive_id=f.id, is_dir=False, status=EntryStatus.SYNCED,
                local_size=st.st_size, local_mtime_ns=st.st_mtime_ns, md5=md5,
                drive_md5=f.md5, drive_modified_ms=f.modified_ms, drive_head_revision=f.head_revision,
            ))
        with self._lock:
            self.summary.bytes_downloaded += st.st_size
        self.count("replaced" if t.replace else "restored")

    def _may_place(self, dfd: int, name: str, t: _Task) -> bool:
        """Re-check the target just before the rename: the user may have acted meanwhile."""
        try:
            st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
        except FileNotFoundError:
            return True
        if stat.S_ISLNK(st.st_mode) or not stat.S_ISREG(st.st_mode):
            self.skip(t.rel, "something other than a file appeared at this path: not replaced")
            return False
        # A file there now (new since we looked, or edited meanwhile): the policy decides again.
        if self.overwrite is Overwrite.NEVER or (
                self.overwrite is Overwrite.OLDER and _ms(st.st_mtime_ns) >= t.file.modified_ms):
            self.count("skipped_existing")
            return False
        return True


class _Mismatch(Exception):
    """The bytes we got are not the file Drive described."""


def _folder_row(rel: str, f: "DriveFile", mtime_ns: int) -> StateEntry:
    return StateEntry(path=rel, drive_id=f.id, is_dir=True, status=EntryStatus.SYNCED, local_size=0,
                      local_mtime_ns=mtime_ns, drive_modified_ms=f.modified_ms,
                      drive_head_revision=f.head_revision)


def _identical_row(rel: str, f: "DriveFile", st: os.stat_result) -> StateEntry:
    """Same content on both sides. Drive's time is recorded as the local one: the two copies are
    one version now, so a push must see neither side as edited (plan compares the two)."""
    return StateEntry(path=rel, drive_id=f.id, is_dir=False, status=EntryStatus.SYNCED,
                      local_size=st.st_size, local_mtime_ns=st.st_mtime_ns, md5=f.md5, drive_md5=f.md5,
                      drive_modified_ms=_ms(st.st_mtime_ns), drive_head_revision=f.head_revision)


def _conflict_row(rel: str, f: "DriveFile") -> StateEntry:
    """A local file that differs from Drive's copy and has no row: link it to the Drive ID as a
    conflict (both sides 'changed'), so the next push keeps the later write (pinning Drive's
    revision if the local one wins) and never uploads a second copy beside Drive's."""
    return StateEntry(path=rel, drive_id=f.id, is_dir=False, status=EntryStatus.SYNCED,
                      local_size=f.size or 0, local_mtime_ns=f.modified_ms * 1_000_000, md5=None,
                      drive_md5=f.md5, drive_modified_ms=f.modified_ms, drive_head_revision=f.head_revision)


def run_restore(options: RestoreOptions, progress: Callable[[ProgressEvent], None] | None = None) -> RestoreSummary:
    """Restore one home, or `options.path` of it (see the module docstring for what it raises)."""
    return _Run(options, progress).run()


# -- what Drive holds, for the restore dialog ------------------------------------------------------


def list_remote(options: RestoreOptions, path: str = "") -> dict[str, Any]:
    """The Drive folder at `path` (local names, relative to the home): folders first, by name.

    ValueError for a bad path; NothingToRestore when the backup or the path does not exist.
    """
    from ..drive.client import to_rfc3339

    parts = split_subpath(path)
    client = connect(Path(options.home), options.credentials_path, options.encryption_key, options.api_root)
    try:
        roots = folder_parts(options.folder_template, _user(options))
        root = find_root(client, _stored_root_id(Path(options.home)), roots)
        if root is None:
            raise NothingToRestore(f"there is no backup at {'/'.join(roots)} in this Google Drive. {SCOPE_NOTE}")
        node, rel = root, ""
        for part in parts:
            match = next((n for n in safe_names(client.list_children(node.id)) if n.local == part), None)
            if match is None or not match.file.is_folder:
                raise NothingToRestore(f"no folder called {display_path(_join(rel, part))!r} in the Drive backup")
            node, rel = match.file, _join(rel, part)
        entries = []
        for n in safe_names(client.list_children(node.id)):
            f = n.file
            name = n.local if n.local is not None else f.name
            entries.append({
                "name": name,
                "drive_name": f.name,
                "path": _join(rel, name),
                "is_folder": f.is_folder,
                "size": f.size,
                "modified_time": to_rfc3339(f.modified_ms) if f.modified_ms else None,
                "md5": f.md5,
                "restorable": n.local is not None,
                "note": n.skipped or n.renamed,
            })
        entries.sort(key=lambda e: (not e["is_folder"], e["name"].casefold(), e["name"]))
        return {"path": rel, "root_folder_id": root.id, "entries": entries}
    finally:
        client.close()


def probe_backup(options: RestoreOptions) -> bool:
    """Whether the user's Drive folder exists and holds anything (≤ 1 + folders-deep requests)."""
    client = connect(Path(options.home), options.credentials_path, options.encryption_key, options.api_root)
    try:
        root = find_root(client, _stored_root_id(Path(options.home)),
                         folder_parts(options.folder_template, _user(options)))
        return root is not None and next(iter(client.list_children(root.id)), None) is not None
    finally:
        client.close()


def restore_options(settings: "SyncSettings", **overrides: Any) -> RestoreOptions:
    """The restore's options for a home's settings; `overrides` are RestoreOptions fields."""
    values = settings.run_fields()
    values.update(overrides)
    if "overwrite" in values:
        values["overwrite"] = Overwrite(values["overwrite"])
    return RestoreOptions(**values)


# -- CLI -------------------------------------------------------------------------------------------


PHASES = {"listing": "listing what Drive holds…"}  # the progress bar's phases without counts


def cmd_restore(args: Any) -> int:
    """`jupyter-drive-sync restore`: exit 0 ok, 1 failures, 2 usage, 3 reconnect, 4 refused."""
    from ..cli.output import run_command

    def start(settings: "SyncSettings", progress: Callable[[ProgressEvent], None] | None) -> RestoreSummary:
        overrides: dict[str, Any] = {"dry_run": bool(args.dry_run), "path": args.path or "",
                                     "overwrite": Overwrite(args.overwrite)}
        if args.workers is not None:
            overrides["workers"] = args.workers
        return run_restore(restore_options(settings, **overrides), progress)

    def describe(s: RestoreSummary) -> None:
        would = "would be " if args.dry_run else ""
        print(f"{would}restored {s.restored}, replaced {s.replaced}, unchanged {s.unchanged}, "
              f"kept local {s.skipped_existing}, folders {s.folders_created}, renamed {len(s.renamed)}, "
              f"skipped {len(s.skipped)}, failed {len(s.failed)}, {s.bytes_downloaded} bytes in {s.seconds:.1f}s")
        for r in s.renamed:
            print(f"  renamed: {r['path']} (on Drive: {r['drive_name']!r}): {r['reason']}", file=sys.stderr)
        for k in s.skipped:
            print(f"  skipped: {k['path']}: {k['reason']}", file=sys.stderr)

    return run_command("restore", args, start, PHASES, describe)
