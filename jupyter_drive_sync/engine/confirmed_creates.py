"""Creates the changes feed proves happened, though their push never heard Drive's answer.

A create's ID is recorded as pending before the request (`id_supply`). When the answer is lost
and the run dies (SIGKILL, a crash, retries running out), the row stays pending while Drive
holds the item, and by the next push the student may have renamed it, moved it out of the
backup or edited it there. Left pending, the next create met `409 fileIdInUse` and took the
item as the home's file wherever it was and whatever it held (defect 26: nothing live at the
home path, or a later Drive edit overwritten unpinned). The feed lists every item created
after its token, so a pending ID in it is a create that happened: its row becomes a synced one
holding what Drive holds, and from there it is decided like every backed-up item (put back,
let go, last-write-wins). Pure: rows in, rows out.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable, Iterable

from ..core.model import EntryStatus, RemoteChange, StateEntry, is_version_sent


def confirmed_creates(changes: Iterable[RemoteChange],
                      by_id: Callable[[str], StateEntry | None]) -> list[StateEntry]:
    """The pending rows whose IDs the feed lists (not removed), as synced rows."""
    latest: dict[str, RemoteChange] = {}
    for ch in changes:
        latest[ch.drive_id] = ch
    out = []
    for ch in latest.values():
        row = by_id(ch.drive_id)
        if ch.removed or row is None or row.status is not EntryStatus.PENDING:
            continue
        out.append(created_row(row, ch))
    return out


def created_row(row: StateEntry, ch: RemoteChange) -> StateEntry:
    """A pending row once Drive is known to hold its item as `ch` says.

    Drive holds the version this row recorded sending (`is_version_sent`): that is the common
    version. Any
    other version (an edit on Drive since, or an older attempt's upload) is taken as the last
    synced one with no common version known, as adoption does, so planning lets the later
    write win and pins Drive's revision if it is overwritten.
    """
    done = replace(row, status=EntryStatus.SYNCED, drive_md5=ch.md5, drive_modified_ms=ch.modified_ms,
                   drive_head_revision=ch.head_revision, drive_trashed=ch.trashed, drive_removed=False)
    if row.is_dir:
        return done
    if is_version_sent(row.local_size, row.local_mtime_ns, ch.size, ch.modified_ms):
        done.md5 = ch.md5
    else:
        done.local_size, done.local_mtime_ns, done.md5 = ch.size or 0, ch.modified_ms * 1_000_000, None
    return done
