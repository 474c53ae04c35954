"""Local renames and moves in the pure planner: which gone path and new path are one item, and
what the plan does with it (engine/plan_moves.py)."""

from __future__ import annotations

import pytest

from jupyter_drive_sync.core.model import ActionKind as K, DeletePolicy, EntryStatus, Plan, Snapshot
from jupyter_drive_sync.engine.plan import PlanRows, paths_to_hash, plan

from tests.support.plan_rows import NEW, OLD, T0, ldir, lfile, row, run


def kinds(p: Plan) -> list[tuple]:
    return [(a.kind, a.path, a.drive_id) for a in p.actions]


# -- files --------------------------------------------------------------------------------------


@pytest.mark.parametrize("delete_policy", list(DeletePolicy))
def test_file_rename_is_one_move_and_never_a_delete(delete_policy):
    p = run([lfile("b.txt", 7)], [row("a.txt", 7)], delete_policy=delete_policy)
    assert kinds(p) == [(K.MOVE, "b.txt", "id-a.txt")]
    a = p.actions[0]
    assert (a.source_path, a.source_parent_id, a.same_content, a.modified_ms) == ("a.txt", None, True, T0)


EMPTY = "d41d8cd98f00b204e9800998ecf8427e"


def test_an_empty_file_on_a_known_inode_is_a_move_only_with_its_time_unchanged():
    """Defect 25: a new empty file may get a gone empty file's freed inode; with a new time,
    no bytes can say it is the same file, so it is a create (with its time kept, a rename)."""
    gone = [row("a.txt", 7, local_size=0, md5=EMPTY, drive_md5=EMPTY)]
    assert kinds(run([lfile("b.txt", 7, size=0)], gone)) == [(K.MOVE, "b.txt", "id-a.txt")]
    p = run([lfile("b.txt", 7, size=0, mtime_ms=T0 + 5)], gone, {"b.txt": EMPTY})
    assert (K.CREATE, "b.txt", None) in kinds(p) and K.MOVE not in [a.kind for a in p.actions]


def test_case_only_rename_is_a_move():
    assert kinds(run([lfile("A.txt", 7)], [row("a.txt", 7)])) == [(K.MOVE, "A.txt", "id-a.txt")]


def test_inode_with_another_size_is_not_the_same_file():
    p = run([lfile("b.txt", 7, size=99)], [row("a.txt", 7)])
    assert kinds(p) == [(K.FORGET_LOCAL, "a.txt", "id-a.txt"), (K.CREATE, "b.txt", None)]


def test_move_by_size_and_md5_when_the_inode_changed():
    p = run([lfile("b.txt", 8, mtime_ms=T0 + 5)], [row("a.txt", 7)], {"b.txt": OLD})
    assert kinds(p) == [(K.MOVE, "b.txt", "id-a.txt")]
    assert p.actions[0].modified_ms == T0 + 5  # the new mtime rides on the move: one request


def test_rename_and_edit_moves_then_updates_the_same_id():
    p = run([lfile("b.txt", 7, mtime_ms=T0 + 5)], [row("a.txt", 7)], {"b.txt": NEW})
    assert kinds(p) == [(K.MOVE, "b.txt", "id-a.txt"), (K.UPDATE_CONTENT, "b.txt", "id-a.txt")]
    assert not p.actions[0].same_content and p.actions[0].modified_ms == T0


def test_moved_file_edited_on_drive_keeps_drive_copy():
    rows = [row("a.txt", 7, drive_md5=NEW, drive_modified_ms=T0 + 9, drive_head_revision="rev-2")]
    p = run([lfile("b.txt", 7)], rows)
    assert kinds(p) == [(K.MOVE, "b.txt", "id-a.txt"), (K.KEEP_DRIVE, "b.txt", "id-a.txt")]
    assert p.actions[0].modified_ms == T0 + 9  # Drive's time kept: last-write-wins still sees its edit


def test_moved_and_changed_later_than_drive_edit_pins_drive_revision():
    rows = [row("a.txt", 7, drive_md5=NEW, drive_modified_ms=T0 + 9, drive_head_revision="rev-2")]
    p = run([lfile("b.txt", 7, mtime_ms=T0 + 20)], rows, {"b.txt": "2" * 32})
    assert [(a.kind, a.pin_revision, a.conflict) for a in p.actions] == [
        (K.MOVE, None, False), (K.UPDATE_CONTENT, "rev-2", True)]


def test_ambiguous_sources_the_first_by_path_moves_and_the_other_follows_the_delete_policy():
    rows = [row("a1.txt", 1), row("a2.txt", 2)]
    p = run([lfile("b.txt", 3)], rows, {"b.txt": OLD}, delete_policy=DeletePolicy.TRASH)
    assert kinds(p) == [(K.MOVE, "b.txt", "id-a1.txt"), (K.TRASH, "a2.txt", "id-a2.txt")]


