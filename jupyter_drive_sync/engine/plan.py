"""Decide what a push must do: a pure function of (scan, state DB rows, hashes, policy).

No I/O at all, so every row of the last-write-wins table (docs/ARCHITECTURE.md) is unit-tested.
The state DB's rows come in as a `PlanState`, already in memory: the push reads what planning
needs in one pass first (`rows_planning_reads` says which rows), so planning runs no queries.
Vocabulary:

- local side of a file: *unchanged* (same size and mtime as the state row; if its inode is
  another row's, the md5 must agree too), *touched* (only the mtime moved: its md5 equals the
  row's), or *changed* (anything else, including a file that reappears at a path recorded as
  deleted and cannot be shown identical).
- local renames and moves are found first (`plan_moves`): one MOVE by ID each, and planning
  goes on with the rows at their new paths (`plan_rows.after_moves`).
- Drive side: *removed* (deleted for good, or inside a removed folder), *trashed* (the row
  itself is in Drive's trash), *in a trashed folder*, *edited* (Drive's md5 or modifiedTime
  differs from what we last wrote), or *unchanged*. Folders only have removed/trashed.

A touch alone never overrides a Drive-side edit, trash or deletion: only a content change is a
"later write" in the last-write-wins sense. Under `local-wins` Drive is made a strict mirror.

A path that changes kind (file <-> folder) gets one live item on Drive, the new one: under
`keep` the old item is renamed beside it (`aside_path`, a MOVE with no local entry), under
`trash` it is trashed; the executor does either before the new item's ID takes the path. A file
or folder back at a path whose row is marked deleted here is a local write later than the
removal of its Drive copy: out of the trash by ID, or created again.

Ordering of the result: the set-aside renames, folder actions parents-first (by depth), then
file actions, then trashes; each group sorted by path (a MOVE first at its path), so the plan
is deterministic.
"""

from __future__ import annotations

from typing import Iterable, Mapping

from ..core.model import (
    Action,
    ActionKind,
    DeletePolicy,
    EntryStatus,
    LocalEntry,
    Plan,
    Policy,
    Snapshot,
    StateEntry,
    ns_to_ms,
)
from .plan_aside import aside_move, aside_path
from .plan_drive_state import ALIVE as _ALIVE, REMOVED as _REMOVED, TRASHED as _TRASHED, live_after_push
from .plan_drive_state import own_state as _own_state
from .plan_moves import MoveFinder, parent_of, swapped_inodes
from .plan_rows import CleanKey, PlanRows, PlanState, after_moves, as_plan_state

__all__ = ["CleanKey", "PlanRows", "PlanState", "after_moves", "aside_path", "parent_of", "paths_to_hash", "plan",
           "rows_planning_reads"]


_WRITES = frozenset({ActionKind.MKDIR, ActionKind.CREATE, ActionKind.UPDATE_CONTENT, ActionKind.UPDATE_MTIME,
                     ActionKind.MOVE})


def _fast_path_allowed(rows: Iterable[StateEntry]) -> bool:
    """Whether an untouched clean file may be passed over unread: not when some folder is
    trashed or removed on Drive (then every file below a folder needs `plan_file`'s ancestor
    check). `rows`: the non-clean rows (every folder is among them)."""
    return all(not row.is_dir or _own_state(row) == _ALIVE for row in rows)


def rows_planning_reads(snapshot: Snapshot, clean: Mapping[str, CleanKey],
                        other_rows: Iterable[StateEntry]) -> set[str] | None:
    """The clean rows planning will read, so the push can fetch them in one pass beforehand:
    files changed since (the clean key differs from the scan's entry) or gone locally. None
    means every row (see `_fast_path_allowed`)."""
    if not _fast_path_allowed(other_rows):
        return None
    entries = snapshot.entries
    changed = {p for p, e in entries.items() if p in clean and clean[p] != e}
    changed.update(p for p in clean if p not in entries)
    return changed


def paths_to_hash(snapshot: Snapshot, state: PlanState | Mapping[str, StateEntry], *, root_path: str = "") -> set[str]:
    """Files whose md5 planning wants besides `home.scan.hash_candidates`' (same size, other
    mtime): a new file that may be a gone one moved (`MoveFinder.wishes`), and a file whose inode
    is another row's although its size and mtime did not change (two names swapped)."""
    p = _Planner(snapshot, as_plan_state(state), {}, Policy.LAST_WRITE_WINS, DeletePolicy.KEEP, root_path)
    swapped = swapped_inodes(snapshot, p.state)
    p.find_moves()
    return p.move_finder().wishes | swapped


