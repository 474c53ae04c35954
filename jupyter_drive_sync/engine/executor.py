"""Carry out a push's planned actions on Drive, recording each result as soon as Drive confirms it.

Order: fresh IDs for everything new (recorded as *pending* before any create, so a retry or a
rerun creates with the same ID and never a second copy), then folders (untrash top-down,
creates in batches; with local renames, moves and creates depth by depth), then files in a
bounded worker pool (moves first, then the rest; empty files in batches), then trashes. A move
is one metadata update by ID, recorded at once with the rows below a folder following it, so
from then on every action sees the rows at their new paths (`plan.after_moves`). Under the
"work-first" order (`plan_order`) folders and files run in two waves: notebooks, code and text
(with the folders they need) first, then the remaining folders and the data and media; and
within a wave each new folder is created by a pool task queued just before the first file
that needs it (`_LazyFolders`), so the first notebook is on Drive after its own folders, not
after all of them. Still one write per folder, parents before children, pending IDs first.

Per-file problems go to the summary; a run-ending error (the user must reconnect, Drive full,
the daily cap) stops every task still queued or already handed to a worker.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import replace
from pathlib import Path
from typing import Any, BinaryIO, Callable, Mapping, Protocol, TypeVar

from ..core.errors import DriveRefused, EnvironmentProblem, NotConnected
from ..core.model import Action, ActionKind, EntryStatus, LocalEntry, StateEntry, clamp_mtime_ns
from ..drive.client import DriveClient
from ..drive.errors import DriveApiError, NotFound
from ..drive.types import DriveFile, NewEmptyFile, NewFolder, ResumeSlot, mime_type_for
from ..home.fs_guards import NotBeneath, open_beneath
from ..home.scan import display_path
from ..home.state_db import StateDB
from .id_supply import IdSupply, id_refused
from .plan import PlanRows, after_moves
from .plan_moves import moved_row
from .plan_order import PATH_ORDER, folders_just_in_time, waves
from .pool import raise_first_error

log = logging.getLogger(__name__)
T = TypeVar("T")

EMPTY_BATCH = 100  # empty files per batch request (Drive's limit on calls in a batch)
UPLOADS = (ActionKind.CREATE, ActionKind.UPDATE_CONTENT)  # the actions that send content
# errors that end the whole run, not one file: reconnect, Drive refused, the machine (a full disk
# under the state DB: nothing more could be recorded)
RUN_ENDING = (NotConnected, DriveRefused, EnvironmentProblem)


def ms(ns: int) -> int:
    return ns // 1_000_000


def synced_row(path: str, f: DriveFile, local: LocalEntry, *, md5: str | None = None) -> StateEntry:
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
        local_ino=local.ino,
    )


def resume_key(st: os.stat_result | None, local: LocalEntry) -> tuple[int, int]:
    """The file version a resumable session is kept under: size and mtime as read (else as scanned)."""
    if st is None:
        return local.size, local.mtime_ns
    return st.st_size, clamp_mtime_ns(st.st_mtime_ns)


class PushReport(Protocol):
    """Where the executor reports (the push run: its summary and progress)."""

    def skip(self, path: str, reason: str) -> None: ...

    def fail(self, path: str, error: str) -> None: ...

    def emit(self, phase: str, current: str | None = None, *, force: bool = True) -> None: ...

    def byte_counter(self, then: Callable[[], None] | None = None) -> Callable[[int], None]: ...

    def count(self, a: Action) -> None: ...

    def files_confirmed(self, n: int, bytes_uploaded: int = 0) -> None: ...


class Executor:
    """One push's execution: the client, the state DB, and the rows planning saw."""

    def __init__(self, report: PushReport, client: DriveClient, db: StateDB, state: PlanRows, home: Path,
                 *, workers: int, spare_ids: list[str], order: str = PATH_ORDER,
                 deadline: float | None = None) -> None:
        self.report = report
        self.deadline = deadline  # time.monotonic(): no task starts after it (PushOptions.deadline)
        self.order = order  # plan_order: "work-first" runs the plan in waves, the student's work first
        self.client = client
        self.db = db
        self.state = state
        self.home = home
        self.workers = workers
        self.ids = IdSupply(client, db, spare_ids)  # spare: generated with the root folder's
        # Set by the first run-ending error (reconnect, Drive full, daily cap): tasks the pool
        # has already handed to a worker then return at once instead of sending more refused
        # requests before the pool is cancelled.
        self._ending = threading.Event()
        self.root_id = ""
        self._before_moves: dict[str, StateEntry] = {}

    def execute(self, root_id: str, actions: list[Action]) -> None:
        actions = self._assign_ids(self._clear_the_way(actions))
        moves = [a for a in actions if a.kind is ActionKind.MOVE]
        if moves:  # the moved rows as planned, by Drive ID; then every row as the moves leave them
            moving = {a.drive_id for a in moves}
            self._before_moves = {r.drive_id: r for r in self.state.rows.values() if r.drive_id in moving}
            self.state = after_moves(self.state, moves)
        self.root_id = root_id
        folder_ids: dict[str, str] = {"": root_id}
        for r in self.state.entries():  # folder rows are never clean: all are here
            if r.is_dir:
                folder_ids[r.path] = r.drive_id
        failed_folders: set[str] = set()

        def parent_id(a: Action) -> str | None:
            parent = a.parent_path or ""
            if parent in failed_folders:
                return None
            return folder_ids.get(parent)

        for wave in waves(actions, self.order):  # each: its folders, then its files (see plan_order)
            if self._ending.is_set() or self._out_of_time():
                break  # no folder of a later wave without the time to fill it
            folder_actions = [a for a in wave if a.local is not None and a.local.is_dir
                              and a.kind in (ActionKind.MKDIR, ActionKind.UPDATE_MTIME, ActionKind.MOVE)]
            in_folders = {id(a) for a in folder_actions}
            lazy: _LazyFolders | None = None
            if self.order != PATH_ORDER and not any(a.kind is ActionKind.MOVE for a in folder_actions):
                # work-first, no folder moving: each new folder just before what needs it
                lazy = _LazyFolders([a for a in folder_actions if a.kind is ActionKind.MKDIR], folder_ids,
                                    failed_folders)
                folder_actions = [a for a in folder_actions if a.kind is not ActionKind.MKDIR]
            if folder_actions:
                self.report.emit("uploading", folder_actions[0].path)
            self._folders(folder_actions, folder_ids, failed_folders, parent_id)
            self._files([a for a in wave if id(a) not in in_folders], parent_id, lazy)
        for a in actions:
            if a.kind is ActionKind.TRASH:
                if self._out_of_time():
                    break  # the next push trashes the rest
                self.guard(a, lambda a=a: self._trash(a))

    def _clear_the_way(self, actions: list[Action]) -> list[Action]:
        """An item of ours at a path this push creates anew (a file replaced by a folder of its
        name, or back) is first set aside (`keep`: renamed, see `plan._set_aside`) or trashed
        (`trash`), before the new ID takes the path's row: so a kill at any moment never leaves
        two live items at one path, nor one the state DB forgot. Where that fails, the path's
        create waits for the next push. Returns the other actions."""
        # a path this push creates, or moves a local file's own item onto (`plan.find_moves`)
        creates = {a.path for a in actions if a.kind in (ActionKind.MKDIR, ActionKind.CREATE)
                   or (a.kind is ActionKind.MOVE and a.local is not None)}
        first = [a for a in actions if (a.kind is ActionKind.MOVE and a.local is None and a.source_path in creates)
                 or (a.kind is ActionKind.TRASH and a.path in creates)]
        if not first:
            return actions
        blocked: set[str] = set()
        for a in first:
            if a.kind is ActionKind.MOVE:
                done = self.guard(a, lambda a=a: self._set_aside(a))
            else:
                done = self.guard(a, lambda a=a: self._trash(a, replaced=True))
            if not done:
                blocked.add(a.source_path or a.path)
        for path in sorted(blocked):
            self.report.fail(path, "the Drive item it replaces could not be set aside: not backed up this time")
        firsts = {id(a) for a in first}
        return [a for a in actions if id(a) not in firsts and not (
            (a.kind in (ActionKind.MKDIR, ActionKind.CREATE) or (a.kind is ActionKind.MOVE and a.local is not None))
            and a.path in blocked)]

    def _set_aside(self, a: Action) -> bool:
        """Rename a replaced item beside its path, keeping its modifiedTime; its row (and a
        folder's rows, marked deleted here) follow it. Gone from Drive already: nothing to keep."""
        old = next((r for r in self.state.entries() if r.drive_id == a.drive_id), None)
        if old is None:
            return True
        try:
            f = self.client.update_metadata(a.drive_id or "", name=a.path.rpartition("/")[2],
                                            modified_ms=a.modified_ms)
        except NotFound:
            self.db.forget([old.path], recursive=old.is_dir)
            return True
        self.db.record_move(old.path, moved_row(old, a, md5=f.md5, modified_ms=f.modified_ms,
                                                head_revision=f.head_revision, trashed=f.trashed))
        if old.is_dir:
            self.db.mark_local_deleted([a.path], recursive=True)
        self.report.count(a)
        return True

    def _assign_ids(self, actions: list[Action]) -> list[Action]:
        """Fresh IDs for everything new, recorded as pending before any create."""
        new = [a for a in actions if a.kind in (ActionKind.MKDIR, ActionKind.CREATE) and a.drive_id is None]
        if new:
            ids = self.ids.take(len(new))
            new_set = {id(a) for a in new}
            assigned = {a.path: i for a, i in zip(new, ids)}
            actions = [replace(a, drive_id=assigned[a.path]) if id(a) in new_set else a for a in actions]
        self.db.record_pending(
            StateEntry(path=a.path, drive_id=a.drive_id, is_dir=a.kind is ActionKind.MKDIR,
                       local_size=a.local.size, local_mtime_ns=a.local.mtime_ns, local_ino=a.local.ino)
            for a in actions if a.kind in (ActionKind.MKDIR, ActionKind.CREATE)
            and a.local is not None and a.drive_id is not None
        )
        return actions

    def _folders(self, folder_actions: list[Action], folder_ids: dict[str, str], failed_folders: set[str],
                 parent_id: Callable[[Action], str | None]) -> None:
        """Folders: untrash first (top-down), then moves and creates in batches: all creates in
        one go, or, when folders move, depth by depth (a move or a create needs its parent)."""
        for a in folder_actions:
            if a.kind is ActionKind.MKDIR:
                folder_ids[a.path] = a.drive_id  # children may be created in the same batch round
        for a in folder_actions:
            if a.kind is ActionKind.UPDATE_MTIME:
                self.guard(a, lambda a=a: self._folder_meta(a))
        layers: dict[int, list[Action]] = {}
        moving = any(a.kind is ActionKind.MOVE for a in folder_actions)
        for a in folder_actions:
            if a.kind is not ActionKind.UPDATE_MTIME:
                layers.setdefault(a.path.count("/") if moving else 0, []).append(a)
        for depth in sorted(layers):
            for a in layers[depth]:
                if a.kind is ActionKind.MOVE and not self._move_here(a, parent_id(a)):
                    prefix = a.path + "/"
                    failed_folders.update([a.path, *(p for p in folder_ids if p.startswith(prefix))])
            self._mkdirs([a for a in layers[depth] if a.kind is ActionKind.MKDIR], folder_ids, failed_folders,
                         parent_id)

    def _mkdirs(self, mkdirs: list[Action], folder_ids: dict[str, str], failed_folders: set[str],
                parent_id: Callable[[Action], str | None]) -> None:
        """Create folders with their pending IDs, in batches (see DriveClient.create_folders)."""
        if not mkdirs:
            return
        items = []
        for a in mkdirs:
            pid = parent_id(a)
            if pid is None:
                failed_folders.add(a.path)
                self.report.fail(a.path, "its parent folder could not be created")
                continue
            items.append(NewFolder(a.drive_id, a.path.rpartition("/")[2], pid, ms(a.local.mtime_ns)))
        results = self.client.create_folders(items)
        mkdirs, results = self._retry_refused_folders(mkdirs, results, folder_ids, failed_folders, parent_id)
        for a in mkdirs:
            if a.path in failed_folders:
                continue
            r = results.get(a.drive_id)
            if r is None or isinstance(r, Exception):
                failed_folders.add(a.path)
                self.report.fail(a.path, str(r) if r is not None else "folder not created")
                continue
            self.db.record_synced(synced_row(a.path, r, a.local))
            self.report.count(a)

    def _retry_refused_folders(self, mkdirs: list[Action], results: dict[str, Any], folder_ids: dict[str, str],
                               failed_folders: set[str], parent_id: Callable[[Action], str | None],
                               ) -> tuple[list[Action], dict[str, Any]]:
        """Folders whose pending ID Drive refused get fresh IDs and one more batch, together with
        the folders below them that were held back for it (see id_supply)."""
        refused = [a for a in mkdirs if a.path not in failed_folders and id_refused(results.get(a.drive_id), a.drive_id)]
        if not refused:
            return mkdirs, results
        renewed = self.ids.renew(refused)
        below = tuple(p + "/" for p in renewed)
        mkdirs = [renewed.get(a.path, a) for a in mkdirs]
        folder_ids.update((p, a.drive_id) for p, a in renewed.items())
        redo = [a for a in mkdirs if a.path in renewed or (
            a.path.startswith(below) and a.path not in failed_folders and isinstance(results.get(a.drive_id), Exception))]
        items = []
        for a in redo:
            pid = parent_id(a)
            if pid is not None:
                items.append(NewFolder(a.drive_id, a.path.rpartition("/")[2], pid, ms(a.local.mtime_ns)))
        return mkdirs, {**results, **self.client.create_folders(items)}

    def _files(self, file_actions: list[Action], parent_id: Callable[[Action], str | None],
               lazy: _LazyFolders | None = None) -> None:
        """Files, in a worker pool: moves first (an edit of a moved file follows its move), then
        the rest; files that were empty at the scan in batches. With `lazy`, the wave's new
        folders go into the same pool, each just before the first task that needs it."""
        forget = [a.path for a in file_actions if a.kind is ActionKind.FORGET_LOCAL]
        if forget:
            self.db.mark_local_deleted(forget)
        self.db.record_inodes((a.path, a.local.ino) for a in file_actions
                              if a.kind is ActionKind.NOTE_INODE and a.local is not None)
        # Both changed and Drive's copy is later: the local file is now the one this row knows
        # (no conflict reported again for it; a rename of it is a move by ID).
        self.db.record_local_sides((a.path, a.local.size, a.local.mtime_ns, a.local.ino) for a in file_actions
                                   if a.kind is ActionKind.KEEP_DRIVE and a.conflict and a.local is not None
                                   and not a.local.is_dir)
        moves = [a for a in file_actions if a.kind is ActionKind.MOVE]
        # Files that were empty at the scan go in batches at the end, so their folders (those
        # no other file needs) are made together there, in one call, just before them.
        empties = [a for a in file_actions if a.kind is ActionKind.CREATE and a.local is not None and a.local.size == 0]
        rest = [a for a in file_actions if a.kind is not ActionKind.MOVE and not (
            a.kind is ActionKind.CREATE and a.local is not None and a.local.size == 0)]
        steps = folders_just_in_time(lazy.folders if lazy is not None else [], moves + rest)
        with ThreadPoolExecutor(max_workers=max(1, self.workers), thread_name_prefix="push") as pool:
            futures: list[Future] = []
            if moves:
                done: list[Future] = []  # the moves' (and their folders') tasks
                moved: list[Future] = []  # the moves' own, in the order of `moves`
                for chain, a in steps[:len(moves)]:
                    assert a is not None
                    if lazy is None:
                        moved.append(pool.submit(self._move_here, a, parent_id(a)))
                    else:
                        if chain:
                            done.append(lazy.submit(pool, self, chain, parent_id))
                        moved.append(pool.submit(self._when_placed, a, lazy.waits_for(a), lazy, parent_id,
                                                 self._move_here))
                raise_first_error(done + moved)
                not_moved = {a.path for a, f in zip(moves, moved) if not f.result()}
                steps = [(c, a) for c, a in steps[len(moves):] if a is None or a.path not in not_moved]
            for chain, a in steps:
                if chain:
                    assert lazy is not None
                    futures.append(lazy.submit(pool, self, chain, parent_id))
                if a is None or a.kind in (ActionKind.FORGET_LOCAL, ActionKind.NOTE_INODE):
                    continue
                if a.kind in (ActionKind.KEEP_DRIVE, ActionKind.SKIP):
                    self.report.count(a)
                    continue
                if lazy is None and parent_id(a) is None:
                    self.report.fail(a.path, "its parent folder could not be created")
                    continue
                waits = lazy.waits_for(a) if lazy is not None else []
                futures.append(pool.submit(self._when_placed, a, waits, lazy, parent_id,
                                           lambda a, pid: self.guard(a, lambda: self._file(a, pid))))
            if lazy is None:
                for a in [a for a in empties if parent_id(a) is None]:
                    self.report.fail(a.path, "its parent folder could not be created")
                empties = [a for a in empties if parent_id(a) is not None]
            for start in range(0, len(empties), EMPTY_BATCH):  # no media: metadata in batches
                group = empties[start:start + EMPTY_BATCH]
                waits = [f for a in group for f in (lazy.waits_for(a) if lazy is not None else [])]
                futures.append(pool.submit(self._empties_when_placed, group, waits, lazy, parent_id))
            raise_first_error(futures)  # run-ending (reauth, storage full, daily cap)

    def _placed_in(self, a: Action, waits: list[Future], lazy: _LazyFolders | None,
                   parent_id: Callable[[Action], str | None]) -> str | None:
        """The Drive ID of `a`'s parent folder once the task creating it (if any) is done; None,
        `a` reported, if it failed; None, quietly, if it was not made (out of time, run ending:
        the next push does both)."""
        if waits:
            wait(waits)
        if self._ending.is_set():
            return None
        pid = parent_id(a)
        if pid is None:
            self.report.fail(a.path, "its parent folder could not be created")
            return None
        if lazy is not None and not lazy.made(a.parent_path or ""):
            return None
        return pid

    def _when_placed(self, a: Action, waits: list[Future], lazy: _LazyFolders | None,
                     parent_id: Callable[[Action], str | None], run: Callable[[Action, str | None], T]) -> T | bool:
        """Run `run(a, parent ID)` once `a`'s parent folder is on Drive (False if it is not)."""
        pid = self._placed_in(a, waits, lazy, parent_id)
        if pid is None:
            return False
        return run(a, pid)

    def _empties_when_placed(self, group: list[Action], waits: list[Future], lazy: _LazyFolders | None,
                             parent_id: Callable[[Action], str | None]) -> None:
        """A batch of empty files, those whose folder is on Drive (see `_empty_batch`)."""
        if waits:
            wait(waits)
        placed = [(a, pid) for a in group if (pid := self._placed_in(a, [], lazy, parent_id)) is not None]
        if placed:
            self._unless_ending(self._empty_batch, placed)

    # -- guarding ------------------------------------------------------------------------------

    def guard(self, a: Action, fn: Callable[[], T]) -> T | None:
        """Run one action; per-file errors go to the summary (then None), run-ending ones propagate."""
        try:
            return self._unless_ending(fn)
        except RUN_ENDING:
            raise
        except FileNotFoundError:
            self.report.skip(a.path, "disappeared before it could be uploaded")
        except PermissionError as exc:
            self.report.fail(a.path, f"cannot read: {exc.strerror or exc}")
        except DriveApiError as exc:
            self.report.fail(a.path, str(exc))
        except OSError as exc:
            self.report.fail(a.path, f"{type(exc).__name__}: {exc.strerror or exc}")
        except Exception as exc:  # noqa: BLE001 - one file's surprise must not end the run
            log.exception("unexpected error on %s", display_path(a.path))
            self.report.fail(a.path, f"{type(exc).__name__}: {exc}")
        return None

    def _out_of_time(self) -> bool:
        """Whether the time budget is spent; if so the run is cut short (the hub's report says
        it continues next night, whatever was left: files, renames or trashes)."""
        if self.deadline is None or time.monotonic() < self.deadline:
            return False
        self.report.cut_short = True
        return True

    def _unless_ending(self, fn: Callable[..., T], *args: Any) -> T | None:
        """Run a pool task unless the run is ending; a run-ending error it raises ends it."""
        if self._ending.is_set() or self._out_of_time():
            return None  # out of time: not started, so neither sent nor recorded; the next push does it
        try:
            return fn(*args)
        except RUN_ENDING:
            self._ending.set()
            raise

    # -- empty files ---------------------------------------------------------------------------

    def _empty_batch(self, group: list[tuple[Action, str]]) -> None:
        """Create files that were empty at the scan in one batch request (metadata only).

        Each is stat'ed again first (safely, as an upload would open it): one that is no longer
        empty goes the normal way (an upload), one that is gone or unreadable is reported as an
        upload would report it. Drive gets the mtime seen now, and the state DB records what
        Drive confirmed, as for any create.
        """
        still_empty: list[tuple[Action, LocalEntry]] = []
        items: list[NewEmptyFile] = []
        grown: list[tuple[Action, str]] = []
        for a, pid in group:
            st = self.guard(a, lambda a=a: self._restat(a))
            if st is None:
                continue
            if st.st_size:
                grown.append((a, pid))
                continue
            assert a.drive_id is not None
            mtime_ns = clamp_mtime_ns(st.st_mtime_ns)  # as the scan sees it
            still_empty.append((a, LocalEntry(a.path, False, 0, mtime_ns, st.st_ino)))
            items.append(NewEmptyFile(a.drive_id, a.path.rpartition("/")[2], pid, ms(mtime_ns),
                                      mime_type_for(self.home / a.path)))
        if items:
            self.report.emit("uploading", still_empty[0][0].path)
            results = self._create_empties(items)
            refused = [a for a, _ in still_empty if id_refused(results.get(a.drive_id), a.drive_id)]
            if refused:  # fresh IDs for those, and one more batch (see id_supply)
                renewed = self.ids.renew(refused)
                by_id = {f.id: f for f in items}
                retry = [replace(by_id[a.drive_id], id=renewed[a.path].drive_id) for a in refused]
                still_empty = [(renewed.get(a.path, a), local) for a, local in still_empty]
                results.update(self._create_empties(retry))
            self._record_empties(still_empty, results)
        for a, pid in grown:
            self.guard(a, lambda a=a, pid=pid: self._file(a, pid))

    def _create_empties(self, items: list[NewEmptyFile]) -> dict[str, Any]:
        """One batch of empty-file creates: per ID the DriveFile or the error (run-ending ones raise)."""
        try:
            return self.client.create_empty_files(items)
        except RUN_ENDING:
            raise
        except Exception as exc:  # noqa: BLE001 - as guard does, for each file of the batch
            if not isinstance(exc, DriveApiError):
                log.exception("unexpected error creating %d empty files", len(items))
            return {f.id: exc for f in items}

    def _record_empties(self, created: list[tuple[Action, LocalEntry]], results: Mapping[str, Any]) -> None:
        """Record what the batch confirmed (one transaction), report what it did not."""
        rows: list[StateEntry] = []
        done: list[tuple[Action, LocalEntry]] = []
        for a, local in created:
            r = results.get(a.drive_id or "")
            if r is None:
                self.report.fail(a.path, "not created")
            elif isinstance(r, Exception):
                self.report.fail(a.path, str(r) if isinstance(r, DriveApiError) else f"{type(r).__name__}: {r}")
            else:
                rows.append(synced_row(a.path, r, local))
                done.append((a, local))
        self.db.record_synced_many(rows)
        self.report.files_confirmed(len(done))
        for a, _ in done:
            self.report.count(a)
        if done:
            self.report.emit("uploading", done[-1][0].path)
        for a, local in done:
            if self._changed_since(a.path, local):
                self.report.skip(a.path, "changed while it was being uploaded: Drive has the empty version seen "
                                         "then; the next push sends it again")

    def _restat(self, a: Action) -> os.stat_result | None:
        """The file's stat now, reached the way an upload reaches it (no symlink on the way);
        None, reported, if it is no longer a regular file beneath the home."""
        try:
            fh = open_beneath(self.home, a.path)
        except NotBeneath as exc:
            self.report.skip(a.path, exc.strerror or "no longer a regular file")
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
        return (st.st_size, clamp_mtime_ns(st.st_mtime_ns)) != (local.size, local.mtime_ns)

    # -- one action ----------------------------------------------------------------------------

    def _move_here(self, a: Action, parent_id: str | None) -> bool:
        """Carry out a MOVE (guarded: a failure is reported at its path); True once Drive confirmed it."""
        if parent_id is None:
            self.report.fail(a.path, "its new parent folder could not be created")
            return False
        return bool(self.guard(a, lambda: self._move(a, parent_id)))

    def _move(self, a: Action, parent_id: str) -> bool:
        """One metadata update by ID: the new name and parent, and the modifiedTime the item
        keeps; no bytes. The row (and a folder's rows below it) follow in one transaction."""
        old = self._before_moves[a.drive_id or ""]
        f = self.client.update_metadata(a.drive_id or "", name=a.path.rpartition("/")[2],
                                        move_from=a.source_parent_id or self.root_id, move_to=parent_id,
                                        modified_ms=a.modified_ms)
        self.db.record_move(a.source_path or "", moved_row(old, a, md5=f.md5, modified_ms=f.modified_ms,
                                                           head_revision=f.head_revision, trashed=f.trashed))
        self.report.count(a)
        return True

    def _folder_meta(self, a: Action) -> None:
        f = self.client.update_metadata(a.drive_id, modified_ms=ms(a.local.mtime_ns),
                                        trashed=False if a.untrash else None)
        self.db.record_synced(synced_row(a.path, f, a.local))
        self.report.count(a)

    def _file(self, a: Action, pid: str) -> None:
        self.report.emit("uploading", a.path)
        if a.kind not in UPLOADS:
            self._file_action(a, pid, None)
            return
        try:
            # never through a symlink, even one swapped in since the scan (see open_beneath)
            source = open_beneath(self.home, a.path)
        except NotBeneath as exc:
            self.report.skip(a.path, exc.strerror or "no longer a regular file")
            return
        with source:
            before = os.fstat(source.fileno())
            if not self._file_action(a, pid, source):
                return
            after = os.fstat(source.fileno())
        if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns):
            # Drive has what was read then (a prefix, for a growing log); the state DB keeps the
            # scan's size and time, so the next push sends the file again.
            self.report.skip(a.path, "changed while it was being uploaded: Drive has the version read then; "
                                     "the next push sends it again")

    def _file_action(self, a: Action, pid: str, source: BinaryIO | None) -> bool:
        """Do one file action (reading content from `source`); True once Drive confirmed it."""
        local = a.local
        assert local is not None and a.drive_id is not None
        client = self.client
        abs_path = self.home / a.path
        progress = self.report.byte_counter()
        mtime_ms = ms(local.mtime_ns)
        # A big upload's session is kept in the state DB under the version actually read, so a
        # run killed mid-upload is continued by the next one (only used above multipart size).
        st = os.fstat(source.fileno()) if source is not None else None
        resume = self.db.resume_slot(a.path, a.drive_id, *resume_key(st, local))
        f: DriveFile
        if a.kind is ActionKind.CREATE:
            def create(file_id: str, resume: ResumeSlot) -> DriveFile:
                return client.create_file(file_id=file_id, name=a.path.rpartition("/")[2], parent_id=pid,
                                          local_path=abs_path, size=local.size, modified_ms=mtime_ms,
                                          progress=progress, source=source, resume=resume)
            try:
                f = create(a.drive_id, resume)
            except DriveApiError as exc:
                if not id_refused(exc, a.drive_id):
                    raise
                fresh = self.ids.renew([a])[a.path]  # Drive will never take that ID: a new one, once
                assert fresh.drive_id is not None
                f = create(fresh.drive_id, self.db.resume_slot(a.path, fresh.drive_id, *resume_key(st, local)))
            row = synced_row(a.path, f, local)
        elif a.kind is ActionKind.UPDATE_CONTENT:
            if a.pin_revision:
                client.pin_revision(a.drive_id, a.pin_revision)
            f = client.update_content(a.drive_id, abs_path, local.size, mtime_ms, untrash=a.untrash, progress=progress,
                                      source=source, resume=resume)
            row = synced_row(a.path, f, local)
        elif a.kind is ActionKind.UPDATE_MTIME:
            f = client.update_metadata(a.drive_id, modified_ms=mtime_ms, trashed=False if a.untrash else None)
            old = self.state.get(a.path)
            row = synced_row(a.path, f, local, md5=old.md5 if old is not None else None)
        else:
            return False
        self.db.record_synced(row)
        self.report.files_confirmed(1, local.size if a.kind in UPLOADS else 0)
        self.report.count(a)
        self.report.emit("uploading", a.path)
        return True

    def _trash(self, a: Action, *, replaced: bool = False) -> bool:
        try:
            self.client.update_metadata(a.drive_id, trashed=True)
        except NotFound:
            pass  # never created, or already gone: the goal is reached
        if replaced:  # in the trash with its subtree: no path of the home maps to those rows any more
            old = next((r for r in self.state.entries() if r.drive_id == a.drive_id), None)
            if old is not None:
                self.db.forget([old.path], recursive=old.is_dir)
            self.report.count(a)
            return True
        current = self.db.get(a.path)
        if current is not None and current.drive_id == a.drive_id:  # not a kind change: the row is still ours
            self.db.mark_drive_trashed(a.drive_id, local_deleted=True)
        old = self.state.get(a.path)
        if old is not None and old.is_dir and old.drive_id == a.drive_id:
            prefix = a.path + "/"
            self.db.mark_local_deleted([p for p in self.state if p.startswith(prefix)])
        self.report.count(a)
        return True