def test_ambiguous_targets_the_first_by_path_gets_the_move_the_other_a_create():
    p = run([lfile("b.txt", 3), lfile("c.txt", 4)], [row("a.txt", 1)], {"b.txt": OLD, "c.txt": OLD})
    assert kinds(p) == [(K.MOVE, "b.txt", "id-a.txt"), (K.CREATE, "c.txt", None)]


def test_inode_match_wins_over_md5_match():
    p = run([lfile("b.txt", 3), lfile("c.txt", 1)], [row("a.txt", 1)], {"b.txt": OLD, "c.txt": OLD})
    assert kinds(p) == [(K.CREATE, "b.txt", None), (K.MOVE, "c.txt", "id-a.txt")]


@pytest.mark.parametrize("where", ["pending row", "other kind"])
def test_a_path_that_still_has_a_row_is_never_a_move_target(where):
    target = {"pending row": row("b.txt", 5, status=EntryStatus.PENDING),
              "other kind": row("b.txt", 5, is_dir=True)}[where]
    p = run([lfile("b.txt", 7)], [row("a.txt", 7), target])
    # (a folder replaced by a file is set aside by a MOVE of its own, with no local file)
    assert all(a.kind is not K.MOVE or a.local is None for a in p.actions), kinds(p)


def test_a_move_onto_a_kept_deleted_file_sets_that_copy_aside_first():
    """Its Drive copy is kept (`keep`): renamed aside by ID, then the moved file takes the path."""
    p = run([lfile("b.txt", 7)], [row("a.txt", 7), row("b.txt", 5, local_deleted=True)])
    assert kinds(p) == [(K.MOVE, "b (deleted).txt", "id-b.txt"), (K.MOVE, "b.txt", "id-a.txt")]
    assert p.actions[0].local is None and p.actions[1].local is not None


@pytest.mark.parametrize("drive", [dict(drive_trashed=True), dict(drive_removed=True),
                                   dict(status=EntryStatus.PENDING), dict(local_deleted=True)])
def test_only_a_live_confirmed_item_moves(drive):
    p = run([lfile("b.txt", 7)], [row("a.txt", 7, **drive)])
    assert all(a.kind is not K.MOVE for a in p.actions), kinds(p)


def test_swapped_names_with_same_size_and_mtime_are_two_content_updates():
    rows = [row("a.txt", 1, md5=OLD, drive_md5=OLD), row("b.txt", 2, md5=NEW, drive_md5=NEW)]
    entries = [lfile("a.txt", 2), lfile("b.txt", 1)]
    snap = Snapshot(entries={e.path: e for e in entries})
    assert paths_to_hash(snap, {r.path: r for r in rows}) == {"a.txt", "b.txt"}
    p = run(entries, rows, {"a.txt": NEW, "b.txt": OLD})
    assert kinds(p) == [(K.UPDATE_CONTENT, "a.txt", "id-a.txt"), (K.UPDATE_CONTENT, "b.txt", "id-b.txt")]


def test_a_new_inode_with_the_same_content_is_only_noted():
    p = run([lfile("a.txt", 9)], [row("a.txt", 1)])
    assert kinds(p) == [(K.NOTE_INODE, "a.txt", "id-a.txt")] and p.unchanged == 1
    assert kinds(run([lfile("a.txt", 9)], [row("a.txt", 0)])) == [(K.NOTE_INODE, "a.txt", "id-a.txt")]


def test_an_unknown_inode_never_matches():
    p = run([lfile("b.txt", 0)], [row("a.txt", 0)])
    assert [a.kind for a in p.actions] == [K.FORGET_LOCAL, K.CREATE]


def test_paths_to_hash_asks_for_same_size_candidates_and_touched_inode_matches():
    rows = [row("gone.txt", 1), row("moved.txt", 2)]
    entries = [lfile("copy.txt", 3), lfile("other-size.txt", 4, size=99), lfile("renamed.txt", 2, mtime_ms=T0 + 1)]
    snap = Snapshot(entries={e.path: e for e in entries})
    assert paths_to_hash(snap, {r.path: r for r in rows}) == {"copy.txt", "renamed.txt"}


# -- folders ------------------------------------------------------------------------------------


