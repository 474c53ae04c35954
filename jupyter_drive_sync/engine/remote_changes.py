"""Drive's changes feed, folded into what planning sees of the Drive side.

The feed (`changes.list` from the stored page token) says what changed on Drive since the last
push: on a quiet day it is one request, and a push then plans against the state DB alone. Each
change updates the drive_* columns of the row with that Drive ID, so planning can tell who
changed what (last-write-wins).
"""

from __future__ import annotations

import logging
from typing import Callable, Mapping

from ..core.model import RemoteChange, StateEntry
from ..drive.client import DriveClient
from ..drive.errors import DriveApiError
from ..home.state_db import StateDB

log = logging.getLogger(__name__)

# A push's own writes come back in the changes feed (1,000 per page), which the next push
# (often a no-op, budgeted at 2 requests) would have to read. So a push that wrote thousands
# of items reads all but the last FEED_PAGES_LEFT_FOR_NEXT_PUSH pages of them at its end; the
# next push reads the rest.
FEED_PAGE = 1000
FEED_PAGES_LEFT_FOR_NEXT_PUSH = 2

# Reports a path the run leaves alone and why (the summary's `skipped`).
Skip = Callable[[str, str], None]


def fold_changes(client: DriveClient, db: StateDB, root_id: str, skip: Skip) -> bool:
    """Read the feed from the stored token into the state DB (one transaction with the new
    token); True if the home's root folder itself was trashed or removed on Drive."""
    token = db.page_token
    assert token is not None
    changes, new_token = client.list_changes(token)  # a no-op push: this one call
    db.apply_remote_changes(changes, new_token)
    report_same_name_arrivals(db, changes, root_id, skip)
    return any(ch.drive_id == root_id and (ch.removed or ch.trashed) for ch in changes)


def preview_changes(client: DriveClient, db: StateDB) -> dict[str, StateEntry]:
    """Every state row with the feed applied in memory: what a dry run plans with (it writes
    nothing, so neither the rows nor the page token move)."""
    state = db.load()
    if db.root_folder_id and db.page_token:
        changes, _ = client.list_changes(db.page_token)
        apply_changes_in_memory(state, changes)
    return state


def apply_changes_in_memory(state: Mapping[str, StateEntry], changes: list[RemoteChange]) -> None:
    """What `StateDB.apply_remote_changes` does, on rows in memory."""
    by_id = {r.drive_id: r for r in state.values()}
    for ch in changes:
        r = by_id.get(ch.drive_id)
        if r is None:
            continue
        if ch.removed:
            r.drive_removed = True
            if r.is_dir:
                prefix = r.path + "/"
                for other in state.values():
                    if other.path.startswith(prefix):
                        other.drive_removed = True
        else:
            r.drive_md5, r.drive_modified_ms = ch.md5, ch.modified_ms
            r.drive_head_revision, r.drive_trashed, r.drive_removed = ch.head_revision, ch.trashed, False


def report_same_name_arrivals(db: StateDB, changes: list[RemoteChange], root_id: str, skip: Skip) -> None:
    """Report files that appeared on Drive beside ours under the same name (another copy of
    this app elsewhere, a migration script): we keep writing by ID and leave them alone, but
    the student should know the folder now shows two of them."""
    for ch in changes:
        if ch.removed or ch.trashed or not ch.name or not ch.parent_id or db.by_drive_id(ch.drive_id) is not None:
            continue
        if ch.parent_id == root_id:
            parent_path = ""
        else:
            parent = db.by_drive_id(ch.parent_id)
            if parent is None or not parent.is_dir:
                continue
            parent_path = parent.path + "/"
        ours = db.get(parent_path + ch.name)
        if ours is not None and ours.drive_id != ch.drive_id and not ours.drive_removed:
            skip(ours.path, f"another item with this name was added to this Drive folder ({ch.drive_id}); "
                            f"the backup keeps updating its own copy ({ours.drive_id}) and leaves it alone")


def digest_own_writes(client: DriveClient, db: StateDB, writes: int) -> None:
    """Fold a big push's own `writes` out of the changes feed now (best effort)."""
    pages = writes // FEED_PAGE + 1 - FEED_PAGES_LEFT_FOR_NEXT_PUSH
    token = db.page_token
    if pages < 1 or not token:
        return
    try:
        changes, new_token = client.list_changes(token, max_pages=pages)
    except DriveApiError as exc:  # the push itself is done; the next one reads the feed
        log.info("could not read the changes feed after the push: %s", exc)
        return
    db.apply_remote_changes(changes, new_token)
