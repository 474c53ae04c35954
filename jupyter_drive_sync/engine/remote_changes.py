"""Drive's changes feed, folded into what planning sees of the Drive side.

The feed (`changes.list` from the stored page token) says what changed on Drive since the last
push: on a quiet day it is one request, and a push then plans against the state DB alone. Each
change updates the drive_* columns of the row with that Drive ID, so planning can tell who
changed what (last-write-wins).

The feed also says where each item now is (name, parent), so the student's reorganisation of
the backup on Drive is dealt with here, before planning (docs/RELIABILITY.md, "Drive-side
reorganisation", has the rules as a table). A tracked item always sits at its home path:

- renamed, or moved to another folder of the backup: put back by ID (one metadata update, no
  bytes), so the backup keeps the home's names and no path ever holds two live items;
- moved out of the backup (or into a folder the backup does not track): no longer ours. Its row
  is dropped, so the push makes a fresh copy at the home path, and the moved item is never
  written again by us, whatever happens to the home's file later;
- moved out of a folder that is then trashed or deleted on Drive: left where the student put it;
  the home path counts as deleted with its folder (respected until the local file changes);
- trashed or deleted for good: not a move; planning respects it (the later write) and reports it.
"""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping

from ..core.model import Action, ActionKind, EntryStatus, RemoteChange, StateEntry
from ..drive.client import DriveClient
from ..drive.errors import RUN_ENDING, DriveApiError
from ..drive.types import DriveFile
from ..home.state_db import StateDB
from .confirmed_creates import confirmed_creates

log = logging.getLogger(__name__)

# A push's own writes come back in the changes feed (1,000 per page), which the next push
# (often a no-op, budgeted at 2 requests) would have to read. So a push that wrote thousands
# of items reads all but the last FEED_PAGES_LEFT_FOR_NEXT_PUSH pages of them at its end; the
# next push reads the rest.
FEED_PAGE = 1000
FEED_PAGES_LEFT_FOR_NEXT_PUSH = 2

# Reports a path the run leaves alone and why (the summary's `skipped`).
Skip = Callable[[str, str], None]
# Counts one action Drive confirmed in the summary (the push's `count`).
Count = Callable[[Action], None]

MOVED_OUT = ("moved out of the backup folder on Drive: that copy is the student's now and is left "
             "where it is; the backup makes a fresh copy of the home's {what}")
LET_GO_DELETED = ("renamed or moved on Drive after it was deleted here: that copy is the student's now "
                  "and is left where it is")
STRANDED = ("moved on Drive out of a folder that was then trashed or deleted there: that copy is left "
            "where it is, and the home's file is treated as deleted with its folder until it changes here")


def fold_changes(client: DriveClient, db: StateDB, root_id: str, skip: Skip, count: Count | None = None) -> bool:
    """Read the feed from the stored token into the state DB (one transaction with the new
    token), after putting back what the student renamed or moved inside the backup; True if
    the home's root folder itself was trashed or removed on Drive."""
    token = db.page_token
    assert token is not None
    changes, new_token = client.list_changes(token)  # a no-op push: this one call
    _fold(client, db, root_id, changes, new_token, skip, count)
    report_same_name_arrivals(db, changes, root_id, skip)
    return any(ch.drive_id == root_id and (ch.removed or ch.trashed) for ch in changes)


def preview_changes(client: DriveClient, db: StateDB) -> dict[str, StateEntry]:
    """Every state row with the feed applied in memory: what a dry run plans with (it writes
    nothing, so neither the rows nor the page token move, and nothing is put back)."""
    state = db.load()
    if db.root_folder_id and db.page_token:
        changes, _ = client.list_changes(db.page_token)
        apply_changes_in_memory(state, changes, db.root_folder_id)
    return state


def apply_changes_in_memory(state: dict[str, StateEntry], changes: list[RemoteChange],
                            root_id: str | None = None) -> None:
    """What `fold_changes` does to the rows, in memory: items moved out of the backup lose their
    rows (so a dry run shows their fresh copies); put-backs are not made, so not shown."""
    for r in confirmed_creates(changes, {r.drive_id: r for r in state.values()}.get):
        state[r.path] = r
    if root_id is not None:
        by_id = {r.drive_id: r for r in state.values()}
        moves = find_moves(changes, root_id, by_id.get, state.get)
        changes = moves.changes(changes)
        for path in moves.let_go_paths():
            prefix = path + "/"
            for p in [p for p in state if p == path or p.startswith(prefix)]:
                del state[p]
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


# -- the student's reorganisation ------------------------------------------------------------------


@dataclass
class PutBack:
    """A tracked item renamed or moved inside the backup, and where its home path says it goes."""

    row: StateEntry
    change: RemoteChange
    name: str
    parent_id: str


