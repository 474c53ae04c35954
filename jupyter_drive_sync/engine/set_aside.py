"""Taking our Drive items off a path before a push writes something else there.

An item of ours at a path this push creates anew (a file replaced by a folder of its name, or
back; a deleted file Drive keeps, with another file moved onto its path) is first set aside
(`keep`: renamed beside it, see `plan_aside`) or trashed (`trash`), before the new ID
takes the path's row: so a kill at any moment never leaves two live items at one path, nor one
the state DB forgot. Plain trashes (`--delete trash`) go through `_trash` too.
"""

from __future__ import annotations

import os
from dataclasses import replace

from ..core.model import Action, ActionKind, StateEntry
from ..drive.errors import NotFound
from .executor_base import ExecutorBase
from .plan_aside import aside_path


class SetAside(ExecutorBase):
    """The executor's steps that take an item of ours off its path: set aside or trashed."""

    def _clear_the_way(self, actions: list[Action]) -> list[Action]:
        """An item of ours at a path this push creates anew (a file replaced by a folder of its
        name, or back) is first set aside (`keep`: renamed, see `plan_aside`) or trashed
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
        if not self._stopping():  # else not started, or nothing after it would be: left for the next push
            for path in sorted(blocked):
                self.report.fail(path, "the Drive item it replaces could not be set aside: not backed up this time")
        firsts = {id(a) for a in first}
        return [a for a in actions if id(a) not in firsts and not (
            (a.kind in (ActionKind.MKDIR, ActionKind.CREATE) or (a.kind is ActionKind.MOVE and a.local is not None))
            and a.path in blocked)]

    def _free_aside_name(self, a: Action, was_dir: bool) -> Action:
        """`a` with a name nothing else holds in its Drive folder: planning knew only this
        home's items, and another client (Colab, the student) may have named a file that way.
        One `files.list` per name tried; names are not unique on Drive, so this is our check."""
        parent_id = a.source_parent_id or self.root_id

        def taken(path: str) -> bool:
            if path != a.path and (self.db.get(path) is not None or os.path.lexists(self.home / path)):
                return True  # planning's own checks, for a name it did not pick
            return any(f.id != a.drive_id for f in self.client.find_named(path.rpartition("/")[2], parent_id))

        path = aside_path(a.source_path or a.path, was_dir, taken, a.aside_label)
        return a if path == a.path else replace(a, path=path)

    def _row_of(self, a: Action) -> StateEntry | None:
        """The row planning saw for `a`'s Drive item: at the path it leaves (or holds), else by ID."""
        for path in (a.source_path, a.path):
            row = self.state.get(path) if path else None
            if row is not None and row.drive_id == a.drive_id:
                return row
        return next((r for r in self.state.entries() if r.drive_id == a.drive_id), None)

    def _set_aside(self, a: Action) -> bool:
        """Rename a replaced item beside its path, keeping its modifiedTime; its row (and a
        folder's rows, marked deleted here) follow it. Gone from Drive already: nothing to keep."""
        old = self._row_of(a)
        if old is None:
            return True
        a = self._free_aside_name(a, old.is_dir)
        try:
            f = self.client.update_metadata(a.drive_id or "", name=a.path.rpartition("/")[2],
                                            modified_ms=a.modified_ms)
        except NotFound:
            self.db.forget([old.path], recursive=old.is_dir)
            return True
        self._record_moved(old.path, old, a, f)
        if old.is_dir:
            self.db.mark_local_deleted([a.path], recursive=True)
        self.report.count(a)
        return True

    def _trash(self, a: Action, *, replaced: bool = False) -> bool:
        try:
            self.client.update_metadata(a.drive_id, trashed=True)
        except NotFound:
            pass  # never created, or already gone: the goal is reached
        if replaced:  # in the trash with its subtree: no path of the home maps to those rows any more
            old = self._row_of(a)
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
