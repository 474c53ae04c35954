"""Where a push keeps the Drive item it takes off a path (pure): a sibling renamed by ID, so
the student's old work stays in the backup and the path gets one live item, the new one.

Used for a path the home now holds as the other kind (a file replaced by a folder of its name,
or back) and for a deleted file whose Drive copy is kept when another file moves onto its path.
"""

from __future__ import annotations

from typing import Callable

from ..core.model import Action, ActionKind, StateEntry
from .plan_moves import parent_of


def aside_path(path: str, was_dir: bool, taken: Callable[[str], bool], label: str | None = None) -> str:
    """Where the Drive item of a path replaced by the other kind is kept: a sibling named
    `name (replaced by a folder).ext` / `name (replaced by a file)` (or `name (<label>).ext`),
    numbered from 2 when that is taken; the extension stays last, so the kept file still opens
    as what it is."""
    parent, _, name = path.rpartition("/")
    stem, dot, ext = name.rpartition(".")
    if was_dir or not stem or not ext or len(ext) > 8 or " " in ext:
        stem, dot, ext = name, "", ""
    label = aside_label(was_dir, label)
    n = 1
    while True:
        candidate = f"{stem} ({label}{f' {n}' if n > 1 else ''}){dot}{ext}"
        full = f"{parent}/{candidate}" if parent else candidate
        if not taken(full):
            return full
        n += 1


def aside_label(was_dir: bool, label: str | None = None) -> str:
    """The words in an aside name: `label`, or which kind replaced the item."""
    return label or "replaced by a " + ("file" if was_dir else "folder")


def aside_move(path: str, row: StateEntry, parent: StateEntry | None, taken: Callable[[str], bool],
               label: str | None = None) -> Action:
    """The MOVE (no local entry) that renames `row`'s item beside `path`, content and
    modifiedTime untouched; `parent` is the row of the folder it stays in (None: the root)."""
    target = aside_path(path, row.is_dir, taken, label)
    what = "folder" if row.is_dir else "file"
    why = "deleted locally, then another file moved here" if label else \
        f"replaced locally by a {'file' if row.is_dir else 'folder'}"
    return Action(
        ActionKind.MOVE, target, drive_id=row.drive_id, parent_path=parent_of(path), source_path=path,
        source_parent_id=parent.drive_id if parent is not None else None, modified_ms=row.drive_modified_ms,
        reason=f"{why}: the Drive {what} kept, renamed", aside_label=aside_label(row.is_dir, label))