@dataclass
class Moves:
    """The feed's tracked items that are not at their home paths, sorted by what to do."""

    put_back: list[PutBack] = field(default_factory=list)
    let_go: dict[str, StateEntry] = field(default_factory=dict)  # by Drive ID: no longer ours
    stranded: dict[str, StateEntry] = field(default_factory=dict)  # by Drive ID: deleted with its folder

    def let_go_paths(self) -> list[str]:
        return [r.path for r in self.let_go.values()]

    def changes(self, changes: Iterable[RemoteChange]) -> list[RemoteChange]:
        """The feed as the state DB should take it: a stranded item reads as deleted with its
        folder (its row must not follow the copy the student keeps elsewhere)."""
        return [RemoteChange(ch.drive_id, removed=True) if ch.drive_id in self.stranded else ch for ch in changes]


def _same_name(a: str, b: str) -> bool:
    # a name the file system stored decomposed and Drive composed (or back) is the same name:
    # without this, such a file would be "renamed back" on every push
    return a == b or unicodedata.normalize("NFC", a) == unicodedata.normalize("NFC", b)


def find_moves(changes: Iterable[RemoteChange], root_id: str,
               by_id: Callable[[str], StateEntry | None],
               at_path: Callable[[str], StateEntry | None]) -> Moves:
    """Sort the feed's tracked items that left their home paths (pure; the rows come through
    `by_id` and `at_path`, from the state DB or from memory).

    An item is inside the backup if its new parent is the root or a tracked folder that is not
    itself leaving; otherwise it left the backup. A put-back whose home folder was trashed or
    deleted on Drive (in this feed or before) is not made: the item is stranded instead.
    """
    latest: dict[str, RemoteChange] = {}
    for ch in changes:
        latest[ch.drive_id] = ch
    moved: dict[str, tuple[StateEntry, RemoteChange, str, str]] = {}
    folder_ids: dict[str, StateEntry] = {}
    for ch in latest.values():
        if ch.removed or ch.name is None or ch.parent_id is None or ch.drive_id == root_id:
            continue
        row = by_id(ch.drive_id)
        if row is None or row.status is not EntryStatus.SYNCED:
            continue
        parent_path, _, name = row.path.rpartition("/")
        parent_row = at_path(parent_path) if parent_path else None
        home_parent = root_id if not parent_path else (parent_row.drive_id if parent_row is not None else None)
        if home_parent is None or (ch.parent_id == home_parent and _same_name(ch.name, name)):
            continue
        moved[ch.drive_id] = (row, ch, name, home_parent)
    for drive_id, (row, ch, _, _) in moved.items():
        if ch.parent_id != root_id and ch.parent_id not in folder_ids:
            parent = by_id(ch.parent_id)
            if parent is not None and parent.is_dir and parent.status is EntryStatus.SYNCED:
                folder_ids[ch.parent_id] = parent

    out = Moves()

    def leaving(row: StateEntry) -> bool:
        return row.drive_id in out.let_go or any(
            r.is_dir and row.path.startswith(r.path + "/") for r in out.let_go.values())

    # out of the backup: into a folder we do not track, or into one that is leaving too
    changed = True
    while changed:
        changed = False
        for drive_id, (row, ch, _, _) in moved.items():
            if drive_id in out.let_go:
                continue
            parent = folder_ids.get(ch.parent_id) if ch.parent_id != root_id else None
            inside = ch.parent_id == root_id or (parent is not None and not leaving(parent))
            if not inside or row.local_deleted:
                out.let_go[drive_id] = row
                changed = True
    for drive_id, (row, ch, name, home_parent) in moved.items():
        if drive_id in out.let_go:
            continue
        if leaving(row):
            out.let_go[drive_id] = row  # its home folder left the backup: its row goes with it
        elif _home_folder_gone(row.path, at_path, latest):
            out.stranded[drive_id] = row
        else:
            out.put_back.append(PutBack(row, ch, name, home_parent))
    out.put_back.sort(key=lambda p: (p.row.path.count("/"), p.row.path))  # parents first: no cycle
    return out


def _home_folder_gone(path: str, at_path: Callable[[str], StateEntry | None],
                      latest: Mapping[str, RemoteChange]) -> bool:
    """Whether a folder above `path` is trashed or deleted on Drive (as this feed says, else as
    the state DB remembers)."""
    parent = path.rpartition("/")[0]
    while parent:
        row = at_path(parent)
        ch = latest.get(row.drive_id) if row is not None else None
        if ch is not None and (ch.removed or ch.trashed):
            return True
        if row is not None and ch is None and (row.drive_trashed or row.drive_removed):
            return True
        parent = parent.rpartition("/")[0]
    return False


