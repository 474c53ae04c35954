"""Adoption: the state DB takes the IDs of what the home's Drive folder already holds.

A state DB that has not adopted the root folder (lost, a new volume, another account's, or a
run killed while adopting) walks that folder and takes the IDs of what it holds, matched by
path, before anything is created, so nothing gets a second copy (`remote_root` runs it and
records it finished). Adopted rows are decided like every other last-write-wins row: same
content costs at most a metadata update; different content is compared by time (local mtime
vs Drive's modifiedTime), so a newer Drive copy is kept, or, when overwritten (the local copy
is later, or policy local-wins), its revision is pinned and the push reports a conflict.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Mapping

from ..core.model import EntryStatus, LocalEntry, StateEntry, is_version_sent
from ..drive.client import DriveClient
from ..drive.types import DriveFile
from ..home.fs_guards import open_beneath
from ..home.scan import md5_of
from ..home.state_db import StateDB

# Reports a path the run leaves alone and why (the summary's `skipped`).
Skip = Callable[[str, str], None]


def adoption_rows(client: DriveClient, db: StateDB, root_id: str, entries: Mapping[str, LocalEntry],
                  home: Path | str | None, skip: Skip, *, known: Mapping[str, StateEntry] | None = None,
                  ) -> tuple[list[StateEntry], dict[str, str]]:
    """Walk the Drive folder and build a row for each item at a path the state DB does not
    know yet (rows already there, and their IDs, are left as they are: adopting again after an
    interruption, or after a restore wrote some rows, changes nothing twice). Returns the rows
    and the md5s of local files read to compare contents.

    Same-name items at one path are reported, one is adopted (the one the state DB knows, else
    the kind the home has there, then the one holding the local file, then, of folders, the one
    holding most of the home's files as uploaded, then the one Drive made first) and the others
    are left alone: never a third one beside them. `known`: the rows to take as the state DB's (default:
    read from it; a dry run passes what it previews).
    """
    if known is None:
        known = db.load()
    known_ids = {r.drive_id for r in known.values()}
    rows: list[StateEntry] = []
    hashes: dict[str, str] = {}
    listed: dict[str, list[DriveFile]] = {}

    def children(folder_id: str) -> list[DriveFile]:
        if folder_id not in listed:  # a same-name folder weighed below is listed once, not again
            listed[folder_id] = [f for f in client.list_children(folder_id)
                                 if "/" not in f.name and f.name not in ("", ".", "..")]  # else never ours
        return listed[folder_id]

    def holds_of_home(folder: DriveFile, path: str) -> int:
        """How many of `folder`'s items are the home's (a file as uploaded, a folder it has)."""
        found = 0
        for f in children(folder.id):
            local = entries.get(f"{path}/{f.name}")
            found += local is not None and (_same_file(local, f) or (local.is_dir and f.is_folder))
        return found

    stack = [(root_id, "")]
    while stack:
        folder_id, prefix = stack.pop()
        by_name: dict[str, list[DriveFile]] = {}
        for f in children(folder_id):
            by_name.setdefault(f.name, []).append(f)
        listed.pop(folder_id)
        for name, files in sorted(by_name.items()):
            path = prefix + name
            local = entries.get(path)
            want_folder = local.is_dir if local is not None else None
            ours = known[path].drive_id if path in known else None
            # two folders of one name (say one back from the trash beside the one a push made
            # since): the older may hold little of the home, and adopting it would upload a
            # second copy of everything the other holds (defect 23)
            weigh = sum(f.is_folder for f in files) > 1
            files.sort(key=lambda f: (f.id != ours, f.is_folder != want_folder, not _same_file(local, f),
                                      -holds_of_home(f, path) if weigh and f.is_folder else 0,
                                      f.age_key))
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
      deletion: not trashed under `trash`), with no common version: a file that appears here
      later was never Drive's copy, and the later of the two wins, a conflict reported;
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
        if not f.is_folder:
            row.md5 = None  # the home never had Drive's copy: a file made here later meets it by time (defect 28)
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
    """Whether Drive's file is the local file as we uploaded it (`is_version_sent`)."""
    return (local is not None and not local.is_dir and not f.is_folder
            and is_version_sent(local.size, local.mtime_ns, f.size, f.modified_ms))


def _local_md5(home: Path | str, path: str) -> str | None:
    """md5 of the home's file, reached without following symlinks; None if it cannot be read
    (then the push's upload reports why)."""
    try:
        with open_beneath(os.fspath(home), path) as fh:
            return md5_of(fh)
    except OSError:
        return None
