"""The reference model of the lifecycle test: what the backup folder may hold after each step.

The home itself is its own model (it is read back from the disk); what needs remembering is
what neither side shows later: which local files changed since Drive last agreed with them,
which Drive-side events of another client happened since, and whether the next push starts
from a lost state (adoption). From that, `expectation` says, for one path, which contents
Drive may hold after a push that exited 0, following the product's last-write-wins rules
(README, and the table the planner implements in jupyter_drive_sync/engine/plan.py):

- nothing happened on Drive: exactly the local bytes;
- another client edited Drive's copy and the local file did not change: Drive's copy stays;
- both changed: the later timestamp wins, and a local win pins Drive's revision and reports
  a conflict; at the same millisecond the local copy is backed up the same way (both kept);
  times are compared as the sync carries them (clamped to the int64-nanosecond range);
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
# The times the sync carries (docs/RELIABILITY.md, known limit 3): nanoseconds since the epoch in an int64,
# whole milliseconds; anything beyond is compared as the end it is clamped to.
CARRIED_MAX_MS = 2**63 // 1_000_000 - 1  # 2262-04-11T23:47:16.853Z
CARRIED_MIN_MS = -(2**63 // 1_000_000)


def carried(ms: int) -> int:
    return max(CARRIED_MIN_MS, min(CARRIED_MAX_MS, ms))


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
    # changed before a push that may or may not have sent it (killed, failed, run twice at once)
    uncertain: set[str] = field(default_factory=set)
    drive_edits: dict[str, DriveEdit] = field(default_factory=dict)  # by path in the backup folder
    drive_gone: dict[str, str] = field(default_factory=dict)  # path → "trashed" | "deleted" | "moved"
    adoption: dict[str, DriveEdit] | None = None  # lost state: Drive's files by path when it was lost
    # back to an account this home used before: the push may still hold that account's state
    # (then a local change is simply the later write) or adopt again (then time decides)
    adoption_may_know: bool = False
    # back to such an account: the local files that account's Drive agreed with when the home
    # left it (md5, mtime ms); unchanged since, its old state sees no local change (model bug 38)
    known_clean: dict[str, tuple[str, int]] = field(default_factory=dict)
    # a push without a verdict ran since the state was lost: it may have finished the adoption
    # (judging each file then, with the content of that moment), so a later local change meets
    # an adopted row, not Drive's copy of the moment the state was lost
    adoption_maybe_done: bool = False
    # since the last push without a verdict while adopting: paths written here, paths edited on
    # Drive (a Drive edit after an adoption that push may have finished meets an adopted row)
    local_since_unverified: set[str] = field(default_factory=set)
    drive_since_unverified: set[str] = field(default_factory=set)
    foreign: set[str] = field(default_factory=set)  # Drive IDs placed by other clients
    # moved locally while the state is lost: Drive's file at the old path may go along or stay
    moved_in_adoption: set[str] = field(default_factory=set)
    # Drive's own file at a path a file was moved onto while the state is lost (soak run E): the
    # push may adopt that path by path (time decides against this entry) or carry the moved
    # file's item there by ID (this one set aside)
    displaced_in_adoption: dict[str, DriveEdit] = field(default_factory=dict)
    # renamed onto a path that once held the same bytes, which the state DB may still remember
    may_reappear: set[str] = field(default_factory=set)
    # written by a restore while the state is lost: the state DB has their rows, so a later Drive
    # edit there is judged like any other, not by time as adoption would (model bug 18)
    known_in_adoption: set[str] = field(default_factory=set)
    # a file changed since Drive agreed, moved onto a path with Drive history of its own (a file
    # deleted here whose Drive copy stays, or one a new volume lacks): the push moves its item by
    # ID (the size kept: the item's history) or, not knowing it, plans the path in place (the
    # path's own history, judged by time); this is the path's own (model bug 35)
    rival_edits: dict[str, DriveEdit] = field(default_factory=dict)
    # paths whose Drive item a push without a verdict wrote this home's bytes into, over another
    # client's edit: the state DB may or may not know that content, so until a push with a
    # verdict, a later local write here meets it as this home's or as another client's (model bug 41)
    drive_unverified: set[str] = field(default_factory=set)

    def forget_path(self, path: str) -> None:
        self.local_dirty.discard(path)
        self.uncertain.discard(path)
        self.rival_edits.pop(path, None)

    def local_write(self, path: str) -> None:
        self.local_dirty.add(path)
        if path not in self.drive_unverified:
            self.uncertain.discard(path)
        self.local_since_unverified.add(path)

    def local_renamed(self, src: str, dst: str) -> None:
        """A file renamed or moved from `src` to `dst` (same inode, same size).

        Unchanged since Drive agreed: the product knows it by identity, so a push moves its
        Drive item by ID and sends nothing; the item carries what happened to it on Drive.
        Changed since: moved by ID with its new content (the size kept) or a delete plus a
        create (the size changed); which one is not the model's to know, so `dst` keeps that
        history too and is uncertain. Lost state (adoption): there is no row to know it by, or
        one adopted already; Drive's file at `src` is what a push may or may not carry along."""
        dirty = src in self.local_dirty
        self.forget_path(src)
        self.forget_path(dst)
        self.local_since_unverified.add(dst)
        self.moved_in_adoption.discard(src)
        self.displaced_in_adoption.pop(src, None)
        if self.adoption is not None and src in self.known_in_adoption and dst not in self.adoption:
            # a file a restore wrote while the state was lost has its row (and inode): a push
            # moves its item by ID like any other, its Drive history along (model bug 32)
            self.known_in_adoption.discard(src)
            self.known_in_adoption.add(dst)
        elif self.adoption is not None:
            self.local_dirty.add(dst)
            own = self.adoption.get(dst)
            if src in self.adoption:
                self.adoption[dst] = self.adoption[src]
                self.moved_in_adoption.add(dst)
                if own is not None and own.fid != self.adoption[src].fid:
                    self.displaced_in_adoption[dst] = own
            # else: a file Drive never had, renamed onto a path Drive holds: adopted by path,
            # so Drive's own copy there keeps its entry and time decides (model bug 20)
            return
        records: tuple[dict, dict] = (self.drive_edits, self.drive_gone)
        if not dirty:
            for r in records:
                r.pop(dst, None)
                if src in r:
                    r[dst] = r.pop(src)
            return
        self.local_dirty.add(dst)
        self.uncertain.add(dst)
        own = self.drive_edits.get(dst)
        if own is not None and src in self.drive_edits and own.fid != self.drive_edits[src].fid:
            self.rival_edits[dst] = own
        for r in records:
            if src in r:
                r[dst] = r[src]

    def push_unverified(self) -> None:
        """A push ended without a verdict: what it may have sent is unknown."""
        self.uncertain |= self.local_dirty
        if self.adoption is not None:
            self.adoption_maybe_done = True
            self.local_since_unverified.clear()
            self.drive_since_unverified.clear()

    def mark_gone(self, paths: list[str], how: str) -> None:
        for p in paths:
            if how in GONE_MOVED and self.drive_gone.get(p) in GONE_RESPECTED:
                continue  # a trashed or deleted file stays so when the folder above it moves
            self.drive_gone[p] = how  # otherwise the latest event is what a push sees
            if self.adoption is not None and how in GONE_RESPECTED:
                self.adoption.pop(p, None)
                self.displaced_in_adoption.pop(p, None)

    def drive_edit(self, path: str, edit: DriveEdit) -> None:
        for records in (self.drive_edits, self.adoption or {}, self.displaced_in_adoption):
            for p, e in list(records.items()):
                if e.fid == edit.fid:  # the same item, remembered at another path (a rename)
                    records[p] = edit
        self.drive_edits[path] = edit
        self.drive_since_unverified.add(path)
        if self.adoption is not None and path not in self.known_in_adoption \
                and self.displaced_in_adoption.get(path) is not edit:
            self.adoption[path] = edit  # (Drive's own item at a moved-onto path keeps its own entry)

    def start_adoption(self, drive_files: dict[str, DriveEdit], local_paths: set[str], *,
                       may_know: bool = False) -> None:
        """State lost (or a new account): the next push judges every differing file by time."""
        self.adoption = dict(drive_files)
        self.adoption_may_know = may_know
        self.known_clean = {}
        self.adoption_maybe_done = False
        self.local_since_unverified.clear()
        self.drive_since_unverified.clear()
        self.moved_in_adoption.clear()
        self.displaced_in_adoption.clear()
        self.known_in_adoption.clear()
        self.drive_unverified.clear()
        self.drive_edits.clear()
        self.drive_gone.clear()
        self.local_dirty |= local_paths

    def expectation(self, path: str, local_md5: str, local_ms: int) -> Expectation:
        exp = self._expectation(path, local_md5, local_ms)
        if path in self.may_reappear and local_md5 not in exp.md5s:
            # the same bytes as a file once backed up at this path: the product may take it as
            # that file come back (its row's own item) rather than the rename (model bug 17)
            exp.md5s.add(local_md5)
            exp.why += "; or the file back at a path that once held these bytes"
        rival = self.rival_edits.get(path)
        if rival is not None and rival.md5 and rival.md5 not in exp.md5s:
            exp.md5s.add(rival.md5)  # the path planned in place: its own Drive copy, maybe the later
            exp.why += "; or the path's own Drive copy (not known as the moved file)"
        return exp

    def _expectation(self, path: str, local_md5: str, local_ms: int) -> Expectation:
        raw_ms, local_ms = local_ms, carried(local_ms)
        if self.adoption is not None and path not in self.known_in_adoption:
            gone = self.drive_gone.get(path)
            if gone in GONE_RESPECTED:  # since the loss: adopted first (respected) or after (recreated)
                return Expectation({local_md5}, may_be_absent=True, why=f"adoption: {gone} on Drive since")
            d = self.adoption.get(path)
            if gone in GONE_MOVED and d is not None:
                # Drive's copy of the moment the state was lost was renamed or moved away since:
                # adopting by path finds nothing of it here and backs the local copy up (or a push
                # without a verdict adopted it before the move, and the row follows it by ID). That
                # item may later be restored under its new name and edited there (model bug 19).
                return Expectation({local_md5, d.md5 or ""},
                                   why="adoption: Drive's copy renamed or moved away since the loss")
            own = self.displaced_in_adoption.get(path)
            if own is not None and own.md5 != local_md5:
                # by path, Drive's own copy is judged by time (kept, or replaced with a pin); by
                # ID, the moved file's item comes here with its content and Drive's is set aside
                later = local_ms <= carried(own.modified_ms)
                return Expectation({local_md5, own.md5 or "", *([d.md5 or ""] if d else [])},
                                   pin=own if later else None,
                                   why="adoption: moved locally onto a path Drive holds (by path, or by ID)")
            edit = self.drive_edits.get(path)
            if d is None and self.adoption_may_know and edit is not None and edit.md5:
                # back to an earlier account whose Drive moved this path's item away: its old
                # state, if kept, follows the item by ID and puts it back, Drive's later edit
                # with it; adopted again, nothing is at the path (model bug 23)
                return Expectation({local_md5, edit.md5},
                                   why="back to an earlier account: its item put back by ID, or adopted again")
            if d is None or d.md5 == local_md5:
                return Expectation({local_md5}, why="adoption: nothing different on Drive")
            if local_ms >= carried(d.modified_ms):
                if self.adoption_may_know and self.known_clean.get(path) == (local_md5, raw_ms) \
                        and edit is not None and edit.md5 == d.md5:
                    # back to an earlier account, the file unchanged here since it left: its old
                    # state, if kept, sees only Drive's edit and keeps it, whatever the times
                    # say; adopted again, time decides (model bug 38)
                    return Expectation({local_md5, d.md5 or ""}, pin=d if local_ms == carried(d.modified_ms) else None,
                                       why="back to an earlier account, unchanged here since: its old state, or adopted again")
                if self.adoption_may_know and edit is None and local_ms == carried(d.modified_ms):
                    # back to an earlier account whose Drive copy is the backup's own last push,
                    # the local copy changed since with a time as late (both clamped, say): its
                    # old state, if kept, sees a local change only (an update, nothing to pin);
                    # adopted again, both are kept (model bug 45)
                    return Expectation({local_md5}, why="back to an earlier account, changed here as late as "
                                                        "Drive's own copy: its old state (no pin), or adopted again")
                if self.adoption_maybe_done and path in self.drive_since_unverified \
                        and path not in self.local_since_unverified:
                    # a push without a verdict may have finished the adoption before Drive's edit:
                    # that edit then meets an adopted row with the local copy unchanged since, and
                    # Drive's copy stays, whatever its time says (model bug 25)
                    return Expectation({local_md5, d.md5 or ""}, pin=d if local_ms == carried(d.modified_ms) else None,
                                       why="adoption maybe finished by a push without verdict, then edited on Drive")
                return Expectation({local_md5}, pin=d if local_ms == carried(d.modified_ms) else None,
                                   why="adoption: the local copy is later (or as late: both kept)")
            if self.adoption_maybe_done:
                return Expectation({d.md5 or "", local_md5},
                                   why="adoption maybe finished by a push without verdict: judged then, or now")
            if path in self.moved_in_adoption:
                return Expectation({d.md5 or "", local_md5},
                                   why="adoption: moved locally, Drive's later copy carried along by ID or left behind")
            if self.adoption_may_know and path in self.local_dirty:
                return Expectation({d.md5 or "", local_md5},
                                   why="back to an earlier account: adopted again, or its old state kept")
            return Expectation({d.md5 or ""}, pin=d, pin_optional_md5=local_md5,
                               why="adoption: Drive's copy is later (kept, or replaced with a pin and a conflict)")
        dirty = path in self.local_dirty
        gone = self.drive_gone.get(path)
        edit = self.drive_edits.get(path)
        if path in self.uncertain and (gone in GONE_RESPECTED or edit is not None):
            # sent before Drive's change (which then wins), or not (the local change is later)
            if gone in GONE_RESPECTED:
                return Expectation({local_md5}, may_be_absent=True, why=f"{gone} on Drive; local change maybe sent before")
            assert edit is not None
            return Expectation({edit.md5 or "", local_md5}, why="edited on Drive; local change maybe sent before")
        if gone in GONE_MOVED:
            # the item moved on Drive may also have been edited there: unchanged here, or changed
            # earlier than that edit, Drive's copy is the later write and may stay (model bug 15)
            drive_later = edit is not None and bool(edit.md5) and (not dirty or local_ms < carried(edit.modified_ms))
            return Expectation({local_md5} | ({edit.md5 or ""} if drive_later else set()),
                               pin=edit if drive_later and dirty else None,
                               why="renamed or moved on Drive: the backup folder must still hold the file")
        if gone in GONE_RESPECTED:
            if dirty:
                return Expectation({local_md5}, why=f"{gone} on Drive, then changed locally: recreated")
            extra = {edit.md5} if edit and edit.md5 else set()
            return Expectation({local_md5} | extra, may_be_absent=True, why=f"{gone} on Drive: respected")
        if edit is not None:
            if not dirty:
                return Expectation({edit.md5 or ""}, why="edited on Drive, unchanged locally: Drive's copy stays")
            if local_ms >= carried(edit.modified_ms):
                return Expectation({local_md5}, pin=edit,
                                   why="both changed, the local copy is later (or as late: both kept)")
            return Expectation({edit.md5 or ""}, why="both changed, Drive's copy is later")
        return Expectation({local_md5}, why="nothing happened on Drive")
