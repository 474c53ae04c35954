"""Plain data shared by scan, state, plan, push and the Drive client.

No I/O here: these are the values that flow from the scan and the state DB through planning
to the push, so that the planning core can be a pure function of them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import NamedTuple

FOLDER_MIME = "application/vnd.google-apps.folder"
ROOT_PATH = ""  # the home itself, in relative POSIX paths
# A restore streams each file into ".<name>.drive-sync-part" beside it: scan never pushes such a
# file, restore names never produce one, and the next restore removes leftovers.
RESTORE_PART_SUFFIX = ".drive-sync-part"


class LocalEntry(NamedTuple):
    """One file or directory found by the scan (stat only, nothing read).

    A named tuple, not a dataclass: the scan makes one per file (20,000 in a typical home),
    and a tuple is built several times faster than a frozen dataclass. It also lets plan
    decide "unchanged" with one tuple compare against the state DB's (path, is_dir, size,
    mtime_ns) row (`home.state_rows.StateRows.clean`).
    """

    path: str  # relative POSIX path from the home, e.g. "work/a.ipynb"; "" is the home
    is_dir: bool
    size: int
    mtime_ns: int


@dataclass(frozen=True, slots=True)
class Skipped:
    path: str
    reason: str


@dataclass(slots=True)
class Snapshot:
    """What the home holds now: entries by path, and what the scan refused, with reasons."""

    entries: dict[str, LocalEntry] = field(default_factory=dict)
    skipped: list[Skipped] = field(default_factory=list)
    # Top-most excluded paths (pruned, never looked into). Plan leaves their state rows alone,
    # so adding an exclude rule never trashes anything on Drive.
    excluded: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. "the home is a symlink to ..."


class EntryStatus(str, enum.Enum):
    PENDING = "pending"  # Drive ID generated and recorded; create not yet confirmed
    SYNCED = "synced"  # Drive confirmed the last action on this path


@dataclass(slots=True)
class StateEntry:
    """What the state DB remembers about one path: its Drive ID and both sides' last versions.

    local_* describe the local file as of the last push (or restore) that Drive confirmed.
    drive_* describe the Drive file as last seen: set from our own write, then updated from
    the changes feed when someone else writes, so that plan can tell who changed what.
    """

    path: str
    drive_id: str
    is_dir: bool
    status: EntryStatus = EntryStatus.SYNCED
    local_size: int = 0
    local_mtime_ns: int = 0
    md5: str | None = None  # md5 of the content we last pushed (files only)
    drive_md5: str | None = None
    drive_modified_ms: int = 0  # Drive modifiedTime, milliseconds since the epoch
    drive_head_revision: str | None = None
    drive_trashed: bool = False
    drive_removed: bool = False  # deleted for good on Drive (or no longer visible)
    local_deleted: bool = False  # gone locally; the row stays so a reappearance reuses the ID


@dataclass(frozen=True, slots=True)
class RemoteChange:
    """One entry of Drive's changes feed, reduced to what planning needs."""

    drive_id: str
    removed: bool
    trashed: bool = False
    md5: str | None = None
    size: int | None = None
    modified_ms: int = 0
    head_revision: str | None = None
    name: str | None = None
    parent_id: str | None = None


class Policy(str, enum.Enum):
    LAST_WRITE_WINS = "last-write-wins"
    LOCAL_WINS = "local-wins"


class DeletePolicy(str, enum.Enum):
    KEEP = "keep"
    TRASH = "trash"


class ActionKind(str, enum.Enum):
    MKDIR = "mkdir"
    CREATE = "create"
    UPDATE_CONTENT = "update_content"
    UPDATE_MTIME = "update_mtime"
    TRASH = "trash"
    FORGET_LOCAL = "forget_local"  # local deletion under `keep`: no API call, mark the row
    KEEP_DRIVE = "keep_drive"  # Drive holds the later write: leave it, report it
    SKIP = "skip"


@dataclass(frozen=True, slots=True)
class Action:
    kind: ActionKind
    path: str
    drive_id: str | None = None  # known ID (update/trash) or pending ID (create/mkdir), if any
    parent_path: str | None = None
    local: LocalEntry | None = None
    pin_revision: str | None = None  # Drive revision to keep forever before overwriting it
    untrash: bool = False  # the Drive file is in the trash and must come back first
    conflict: bool = False  # both sides changed since the last push
    reason: str | None = None


@dataclass(slots=True)
class Plan:
    actions: list[Action] = field(default_factory=list)
    unchanged: int = 0  # files that need nothing on either side (no action emitted)

    def of_kind(self, kind: ActionKind) -> list[Action]:
        return [a for a in self.actions if a.kind is kind]


@dataclass(slots=True)
class PushSummary:
    """The `push --json` summary: a contract with scripts and the frontend, so keep the keys exact."""

    created: int = 0
    updated: int = 0
    metadata_updated: int = 0
    unchanged: int = 0
    trashed: int = 0
    folders_created: int = 0
    kept_drive_copy: int = 0
    conflicts: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    bytes_uploaded: int = 0
    seconds: float = 0.0
    root_folder_id: str | None = None
