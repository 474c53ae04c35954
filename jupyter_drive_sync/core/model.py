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

# -- the times a sync can carry ------------------------------------------------------------------
# A local mtime lives in the state DB as nanoseconds in an SQLite INTEGER (signed 64 bits:
# 1677-09-21 .. 2262-04-11); Drive's modifiedTime is RFC 3339 with a four-digit year, to the
# millisecond (0001 .. 9999). A file system holds more (tmpfs, btrfs: far beyond both), so a time
# outside the narrower range, SQLite's, is clamped to its nearest end wherever a time enters the
# sync (the scan, a stat after an upload or a download, Drive's answers): one file touched to
# year 3000 must not stop a home's backup, and, clamped the same way on every run, it costs
# nothing after its first push. The ends are whole milliseconds, so that a time converts between
# the two sides exactly, and `(ms + 1) * 1_000_000` (the state DB's "in sync" test) still fits.
MTIME_MAX_MS = 2**63 // 1_000_000 - 1  # 2262-04-11T23:47:16.853Z
MTIME_MIN_MS = -(2**63 // 1_000_000)  # 1677-09-21T00:12:43.146Z
MTIME_MAX_NS = MTIME_MAX_MS * 1_000_000
MTIME_MIN_NS = MTIME_MIN_MS * 1_000_000


def ns_to_ms(ns: int) -> int:
    """Nanoseconds (a local mtime) as the whole milliseconds Drive's modifiedTime holds."""
    return ns // 1_000_000


def is_version_sent(size: int, mtime_ns: int, drive_size: int | None, drive_modified_ms: int) -> bool:
    """Whether Drive's file is the local version (`size`, `mtime_ns`) as this app uploaded it:
    the same size, and modifiedTime equal to the mtime to the millisecond (every upload sets
    modifiedTime = mtime; Drive keeps no finer time)."""
    return size == (drive_size or 0) and ns_to_ms(mtime_ns) == drive_modified_ms


def clamp_mtime_ns(ns: int) -> int:
    """A local mtime (nanoseconds since the epoch) brought into the range the sync carries."""
    return MTIME_MIN_NS if ns < MTIME_MIN_NS else MTIME_MAX_NS if ns > MTIME_MAX_NS else ns


def clamp_mtime_ms(ms: int) -> int:
    """A time in milliseconds since the epoch (Drive's modifiedTime) brought into that range."""
    return MTIME_MIN_MS if ms < MTIME_MIN_MS else MTIME_MAX_MS if ms > MTIME_MAX_MS else ms


class LocalEntry(NamedTuple):
    """One file or directory found by the scan (stat only, nothing read).

    A named tuple, not a dataclass: the scan makes one per file (20,000 in a typical home),
    and a tuple is built several times faster than a frozen dataclass. It also lets plan
    decide "unchanged" with one tuple compare against the state DB's (path, is_dir, size,
    mtime_ns, ino) row (`home.state_rows.StateRows.clean`).
    """

    path: str  # relative POSIX path from the home, e.g. "work/a.ipynb"; "" is the home
    is_dir: bool
    size: int
    mtime_ns: int
    # The file's inode number (0: unknown). A rename or move keeps it, so a deleted path and a
    # new path with the same inode (and size) are one file that moved; and a path whose inode
    # changed may hold another file even if its size and mtime did not (two names swapped).
    ino: int = 0


@dataclass(frozen=True, slots=True)
class Skipped:
    path: str
    reason: str
    # a symlink, FIFO, socket or device stands at the path: whatever the backup held there is
    # not there any more (it may have moved), unlike a file or folder the scan could not read
    other_kind: bool = False


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
    local_ino: int = 0  # inode of the local file as of the last push (0: not recorded yet)


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
    # A local rename or move (same inode and size, or same size and md5): one metadata update
    # by ID (name, parents) that carries a folder's whole subtree; no bytes, no second copy.
    MOVE = "move"
    # The same content under a new inode, or an inode never recorded: the state DB notes it,
    # no Drive request.
    NOTE_INODE = "note_inode"


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
    # MOVE only: the path the item leaves (as the state DB has it when the move runs: below a
    # folder moved first, the folder's new path), the Drive folder it leaves (None: the home's
    # root folder), the modifiedTime it keeps (Drive moves modifiedTime on a rename), and whether
    # the local file is the content last pushed (the row then takes its size, mtime and inode).
    source_path: str | None = None
    source_parent_id: str | None = None
    modified_ms: int | None = None
    same_content: bool = False
    # a MOVE that sets a replaced item aside (no local entry): the label of its new name
    # ("replaced by a folder", "deleted"; see engine/plan_aside.py)
    aside_label: str | None = None


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
    moved: int = 0  # local renames and moves done by ID on Drive (a folder counts once)
    # Write calls sent to Drive (each call inside a batch, each retry) and those Drive refused for
    # rate: what the account's write limit (about 3/s) bounds a push by.
    writes: int = 0
    refused_writes: int = 0
