"""The values the sync exchanges with Drive, and the conversions between Drive's wire forms and ours.

Kept apart from the client so that code which only reads or builds these values (the engine,
tests) does not need to know how requests are sent.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Protocol

from ..core import model

__all__ = [
    "FOLDER_MIME",
    "FILE_FIELDS",
    "DriveFile",
    "NewFolder",
    "NewEmptyFile",
    "ResumeSlot",
    "to_rfc3339",
    "from_rfc3339",
    "drive_time_ms",
    "mime_type_for",
    "escape_q",
    "remote_change_from_api",
]

FOLDER_MIME = model.FOLDER_MIME
# The only fields the sync reads: asking for fewer keeps list pages small.
FILE_FIELDS = "id,name,mimeType,parents,md5Checksum,size,modifiedTime,trashed,headRevisionId,createdTime"
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class DriveFile:
    """A Drive file or folder, reduced to the fields the sync needs (`FILE_FIELDS`)."""

    id: str
    name: str
    mime_type: str
    parents: tuple[str, ...]
    md5: str | None
    size: int | None
    modified_ms: int
    trashed: bool
    head_revision: str | None
    # when Drive made the item: a client may only set it in its create (this app never does),
    # while modifiedTime moves with every edit and any client sets it to anything; of
    # same-name items, the one made first is the original
    created_ms: int = 0

    @property
    def is_folder(self) -> bool:
        return self.mime_type == FOLDER_MIME

    @property
    def parent_id(self) -> str | None:
        return self.parents[0] if self.parents else None

    @classmethod
    def from_api(cls, d: dict[str, Any]) -> "DriveFile":
        size = d.get("size")
        return cls(
            id=d["id"],
            name=d.get("name", ""),
            mime_type=d.get("mimeType", ""),
            parents=tuple(d.get("parents") or ()),
            md5=d.get("md5Checksum"),
            size=int(size) if size is not None else None,
            modified_ms=drive_time_ms(d.get("modifiedTime")),
            trashed=bool(d.get("trashed", False)),
            head_revision=d.get("headRevisionId"),
            created_ms=drive_time_ms(d.get("createdTime")),
        )

    @property
    def age_key(self) -> tuple[int, int, str]:
        """Sorts the oldest first: made first, then (equal or unknown) last modified, then ID.
        Adoption and restore pick among same-name items by it, so both take the same one."""
        return (self.created_ms, self.modified_ms, self.id)


@dataclass(frozen=True)
class NewFolder:
    """A folder to create with a pre-generated ID."""

    id: str
    name: str
    parent_id: str
    modified_ms: int


@dataclass(frozen=True)
class NewEmptyFile:
    """A 0-byte file to create with a pre-generated ID. It needs no media, so its create is a
    metadata-only call, and those fit in a batch (media never does)."""

    id: str
    name: str
    parent_id: str
    modified_ms: int
    mime_type: str  # what an upload of the file would carry: `mime_type_for(local_path)`


class ResumeSlot(Protocol):
    """Where one file's resumable session URI outlives the process (push keeps it in the state
    DB), so that a run killed mid-upload is continued by the next run from the byte Drive has,
    instead of sending the whole file again. Only consulted for resumable uploads."""

    def saved(self) -> str | None:
        """The session URI an earlier run started for this very file version, if any."""

    def started(self, uri: str) -> None:
        """Drive granted a new session: remember it before any byte is sent."""

    def finished(self) -> None:
        """The upload completed (or its session is gone): forget the URI."""


# What Drive's RFC 3339 times can say: a four-digit year, 0001-01-01 .. 9999-12-31, to the ms.
DRIVE_MIN_MS = -62_135_596_800_000  # 0001-01-01T00:00:00.000Z
DRIVE_MAX_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z


def to_rfc3339(ms: int) -> str:
    """Milliseconds since the epoch → `2024-01-01T12:00:00.123Z` (what Drive stores, to the ms).

    A time Drive cannot hold is written as the nearest one it can (the sync's own times are
    already clamped to a narrower range, `core.model.clamp_mtime_ms`, so this never bites them).
    """
    ms = min(max(int(ms), DRIVE_MIN_MS), DRIVE_MAX_MS)
    dt = _EPOCH + timedelta(milliseconds=ms)
    return (f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}"
            f".{dt.microsecond // 1000:03d}Z")


def from_rfc3339(value: str) -> int:
    """RFC 3339 (`Z` or offset, 0–9 fraction digits) → milliseconds since the epoch, clamped to
    the range the sync carries (`core.model.clamp_mtime_ms`): a file another client dated 9999
    on Drive must be restorable and comparable like any other, and the state DB and the local
    file system hold nanoseconds in 64 bits. Raises ValueError if `value` is not a time."""
    s = value.strip()
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    frac = ""
    if "." in s:
        head, rest = s.split(".", 1)
        digits = ""
        while rest and rest[0].isdigit():
            digits, rest = digits + rest[0], rest[1:]
        frac, s = digits, head + rest
    dt = datetime.fromisoformat(s)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    whole = (dt - _EPOCH) // timedelta(seconds=1)
    return model.clamp_mtime_ms(whole * 1000 + int((frac + "000")[:3]))


def drive_time_ms(value: Any) -> int:
    """A `modifiedTime` from a Drive answer as from_rfc3339 reads it; 0 when absent. One Drive
    cannot have sent (an offset past year 9999, a garbled string) is taken as absent too: a
    strange time on one file must not end a run over a whole home."""
    if not value:
        return 0
    try:
        return from_rfc3339(str(value))
    except (ValueError, OverflowError):
        return 0


def mime_type_for(path: Path | str) -> str:
    """The MIME type an upload of `path` carries (guessed from its name), so a file created
    without media (an empty one, in a batch) gets the same type as one uploaded alone."""
    return mimetypes.guess_type(str(path))[0] or "application/octet-stream"


def escape_q(value: str) -> str:
    """Escape a string literal for a Drive `q` (backslash first, then the quote)."""
    return value.replace("\\", "\\\\").replace("'", "\\'")


def remote_change_from_api(ch: dict[str, Any]) -> model.RemoteChange:
    """One entry of a `changes.list` page, as the engine's RemoteChange (a removal if no file)."""
    f = ch.get("file") or {}
    removed = bool(ch.get("removed", False))
    if removed or not f:
        return model.RemoteChange(drive_id=ch["fileId"], removed=True)
    parents = f.get("parents") or []
    size = f.get("size")
    return model.RemoteChange(
        drive_id=ch["fileId"],
        removed=False,
        trashed=bool(f.get("trashed", False)),
        md5=f.get("md5Checksum"),
        size=int(size) if size is not None else None,
        modified_ms=drive_time_ms(f.get("modifiedTime")),
        head_revision=f.get("headRevisionId"),
        name=f.get("name"),
        parent_id=parents[0] if parents else None,
    )
