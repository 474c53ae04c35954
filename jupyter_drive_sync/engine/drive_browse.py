"""What a home's Drive backup holds, read-only: for the restore dialog and for a restore's start.

Browsing never writes Drive nor the state DB (it reads the stored root folder ID read-only),
so the dialog can be opened while a push or restore runs. With the `drive.file` scope only
what this app put on Drive is visible, not other files of the user's Drive.

Secrets and the tool's own state are never restored, whatever Drive holds (something planted
there must not become `~/.ssh/authorized_keys` or another account's credentials): a sub-path
that is, or is inside, one of them is refused here, for the CLI, the REST routes and the
dialog alike, and the listing marks such entries as not restorable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..auth.session import connect
from ..core.errors import SyncError
from ..core.options import RestoreOptions
from ..core.settings import folder_name, resolve_username, state_dir
from ..drive.client import DriveClient
from ..drive.types import DriveFile, to_rfc3339
from ..home.excludes import never_synced
from ..home.scan import display_path
from ..home.state_read import read_state_names
from .account_check import stored_ids_usable
from .remote_root import stored_folder, walk_folder_path
from .restore_names import join, match_child, safe_names, split_subpath
from .status import stored_root_folder_id

SCOPE_NOTE = ("With the drive.file permission, restore sees only what this app put on Drive "
              "(what earlier backups uploaded), not other files in your Drive.")


class NothingToRestore(SyncError):
    """No backup folder on Drive for this home, or nothing at the requested sub-path."""

    exit_code = 1
    error_kind = "nothing_to_restore"


NEVER_RESTORED = "never restored"


def restorable_subpath(path: str | None) -> list[str]:
    """A user-supplied restore sub-path → its parts (local names).

    ValueError for a path that could leave the home, or that is (or is inside) a secret or the
    tool's own state — with a sentence saying which.
    """
    parts = split_subpath(path)
    if parts:
        why = never_synced("/".join(parts), True)
        if why is not None:
            raise ValueError(f"{why}: {NEVER_RESTORED}")
    return parts


def find_root(client: DriveClient, stored_id: str | None, parts: list[str]) -> DriveFile | None:
    """The home's Drive folder: by its stored ID (the user may have renamed or moved it), else
    by the folder template's path."""
    if stored_id:
        f = stored_folder(client, stored_id)
        if f is not None and not f.trashed and f.is_folder:
            return f
    found = walk_folder_path(client, parts)  # read-only: same-name folders are not reported
    return found[-1] if found and len(found) == len(parts) else None


def no_backup(roots: list[str]) -> NothingToRestore:
    return NothingToRestore(f"there is no backup at {'/'.join(roots)} in this Google Drive. {SCOPE_NOTE}")


def backup_parts(options: RestoreOptions) -> list[str]:
    """The Drive folder path (names from My Drive down) the home's backup is expected at."""
    return folder_name(options.folder_template, resolve_username(Path(options.home), options.user)).split("/")


def _connect(options: RestoreOptions) -> DriveClient:
    return connect(Path(options.home), options.credentials_path, options.encryption_key, options.api_root)


def _usable_stored_id(options: RestoreOptions, client: DriveClient) -> str | None:
    """The stored backup folder ID, only if the state DB is the connected account's (after an
    account switch, the other account's folder and rows must not be used)."""
    home_state = state_dir(Path(options.home))
    return stored_root_folder_id(home_state) if stored_ids_usable(home_state, client.credentials) else None


def list_remote(options: RestoreOptions, path: str = "") -> dict[str, Any]:
    """The Drive folder at `path` (local names, relative to the home): folders first, by name.

    ValueError for a bad or secret path; NothingToRestore when the backup or the path does not
    exist. Secrets and the tool's own state are listed as not restorable, with the reason.
    """
    parts = restorable_subpath(path)
    client = _connect(options)
    try:
        stored = _usable_stored_id(options, client)
        root = find_root(client, stored, backup_parts(options))
        if root is None:
            raise no_backup(backup_parts(options))
        # the state DB's names for same-name twins, when its rows are about this very folder:
        # the listing then names them as a restore will
        known = read_state_names(state_dir(Path(options.home))) if root.id == stored else {}
        node, rel = root, ""
        for part in parts:
            match = match_child(client.list_children(node.id), part, known)
            if match is None or not match.is_folder:
                raise NothingToRestore(f"no folder called {display_path(join(rel, part))!r} in the Drive backup")
            node, rel = match, join(rel, part)
        entries = []
        for n in safe_names(client.list_children(node.id), known):
            f = n.file
            name = n.local if n.local is not None else f.name
            refused = never_synced(join(rel, name), f.is_folder)
            if refused is not None:
                n.local, n.skipped = None, f"{refused}: {NEVER_RESTORED}"
            entries.append({
                "name": name,
                "drive_name": f.name,
                "path": join(rel, name),
                "is_folder": f.is_folder,
                "size": f.size,
                "modified_time": to_rfc3339(f.modified_ms) if f.modified_ms else None,
                "md5": f.md5,
                "restorable": n.local is not None,
                "note": n.skipped or n.renamed,
            })
        entries.sort(key=lambda e: (not e["is_folder"], e["name"].casefold(), e["name"]))
        return {"path": rel, "root_folder_id": root.id, "entries": entries}
    finally:
        client.close()


def probe_backup(options: RestoreOptions) -> bool:
    """Whether the user's Drive folder exists and holds anything (≤ 1 + folders-deep requests)."""
    client = _connect(options)
    try:
        root = find_root(client, _usable_stored_id(options, client), backup_parts(options))
        return root is not None and next(iter(client.list_children(root.id)), None) is not None
    finally:
        client.close()
