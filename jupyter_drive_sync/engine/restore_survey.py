"""A restore's first phase: walk the Drive backup against the home and decide, reading only.

For each Drive folder and file: is it there locally, identical, in the way (a symlink, a
special file), or different (then the overwrite policy decides)? The result is what the
restore will create and download, and the state DB rows the home already matches. Nothing is
written here, so a dry run is this phase alone.

Every Drive item is judged by its whole local path against the rules push uses for secrets and
the tool's own state (`home.excludes.never_synced`): such an item is reported as skipped and
nothing is written for it or below it, however Drive spells its name.
"""

from __future__ import annotations

import os
import stat
from collections import deque
from dataclasses import dataclass
from typing import Protocol

from ..core.model import EntryStatus, StateEntry, clamp_mtime_ns, ns_to_ms
from ..core.options import Overwrite
from ..drive.client import DriveClient
from ..drive.types import DriveFile
from ..home.excludes import never_synced
from ..home.fs_guards import Blocked, HomeFS, open_file_at, sweep_parts
from ..home.scan import md5_of
from .restore_names import is_part_name, join, safe_names


@dataclass
class FileTask:
    """A Drive file to download to `rel`."""

    rel: str
    file: DriveFile
    replace: bool  # a local file is there and will be replaced


@dataclass
class FolderTask:
    """A Drive folder at `rel`, to create locally unless it `exists`."""

    rel: str
    file: DriveFile
    exists: bool  # already a real folder locally


class Reporter(Protocol):
    """Where the survey reports (the restore run: its summary and progress)."""

    def skip(self, path: str, reason: str) -> None: ...

    def fail(self, path: str, error: str) -> None: ...

    def count(self, what: str, n: int = 1) -> None: ...

    def renamed(self, path: str, drive_name: str, reason: str) -> None: ...

    def emit(self, phase: str, current: str | None = None, *, force: bool = True) -> None: ...


def keeps_local(overwrite: Overwrite, local_mtime_ns: int, f: DriveFile) -> bool:
    """Whether the overwrite policy keeps a local file that differs from Drive's copy `f`."""
    return overwrite is Overwrite.NEVER or (
        overwrite is Overwrite.OLDER and ns_to_ms(clamp_mtime_ns(local_mtime_ns)) >= f.modified_ms)


def folder_row(rel: str, f: DriveFile, st: os.stat_result) -> StateEntry:
    """A local folder that is Drive's folder `f`; its inode is noted, so a rename of it before
    the next push is still one move by ID (planning finds folder moves by inode)."""
    return StateEntry(path=rel, drive_id=f.id, is_dir=True, status=EntryStatus.SYNCED, local_size=0,
                      local_mtime_ns=clamp_mtime_ns(st.st_mtime_ns), drive_modified_ms=f.modified_ms,
                      drive_head_revision=f.head_revision, local_ino=st.st_ino)


def identical_row(rel: str, f: DriveFile, st: os.stat_result) -> StateEntry:
    """Same content on both sides. Drive's time is recorded as the local one: the two copies are
    one version now, so a push must see neither side as edited (plan compares the two)."""
    mtime_ns = clamp_mtime_ns(st.st_mtime_ns)  # as the scan will see it
    return StateEntry(path=rel, drive_id=f.id, is_dir=False, status=EntryStatus.SYNCED,
                      local_size=st.st_size, local_mtime_ns=mtime_ns, md5=f.md5, drive_md5=f.md5,
                      drive_modified_ms=ns_to_ms(mtime_ns), drive_head_revision=f.head_revision,
                      local_ino=st.st_ino)


def conflict_row(rel: str, f: DriveFile) -> StateEntry:
    """A local file that differs from Drive's copy and has no row: link it to the Drive ID as a
    conflict (both sides 'changed'), so the next push keeps the later write (pinning Drive's
    revision if the local one wins) and never uploads a second copy beside Drive's."""
    return StateEntry(path=rel, drive_id=f.id, is_dir=False, status=EntryStatus.SYNCED,
                      local_size=f.size or 0, local_mtime_ns=f.modified_ms * 1_000_000, md5=None,
                      drive_md5=f.md5, drive_modified_ms=f.modified_ms, drive_head_revision=f.head_revision)


