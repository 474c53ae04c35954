"""What the Drive store holds: file and revision records, content checksums, Drive's times.

Plain values shared by the store, the query language and the Drive routes; no I/O here.
"""

from __future__ import annotations

import calendar
import re
import time
from dataclasses import dataclass, field, replace

FOLDER_MIME = "application/vnd.google-apps.folder"
ID_RE = re.compile(r"^[A-Za-z0-9_-]{10,100}$")  # what Drive accepts as a file id in a create body

_TIME_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*([Zz]|[+-]\d{2}:?\d{2})?$"
)


# ---------------------------------------------------------------- time (RFC 3339, ms precision)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


# The times Drive holds: RFC 3339's `date-fullyear = 4DIGIT` (RFC 3339 §5.6), and Google's JSON
# form of a timestamp, "0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z" (the
# google.protobuf.Timestamp reference); a value outside, even one written with an offset that
# only moves it there, is refused as a bad format.
MIN_TIME_MS = -62_135_596_800_000  # 0001-01-01T00:00:00.000Z
MAX_TIME_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z


def format_time(ms: int) -> str:
    """RFC 3339 with milliseconds and `Z`, exactly as Drive prints it (always four year digits:
    strftime's `%Y` leaves years before 1000 unpadded)."""
    secs, millis = divmod(ms, 1000)
    t = time.gmtime(secs)
    return (f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
            f".{millis:03d}Z")


def parse_time(text: str) -> int:
    """Milliseconds since the epoch for an RFC 3339 string (no zone = UTC); ValueError if bad."""
    m = _TIME_RE.match(text.strip())
    if not m:
        raise ValueError(f"bad time {text!r}")
    y, mo, d, hh, mm, ss, frac, zone = m.groups()
    tup = (int(y), int(mo), int(d), int(hh or 0), int(mm or 0), int(ss or 0))
    if not (1 <= tup[1] <= 12 and 1 <= tup[2] <= calendar.monthrange(tup[0], tup[1])[1]
            and tup[3] < 24 and tup[4] < 60 and tup[5] < 61):
        raise ValueError(f"bad time {text!r}")
    secs = calendar.timegm(tup + (0, 0, 0))
    if zone and zone not in "Zz":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        secs -= sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    millis = int((frac or "0")[:3].ljust(3, "0"))
    ms = secs * 1000 + millis
    if not MIN_TIME_MS <= ms <= MAX_TIME_MS:
        raise ValueError(f"time out of range {text!r}")
    return ms


# ---------------------------------------------------------------- records


@dataclass(slots=True)
class Blob:
    """Content already in the blob store, with the checksums Drive reports."""

    sha256: str
    md5: str
    sha1: str
    size: int


@dataclass(slots=True)
class RevRec:
    id: str
    md5: str
    sha1: str
    sha256: str
    size: int
    modified_ms: int
    keep_forever: bool = False
    mime_type: str = "application/octet-stream"
    original_filename: str | None = None
    # When this content reached Drive, on the emulator's clock: the revision before it is purged
    # 30 days later (None: stored before the emulator kept the time; never purged by age).
    uploaded_ms: int | None = None


@dataclass(slots=True)
class FileRec:
    id: str
    owner: str
    name: str
    mime_type: str
    parent: str | None
    creator_client: str
    created_ms: int
    modified_ms: int
    version: int = 0
    trashed: bool = False
    explicitly_trashed: bool = False
    trashed_ms: int | None = None
    starred: bool = False
    description: str | None = None
    modified_by_me_ms: int | None = None
    viewed_by_me_ms: int | None = None
    original_filename: str | None = None
    properties: dict[str, str] = field(default_factory=dict)
    app_properties: dict[str, dict[str, str]] = field(default_factory=dict)  # client_id -> map
    is_root: bool = False
    revisions: list[RevRec] = field(default_factory=list)

    @property
    def is_folder(self) -> bool:
        return self.mime_type == FOLDER_MIME

    @property
    def head(self) -> RevRec | None:
        return self.revisions[-1] if self.revisions else None

    @property
    def size(self) -> int:
        head = self.head
        return head.size if head else 0

    @property
    def quota_bytes(self) -> int:
        """What the file costs the owner's storage quota. The discovery document
        (File.quotaBytesUsed): "This includes the head revision as well as previous revisions
        with `keepForever` enabled"; the other old revisions cost nothing."""
        revs = self.revisions
        if not revs:
            return 0
        return revs[-1].size + sum(r.size for r in revs[:-1] if r.keep_forever)

    def copy(self) -> "FileRec":
        """An editable copy: maps and the revision list are new objects (revisions shared)."""
        return replace(
            self,
            properties=dict(self.properties),
            app_properties={k: dict(v) for k, v in self.app_properties.items()},
            revisions=list(self.revisions),
        )


# ---------------------------------------------------------------- revision keeping

# Google, "Manage file revisions" (developers.google.com/workspace/drive/api/guides/manage-revisions):
# "Any blob file revision, other than the head revision, that's not designated as 'Keep Forever'
# is purgeable. Purgeable revisions are typically preserved for 30 days, but can be purged earlier
# if a file has 100 revisions that aren't designated as 'Keep Forever' and a new revision is
# uploaded." The discovery document (Revision.keepForever) says the same: "purged 30 days after
# newer content is uploaded". Always on: Google does not let an app turn it off.
REVISION_KEEP_MS = 30 * 24 * 3600 * 1000
UNPINNED_REVISIONS_KEPT = 100


def surviving_revisions(revs: list[RevRec], now_ms: int, *, uploaded: bool) -> list[RevRec]:
    """The revisions Google still holds at `now_ms` (oldest first): the head and the pinned ones
    always; another one until 30 days after the next newer content arrived; and, when new
    content was just `uploaded`, no more than 100 unpinned ones (the oldest go first)."""
    last = len(revs) - 1
    kept = [
        rev for i, rev in enumerate(revs)
        if i == last or rev.keep_forever
        or revs[i + 1].uploaded_ms is None or now_ms - revs[i + 1].uploaded_ms < REVISION_KEEP_MS
    ]
    excess = sum(1 for rev in kept if not rev.keep_forever) - UNPINNED_REVISIONS_KEPT
    if uploaded and excess > 0:
        head = kept[-1]
        out = []
        for rev in kept[:-1]:
            if excess > 0 and not rev.keep_forever:
                excess -= 1
                continue
            out.append(rev)
        kept = out + [head]
    return kept
