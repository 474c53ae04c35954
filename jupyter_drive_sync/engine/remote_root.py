"""The home's folder on Drive: find it, or create the folder chain, and have what it holds
adopted (`adoption`).

The root is found by its stored ID first, so the user may rename or move it on Drive. With no
usable stored ID (first push, lost state DB, the folder deleted for good) it is looked up by
the folder template's path, exact names only, and the missing levels are created with
pre-generated IDs.

A state DB that has not adopted the root folder (lost, a new volume, another account's, or a
run killed while adopting) adopts it here before anything is created, so nothing gets a second
copy. The state DB records that adoption *finished* (together with its rows, in one
transaction), not merely that a root exists: a run cut short adopts again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..core.model import Snapshot, StateEntry
from ..drive.client import DriveClient
from ..drive.errors import NotFound
from ..drive.types import DriveFile, NewFolder
from ..home.state_db import StateDB
from .adoption import Skip, adoption_rows

MAX_IDS_PER_CALL = 1000  # files.generateIds


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