class Survey:
    """Drive's backup folder against the home: what to create and download, what already matches."""

    def __init__(self, report: Reporter, fs: HomeFS, state: dict[str, StateEntry], *, overwrite: Overwrite,
                 dry_run: bool) -> None:
        self.report = report
        self.fs = fs
        self.state = state
        # Drive ID → the name the state DB links it to: of same-name twins, that one keeps it
        self.known_names = {r.drive_id: r.path.rpartition("/")[2] for r in state.values()}
        self.overwrite = overwrite
        self.dry_run = dry_run
        self.folders: list[FolderTask] = []
        self.tasks: list[FileTask] = []
        self.rows: list[StateEntry] = []  # rows the local side already matches
        # Drive items left unlinked because something else stands at their path here (the other
        # kind, a symlink, a special file): the push's adoption must still match them by path,
        # or it would create the local item beside Drive's (two live items at one path).
        self.obstructed: list[str] = []

    def sweep(self, dir_fd: int) -> None:
        """Remove a killed restore's temporary files from a folder (not in a dry run)."""
        if not self.dry_run:
            sweep_parts(dir_fd, is_part_name)

    def folder(self, rel: str, f: DriveFile) -> bool:
        """Note a Drive folder; False if the local side blocks it (reported)."""
        try:
            fd = self.fs.open_dir(rel)
        except Blocked as exc:
            self.report.skip(rel, f"{exc}: nothing restored into it")
            self.obstructed.append(rel)
            return False
        except OSError as exc:
            self.report.fail(rel, f"cannot open the folder: {exc.strerror or exc}")
            return False
        exists = fd is not None
        if fd is not None:
            try:
                st = os.fstat(fd)
                self.sweep(fd)
            finally:
                os.close(fd)
            row = self.state.get(rel)
            # a row of this folder noting another inode (the folder was made anew here since the
            # last push) is noted again: planning finds folder moves by inode (defect 20)
            if row is None or row.drive_id != f.id or not row.is_dir or row.local_ino != st.st_ino:
                self.rows.append(folder_row(rel, f, st))
        self.folders.append(FolderTask(rel, f, exists))
        return True

    def walk(self, client: DriveClient, rel: str, top: DriveFile) -> None:
        """Every folder and file below the Drive folder `top` (restored at `rel`), breadth first."""
        queue: deque[tuple[str, DriveFile]] = deque([(rel, top)])
        while queue:
            rel, folder = queue.popleft()
            try:
                dfd = self.fs.open_dir(rel)  # once per folder, for all its files
            except (Blocked, OSError):
                dfd = -1  # each file opens (and reports) on its own
            try:
                self._walk_folder(client, rel, folder, dfd, queue)
            finally:
                if dfd is not None and dfd >= 0:
                    os.close(dfd)
            self.report.emit("listing", rel, force=False)

    def _walk_folder(self, client: DriveClient, rel: str, folder: DriveFile, dfd: int | None,
                     queue: deque[tuple[str, DriveFile]]) -> None:
        for n in sorted(safe_names(client.list_children(folder.id), self.known_names), key=lambda n: n.local or ""):
            f = n.file
            if n.local is None:
                self.report.skip(join(rel, f.name), n.skipped or "not restorable")
                continue
            child = join(rel, n.local)
            if n.renamed:
                self.report.renamed(child, f.name, n.renamed)
            why = never_synced(child, f.is_folder)
            if why is not None:
                self.report.skip(child, f"{why}: never restored")
                continue
            if f.is_folder:
                if self.folder(child, f):
                    queue.append((child, f))
            else:
                self.file(child, f, dfd)

    def file(self, rel: str, f: DriveFile, parent_fd: int | None = -1) -> None:
        """Decide one Drive file against the local side. `parent_fd`: its folder, already open
        (None: the folder does not exist locally; -1: open it here)."""
        parent, _, name = rel.rpartition("/")
        if parent_fd is None:
            self.tasks.append(FileTask(rel, f, replace=False))
            return
        if parent_fd >= 0:
            self._file_at(parent_fd, rel, name, f)
            return
        try:
            dfd = self.fs.open_dir(parent)
        except Blocked as exc:
            self.report.skip(rel, str(exc))
            self.obstructed.append(rel)
            return
        except OSError as exc:
            self.report.fail(rel, f"cannot open its folder: {exc.strerror or exc}")
            return
        if dfd is None:
            self.tasks.append(FileTask(rel, f, replace=False))
            return
        try:
            self._file_at(dfd, rel, name, f)
        finally:
            os.close(dfd)

    def _file_at(self, dfd: int, rel: str, name: str, f: DriveFile) -> None:
        try:
            st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
        except FileNotFoundError:
            self.tasks.append(FileTask(rel, f, replace=False))
            return
        if stat.S_ISLNK(st.st_mode):
            self.report.skip(rel, "a symbolic link is at this path: not replaced")
            self.obstructed.append(rel)
            return
        if not stat.S_ISREG(st.st_mode):
            what = "folder" if stat.S_ISDIR(st.st_mode) else "special file"
            self.report.skip(rel, f"a {what} is at this path: not replaced")
            self.obstructed.append(rel)
            return
        row = self.state.get(rel)
        if self._identical(dfd, name, st, f, row):
            self.report.count("unchanged")
            if not (row is not None and row.drive_id == f.id and row.local_size == st.st_size
                    and row.local_mtime_ns == clamp_mtime_ns(st.st_mtime_ns) and row.md5 == f.md5
                    and row.status is EntryStatus.SYNCED and not row.local_deleted):
                self.rows.append(identical_row(rel, f, st))
            return
        if row is None or row.drive_id != f.id:
            self.rows.append(conflict_row(rel, f))  # the next push settles it by last-write-wins
        if keeps_local(self.overwrite, st.st_mtime_ns, f):
            self.report.count("skipped_existing")
        else:
            self.tasks.append(FileTask(rel, f, replace=True))

    @staticmethod
    def _identical(dfd: int, name: str, st: os.stat_result, f: DriveFile, row: StateEntry | None) -> bool:
        if f.size is None or st.st_size != f.size or f.md5 is None:
            return False
        if (row is not None and row.drive_id == f.id and row.md5 == f.md5 and row.local_size == st.st_size
                and row.local_mtime_ns == clamp_mtime_ns(st.st_mtime_ns) and not row.local_deleted):
            return True  # what the state DB says we synced: no need to read it again
        try:
            with open_file_at(dfd, name) as fh:
                return md5_of(fh) == f.md5
        except OSError:
            return False