def test_folder_rename_is_one_move_for_its_whole_subtree():
    rows = [row("d", 1, is_dir=True), row("d/sub", 2, is_dir=True)]
    rows += [row(f"d/f{i}", 10 + i) for i in range(50)] + [row("d/sub/g", 9)]
    entries = [ldir("e", 1), ldir("e/sub", 2), lfile("e/sub/g", 9)] + [lfile(f"e/f{i}", 10 + i) for i in range(50)]
    for delete_policy in DeletePolicy:
        p = run(entries, rows, delete_policy=delete_policy)
        assert kinds(p) == [(K.MOVE, "e", "id-d")] and p.unchanged == 51


def test_folder_rename_with_edits_inside_plans_them_at_the_new_paths():
    rows = [row("d", 1, is_dir=True), row("d/a", 2), row("d/b", 3), row("d/gone", 4)]
    entries = [ldir("e", 1), lfile("e/a", 2, size=11, mtime_ms=T0 + 1), lfile("e/b", 3, mtime_ms=T0 + 1),
               lfile("e/new", 5)]
    p = run(entries, rows, {"e/b": OLD}, delete_policy=DeletePolicy.TRASH)
    assert kinds(p) == [(K.MOVE, "e", "id-d"), (K.UPDATE_CONTENT, "e/a", "id-d-a"),
                        (K.UPDATE_MTIME, "e/b", "id-d-b"), (K.CREATE, "e/new", None),
                        (K.TRASH, "e/gone", "id-d-gone")]


def test_a_reused_folder_inode_with_none_of_its_children_is_no_move():
    rows = [row("d", 1, is_dir=True), row("d/a", 2)]
    p = run([ldir("e", 1), lfile("e/z", 3, size=99)], rows)
    assert kinds(p) == [(K.MKDIR, "e", None), (K.FORGET_LOCAL, "d", "id-d"), (K.FORGET_LOCAL, "d/a", "id-d-a"),
                        (K.CREATE, "e/z", None)]


def test_an_emptied_folder_renamed_is_still_a_move():
    rows = [row("d", 1, is_dir=True), row("d/a", 2)]
    p = run([ldir("e", 1)], rows)
    assert kinds(p) == [(K.MOVE, "e", "id-d"), (K.FORGET_LOCAL, "e/a", "id-d-a")]


def test_file_moved_out_of_a_folder_that_moved_too():
    rows = [row("d", 1, is_dir=True), row("d/x", 2), row("d/y", 3)]
    p = run([ldir("e", 1), lfile("e/y", 3), lfile("x-top", 2)], rows)
    assert kinds(p) == [(K.MOVE, "e", "id-d"), (K.MOVE, "x-top", "id-d-x")]
    assert (p.actions[1].source_path, p.actions[1].source_parent_id) == ("e/x", "id-d")


def test_move_into_a_new_folder_orders_the_parent_first():
    p = run([ldir("new", 5), ldir("new/deeper", 6), lfile("new/deeper/a.txt", 7)], [row("a.txt", 7)])
    assert kinds(p) == [(K.MKDIR, "new", None), (K.MKDIR, "new/deeper", None), (K.MOVE, "new/deeper/a.txt", "id-a.txt")]


def test_moves_into_a_folder_trashed_on_drive_bring_it_back():
    rows = [row("box", 1, is_dir=True, drive_trashed=True), row("a.txt", 7)]
    p = run([ldir("box", 1), lfile("box/a.txt", 7)], rows)
    assert [(a.kind, a.path, a.untrash) for a in p.actions] == [
        (K.UPDATE_MTIME, "box", True), (K.MOVE, "box/a.txt", False)]


def test_a_path_merely_unseen_is_not_gone_and_out_of_scope_paths_stay():
    snap = Snapshot(entries={"b.txt": lfile("b.txt", 7)}, excluded=["a.txt"])
    assert [a.kind for a in plan(snap, {"a.txt": row("a.txt", 7)}, {}).actions] == [K.CREATE]
    p = run([lfile("w/b.txt", 7)], [row("a.txt", 7)], root_path="w")
    assert kinds(p) == [(K.CREATE, "w/b.txt", None)]


def test_rows_fetched_before_planning_give_the_same_moves():
    rows = [row("d", 1, is_dir=True), row("d/a", 2), row("keep.txt", 3), row("old.txt", 4)]
    entries = [ldir("e", 1), lfile("e/a", 2), lfile("keep.txt", 3), lfile("new.txt", 4)]
    snap = Snapshot(entries={e.path: e for e in entries})
    clean = {r.path: (r.path, False, r.local_size, r.local_mtime_ns, r.local_ino) for r in rows if not r.is_dir}
    fetched = PlanRows({"d": rows[0], "d/a": rows[1], "old.txt": rows[3]}, clean)
    assert plan(snap, fetched, {}) == plan(snap, {r.path: r for r in rows}, {})