class _LazyFolders:
    """A wave's new folders under the work-first order, each created by a pool task just before
    the first task that needs it (`plan_order.folders_just_in_time`): one write per folder as
    before, a folder's task waiting for its parent's, so parents still come first."""

    def __init__(self, folders: list[Action], folder_ids: dict[str, str], failed: set[str]) -> None:
        self.folders = folders
        self.folder_ids = folder_ids
        self.paths = {a.path for a in folders}
        self.failed = failed
        self._tasks: dict[str, Future] = {}  # folder path -> the task creating it
        self._made: set[str] = set()
        for a in folders:
            folder_ids[a.path] = a.drive_id  # pending IDs: known before the folders exist

    def made(self, path: str) -> bool:
        """Whether the folder at `path` is on Drive as far as this wave knows (not one of its
        new folders, or created by now)."""
        return path not in self.paths or path in self._made

    def waits_for(self, a: Action) -> list[Future]:
        """The task that creates `a`'s parent folder, if it is one of the wave's new ones."""
        task = self._tasks.get(a.parent_path or "")
        return [task] if task is not None else []

    def submit(self, pool: ThreadPoolExecutor, ex: Executor, chain: list[Action],
               parent_id: Callable[[Action], str | None]) -> Future:
        """Queue the creation of `chain` (parents first), after the tasks making their parents.
        Tasks only ever wait for tasks queued before them, so the pool cannot deadlock."""
        inside = {a.path for a in chain}
        waits = list({id(t): t for a in chain if (a.parent_path or "") not in inside
                      for t in self.waits_for(a)}.values())
        task = pool.submit(self._create, ex, chain, waits, parent_id)
        for a in chain:
            self._tasks[a.path] = task
        return task

    def _create(self, ex: Executor, chain: list[Action], waits: list[Future],
                parent_id: Callable[[Action], str | None]) -> None:
        if waits:
            wait(waits)
        ex.report.emit("uploading", chain[0].path, force=False)

        def create() -> bool:
            ex._mkdirs(chain, self.folder_ids, self.failed, parent_id)
            return True

        if ex._unless_ending(create):  # not started when out of time or ending: nothing made
            self._made.update(a.path for a in chain if a.path not in self.failed)
