"""Whether a row's Drive item is live, trashed or removed (pure), for planning.

The state DB keeps each row's own Drive state; a folder's state applies to everything below
it. Trashing a folder on Drive trashes what it holds, and the changes feed reports each item
trashed without saying which were trashed on their own, so an item below a folder that a push
takes out of the trash may come back with it.
"""

from __future__ import annotations

from typing import Callable

from ..core.model import EntryStatus, StateEntry
from .plan_moves import parent_of

REMOVED = 2
TRASHED = 1
ALIVE = 0


def own_state(row: StateEntry | None) -> int:
    """The row's own Drive state (a pending create counts as live: it is about to be)."""
    if row is None or row.status is EntryStatus.PENDING:
        return ALIVE
    if row.drive_removed:
        return REMOVED
    if row.drive_trashed:
        return TRASHED
    return ALIVE


def live_after_push(row: StateEntry, folder_row: Callable[[str], StateEntry | None],
                    revived: Callable[[str], bool]) -> bool:
    """`row`'s Drive item is, or may be, live once the push is done: not removed, every folder
    above it live or `revived` (taken out of the trash by this push), and itself live or below
    such a revived folder."""
    own = own_state(row)
    if own == REMOVED:
        return False
    revived_above = False
    folder = parent_of(row.path)
    while folder:
        above = folder_row(folder)
        state = own_state(above) if above is not None and above.is_dir else ALIVE
        if state == REMOVED or (state == TRASHED and not revived(folder)):
            return False
        revived_above = revived_above or state == TRASHED
        folder = parent_of(folder)
    return own == ALIVE or revived_above
