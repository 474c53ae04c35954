"""Planning for two transitions of issue 13: a path that changes kind (file ↔ folder) under
`keep`, and a file or folder that comes back at a path the state DB records as deleted.

Pure: `plan` against hand-made rows (the end-to-end cases are in
tests/lifecycle/test_lifecycle_regressions.py).
"""

from __future__ import annotations

import pytest

from jupyter_drive_sync.core.model import ActionKind as K, DeletePolicy, EntryStatus, Plan
from jupyter_drive_sync.engine.plan import aside_path

from tests.support.plan_rows import NEW, OLD, T0, ldir, lfile, row, run


def kinds(p: Plan) -> list[tuple]:
    return [(a.kind, a.path, a.drive_id, a.untrash) for a in p.actions]


# -- a path that changes kind ----------------------------------------------------------------------

@pytest.mark.parametrize("path,was_dir,want", [
    ("notes.txt", False, "notes (replaced by a folder).txt"),
    ("d/archive.tar.gz", False, "d/archive.tar (replaced by a folder).gz"),
    (".bashrc", False, ".bashrc (replaced by a folder)"),
    ("results", False, "results (replaced by a folder)"),
    ("v1.2", True, "v1.2 (replaced by a file)"),
    ("odd.name with space", False, "odd.name with space (replaced by a folder)"),
])
def test_aside_name_keeps_the_extension_last(path, was_dir, want):
    assert aside_path(path, was_dir, lambda p: False) == want


def test_aside_name_is_numbered_past_taken_names():
    taken = {"r (replaced by a folder).csv", "r (replaced by a folder 2).csv"}
    assert aside_path("r.csv", False, taken.__contains__) == "r (replaced by a folder 3).csv"


def test_file_replaced_by_folder_sets_the_file_aside_first():
    p = run([ldir("x"), lfile("x/in.txt")], [row("x"), row("x (replaced by a folder)", local_deleted=True)])
    first = p.actions[0]
    assert (first.kind, first.path, first.source_path, first.drive_id, first.local) == (
        K.MOVE, "x (replaced by a folder 2)", "x", "id-x", None)
    assert first.modified_ms == T0  # Drive's time kept: a rename must not read as an edit
    assert [a.kind for a in p.actions[1:]] == [K.MKDIR, K.CREATE]


def test_folder_replaced_by_file_takes_its_rows_aside():
    rows = [row("d", is_dir=True), row("d/x", is_dir=True), row("d/x/a.txt"), row("d/x/e", is_dir=True),
            row("d/x/e/b.txt")]
    p = run([ldir("d"), lfile("d/x")], rows)
    # nothing for the rows below: they go along with the folder (no FORGET_LOCAL at their old paths)
    assert kinds(p) == [(K.MOVE, "d/x (replaced by a file)", "id-d-x", False), (K.CREATE, "d/x", None, False)]
    assert p.actions[0].source_parent_id == "id-d"


@pytest.mark.parametrize("flags", [dict(drive_trashed=True), dict(drive_removed=True)])
def test_replaced_item_no_longer_live_on_drive_is_not_set_aside(flags):
    p = run([ldir("x")], [row("x", **flags)])
    assert kinds(p) == [(K.MKDIR, "x", None, False)]


def test_under_trash_the_replaced_item_is_trashed_not_set_aside():
    p = run([ldir("x")], [row("x")], delete_policy=DeletePolicy.TRASH)
    assert [(a.kind, a.path) for a in p.actions] == [(K.MKDIR, "x"), (K.TRASH, "x")]


# -- back at a path recorded as deleted -------------------------------------------------------------

@pytest.mark.parametrize("delete_policy", list(DeletePolicy))
def test_file_trashed_by_a_push_comes_back_by_id(delete_policy):
    r = row("a.txt", local_deleted=True, drive_trashed=True)
    p = run([lfile("a.txt")], [r], {"a.txt": OLD}, delete_policy=delete_policy)
    assert kinds(p) == [(K.UPDATE_MTIME, "a.txt", "id-a.txt", True)]  # one metadata update, no bytes


def test_file_back_whose_drive_copy_was_deleted_for_good_is_created_again():
    r = row("a.txt", local_deleted=True, drive_removed=True)
    assert kinds(run([lfile("a.txt")], [r], {"a.txt": OLD})) == [(K.CREATE, "a.txt", None, False)]


def test_file_back_whose_trashed_drive_copy_differs_keeps_that_version():
    r = row("a.txt", local_deleted=True, drive_trashed=True, drive_md5=NEW, drive_head_revision="rev-2")
    (a,) = run([lfile("a.txt")], [r], {"a.txt": OLD}).actions
    assert (a.kind, a.untrash, a.pin_revision, a.conflict) == (K.UPDATE_CONTENT, True, "rev-2", True)


def test_folder_trashed_by_a_push_comes_back_with_its_files_by_id():
    rows = [row("d", is_dir=True, local_deleted=True, drive_trashed=True), row("d/a.txt", local_deleted=True)]
    p = run([ldir("d"), lfile("d/a.txt")], rows, {"d/a.txt": OLD})
    assert kinds(p) == [(K.UPDATE_MTIME, "d", "id-d", True), (K.UPDATE_MTIME, "d/a.txt", "id-d-a.txt", False)]


def test_file_back_into_a_folder_trashed_on_drive_revives_the_folder():
    rows = [row("d", is_dir=True, drive_trashed=True), row("d/a.txt", local_deleted=True)]
    p = run([ldir("d"), lfile("d/a.txt")], rows, {"d/a.txt": OLD})
    assert kinds(p) == [(K.UPDATE_MTIME, "d", "id-d", True), (K.UPDATE_MTIME, "d/a.txt", "id-d-a.txt", False)]


def test_file_trashed_on_drive_while_here_stays_trashed():
    """Not a return: the student's trash on Drive is respected while the local file is unchanged."""
    r = row("a.txt", drive_trashed=True)
    assert kinds(run([lfile("a.txt")], [r])) == [(K.KEEP_DRIVE, "a.txt", "id-a.txt", False)]


def test_pending_row_is_not_a_return():
    r = row("a.txt", status=EntryStatus.PENDING, local_deleted=True)
    assert [a.kind for a in run([lfile("a.txt")], [r]).actions] == [K.CREATE]
