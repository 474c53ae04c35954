"""The home's folder on Drive: find it, or create the folder chain, and adopt what it holds.

The root is found by its stored ID first, so the user may rename or move it on Drive. With no
usable stored ID (first push, lost state DB, the folder deleted for good) it is looked up by
the folder template's path, and the missing levels are created with pre-generated IDs.

Adoption: a fresh state DB meeting an existing Drive folder walks that folder and takes the
IDs of what it holds, matched by path, before anything is created: a lost state DB never
leads to a second copy of each file.
"""

from __future__ import annotations

import time
from typing import Callable, Mapping

from ..core.model import EntryStatus, LocalEntry, Snapshot, StateEntry
from ..drive.client import DriveClient
from ..drive.errors import NotFound
from ..drive.types import DriveFile, NewFolder
from ..home.state_db import StateDB

MAX_IDS_PER_CALL = 1000  # files.generateIds

# Reports a path the run leaves alone and why (the summary's `skipped`).
Skip = Callable[[str, str], None]


def ensure_root(client: DriveClient, db: StateDB, parts: list[str], skip: Skip,
                expect_new: int = 0) -> tuple[str, bool, list[str]]:
    """The home's Drive folder ID (stored, or found/created by path), whether it existed, and
    IDs generated along with the missing levels' but not used (for the push's first creates)."""
    root_id = db.root_folder_id
    if root_id:
        try:
            f = client.get(root_id)
        except NotFound:
            f = None
        if f is not None and not f.trashed:
            return root_id, True, []
        if f is not None and f.trashed:  # the whole backup was trashed: bring it back
            client.update_metadata(root_id, trashed=False)
            return root_id, True, []
        db.forget_all()  # gone for good: every stored ID is meaningless now
        db.root_folder_id = None
    parent = "root"
    existed = True
    now_ms = int(time.time() * 1000)
    spare_ids: list[str] = []
    for i, name in enumerate(parts):
        found = sorted(client.find_folders(name, parent), key=lambda f: (f.modified_ms, f.id)) if existed else []
        if found:
            if len(found) > 1:
                skip(name, f"{len(found)} Drive folders are called {name!r} here; using {found[0].id}")
            parent = found[0].id
            continue
        existed = False
        if not spare_ids:  # one call for every level still missing, and the home's first IDs
            spare_ids = client.generate_ids(min(MAX_IDS_PER_CALL, len(parts) - i + expect_new))
        new_id = spare_ids.pop(0)
        result = client.create_folders([NewFolder(new_id, name, parent, now_ms)])[new_id]
        if isinstance(result, Exception):
            raise result
        parent = result.id
    db.root_folder_id = parent
    db.account_email = db.account_email or client.about_email()
    return parent, existed, spare_ids


def setup_root(client: DriveClient, db: StateDB, parts: list[str], skip: Skip,
               snap: Snapshot | None = None) -> tuple[str, list[str]]:
    """First push, lost state, or the root folder changed on Drive: find or make the folder,
    start the changes feed, and adopt what the folder already holds. The root's ID and the
    spare generated IDs (see `ensure_root`)."""
    token = client.start_page_token()  # before any write of ours
    root_id, existed, spare_ids = ensure_root(client, db, parts, skip, len(snap.entries) if snap is not None else 0)
    db.page_token = token
    if existed and db.count() == 0:
        adopt(client, db, root_id, snap.entries if snap is not None else {}, skip)
    return root_id, spare_ids


def adopt(client: DriveClient, db: StateDB, root_id: str, entries: Mapping[str, LocalEntry], skip: Skip) -> None:
    """Fresh state, existing Drive folder: match what Drive holds by path and take its IDs.

    Local values are set to Drive's (size, modifiedTime), so an identical file costs nothing,
    a touched one a metadata update, and a changed one an update by ID: never a second copy.
    Drive keeps modifiedTime to the millisecond while local mtimes have nanoseconds: a local
    file of the same size whose mtime matches to the millisecond is the one we uploaded, so
    its exact mtime is recorded (else every adopted file would cost a hash and a metadata
    update, on this push and, for the hash, on every later one).
    """
    rows: list[StateEntry] = []
    stack = [(root_id, "")]
    while stack:
        folder_id, prefix = stack.pop()
        by_name: dict[str, list[DriveFile]] = {}
        for f in client.list_children(folder_id):
            by_name.setdefault(f.name, []).append(f)
        for name, files in sorted(by_name.items()):
            files.sort(key=lambda f: (f.modified_ms, f.id))
            chosen = files[0]
            path = prefix + name
            if len(files) > 1:
                skip(path, f"{len(files)} files with this name already on Drive; adopted {chosen.id}, "
                           "left the others alone")
            mtime_ns = chosen.modified_ms * 1_000_000
            local = entries.get(path)
            if (local is not None and not local.is_dir and not chosen.is_folder
                    and local.size == (chosen.size or 0) and local.mtime_ns // 1_000_000 == chosen.modified_ms):
                mtime_ns = local.mtime_ns
            rows.append(StateEntry(
                path=path, drive_id=chosen.id, is_dir=chosen.is_folder, status=EntryStatus.SYNCED,
                local_size=chosen.size or 0, local_mtime_ns=mtime_ns,
                md5=chosen.md5, drive_md5=chosen.md5, drive_modified_ms=chosen.modified_ms,
                drive_head_revision=chosen.head_revision, drive_trashed=chosen.trashed,
            ))
            if chosen.is_folder:
                stack.append((chosen.id, path + "/"))
    db.record_synced_many(rows)
