"""Carry out a push's planned actions on Drive, recording each result as soon as Drive confirms it.

Order: first our items that must leave a path this push writes anew are set aside or trashed
(`set_aside`), then fresh IDs for everything new (recorded as *pending* before any create, so a
retry or a rerun creates with the same ID and never a second copy), then folders (untrash top-down,
creates in batches; with local renames, moves and creates depth by depth), then files in a
bounded worker pool (moves first, then the rest; empty files in batches), then trashes. A move
is one metadata update by ID, recorded at once with the rows below a folder following it, so
from then on every action sees the rows at their new paths (`plan.after_moves`). Under the
"work-first" order (`plan_order`) folders and files run in two waves: notebooks, code and text
(with the folders they need) first, then the remaining folders and the data and media; and
within a wave each new folder is created by a pool task queued just before the first file
that needs it (`LazyFolders`), so the first notebook is on Drive after its own folders, not
after all of them. Still one write per folder, parents before children, pending IDs first.

Per-file problems go to the summary; a run-ending error (the user must reconnect, Drive full,
the daily cap) stops every task still queued or already handed to a worker.
"""

from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from typing import Any, BinaryIO, Callable

from ..core.model import Action, ActionKind, StateEntry, ns_to_ms
from ..drive.errors import DriveApiError
from ..drive.types import DriveFile, NewFolder, ResumeSlot
from .empty_files import EMPTY_BATCH, EmptyFileBatches
from .executor_base import T, resume_key, synced_row
from .id_supply import id_refused
from .lazy_folders import LazyFolders
from .plan import after_moves
from .plan_order import PATH_ORDER, folders_just_in_time, waves
from .pool import raise_first_error
from .set_aside import SetAside

UPLOADS = (ActionKind.CREATE, ActionKind.UPDATE_CONTENT)  # the actions that send content


def new_folder(a: Action, parent_id: str) -> NewFolder:
    """The create request for MKDIR `a` (its pending ID, its name, the local folder's mtime)."""
    assert a.local is not None and a.drive_id is not None
    return NewFolder(a.drive_id, a.path.rpartition("/")[2], parent_id, ns_to_ms(a.local.mtime_ns))


class Executor(SetAside, EmptyFileBatches):
    """One push's execution, in order (see the module's docstring)."""

    def execute(self, root_id: str, actions: list[Action]) -> None:
        self.root_id = root_id
        actions = self._assign_ids(self._clear_the_way(actions))
        moves = [a for a in actions if a.kind is ActionKind.MOVE]
        if moves:  # the moved rows as planned, by Drive ID; then every row as the moves leave them
            moving = {a.drive_id for a in moves}
            self._before_moves = {r.drive_id: r for r in self.state.rows.values() if r.drive_id in moving}
            self.state = after_moves(self.state, moves)
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
            lazy: LazyFolders | None = None
            if self.order != PATH_ORDER and not any(a.kind is ActionKind.MOVE for a in folder_actions):
                # work-first, no folder moving: each new folder just before what needs it
                lazy = LazyFolders([a for a in folder_actions if a.kind is ActionKind.MKDIR], folder_ids,
                                   failed_folders, lambda chain: self._folders_now(chain, folder_ids, failed_folders,
                                                                                   parent_id))
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
                if a.kind is ActionKind.MOVE and not self._move_here(a, parent_id(a)) and not self._stopping():
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
            items.append(new_folder(a, pid))
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

    def _folders_now(self, chain: list[Action], folder_ids: dict[str, str], failed_folders: set[str],
                     parent_id: Callable[[Action], str | None]) -> bool:
        """Create a chain of a wave's new folders now (see lazy_folders); False, nothing made,
        when out of time or the run is ending."""
        self.report.emit("uploading", chain[0].path, force=False)

        def create() -> bool:
            self._mkdirs(chain, folder_ids, failed_folders, parent_id)
            return True

        return bool(self._unless_ending(create))

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
                items.append(new_folder(a, pid))
        return mkdirs, {**results, **self.client.create_folders(items)}

    def _files(self, file_actions: list[Action], parent_id: Callable[[Action], str | None],
               lazy: LazyFolders | None = None) -> None:
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
                            done.append(lazy.submit(pool, chain))
                        moved.append(pool.submit(self._when_placed, a, lazy.waits_for(a), lazy, parent_id,
                                                 self._move_here))
                raise_first_error(done + moved)
                not_moved = {a.path for a, f in zip(moves, moved) if not f.result()}
                steps = [(c, a) for c, a in steps[len(moves):] if a is None or a.path not in not_moved]
            for chain, a in steps:
                if chain:
                    assert lazy is not None
                    futures.append(lazy.submit(pool, chain))
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

    def _when_placed(self, a: Action, waits: list[Future], lazy: LazyFolders | None,
                     parent_id: Callable[[Action], str | None], run: Callable[[Action, str | None], T]) -> T | bool:
        """Run `run(a, parent ID)` once `a`'s parent folder is on Drive (False if it is not)."""
        pid = self._placed_in(a, waits, lazy, parent_id)
        if pid is None:
            return False
        return run(a, pid)

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
        self._record_moved(a.source_path or "", old, a, f)
        self.report.count(a)
        return True

    def _folder_meta(self, a: Action) -> None:
        f = self.client.update_metadata(a.drive_id, modified_ms=ns_to_ms(a.local.mtime_ns),
                                        trashed=False if a.untrash else None)
        self.db.record_synced(synced_row(a.path, f, a.local))
        self.report.count(a)

    def _file(self, a: Action, pid: str) -> None:
        self.report.emit("uploading", a.path)
        if a.kind not in UPLOADS:
            self._file_action(a, pid, None)
            return
        source = self._open_source(a)
        if source is None:
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
        mtime_ms = ns_to_ms(local.mtime_ns)
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

