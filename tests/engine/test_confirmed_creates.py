"""Pending rows the changes feed proves were created (engine/confirmed_creates.py), and what
planning then does with them: defect 26's pure half."""

from __future__ import annotations

from jupyter_drive_sync.core.model import ActionKind as K, EntryStatus, RemoteChange
from jupyter_drive_sync.engine.confirmed_creates import confirmed_creates

from tests.support.plan_rows import MS, NEW, OLD, T0, lfile, row, run


def pending(path: str, **kw):
    """A create recorded before its request, never confirmed: no Drive side known."""
    return row(path, status=EntryStatus.PENDING, md5=None, drive_md5=None, drive_modified_ms=0,
               drive_head_revision=None, **kw)


def seen(r, *, md5: str = OLD, size: int = 10, modified_ms: int = T0, **kw) -> RemoteChange:
    return RemoteChange(r.drive_id, removed=False, md5=md5, size=size, modified_ms=modified_ms,
                        head_revision="rev-2", name=r.path.rpartition("/")[2], parent_id="root", **kw)


def confirm(rows, changes):
    by_id = {r.drive_id: r for r in rows}
    return confirmed_creates(changes, by_id.get)


def test_a_create_drive_holds_as_sent_is_synced_and_the_unchanged_file_costs_nothing():
    p = pending("e/c")
    [done] = confirm([p], [seen(p)])
    assert (done.status, done.md5, done.drive_md5, done.drive_head_revision) == (EntryStatus.SYNCED, OLD, OLD, "rev-2")
    assert (done.local_size, done.local_mtime_ns) == (p.local_size, p.local_mtime_ns)
    plan = run([lfile("e/c")], [done])
    assert plan.actions == [] and plan.unchanged == 1


def test_a_create_edited_on_drive_since_is_kept_when_drive_is_later_and_pinned_when_not():
    p = pending("e/c")
    [done] = confirm([p], [seen(p, md5=NEW, size=12, modified_ms=T0 + 300_000)])
    assert done.md5 is None  # no common version: both sides count as changed
    [keep] = run([lfile("e/c")], [done], {"e/c": OLD}).actions
    assert (keep.kind, keep.conflict) == (K.KEEP_DRIVE, True)
    [upload] = run([lfile("e/c", mtime_ms=T0 + 600_000)], [done], {"e/c": OLD}).actions
    assert (upload.kind, upload.conflict, upload.pin_revision) == (K.UPDATE_CONTENT, True, "rev-2")


def test_an_older_attempt_of_the_same_file_is_not_taken_for_the_version_recorded():
    p = pending("e/c", local_mtime_ns=(T0 + 5_000) * MS)
    [done] = confirm([p], [seen(p)])  # Drive holds what an earlier attempt sent, at T0
    assert (done.md5, done.local_mtime_ns) == (None, T0 * MS)


def test_only_pending_rows_the_feed_shows_alive_are_confirmed_with_their_latest_change():
    p, gone, synced = pending("a"), pending("b"), row("c")
    folder = pending("d", is_dir=True)
    out = confirm([p, gone, synced, folder],
                  [seen(p, md5=NEW), seen(p, trashed=True), RemoteChange(gone.drive_id, removed=True), seen(synced),
                   RemoteChange(folder.drive_id, removed=False, name="d", parent_id="root", modified_ms=T0),
                   RemoteChange("id-unknown", removed=False, name="x", parent_id="root")])
    assert sorted(r.path for r in out) == ["a", "d"]
    a = next(r for r in out if r.path == "a")
    assert (a.drive_trashed, a.md5) == (True, OLD)  # the latest change: trashed, the content as sent
    d = next(r for r in out if r.path == "d")
    assert (d.status, d.is_dir, d.md5) == (EntryStatus.SYNCED, True, None)