class _Planner:
    def __init__(
        self,
        snapshot: Snapshot,
        state: PlanState,
        hashes: Mapping[str, str],
        policy: Policy,
        delete_policy: DeletePolicy,
        root_path: str,
    ) -> None:
        self.snap = snapshot
        self.state = state
        self.hashes = hashes
        self.local_wins = policy is Policy.LOCAL_WINS
        self.trash_deleted = delete_policy is DeletePolicy.TRASH
        self.root = root_path.strip("/")
        self.actions: dict[str, Action] = {}  # by path; a kind-change TRASH is kept aside
        self.replaced_trash: list[Action] = []
        self.replaced: set[str] = set()  # paths whose local kind differs from the row's
        self.need_alive: set[str] = set()  # folders that must exist (untrashed) on Drive
        self.unchanged = 0
        self._anc_memo: dict[str, int] = {}
        self.moves: list[Action] = []
        self.asides: list[Action] = []  # replaced items renamed aside (`_set_aside`): first of all
        self.aside_taken: set[str] = set()
        self._finder: MoveFinder | None = None

    # -- helpers -----------------------------------------------------------------------------

    def in_scope(self, path: str) -> bool:
        if not path:
            return False
        r = self.root
        return not r or path == r or path.startswith(r + "/")

    def ancestors_state(self, folder: str) -> int:
        """Drive state implied for children of `folder` by it and its ancestors (memoized)."""
        memo = self._anc_memo
        if folder in memo:
            return memo[folder]
        if not folder:
            memo[folder] = _ALIVE
            return _ALIVE
        row = self.state.get(folder)
        own = _own_state(row) if row is not None and row.is_dir else _ALIVE
        result = max(own, self.ancestors_state(parent_of(folder)))
        memo[folder] = result
        return result

    def add(self, kind: ActionKind, path: str, **kw: object) -> None:
        entry = self.snap.entries.get(path)
        self.actions[path] = Action(kind, path, parent_path=parent_of(path), local=entry, **kw)  # type: ignore[arg-type]
        if kind in _WRITES:
            parent = parent_of(path)
            if parent and self.in_scope(parent):
                self.need_alive.add(parent)

    # -- local entries -----------------------------------------------------------------------

    def plan_entry(self, e: LocalEntry) -> None:
        path = e.path
        row = self.state.get(path)
        create = ActionKind.MKDIR if e.is_dir else ActionKind.CREATE
        if row is None:
            self.add(create, path, reason="new")
        elif row.is_dir != e.is_dir:
            self.replaced.add(path)
            what = "file" if row.is_dir else "folder"
            self.add(create, path, reason=f"new {what} replacing a {'folder' if row.is_dir else 'file'}")
        elif row.status is EntryStatus.PENDING:
            self.add(create, path, drive_id=row.drive_id, reason="create not yet confirmed")
        elif e.is_dir:
            self.plan_folder(e, row)
        else:
            self.plan_file(e, row)

    def plan_folder(self, e: LocalEntry, row: StateEntry) -> None:
        path = e.path
        own = _own_state(row)
        removed = own == _REMOVED or self.ancestors_state(parent_of(path)) == _REMOVED
        if row.local_deleted or self.local_wins:
            if removed:
                self.add(ActionKind.MKDIR, path, reason="deleted on Drive; recreated")
            elif own == _TRASHED:
                self.add(ActionKind.UPDATE_MTIME, path, drive_id=row.drive_id, untrash=True,
                         reason="restored from Drive's trash")
            elif row.local_deleted:
                self.add(ActionKind.UPDATE_MTIME, path, drive_id=row.drive_id, reason="back locally")
        elif own == _REMOVED:
            self.add(ActionKind.KEEP_DRIVE, path, drive_id=row.drive_id, reason="deleted on Drive")
        elif own == _TRASHED:
            self.add(ActionKind.KEEP_DRIVE, path, drive_id=row.drive_id, reason="in Drive's trash")
        if path not in self.actions and e.ino and e.ino != row.local_ino:  # for its moves to come
            self.add(ActionKind.NOTE_INODE, path, drive_id=row.drive_id, reason="inode noted")

    def plan_file(self, e: LocalEntry, row: StateEntry) -> None:
        path = e.path
        note_inode = False  # unchanged, but its inode is new to the row
        if e.size == row.local_size and e.mtime_ns == row.local_mtime_ns and not row.local_deleted:
            h = self.hashes.get(path) if e.ino != row.local_ino else None
            local = "changed" if h is not None and row.md5 is not None and h != row.md5 else "unchanged"
            note_inode = bool(e.ino) and e.ino != row.local_ino and local == "unchanged"
        elif row.md5 is not None and self.hashes.get(path) == row.md5:
            local = "touched"
        else:
            local = "changed"
        own = _own_state(row)
        anc = self.ancestors_state(parent_of(path))
        removed = own == _REMOVED or anc == _REMOVED
        trashed = own == _TRASHED
        content_edited = row.drive_md5 != row.md5
        edited = content_edited or row.drive_modified_ms != ns_to_ms(row.local_mtime_ns)
        pin = row.drive_head_revision if content_edited else None
        did = row.drive_id
        K = ActionKind

        # Back at a path the row records as deleted here: the return is a local write later
        # than whatever removed the Drive copy (our own `--delete trash`, or the student on
        # Drive while the file was gone), so the backup takes the file again.
        back = row.local_deleted

        if removed:
            if self.local_wins or local == "changed" or back:
                self.add(K.CREATE, path, reason="back locally; deleted on Drive, recreated" if back and
                         local != "changed" else "deleted on Drive; recreated")
            elif own == _REMOVED:
                self.add(K.KEEP_DRIVE, path, drive_id=did, reason="deleted on Drive")
            return

        if self.local_wins:
            if local == "unchanged" and not edited and not trashed:
                self.unchanged += 1
                if note_inode:
                    self.add(K.NOTE_INODE, path, drive_id=did, reason="inode noted")
            elif local != "changed" and not content_edited:
                self.add(K.UPDATE_MTIME, path, drive_id=did, untrash=trashed,
                         reason="restored from Drive's trash" if trashed else "modified time")
            else:
                self.add(K.UPDATE_CONTENT, path, drive_id=did, pin_revision=pin, untrash=trashed,
                         conflict=local == "changed" and edited,
                         reason="Drive's edit overwritten (local-wins)" if edited else "changed")
            return

        if local == "changed":
            if trashed:
                self.add(K.UPDATE_CONTENT, path, drive_id=did, untrash=True, pin_revision=pin, conflict=edited,
                         reason="changed locally after it was trashed on Drive")
            elif edited:
                if ns_to_ms(e.mtime_ns) >= row.drive_modified_ms:
                    # as late (times past 2262 clamp to one end, say): neither is later, so both
                    # are kept, Drive's as a pinned revision; keeping Drive's alone would leave
                    # the local work out of the backup until it changes again
                    self.add(K.UPDATE_CONTENT, path, drive_id=did, pin_revision=pin, conflict=True,
                             reason="both changed; the local copy is later or as late (Drive's revision kept)")
                else:
                    self.add(K.KEEP_DRIVE, path, drive_id=did, conflict=True,
                             reason="both changed; the Drive copy is later")
            else:
                self.add(K.UPDATE_CONTENT, path, drive_id=did, reason="changed")
            return

        if back and (trashed or anc == _TRASHED):
            if content_edited:  # Drive's other version is kept forever, the returned file backed up
                self.add(K.UPDATE_CONTENT, path, drive_id=did, untrash=trashed, pin_revision=pin, conflict=True,
                         reason="back locally; Drive's trashed copy differs (its revision kept)")
            else:  # the same content: one metadata update, no bytes (a trashed folder is revived first)
                self.add(K.UPDATE_MTIME, path, drive_id=did, untrash=trashed, reason="back locally; out of the trash")
            return

        # local unchanged or only touched: Drive's own changes are the later write
        if trashed:
            self.add(K.KEEP_DRIVE, path, drive_id=did, reason="in Drive's trash")
        elif anc == _TRASHED:
            pass  # respected silently: the trashed folder is reported
        elif edited:
            self.add(K.KEEP_DRIVE, path, drive_id=did, reason="edited on Drive")
        elif local == "touched":
            self.add(K.UPDATE_MTIME, path, drive_id=did, reason="modified time only (same content)")
        else:
            self.unchanged += 1
            if note_inode:
                self.add(K.NOTE_INODE, path, drive_id=did, reason="inode noted")

    # -- local renames and moves (plan_moves) ------------------------------------------------

    def move_finder(self) -> MoveFinder:
        if self._finder is None:
            # what a symlink or special file stands on is not here: it may be a move's source
            protected = {s.path for s in self.snap.skipped if not s.other_kind}
            protected.update(self.snap.excluded)
            self._finder = MoveFinder(
                self.snap, self.state, in_scope=self.in_scope,
                protected=lambda p: bool(protected) and self._under(p, protected),
                alive=lambda r: _own_state(r) == _ALIVE and self.ancestors_state(parent_of(r.path)) == _ALIVE)
        return self._finder

    def find_moves(self) -> list[Action] | None:
        """The MOVE actions; planning then goes on with the rows as they leave them."""
        moves = self.move_finder().run(self.hashes)
        if not moves:
            return None
        for a in moves:  # onto a file deleted here whose Drive copy is kept: that copy goes aside
            row = self.state.get(a.path)
            if row is not None and row.local_deleted and row.drive_id != a.drive_id:
                self._set_aside(a.path, row, label="deleted")
        self.moves = moves
        self.state = after_moves(self.state, moves)
        self._anc_memo.clear()
        for a in moves:
            if a.parent_path and self.in_scope(a.parent_path):
                self.need_alive.add(a.parent_path)
        return moves

    # -- parents that must exist -------------------------------------------------------------

    def revive_parents(self) -> None:
        """Every folder above a write must exist on Drive: untrash or recreate it first."""
        done: set[str] = set()
        todo = sorted(self.need_alive, key=lambda p: (p.count("/"), p))
        for folder in todo:
            p = folder
            chain: list[str] = []
            while p and p not in done and self.in_scope(p):
                chain.append(p)
                p = parent_of(p)
            for f in reversed(chain):  # top-down
                done.add(f)
                current = self.actions.get(f)
                if current is not None and current.kind in _WRITES:
                    continue
                row = self.state.get(f)
                if row is None or not row.is_dir or row.status is EntryStatus.PENDING:
                    continue  # a new or pending folder already has its MKDIR
                if _own_state(row) == _REMOVED or self.ancestors_state(parent_of(f)) == _REMOVED:
                    self.add(ActionKind.MKDIR, f, reason="deleted on Drive; recreated for new content")
                elif _own_state(row) == _TRASHED:
                    self.add(ActionKind.UPDATE_MTIME, f, drive_id=row.drive_id, untrash=True,
                             reason="restored from Drive's trash for new content")

    # -- local deletions ---------------------------------------------------------------------

    def plan_deletions(self) -> None:
        entries = self.snap.entries
        protected = {s.path for s in self.snap.skipped}
        protected.update(self.snap.excluded)
        gone: dict[str, StateEntry] = {}
        replaced = self.replaced
        state = self.state
        for path in state:  # paths first: a row still present locally is never built
            if path in entries and path not in replaced:
                continue
            row = state.get(path)
            # a deletion kept on Drive is done with, unless the path now holds the other kind:
            # then that kept item is set aside (or trashed) too, so the path gets one live item
            if row is None or not self.in_scope(path) or (row.local_deleted and path not in replaced):
                continue
            if protected and self._under(path, protected):
                continue  # not seen this run (refused or excluded): not a deletion
            gone[path] = row
        asides: set[str] = set()  # replaced folders set aside under `keep`: their rows go along
        for path in sorted(gone):
            row = gone[path]
            replaced = path in self.replaced
            if not self.trash_deleted:
                if replaced:
                    if self._set_aside(path, row):
                        asides.add(path)
                elif not self._under_strict(path, asides):
                    self.add(ActionKind.FORGET_LOCAL, path, drive_id=row.drive_id, reason="deleted locally; Drive copy kept")
                continue
            if not self.live_after_push(row):
                if not replaced:
                    self.add(ActionKind.FORGET_LOCAL, path, drive_id=row.drive_id,
                             reason="deleted locally; already gone from Drive")
                continue
            if self._under_strict(path, gone):
                continue  # the top-most deleted folder's trash covers it
            reason = "replaced locally by a " + ("file" if row.is_dir else "folder") if replaced else "deleted locally"
            if row.status is EntryStatus.PENDING:
                reason += " (its create was never confirmed)"
            trash = Action(ActionKind.TRASH, path, drive_id=row.drive_id, parent_path=parent_of(path), reason=reason)
            if replaced:
                self.replaced_trash.append(trash)
            else:
                self.actions[path] = trash

    def _set_aside(self, path: str, row: StateEntry, label: str | None = None) -> bool:
        """Under `keep`, the Drive item of a path the home now holds as the other kind, or a
        deleted file's kept copy where another file moves, is renamed beside it (`plan_aside`).
        False when nothing of ours will be live there (trashed or removed on Drive)."""
        if not self.live_after_push(row):
            return False
        parent = self.state.get(parent_of(path)) if parent_of(path) else None
        a = aside_move(path, row, parent, self._taken, label)
        self.aside_taken.add(a.path)
        self.asides.append(a)
        return True

    def live_after_push(self, row: StateEntry) -> bool:
        """`row`'s Drive item is, or may be, live after this push (`plan_drive_state`): planned
        after `revive_parents`, whose untrash actions bring back what a trashed folder held."""
        return live_after_push(row, self.state.get, lambda f: bool((a := self.actions.get(f)) and a.untrash))

    def _taken(self, path: str) -> bool:
        return path in self.state or path in self.snap.entries or path in self.aside_taken

    @staticmethod
    def _under(path: str, prefixes: set[str] | Mapping[str, object]) -> bool:
        p = path
        while p:
            if p in prefixes:
                return True
            p = parent_of(p)
        return False

    @staticmethod
    def _under_strict(path: str, prefixes: Mapping[str, object]) -> bool:
        p = parent_of(path)
        while p:
            if p in prefixes:
                return True
            p = parent_of(p)
        return False

    # -- result ------------------------------------------------------------------------------

    def clean_keys(self) -> Mapping[str, CleanKey]:
        """Rows in sync on both sides whose unchanged local file needs nothing (see
        `_fast_path_allowed`; empty when the slow path must look at every file)."""
        clean = self.state.clean
        if not clean or not _fast_path_allowed(self.state.entries()):
            return {}
        return clean

    def run(self) -> Plan:
        self.find_moves()
        in_scope = self.in_scope
        clean_get = self.clean_keys().get
        scoped = bool(self.root)
        unchanged = 0
        for path, e in self.snap.entries.items():
            if clean_get(path) == e:  # untouched file, Drive side as we left it: nothing to do
                if not scoped or in_scope(path):
                    unchanged += 1
                continue
            if in_scope(path):
                self.plan_entry(e)
        self.unchanged += unchanged
        self.revive_parents()
        self.plan_deletions()

        folders: list[Action] = []
        files: list[Action] = []
        trashes: list[Action] = list(self.replaced_trash)
        for a in [*self.moves, *self.actions.values()]:
            if a.kind is ActionKind.TRASH:
                trashes.append(a)
            elif a.kind in _WRITES and (a.local.is_dir if a.local is not None else False):
                folders.append(a)
            else:
                files.append(a)
        # a move before anything else at its path (an edit of a moved file follows its move)
        folders.sort(key=lambda a: (a.path.count("/"), a.path, a.kind is not ActionKind.MOVE))
        files.sort(key=lambda a: (a.path, a.kind is not ActionKind.MOVE))
        trashes.sort(key=lambda a: a.path)
        return Plan(actions=self.asides + folders + files + trashes, unchanged=self.unchanged)


def plan(
    snapshot: Snapshot,
    state: PlanState | Mapping[str, StateEntry],
    hashes: Mapping[str, str],
    *,
    policy: Policy = Policy.LAST_WRITE_WINS,
    delete_policy: DeletePolicy = DeletePolicy.KEEP,
    root_path: str = "",
) -> Plan:
    """The ordered actions that bring Drive up to date with `snapshot`.

    `state` is the state DB's rows (drive_* columns already updated from Drive's changes
    feed): a PlanState, or a plain mapping by path; `hashes` the md5 of files that may only
    have been touched (see `scan.hash_candidates`). `root_path` limits planning to that
    subtree ("" = the whole home).

    Actions that create get `drive_id=None` when a new Drive ID is needed (push generates
    and records it as pending first), or the pending ID to create again. A TRASH of a folder
    covers everything below it: push marks those rows deleted too.
    """
    return _Planner(snapshot, as_plan_state(state), hashes, policy, delete_policy, root_path).run()