def _fold(client: DriveClient, db: StateDB, root_id: str, changes: list[RemoteChange], new_token: str,
          skip: Skip, count: Count | None) -> None:
    """Confirm the creates the feed shows happened (`confirmed_creates`), put back what moved
    inside the backup, drop the rows of what left it, then store the feed and the token (one
    transaction).

    A put-back that fails for a reason that will pass (Drive down after the retries) ends the
    run before the token moves, so the next push sees the same changes and tries again.
    """
    ids_cache: dict[str, StateEntry | None] = {}
    paths_cache: dict[str, StateEntry | None] = {}

    def by_id(drive_id: str) -> StateEntry | None:
        if drive_id not in ids_cache:
            ids_cache[drive_id] = db.by_drive_id(drive_id)
        return ids_cache[drive_id]

    def at_path(path: str) -> StateEntry | None:
        if path not in paths_cache:
            paths_cache[path] = db.get(path)
        return paths_cache[path]

    created = confirmed_creates(changes, by_id)
    if created:  # before moves are sorted: a renamed or moved one is then put back or let go
        db.record_synced_many(created)
        for r in created:
            ids_cache[r.drive_id] = paths_cache[r.path] = r
    moves = find_moves(changes, root_id, by_id, at_path)
    put_back: dict[str, RemoteChange] = {}
    for p in moves.put_back:
        try:
            f = _put_back(client, p)
        except DriveApiError as exc:
            if isinstance(exc, RUN_ENDING) or exc.retryable:
                raise
            log.info("could not put %s back at its home path: %s", p.row.path, exc)
            moves.let_go[p.row.drive_id] = p.row  # the next push makes a fresh copy there
            continue
        put_back[f.id] = RemoteChange(f.id, removed=False, trashed=f.trashed, md5=f.md5, size=f.size,
                                      modified_ms=f.modified_ms, head_revision=f.head_revision,
                                      name=f.name, parent_id=f.parent_id)
        if count is not None:
            count(Action(ActionKind.UPDATE_MTIME, p.row.path, drive_id=f.id,
                         reason="renamed or moved on Drive; put back at its home path"))
    for row in moves.let_go.values():
        what = "folder" if row.is_dir else "file"
        skip(row.path, LET_GO_DELETED if row.local_deleted else MOVED_OUT.format(what=what))
    for row in moves.stranded.values():
        skip(row.path, STRANDED)
    # rows let go are dropped before the token moves: a crash in between replays the feed, which
    # then finds no row for them (nothing lost); the other way round, a row could keep following
    # the student's copy
    db.forget(moves.let_go_paths(), recursive=True)
    db.apply_remote_changes([put_back.get(ch.drive_id, ch) for ch in moves.changes(changes)], new_token)


def _put_back(client: DriveClient, p: PutBack) -> DriveFile:
    """One metadata update: the home's name and parent back, with modifiedTime set explicitly.
    Drive moves modifiedTime on a rename (ours too), which planning would take for an edit on
    Drive, and a later time than the student's real edit: so the time we last knew while Drive's
    content is still that version, else the time of the student's version of the content (its
    head revision's; the feed's time may be the rename's, which made an older Drive edit win
    over a later local one: defect 24). Whether Google's revision time is the uploader's
    `modifiedTime` or the upload's own is not documented: either is the content's, and the
    earlier of it and the feed's time is taken."""
    ch, row = p.change, p.row
    modified = row.drive_modified_ms if ch.md5 == row.drive_md5 else ch.modified_ms
    if ch.md5 != row.drive_md5 and ch.head_revision:  # a folder has no md5 on either side
        try:
            modified = min(modified, client.revision_modified_ms(row.drive_id, ch.head_revision))
        except DriveApiError as exc:  # a passing error ends the run (the feed is read again); else the feed's time
            if isinstance(exc, RUN_ENDING) or exc.retryable:
                raise
            log.info("could not read when %s's content was written: %s", row.path, exc)
    return client.update_metadata(
        row.drive_id, name=p.name if not _same_name(ch.name or "", p.name) else None,
        move_from=ch.parent_id, move_to=p.parent_id, modified_ms=modified)


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


def digest_own_writes(client: DriveClient, db: StateDB, writes: int, skip: Skip | None = None,
                      count: Count | None = None) -> None:
    """Fold a big push's own `writes` out of the changes feed now (best effort). The student's
    moves among them are dealt with as at the start of a push."""
    pages = writes // FEED_PAGE + 1 - FEED_PAGES_LEFT_FOR_NEXT_PUSH
    token = db.page_token
    root_id = db.root_folder_id
    if pages < 1 or not token or not root_id:
        return
    try:
        changes, new_token = client.list_changes(token, max_pages=pages)
        _fold(client, db, root_id, changes, new_token, skip or (lambda path, reason: None), count)
    except DriveApiError as exc:  # the push itself is done; the next one reads the feed
        log.info("could not read the changes feed after the push: %s", exc)
