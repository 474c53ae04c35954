"""The reference model of the lifecycle test: what the backup folder may hold after each step.

The home itself is its own model (it is read back from the disk); what needs remembering is
what neither side shows later: which local files changed since Drive last agreed with them,
which Drive-side events of another client happened since, and whether the next push starts
from a lost state (adoption). From that, `expectation` says, for one path, which contents
Drive may hold after a push that exited 0, following the last-write-wins table of
docs/ARCHITECTURE.md (the design's section on semantics):

- nothing happened on Drive: exactly the local bytes;
- another client edited Drive's copy and the local file did not change: Drive's copy stays;
- both changed: the later timestamp wins, and a local win pins Drive's revision and reports
  a conflict;
- trashed or deleted on Drive: respected while the local file is unchanged, recreated by a
  local change;
- renamed or moved on Drive (inside the backup folder or out of it): the backup folder must
  still end up holding the local file (the student's copy elsewhere is left alone);
- adoption (lost state, new volume, account switch): a Drive copy that differs is judged by
  time alone: a local copy with the later mtime wins, a later Drive copy is kept, or replaced
  only with its revision pinned and a conflict reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

GONE_RESPECTED = ("trashed", "deleted")  # Drive-side removals a push respects
GONE_MOVED = ("moved",)  # Drive-side renames and moves: the backup must stay complete


@dataclass
class DriveEdit:
    """Drive's copy at a path was written by someone other than this home's pushes."""

    fid: str
    md5: str | None
    modified_ms: int


@dataclass
class Expectation:
    """What a push that exited 0 may leave at one path of the backup folder."""

    md5s: set[str]  # acceptable contents of the item there
    may_be_absent: bool = False
    pin: DriveEdit | None = None  # replaced this Drive version: it must be pinned, and a conflict reported
    pin_optional_md5: str | None = None  # this content is acceptable only if `pin` holds
    why: str = ""


@dataclass
class Model:
    local_dirty: set[str] = field(default_factory=set)  # local content changed since Drive agreed
    drive_edits: dict[str, DriveEdit] = field(default_factory=dict)  # by path in the backup folder
    drive_gone: dict[str, str] = field(default_factory=dict)  # path → "trashed" | "deleted" | "moved"
    adoption: dict[str, DriveEdit] | None = None  # lost state: Drive's files by path when it was lost
    foreign: set[str] = field(default_factory=set)  # Drive IDs placed by other clients

    def forget_path(self, path: str) -> None:
        self.local_dirty.discard(path)

    def mark_gone(self, paths: list[str], how: str) -> None:
        for p in paths:
            if self.drive_gone.get(p) != "moved":  # a move is the strongest promise to keep
                self.drive_gone[p] = how
            if self.adoption is not None:
                self.adoption.pop(p, None)

    def drive_edit(self, path: str, edit: DriveEdit) -> None:
        self.drive_edits[path] = edit
        if self.adoption is not None:
            self.adoption[path] = edit

    def start_adoption(self, drive_files: dict[str, DriveEdit], local_paths: set[str]) -> None:
        """State lost (or a new account): the next push judges every differing file by time."""
        self.adoption = dict(drive_files)
        self.drive_edits.clear()
        self.drive_gone.clear()
        self.local_dirty |= local_paths

    def expectation(self, path: str, local_md5: str, local_ms: int) -> Expectation:
        if self.adoption is not None:
            gone = self.drive_gone.get(path)
            if gone in GONE_RESPECTED:  # since the loss: adopted first (respected) or after (recreated)
                return Expectation({local_md5}, may_be_absent=True, why=f"adoption: {gone} on Drive since")
            d = self.adoption.get(path)
            if d is None or d.md5 == local_md5:
                return Expectation({local_md5}, why="adoption: nothing different on Drive")
            if local_ms > d.modified_ms:
                return Expectation({local_md5}, why="adoption: the local copy is later")
            return Expectation({d.md5 or ""}, pin=d, pin_optional_md5=local_md5,
                               why="adoption: Drive's copy is later (kept, or replaced with a pin and a conflict)")
        dirty = path in self.local_dirty
        gone = self.drive_gone.get(path)
        edit = self.drive_edits.get(path)
        if gone in GONE_MOVED:
            return Expectation({local_md5} | ({edit.md5} if edit and edit.md5 and not dirty else set()),
                               why="renamed or moved on Drive: the backup folder must still hold the file")
        if gone in GONE_RESPECTED:
            if dirty:
                return Expectation({local_md5}, why=f"{gone} on Drive, then changed locally: recreated")
            extra = {edit.md5} if edit and edit.md5 else set()
            return Expectation({local_md5} | extra, may_be_absent=True, why=f"{gone} on Drive: respected")
        if edit is not None:
            if not dirty:
                return Expectation({edit.md5 or ""}, why="edited on Drive, unchanged locally: Drive's copy stays")
            if local_ms > edit.modified_ms:
                return Expectation({local_md5}, pin=edit, why="both changed, the local copy is later")
            if local_ms < edit.modified_ms:
                return Expectation({edit.md5 or ""}, why="both changed, Drive's copy is later")
            return Expectation({local_md5, edit.md5 or ""}, why="both changed at the same millisecond")
        return Expectation({local_md5}, why="nothing happened on Drive")
