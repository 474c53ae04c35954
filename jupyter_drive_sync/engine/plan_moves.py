"""Local renames and moves, found before planning: pure like `plan` (core only, no I/O).

A path gone since the last push and a new path that holds the same item are one item that
moved. Identity: for a file, the same inode and size (a rename or move keeps both), or the same
size and md5 (a copy then a delete, a move across file systems); for a folder, the same inode.
An empty file is known by inode only with its time unchanged: its bytes confirm nothing, and a
freed inode may be handed to a new file (defects 22 and 25).
Drive then gets one metadata update by ID (`name`, `addParents`, `removeParents`) instead of a
delete plus a create: no bytes, no second copy. A folder's move is one request for its whole
subtree: the rows below it follow it, re-pathed, with no request of their own.

Which items, and where to:

- a *source* is a row confirmed on Drive (synced, alive there, not already deleted locally)
  whose path is gone, in the planned scope and not merely unseen (skipped or excluded);
- a *target* is a path with no row at all. A path that still has a row is planned in place as
  before: a swap of two names is two content updates, a file replaced by a folder of the same
  name keeps its rules. So a move never lands where another item of ours lives, and the path
  it leaves is never re-created by the same push;
- folders first, top-down by target (a folder inside a moved one is looked for at its new
  path); then files, by inode and size, then by size and md5. Several candidates: the first by
  path, so the plan is deterministic, and each source and each target is used once: of two
  gone files with the same content, one moves and the other follows the delete policy.
- a folder found by inode must not look like another folder (it is empty, or one of the gone
  folder's children is there by name): an inode the file system handed to a new folder of
  other content is no move.

After a move, planning goes on at the new path with the row as the move leaves it
(`moved_row`): an edited file is updated in place after its move (one ID), a Drive-side edit
still wins or loses by last-write-wins, and the delete policy never sees the old path.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable, Iterable, Iterator, Mapping, Protocol

from ..core.model import Action, ActionKind, EntryStatus, LocalEntry, Snapshot, StateEntry, ns_to_ms


class Rows(Protocol):
    """What move finding reads of the state rows (a `plan.PlanState`)."""

    def get(self, path: str) -> StateEntry | None: ...

    def __iter__(self) -> Iterator[str]: ...

    def __contains__(self, path: object) -> bool: ...

    def entries(self) -> Iterable[StateEntry]: ...


def parent_of(path: str) -> str:
    return path.rpartition("/")[0]


def moved_row(row: StateEntry, a: Action, *, md5: str | None = None, modified_ms: int | None = None,
              head_revision: str | None = None, trashed: bool | None = None) -> StateEntry:
    """The row of `row`'s item once `a` (a MOVE) is done: at the new path, Drive's side as the
    move leaves it (given by Drive's answer, else as planned), the local side taken from the
    file only if it is the content last pushed (otherwise planning still sees the change)."""
    new = replace(row, path=a.path, local_deleted=a.local is None,  # no local file: a replaced item set aside
                  drive_modified_ms=a.modified_ms if modified_ms is None else modified_ms)
    if md5 is not None or trashed is not None:
        new = replace(new, drive_md5=md5, drive_head_revision=head_revision, drive_trashed=bool(trashed))
    if a.same_content and a.local is not None:
        new = replace(new, local_size=a.local.size, local_mtime_ns=a.local.mtime_ns, local_ino=a.local.ino)
    return new


def apply_moves(rows: dict[str, StateEntry], moves: Iterable[Action],
                before: Mapping[str, StateEntry] | None = None) -> None:
    """Re-path `rows` (by path) as `moves` leave them, in order: each item to its new path, the
    rows below a moved folder with it. `before`: the rows by Drive ID as they were before the
    moves (default: found in `rows` at each move's source path)."""
    for a in moves:
        src = a.source_path or ""
        row = rows.pop(src, None)
        if row is None or row.drive_id != a.drive_id:
            if row is not None:
                rows[src] = row
            row = before.get(a.drive_id or "") if before is not None else None
            if row is None:
                continue
        rows[a.path] = moved_row(row, a)
        if row.is_dir:
            prefix, n = src + "/", len(src)
            for p in [p for p in rows if p.startswith(prefix)]:
                child = rows.pop(p)
                rows[a.path + p[n:]] = replace(child, path=a.path + p[n:],
                                               local_deleted=child.local_deleted or a.local is None)


def _absent(state: Rows, entries: Mapping[str, LocalEntry]) -> Iterable[str]:
    """The paths with a row and nothing at them now (a `PlanRows` as set differences: a no-op
    push of a big home must not pay a Python loop over every row for this)."""
    rows, clean = getattr(state, "rows", None), getattr(state, "clean", None)
    if isinstance(rows, dict) and isinstance(clean, dict):
        return sorted((rows.keys() | clean.keys()) - entries.keys())
    return [p for p in state if p not in entries]


class MoveFinder:
    """One push's local moves: `run(hashes)` returns the MOVE actions in the order they must
    run; `wishes` then holds the files whose md5 would let it find more (or tell a moved file's
    touch from an edit), for the push to hash before planning for good."""

    def __init__(self, snapshot: Snapshot, state: Rows, *, in_scope: Callable[[str], bool],
                 protected: Callable[[str], bool], alive: Callable[[StateEntry], bool]) -> None:
        self.entries = entries = snapshot.entries
        self.state = state
        # rows whose path holds nothing now, by path: the moves' material (and what follows them)
        self.view: dict[str, StateEntry] = {}
        for path in _absent(state, entries):
            row = state.get(path)
            if row is not None:
                self.view[path] = row
        self.source_ids = {
            r.drive_id for p, r in self.view.items()
            if r.status is EntryStatus.SYNCED and not r.local_deleted and in_scope(p) and not protected(p)
            and alive(r) and self._parent_known(p)
        }
        self.targets: list[LocalEntry] = []
        if self.source_ids:
            clean = getattr(state, "clean", {})  # a clean row is never a deletion (and is not read)
            self.targets = sorted((e for p, e in entries.items() if in_scope(p) and (
                                   p not in state or (p not in clean and self._kept_leftover(e, alive)))),
                                  key=lambda e: (e.path.count("/"), e.path))
        self.before = {r.drive_id: r for r in self.view.values()}
        self.wishes: set[str] = set()

    def _kept_leftover(self, e: LocalEntry, alive: Callable[[StateEntry], bool]) -> bool:
        """Whether a file now at `e`'s path may have been moved there over the Drive copy of a
        file deleted here and kept (`keep`): the planner sets that copy aside first (by ID)."""
        row = self.state.get(e.path)
        return (row is not None and row.local_deleted and not row.is_dir and not e.is_dir
                and row.status is EntryStatus.SYNCED and alive(row))

    def _parent_known(self, path: str) -> bool:
        parent = parent_of(path)
        if not parent:
            return True
        row = self.state.get(parent)
        return row is not None and row.is_dir and row.status is EntryStatus.SYNCED

    def run(self, hashes: Mapping[str, str]) -> list[Action]:
        if not self.targets:
            return []
        moves: list[Action] = []
        self._folders(moves)
        self._files(moves, hashes)
        return moves

    # -- folders -------------------------------------------------------------------------------

    def _folders(self, moves: list[Action]) -> None:
        by_ino: dict[int, str] = {}  # inode → Drive ID of a gone folder
        for p in sorted(self.view):
            r = self.view[p]
            if r.is_dir and r.local_ino and r.drive_id in self.source_ids:
                by_ino.setdefault(r.local_ino, r.drive_id)
        if not by_ino:
            return
        for e in self.targets:
            if not e.is_dir or not e.ino or e.path in self.view:  # in the view: came with a moved folder
                continue
            drive_id = by_ino.pop(e.ino, None)
            if drive_id is None:
                continue
            src = self._path_of(drive_id)
            if src is None or src in self.entries or e.path.startswith(src + "/") or not self._same_folder(src, e.path):
                continue
            self._accept(moves, src, e, same_content=True)

    def _path_of(self, drive_id: str) -> str | None:
        for p, r in self.view.items():
            if r.drive_id == drive_id:
                return p
        return None

    def _same_folder(self, src: str, target: str) -> bool:
        """Whether the folder now at `target` may be the gone one at `src`: unless it holds
        things and none of them has the name of one of the gone folder's (an inode the file
        system handed to a new folder of other content), it is; an emptied folder renamed too."""
        prefix = src + "/"
        names = [p[len(prefix):] for p, r in self.view.items()
                 if p.startswith(prefix) and "/" not in p[len(prefix):] and not r.local_deleted]
        if not names or any(f"{target}/{n}" in self.entries for n in names):
            return True
        inside = target + "/"
        return not any(p.startswith(inside) for p in self.entries)

    # -- files ---------------------------------------------------------------------------------

    def _files(self, moves: list[Action], hashes: Mapping[str, str]) -> None:
        entries = self.entries
        sources = {p: r for p, r in self.view.items()
                   if not r.is_dir and r.drive_id in self.source_ids and p not in entries}
        targets = [e for e in self.targets if not e.is_dir and e.path not in self.view]
        self._wish_moved_children(moves)
        if not sources or not targets:
            return
        used: set[str] = set()
        by_ino: dict[tuple[int, int], str] = {}
        for p in sorted(sources):
            r = sources[p]
            if r.local_ino:
                by_ino.setdefault((r.local_ino, r.local_size), p)
        rest: list[LocalEntry] = []
        for e in sorted(targets, key=lambda e: e.path):
            p = by_ino.get((e.ino, e.size)) if e.ino else None
            if p is None or p in used or (e.size == 0 and e.mtime_ns != sources[p].local_mtime_ns):
                # an empty file with a new time: a freed inode the file system handed a new file
                # looks the same, and no bytes can tell (defect 25)
                rest.append(e)
                continue
            r = sources[p]
            h = hashes.get(e.path)
            if e.mtime_ns != r.local_mtime_ns and h is None:
                self.wishes.add(e.path)  # a touch or an edit? the md5 says
            used.add(p)
            self._accept(moves, p, e, same_content=e.mtime_ns == r.local_mtime_ns or (h is not None and h == r.md5))
        by_md5: dict[tuple[int, str], list[str]] = {}
        for p in sorted(sources):
            r = sources[p]
            # an empty file's content names no file: every empty file has it (defect 22)
            if p not in used and r.md5 is not None and r.local_size > 0:
                by_md5.setdefault((r.local_size, r.md5), []).append(p)
        sizes = {size for size, _ in by_md5}
        for e in rest:
            h = hashes.get(e.path)
            if h is None:
                if e.size in sizes:
                    self.wishes.add(e.path)
                continue
            candidates = by_md5.get((e.size, h))
            if candidates:
                self._accept(moves, candidates.pop(0), e, same_content=True)

    def _wish_moved_children(self, moves: list[Action]) -> None:
        """Files that came with a moved folder and were touched since: the md5 tells a touch
        from an edit, as for a file that stayed (`home.scan.hash_candidates` looks at the
        paths as they were)."""
        for a in moves:
            prefix = a.path + "/"
            for p, r in self.view.items():
                e = self.entries.get(p)
                if (p.startswith(prefix) and e is not None and not e.is_dir and not r.is_dir and r.md5 is not None
                        and e.size == r.local_size and (e.mtime_ns != r.local_mtime_ns or r.local_deleted)):
                    self.wishes.add(p)

    # -- one move ------------------------------------------------------------------------------

    def _accept(self, moves: list[Action], src: str, e: LocalEntry, *, same_content: bool) -> None:
        row = self.view[src]
        origin = self.before[row.drive_id].path
        parent = parent_of(origin)
        parent_row = self.state.get(parent) if parent else None
        drive_clean = row.drive_md5 == row.md5 and row.drive_modified_ms == ns_to_ms(row.local_mtime_ns)
        if row.is_dir or (same_content and drive_clean):
            modified_ms, same = ns_to_ms(e.mtime_ns), True  # the move also brings the time up to date
        else:
            modified_ms, same = row.drive_modified_ms, False  # Drive's time kept: last-write-wins decides
        what = "folder" if row.is_dir else "file"
        a = Action(ActionKind.MOVE, e.path, drive_id=row.drive_id, parent_path=parent_of(e.path), local=e,
                   source_path=src, source_parent_id=parent_row.drive_id if parent_row is not None else None,
                   modified_ms=modified_ms, same_content=same, reason=f"{what} renamed or moved from {src}")
        moves.append(a)
        apply_moves(self.view, [a])


def swapped_inodes(snapshot: Snapshot, state: Rows) -> set[str]:
    """Files with their row's size and mtime whose inode is another row's: maybe another file
    (two names swapped), so their md5 decides, not their size and mtime."""
    clean = getattr(state, "clean", {})
    suspects = []
    clean_get = clean.get
    for path, e in snapshot.entries.items():
        if e.is_dir or not e.ino or clean_get(path) == e:
            continue
        row = state.get(path)
        if (row is not None and not row.is_dir and row.local_ino and row.local_ino != e.ino and row.md5
                and (e.size, e.mtime_ns) == (row.local_size, row.local_mtime_ns)):
            suspects.append(path)
    if not suspects:
        return set()
    inodes = {k[4] for k in clean.values() if len(k) > 4}
    inodes.update(r.local_ino for r in state.entries())
    return {p for p in suspects if snapshot.entries[p].ino in inodes}
