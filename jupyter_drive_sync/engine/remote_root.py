"""The home's folder on Drive: find it, or create the folder chain, and adopt what it holds.

The root is found by its stored ID first, so the user may rename or move it on Drive. With no
usable stored ID (first push, lost state DB, the folder deleted for good) it is looked up by
the folder template's path, exact names only, and the missing levels are created with
pre-generated IDs.

Adoption: a state DB that has not adopted the root folder (lost, a new volume, another
account's, or a run killed while adopting) walks that folder and takes the IDs of what it
holds, matched by path, before anything is created, so nothing gets a second copy. The state
DB records that adoption *finished* (together with its rows, in one transaction), not merely
that a root exists: a run cut short adopts again. Adopted rows are decided like every other
last-write-wins row: same content costs at most a metadata update; different content is
compared by time (local mtime vs Drive's modifiedTime), so a newer Drive copy is kept, or,
when overwritten (the local copy is later, or policy local-wins), its revision is pinned and
the push reports a conflict.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

from ..core.model import EntryStatus, LocalEntry, Snapshot, StateEntry, ns_to_ms
from ..drive.client import DriveClient
from ..drive.errors import NotFound
from ..drive.types import DriveFile, NewFolder
from ..home.fs_guards import open_beneath
from ..home.scan import md5_of
from ..home.state_db import StateDB

MAX_IDS_PER_CALL = 1000  # files.generateIds

# Reports a path the run leaves alone and why (the summary's `skipped`).
Skip = Callable[[str, str], None]


@dataclass
class RootSetup:
    """What setting up the root gives the push: the folder, IDs generated with its missing
    levels but not used (the push's first creates take them), and the md5s adoption read
    (planning takes them instead of reading those files again)."""

    root_id: str
    spare_ids: list[str] = field(default_factory=list)
    hashes: dict[str, str] = field(default_factory=dict)


def stored_folder(client: DriveClient, folder_id: str) -> DriveFile | None:
    """The Drive item at a stored ID, trashed or not; None once Drive no longer has it (deleted
    for good, or not this account's), so callers fall back to the folder template's path."""
    try:
        return client.get(folder_id)
    except NotFound:
        return None


def walk_folder_path(client: DriveClient, parts: list[str], skip: Skip | None = None) -> list[DriveFile]:
    """The folders along `parts` from My Drive down, as far as they exist (a shorter list: the
    next level is missing). Of same-name folders the oldest is taken, so every run and every
    reader settles on the same one; `skip` (if given) hears about the others."""
    path: list[DriveFile] = []
    parent = "root"
    for name in parts:
        # find_folders keeps exact names only (Drive's query ignores case)
        found = sorted(client.find_folders(name, parent), key=lambda f: (f.modified_ms, f.id))
        if not found:
            break
        if len(found) > 1 and skip is not None:
            skip(name, f"{len(found)} Drive folders are called {name!r} here; using {found[0].id}")
        path.append(found[0])
        parent = found[0].id
    return path


def ensure_root(client: DriveClient, db: StateDB, parts: list[str], skip: Skip,
                expect_new: int = 0) -> tuple[str, bool, list[str]]:
    """The home's Drive folder ID (stored, or found/created by path), whether it existed, and
    IDs generated along with the missing levels' but not used (for the push's first creates)."""
    root_id = db.root_folder_id
    if root_id:
        f = stored_folder(client, root_id)
        if f is not None:
            if f.trashed:  # the whole backup was trashed: bring it back
                client.update_metadata(root_id, trashed=False)
            return root_id, True, []
        db.forget_all()  # gone for good: every stored ID is meaningless now
        db.root_folder_id = None
    found = walk_folder_path(client, parts, skip)
    parent = found[-1].id if found else "root"
    existed = len(found) == len(parts)
    now_ms = int(time.time() * 1000)
    spare_ids: list[str] = []
    for i in range(len(found), len(parts)):  # the missing levels, top down
        if not spare_ids:  # one call for every level still missing, and the home's first IDs
            spare_ids = client.generate_ids(min(MAX_IDS_PER_CALL, len(parts) - i + expect_new))
        new_id = spare_ids.pop(0)
        result = client.create_folders([NewFolder(new_id, parts[i], parent, now_ms)])[new_id]
        if isinstance(result, Exception):
            raise result
        parent = result.id
    db.root_folder_id = parent
    db.account_email = db.account_email or client.about_email()
    return parent, existed, spare_ids


def setup_root(client: DriveClient, db: StateDB, parts: list[str], skip: Skip,
               snap: Snapshot | None = None, home: Path | str | None = None) -> RootSetup:
    """First push, lost state, or the root folder changed on Drive: find or make the folder,
    start the changes feed, and adopt what the folder already holds (unless that was done)."""
    token = client.start_page_token()  # before any write of ours, before any listing
    entries = snap.entries if snap is not None else {}
    root_id, existed, spare_ids = ensure_root(client, db, parts, skip, len(entries))
    rows: list[StateEntry] = []
    hashes: dict[str, str] = {}
    if existed and not db.adoption_finished(root_id):
        rows, hashes = adoption_rows(client, db, root_id, entries, home, skip)
    db.finish_adoption(root_id, rows, token)
    return RootSetup(root_id, spare_ids, hashes)


def resume_adoption(client: DriveClient, db: StateDB, root_id: str, snap: Snapshot,
                    home: Path | str, skip: Skip) -> dict[str, str]:
    """The root folder and the feed are on record (the feed already read up to now), but its
    adoption never finished: adopt now, keeping the feed's token. The md5s read."""
    rows, hashes = adoption_rows(client, db, root_id, snap.entries, home, skip)
    db.finish_adoption(root_id, rows, None)
    return hashes


def preview_root(client: DriveClient, db: StateDB, parts: list[str], skip: Skip, snap: Snapshot,
                 home: Path | str, *, fresh: bool,
                 known: Callable[[], dict[str, StateEntry]]) -> tuple[str | None, dict[str, StateEntry], dict[str, str]]:
    """What a dry run plans with, reading only: the root folder a real push would use and the
    rows it would hold by then (`known()`: the state rows with Drive's changes applied), plus
    the rows a real push's adoption would add (lost state DB, new volume, another account, an
    adoption cut short) and the md5s adoption read. So the preview shows adoption, not a create
    for every file Drive already holds. `fresh`: the stored rows are another account's."""
    stored = None if fresh else db.root_folder_id
    if stored and stored_folder(client, stored) is not None:
        # alive, or trashed (a real push untrashes it): used by its ID
        rows = known()
        if db.adoption_finished(stored):
            return stored, rows, {}
        adopted, hashes = adoption_rows(client, db, stored, snap.entries, home, skip, known=rows)
        return stored, {**rows, **{r.path: r for r in adopted}}, hashes
    found = walk_folder_path(client, parts, skip)
    if len(found) < len(parts):  # a real push would create that level, and adopt nothing
        return None, {}, {}
    root_id = found[-1].id if found else "root"
    adopted, hashes = adoption_rows(client, db, root_id, snap.entries, home, skip, known={})
    return root_id, {r.path: r for r in adopted}, hashes


def adoption_rows(client: DriveClient, db: StateDB, root_id: str, entries: Mapping[str, LocalEntry],
                  home: Path | str | None, skip: Skip, *, known: Mapping[str, StateEntry] | None = None,
                  ) -> tuple[list[StateEntry], dict[str, str]]:
    """Walk the Drive folder and build a row for each item at a path the state DB does not
    know yet (rows already there, and their IDs, are left as they are: adopting again after an
    interruption, or after a restore wrote some rows, changes nothing twice). Returns the rows
    and the md5s of local files read to compare contents.

    Same-name items at one path are reported, one is adopted (the one the state DB knows, else
    the kind the home has there, then the one holding the local file, then the oldest) and the
    others are left alone: never a third one beside them. `known`: the rows to take as the
    state DB's (default: read from it; a dry run passes what it previews).
    """
    if known is None:
        known = db.load()
    known_ids = {r.drive_id for r in known.values()}
    rows: list[StateEntry] = []
    hashes: dict[str, str] = {}
    stack = [(root_id, "")]
    while stack:
        folder_id, prefix = stack.pop()
        by_name: dict[str, list[DriveFile]] = {}
        for f in client.list_children(folder_id):
            if "/" not in f.name and f.name not in ("", ".", ".."):  # else no home path: never ours
                by_name.setdefault(f.name, []).append(f)
        for name, files in sorted(by_name.items()):
            path = prefix + name
            local = entries.get(path)
            want_folder = local.is_dir if local is not None else None
            ours = known[path].drive_id if path in known else None
            files.sort(key=lambda f: (f.id != ours, f.is_folder != want_folder, not _same_file(local, f),
                                      f.modified_ms, f.id))
            chosen = files[0]
            if len(files) > 1:
                skip(path, f"{len(files)} items with this name already on Drive; adopted {chosen.id}, "
                           "left the others alone")
            if chosen.is_folder:
                stack.append((chosen.id, path + "/"))
            if path in known or chosen.id in known_ids:
                continue
            rows.append(_adopted_row(path, chosen, local, home, hashes))
    return rows, hashes


def _adopted_row(path: str, f: DriveFile, local: LocalEntry | None, home: Path | str | None,
                 hashes: dict[str, str]) -> StateEntry:
    """The row for one adopted Drive item, written so that planning decides it like any other.

    Drive's copy is taken as the last synced version (local size and mtime = Drive's). Then:
    - nothing at that path here: marked deleted locally (a new volume lacking a file is no
      deletion: not trashed under `trash`; a file that appears later is a reappearance);
    - the same content (same size, mtime equal to the millisecond; or the md5s equal): the
      local file is unchanged or only touched (a metadata update, no upload);
    - other content: no common version is known (md5 None), so planning sees both sides
      changed and lets the later timestamp win, pinning Drive's revision if it is overwritten.
    """
    row = StateEntry(
        path=path, drive_id=f.id, is_dir=f.is_folder, status=EntryStatus.SYNCED,
        local_size=f.size or 0, local_mtime_ns=f.modified_ms * 1_000_000,
        md5=f.md5, drive_md5=f.md5, drive_modified_ms=f.modified_ms,
        drive_head_revision=f.head_revision, drive_trashed=f.trashed,
    )
    if local is None:
        row.local_deleted = True
        return row
    if local.is_dir or f.is_folder:
        return row  # a folder (or a file replaced by a folder: planning handles the kind change)
    same_size = local.size == (f.size or 0)
    if _same_file(local, f):
        # the file we uploaded (Drive keeps milliseconds): its exact mtime, so it is clean
        row.local_mtime_ns, row.local_ino = local.mtime_ns, local.ino
        return row
    digest = _local_md5(home, path) if same_size and f.md5 and home is not None else None
    if digest is not None:
        hashes[path] = digest
    if digest is None or digest != f.md5:
        row.md5 = None  # contents differ (or cannot be compared): no common version
    return row


def _same_file(local: LocalEntry | None, f: DriveFile) -> bool:
    """Whether Drive's file is the local file as we uploaded it: same size, and the mtime equal
    to the millisecond (Drive keeps no finer time; every upload sets modifiedTime = mtime)."""
    return (local is not None and not local.is_dir and not f.is_folder
            and local.size == (f.size or 0) and ns_to_ms(local.mtime_ns) == f.modified_ms)


def _local_md5(home: Path | str, path: str) -> str | None:
    """md5 of the home's file, reached without following symlinks; None if it cannot be read
    (then the push's upload reports why)."""
    try:
        with open_beneath(os.fspath(home), path) as fh:
            return md5_of(fh)
    except OSError:
        return None
