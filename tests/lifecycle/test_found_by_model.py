"""Product defects the lifecycle model (test_lifecycle_model.py) found, each as one small test.

Each is the model's shrunk failing sequence cut down to the steps that matter, driven like the
model only through the CLI, the emulator's admin API and Drive REST calls of another client.
While a defect stands its test is xfail(strict=True) and the model gates the steps that reach it
by the name in its reason (`KNOWN_DEFECTS` in test_lifecycle_model.py); a fix makes the test
pass, strict xfail turns that into a failure, and both the mark and the name come out.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from jupyter_drive_sync.core.options import RestoreOptions
from jupyter_drive_sync.engine.drive_browse import list_remote

from .fixtures import connected_home, lose_state, rfc3339, write
from .harness import (FOLDER_MIME, CliRun, DriveView, OtherClient, connect, finish, md5, push_argv, restore_argv,
                      run_cli, spawn_cli)

EMAIL = "found@lifecycle.test"
T0 = 1_700_000_000


@pytest.fixture
def home(tmp_path: Path, emulator: Any) -> Path:
    return connected_home(tmp_path, emulator.url, EMAIL)


def pushed(home: Path, emulator: Any) -> dict[str, Any]:
    """A push that must exit 0 with no traceback; its --json summary."""
    run: CliRun = run_cli(*push_argv(home, emulator.url))
    assert not run.problems() and run.code == 0, run.describe()
    return run.summary or {}


def live_files(emulator: Any) -> dict[str, list[dict[str, Any]]]:
    return {p: [f for f in fs if f["mimeType"] != FOLDER_MIME]
            for p, fs in DriveView(emulator.files(EMAIL)).live().items()}


# Fixed: move_after_adoption_kept_drive (the executor notes the local file a Drive win leaves).
def test_move_after_adoption_kept_drive_copy_is_one_move(home: Path, emulator: Any) -> None:
    """The state DB is lost; on Drive the file is edited later (Colab); the next push adopts
    and keeps Drive's later copy. Then the student renames the file, unchanged since. The
    rename is one metadata update by ID: the later Drive copy takes the new name, no bytes are
    sent, nothing stays at the old name (the model's sequence had an account switch and back
    where this has a deleted state DB)."""
    write(home, "notes.txt", b"first local version", T0)
    pushed(home, emulator)
    fid = live_files(emulator)["notes.txt"][0]["id"]
    lose_state(home)
    OtherClient(emulator.url, EMAIL, full=True).edit(fid, b"edited in Colab, later", rfc3339(T0 + 300))
    pushed(home, emulator)
    assert live_files(emulator)["notes.txt"][0]["md5Checksum"] == md5(b"edited in Colab, later")

    os.rename(home / "notes.txt", home / "renamed.txt")
    summary = pushed(home, emulator)
    live = live_files(emulator)
    assert not live.get("notes.txt"), (live, summary)
    assert [f["id"] for f in live.get("renamed.txt", [])] == [fid], (live, summary)
    assert live["renamed.txt"][0]["md5Checksum"] == md5(b"edited in Colab, later")
    assert summary["moved"] == 1 and summary["bytes_uploaded"] == 0, summary


# Fixed: move_onto_kept_leftover (the kept copy is set aside by ID before the move).
def test_rename_onto_a_kept_leftover_is_one_move(home: Path, emulator: Any) -> None:
    """Found by the soak (a model sequence of 16 steps, cut down to these). `c` is deleted
    locally; under the default `keep` its Drive copy stays. Later the student renames `a.txt`
    to `c`. That is a rename, found by identity like any other: the kept copy of the old `c`
    is first renamed aside by ID (`c (deleted)`, content untouched), then `a.txt`'s item takes
    the name by ID; no bytes are sent, and no live copy stays at `a.txt`."""
    write(home, "a.txt", b"alpha local", T0)
    write(home, "c", b"old c content!", T0)
    pushed(home, emulator)
    fid = live_files(emulator)["a.txt"][0]["id"]
    (home / "c").unlink()
    pushed(home, emulator)
    os.rename(home / "a.txt", home / "c")
    summary = pushed(home, emulator)
    live = live_files(emulator)
    assert not live.get("a.txt"), (live, summary)
    assert [f["id"] for f in live.get("c", [])] == [fid], (live, summary)
    assert [f["md5Checksum"] for f in live.get("c (deleted)", [])] == [md5(b"old c content!")], (live, summary)
    assert summary["moved"] == 2 and summary["bytes_uploaded"] == 0, summary  # the set-aside and the rename
    assert pushed(home, emulator)["moved"] == 0  # settled


# Fixed: kind_swap_onto_kept_leftover (plan.plan_deletions sets a kept deletion aside when its
# path comes back as the other kind). Soak failure 14; the lost state DB in its sequence did not matter.
@pytest.mark.parametrize("was_dir", [True, False], ids=["folder-then-file", "file-then-folder"])
def test_other_kind_onto_a_kept_leftover_leaves_one_live_item(home: Path, emulator: Any, was_dir: bool) -> None:
    """`d` is deleted locally and a `keep` push leaves its Drive copy; later a `d` of the other
    kind appears. The path gets one live item, the new one: the kept item is renamed aside by
    ID (content untouched), as for a swap between two pushes."""
    old_rel = "d/b.ipynb" if was_dir else "d"
    write(home, old_rel, b"old work", T0)
    pushed(home, emulator)
    kept_id = DriveView(emulator.files(EMAIL)).live()["d"][0]["id"]
    if was_dir:
        (home / old_rel).unlink()
        (home / "d").rmdir()
    else:
        (home / "d").unlink()
    pushed(home, emulator)
    assert [f["id"] for f in DriveView(emulator.files(EMAIL)).live()["d"]] == [kept_id]
    write(home, "d" if was_dir else "d/x.txt", b"now the other kind", T0 + 300)
    summary = pushed(home, emulator)
    live = DriveView(emulator.files(EMAIL)).live()
    assert len(live["d"]) == 1 and live["d"][0]["id"] != kept_id, (live, summary)
    aside = "d (replaced by a file)" if was_dir else "d (replaced by a folder)"
    assert [f["id"] for f in live.get(aside, [])] == [kept_id], (sorted(live), summary)
    old = live[f"{aside}/b.ipynb"][0] if was_dir else live[aside][0]
    assert old["md5Checksum"] == md5(b"old work"), (live, summary)
    assert summary["moved"] == 1, summary
    assert pushed(home, emulator)["moved"] == 0  # settled: the next push changes nothing there


def test_both_past_2262_after_a_lost_state_keep_both(home: Path, emulator: Any) -> None:
    """Found by the model (the unclassified failure of RELIABILITY's known limit 12): a file
    pushed with an mtime after 2262, edited again with another such mtime, then the state DB
    lost. Both times clamp to 2262-04-11T23:47:16.853Z, so neither copy is later; the push kept
    Drive's alone and the student's last edit stayed out of the backup. Now a tie backs the
    local copy up and keeps Drive's as a pinned revision, with a conflict reported."""
    write(home, "d/b.ipynb", b'{"cells": ["first"]}', 10_413_792_000)  # 2300-01-01
    pushed(home, emulator)
    first = live_files(emulator)["d/b.ipynb"][0]
    write(home, "d/b.ipynb", b'{"cells": ["first", "second"]}', 10_413_792_100)
    lose_state(home)
    summary = pushed(home, emulator)
    now = live_files(emulator)["d/b.ipynb"]
    assert [f["md5Checksum"] for f in now] == [md5(b'{"cells": ["first", "second"]}')], (now, summary)
    revs = OtherClient(emulator.url, EMAIL, full=True).revisions(first["id"])
    assert any(r["md5Checksum"] == first["md5Checksum"] and r["keepForever"] for r in revs), revs
    assert summary["conflicts"] == 1, summary


def test_folder_restored_after_a_new_volume_renames_by_id(home: Path, emulator: Any) -> None:
    """Found by the clean-clone soak (2026-12-03): a new volume (empty home, no state), a push
    that adopts the backup with nothing local, a restore into the home, then the student
    renames a restored folder. The rename must be one move by ID of the folder, not a new
    folder with the files moved into it and the old one left live beside it."""
    write(home, "d/b.ipynb", b'{"cells": []}', T0)
    write(home, "a.txt", b"alpha", T0)
    pushed(home, emulator)
    for child in list(home.iterdir()):  # the new volume: the credentials come back with a new grant
        shutil.rmtree(child) if child.is_dir() else child.unlink()
    connect(emulator.url, home, EMAIL)
    pushed(home, emulator)
    run = run_cli(*restore_argv(home, emulator.url, "--overwrite", "never"))
    assert run.code == 0 and not run.problems(), run.describe()
    assert (home / "d" / "b.ipynb").read_bytes() == b'{"cells": []}'
    before = len(emulator.files(EMAIL))
    os.rename(home / "d", home / "notebooks")
    summary = pushed(home, emulator)
    assert len(emulator.files(EMAIL)) == before, summary
    assert (summary["moved"], summary["folders_created"], summary["created"]) == (1, 0, 0), summary


def test_a_folder_made_anew_here_and_restored_into_renames_by_id(home: Path, emulator: Any) -> None:
    """Found by an exploring soak (2026-12-04, product defect 20): a backed-up folder `d` was
    replaced here by another folder of that name (the model: `d` deleted, `e` renamed to `d`),
    with no push between; a restore filled it from Drive, then the student renamed it. The
    restore linked the folder to Drive's `d` by path but left the state DB's inode of the old
    one, so the rename was a new folder with the children moved into it, Drive's `d` left
    behind. It must be one move by ID of Drive's `d`."""
    write(home, "d/e/a.txt", b"alpha", T0)
    write(home, "d/b.ipynb", b'{"cells": []}', T0)
    pushed(home, emulator)
    folder_id = DriveView(emulator.files(EMAIL)).live()["d"][0]["id"]
    os.rename(home / "d", home.parent / "elsewhere")  # still held: the new `d` gets another inode
    (home / "d").mkdir()
    shutil.rmtree(home.parent / "elsewhere")
    run = run_cli(*restore_argv(home, emulator.url, "--overwrite", "never"))
    assert run.code == 0 and not run.problems(), run.describe()
    assert (home / "d/e/a.txt").read_bytes() == b"alpha"
    before = len(emulator.files(EMAIL))
    os.rename(home / "d", home / "moved")
    summary = pushed(home, emulator)
    assert len(emulator.files(EMAIL)) == before, summary
    assert (summary["moved"], summary["folders_created"], summary["created"]) == (1, 0, 0), summary
    assert [f["id"] for f in DriveView(emulator.files(EMAIL)).live()["moved"]] == [folder_id]


@pytest.mark.parametrize("kind", ["symlink", "fifo"])
@pytest.mark.parametrize("what", ["folder", "file"])
def test_a_rename_is_one_move_though_a_symlink_now_stands_at_the_old_name(home: Path, emulator: Any, what: str,
                                                                           kind: str) -> None:
    """Found by an exploring soak (2026-12-04, product defect 21): the folder `e` renamed to `f`,
    then a symlink put where `e` was. The push took the symlink for `e` still being there, not
    seen, so it neither moved Drive's `e` nor its file: it made `f` anew and sent `f/c`'s bytes
    again, Drive's `e` left behind with the file twice in the backup. A symlink or special
    file at the old name holds nothing of the backup: the rename is one move by ID."""
    write(home, "e/c", b"the home's c", T0)
    pushed(home, emulator)
    src, dst = ("e", "f") if what == "folder" else ("e/c", "e/renamed-c")
    moved_id = DriveView(emulator.files(EMAIL)).live()[src][0]["id"]
    before = len(emulator.files(EMAIL))
    os.rename(home / src, home / dst)
    if kind == "symlink":
        os.symlink(home.parent, home / src)
    else:
        os.mkfifo(home / src)
    summary = pushed(home, emulator)
    assert (summary["moved"], summary["created"], summary["folders_created"], summary["bytes_uploaded"]) == \
        (1, 0, 0, 0), summary
    assert len(emulator.files(EMAIL)) == before, summary
    assert [f["id"] for f in DriveView(emulator.files(EMAIL)).live()[dst]] == [moved_id]
    assert src not in DriveView(emulator.files(EMAIL)).live()


def test_a_new_empty_file_is_not_taken_for_a_gone_empty_one(home: Path, emulator: Any) -> None:
    """Found by clean-clone soak X (2026-12-04, product defect 22): `A.txt`, empty when backed
    up, edited on Drive since; here it was edited and moved (a new size: no identity), and a new
    empty `d/e/a.txt` made. The push matched the new empty file to `A.txt`'s Drive item by
    content (every empty file has the same md5), moved that item there and kept Drive's edit in
    it: the backup showed `A.txt`'s Drive text as `d/e/a.txt`. An empty file is never known by
    its content: it is a new file, and `A.txt`'s item stays where it is."""
    write(home, "A.txt", b"", T0)
    pushed(home, emulator)
    fid = live_files(emulator)["A.txt"][0]["id"]
    OtherClient(emulator.url, EMAIL, full=True).edit(fid, b"written on Drive", rfc3339(T0 + 100))
    (home / "A.txt").unlink()
    write(home, "d/e/a.txt", b"", T0 + 200)
    summary = pushed(home, emulator)
    files = live_files(emulator)
    assert [(f["id"], f["md5Checksum"]) for f in files["A.txt"]] == [(fid, md5(b"written on Drive"))], summary
    assert [f["md5Checksum"] for f in files["d/e/a.txt"]] == [md5(b"")], summary
    assert (summary["moved"], summary["created"]) == (0, 1), summary


def test_a_drive_edit_never_swaps_which_same_name_twin_a_restore_calls_by_the_name(home: Path, emulator: Any) -> None:
    """Found by the model (an exploring soak, 2026-12-03): this app on another hub put a
    same-name twin `a.txt` beside ours; then Drive's copy of ours was edited, so ours became
    the newer one. A restore named twins by age alone: the twin took `a.txt`, ours (the one
    the state DB links to `a.txt`) came back as `a~<tag>.txt`, and the next push renamed ours
    on Drive to that and wrote the local `a.txt` into the other copy's file. The item the
    state DB links to a name keeps it."""
    write(home, "a.txt", b"alpha", T0)
    pushed(home, emulator)
    ours = live_files(emulator)["a.txt"][0]
    other_copy = OtherClient(emulator.url, EMAIL, full=False)
    twin = other_copy.create("a.txt", ours["parents"][0], b"the other hub's a.txt", rfc3339(T0 + 100))
    other_copy.edit(ours["id"], b"alpha, edited on Drive", rfc3339(T0 + 500))
    # the restore dialog's listing names them as the restore will
    listing = {e["name"]: e for e in list_remote(RestoreOptions(home=home, api_root=emulator.url))["entries"]}
    assert listing["a.txt"]["md5"] == md5(b"alpha, edited on Drive"), listing
    run = run_cli(*restore_argv(home, emulator.url, "--overwrite", "older"))
    assert run.code == 0 and not run.problems(), run.describe()
    assert (home / "a.txt").read_bytes() == b"alpha, edited on Drive"  # ours, the later write
    (aside,) = [p.name for p in home.glob("a~*.txt")]
    assert (home / aside).read_bytes() == b"the other hub's a.txt"
    summary = pushed(home, emulator)
    now = {f["id"]: f for fs in live_files(emulator).values() for f in fs}
    assert now[ours["id"]]["name"] == "a.txt" and now[ours["id"]]["md5Checksum"] == md5(b"alpha, edited on Drive")
    assert now[twin["id"]]["md5Checksum"] == md5(b"the other hub's a.txt"), summary  # the other copy's file untouched


# Fixed: the planner counts a trashed item below a folder the push takes out of the trash as live
# (`_Planner.live_after_push`). An exploring soak at 14a0c82 (an account switch, a folder made a
# file, its folder trashed in the web UI).
@pytest.mark.parametrize("delete", ["keep", "trash"])
@pytest.mark.parametrize("change", ["folder-then-file", "file-then-folder", "deleted"])
def test_a_folder_trashed_on_drive_and_revived_by_a_push_brings_back_nothing_twice(home: Path, emulator: Any,
                                                                                change: str, delete: str) -> None:
    """`d` is trashed in the Drive web UI, which trashes what it holds too. Meanwhile, here,
    `d/b.ipynb` changed kind (or was deleted) and `d/A.txt` is still there. The push writes into
    `d`, so it takes `d` out of the trash, and everything `d` held comes back with it: the old
    `d/b.ipynb` must first be set aside (`keep`) or trashed on its own (`trash`), never left live
    beside the new item or, deleted here, live at all under `trash`."""
    write(home, "d/A.txt", b"stays", T0)
    write(home, "d/b.ipynb/x.txt" if change == "folder-then-file" else "d/b.ipynb", b"old work", T0)
    pushed(home, emulator)
    d_id = DriveView(emulator.files(EMAIL)).live()["d"][0]["id"]
    shutil.rmtree(home / "d/b.ipynb") if change == "folder-then-file" else (home / "d/b.ipynb").unlink()
    if change != "deleted":
        write(home, "d/b.ipynb" if change == "folder-then-file" else "d/b.ipynb/x.txt", b"new kind", T0 + 100)
    else:
        write(home, "d/new.txt", b"a new file in d", T0 + 100)
    OtherClient(emulator.url, EMAIL, full=True).patch(d_id, {"trashed": True})
    run = run_cli(*push_argv(home, emulator.url, "--delete", delete))
    assert not run.problems() and run.code == 0, run.describe()
    live = DriveView(emulator.files(EMAIL)).live()
    assert {p: len(fs) for p, fs in live.items() if len(fs) > 1} == {}, (sorted(live), run.summary)
    assert [f["id"] for f in live["d"]] == [d_id]
    assert live["d/A.txt"][0]["md5Checksum"] == md5(b"stays")
    if change == "deleted":
        assert ("d/b.ipynb" in live) == (delete == "keep"), (sorted(live), run.summary)
        return
    now_dir = change == "file-then-folder"
    assert [f["mimeType"] == FOLDER_MIME for f in live["d/b.ipynb"]] == [now_dir], (sorted(live), run.summary)
    aside = "d/b.ipynb (replaced by a file)" if change == "folder-then-file" else "d/b (replaced by a folder).ipynb"
    assert (aside in live) == (delete == "keep"), (sorted(live), run.summary)


# Defect 23, found by an exploring soak (579 examples, 2,178 s; the failure reproduced in 2 of 6
# replays: which of two same-name folders adoption took hung on their times to the millisecond).
def test_adoption_takes_the_same_name_folder_that_holds_the_home_not_the_older(home: Path, emulator: Any) -> None:
    """`e` is trashed on Drive; the state DB is lost; the next push adopts and, finding no live
    `e`, makes a new one with everything in it. Later `e`'s old folder comes back from the
    trash (web UI) beside the new one, and the state DB is lost again. Adoption must take the
    `e` that holds the home's files as they were uploaded, not the older one: taking the old
    one uploaded a second copy of every file the new one held."""
    for name in ("a.txt", "b.ipynb", "c"):
        write(home, f"e/{name}", f"e/{name} v1".encode(), T0)
    pushed(home, emulator)
    old_e = DriveView(emulator.files(EMAIL)).live()["e"][0]["id"]
    web = OtherClient(emulator.url, EMAIL, full=True)
    web.patch(old_e, {"trashed": True})
    lose_state(home)
    write(home, "e/new.txt", b"written after the trash", T0 + 100)
    first = pushed(home, emulator)
    new_e = [f["id"] for f in DriveView(emulator.files(EMAIL)).live()["e"]]
    assert new_e != [old_e] and len(new_e) == 1, first
    web.patch(old_e, {"trashed": False, "modifiedTime": rfc3339(T0 - 1000)})  # back, and plainly the older
    lose_state(home)
    summary = pushed(home, emulator)
    live = DriveView(emulator.files(EMAIL)).live()
    ours = {p: [f["id"] for f in fs] for p, fs in live.items() if p.startswith("e/")}
    assert summary["created"] == 0 and summary["bytes_uploaded"] == 0, (summary, ours)
    for name in ("a.txt", "b.ipynb", "c", "new.txt"):
        in_new = [f for f in live[f"e/{name}"] if f["parents"] == new_e]
        assert len(in_new) == 1 and in_new[0]["md5Checksum"] == md5((home / "e" / name).read_bytes()), (name, ours)
    assert not [f for f in emulator.files(EMAIL) if f["parents"] == [old_e] and f["name"] == "new.txt"], ours


# Defect 24, found by clean-clone soak Z3 (77 examples, 89 s).
def test_a_rename_on_drive_does_not_make_an_older_drive_edit_win_over_a_later_local_one(home: Path,
                                                                                      emulator: Any) -> None:
    """Another hub edits `b.ipynb` on Drive; here it is edited later; then the student renames
    it in the Drive web UI, which moves its `modifiedTime` to the time of the rename. The push
    puts it back by ID and must judge the two edits by the time of Drive's content, not of the
    rename: the local edit is the later write, so it goes up into the same item, Drive's edit
    pinned and a conflict reported."""
    write(home, "b.ipynb", b"v1", T0)
    pushed(home, emulator)
    fid = live_files(emulator)["b.ipynb"][0]["id"]
    OtherClient(emulator.url, EMAIL, full=False).edit(fid, b"edited on another hub", rfc3339(T0 + 100))
    write(home, "b.ipynb", b"edited here, later", T0 + 200)
    web = OtherClient(emulator.url, EMAIL, full=True)
    web.patch(fid, {"name": "renamed.ipynb"})
    summary = pushed(home, emulator)
    live = live_files(emulator)
    assert [f["id"] for f in live.get("b.ipynb", [])] == [fid] and "renamed.ipynb" not in live, (live, summary)
    assert live["b.ipynb"][0]["md5Checksum"] == md5(b"edited here, later"), summary
    pinned = [r for r in web.revisions(fid) if r.get("keepForever")]
    assert [r["md5Checksum"] for r in pinned] == [md5(b"edited on another hub")], summary
    assert summary["conflicts"] == 1, summary


# Defect 25, found by clean-clone soak Z5 (399 examples, 1,754 s).
def test_a_new_empty_file_on_a_gone_empty_files_inode_is_not_taken_for_it(home: Path, emulator: Any) -> None:
    """`e/b.ipynb`, empty when backed up, is edited on Drive since (Colab); here it is deleted
    and a new empty `d/a.txt` made, and the file system hands the new file the freed inode (it
    may: the soak saw it). Same inode, same size (0): the push took the new file for the old
    one moved, carried its Drive item there by ID, and the backup showed Colab's text as
    `d/a.txt`. An empty file's bytes cannot confirm that it is the same file once its time
    changed, so it is a new file; `e/b.ipynb`'s item stays where it is, Drive's edit in it.
    (The test renames the file and sets a new time: to the push that is the same inode, size
    and time a reused inode shows, without waiting for the file system to reuse one.)"""
    write(home, "e/b.ipynb", b"", T0)
    pushed(home, emulator)
    fid = live_files(emulator)["e/b.ipynb"][0]["id"]
    OtherClient(emulator.url, EMAIL, full=True).edit(fid, b"written in Colab", rfc3339(T0 + 100))
    (home / "d").mkdir()
    os.rename(home / "e" / "b.ipynb", home / "d" / "a.txt")
    os.utime(home / "d" / "a.txt", (T0 + 200, T0 + 200))
    summary = pushed(home, emulator)
    files = live_files(emulator)
    assert [(f["id"], f["md5Checksum"]) for f in files["e/b.ipynb"]] == [(fid, md5(b"written in Colab"))], summary
    assert [f["md5Checksum"] for f in files["d/a.txt"]] == [md5(b"")], summary
    assert (summary["moved"], summary["created"]) == (0, 1), summary


def _create_answer_lost_then_killed(home: Path, emulator: Any, path: str) -> dict[str, Any]:
    """A push whose file creates reach Drive but whose answers never come back (held by the
    emulator), killed once `path` is on Drive: its row stays pending, its item exists. Drive's
    item at `path`."""
    argv = push_argv(home, emulator.url)
    emulator.set_faults(1.0, ["hang-after-commit"], routes=["POST /upload/drive/v3/files"], slow_ms=60_000)
    proc = spawn_cli(*argv)
    try:
        deadline = time.monotonic() + 60
        while path not in live_files(emulator) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert proc.poll() is None, "the push ended before its create of %s was held" % path
        finish(proc, argv, kill=True)
    finally:
        emulator.set_faults(0)
    return live_files(emulator)[path][0]


# Defect 26, found by clean-clone soak Z13 (490 examples; RELIABILITY known limitation 18).
@pytest.mark.parametrize("how", ["rename", "move_out", "edit"])
def test_a_create_whose_answer_was_lost_is_checked_against_what_drive_did_since(home: Path, emulator: Any,
                                                                                 how: str) -> None:
    """A push creates `e/c` on Drive and is killed before Drive's answer arrives, so its row
    is still pending. Then the student renames the new item on Drive, moves it out of the
    backup, or edits it (Colab). The next push's create met `409 fileIdInUse`, fetched the item
    and took it as `e/c` wherever it was and whatever it held: after a rename nothing was live
    at `e/c` while the push said it was unchanged; a Drive edit was overwritten unpinned. The
    changes feed shows the item, so the create did happen: it is treated like any backed-up
    item: put back at its home path by ID, let go when moved out (a fresh copy is made), and a
    later Drive edit kept."""
    write(home, "e/c", b"the c file here", T0)
    item = _create_answer_lost_then_killed(home, emulator, "e/c")
    other = OtherClient(emulator.url, EMAIL, full=True)
    if how == "rename":
        other.patch(item["id"], {"name": "renamed-c"})
    elif how == "move_out":
        mine = other.create("mine", "root", None, rfc3339(T0))
        other.patch(item["id"], {}, addParents=mine["id"], removeParents=item["parents"][0])
    else:
        other.edit(item["id"], b"written in Colab later", rfc3339(T0 + 300))
    summary = pushed(home, emulator)
    files = live_files(emulator)
    assert len(files["e/c"]) == 1, (files, summary)
    got = files["e/c"][0]
    if how == "rename":
        assert (got["id"], got["md5Checksum"]) == (item["id"], md5(b"the c file here")), summary
        assert summary["moved"] + summary["metadata_updated"] >= 1 and summary["created"] == 0, summary
    elif how == "move_out":
        assert got["id"] != item["id"] and got["md5Checksum"] == md5(b"the c file here"), summary
        kept = {f["id"]: f for f in emulator.files(EMAIL)}[item["id"]]  # the student's copy, left alone
        assert (kept["parents"], kept["trashed"], kept["md5Checksum"]) == ([mine["id"]], False, item["md5Checksum"])
    else:
        assert (got["id"], got["md5Checksum"]) == (item["id"], md5(b"written in Colab later")), summary
        assert summary["kept_drive_copy"] == 1 and summary["updated"] == 0, summary
    assert summary["failed"] == [], summary


# Defect 27, found by clean-clone soak Z15 (236 examples, 490 s).
def test_adoption_takes_the_backups_own_file_over_a_later_same_name_twin_whatever_the_times(home: Path,
                                                                                              emulator: Any) -> None:
    """This app on another hub puts an `a.txt` beside the backup's own; then the student edits
    the backup's `a.txt` in Colab, so its modifiedTime is the later one. The state is lost.
    Adopting, the push took the same-name item with the oldest modifiedTime, the other hub's,
    as the home's `a.txt`: from then on it wrote the home's file into the other hub's item and
    left its own backup beside it (the soak's sequence then had the home's `a.txt` become a
    folder, and two live items were at `a.txt`). modifiedTime is whatever a client sets; the
    item Drive made first (createdTime) is the backup's own, whatever its edits since."""
    write(home, "a.txt", b"first local version", T0)
    pushed(home, emulator)
    ours = live_files(emulator)["a.txt"][0]
    twin = OtherClient(emulator.url, EMAIL, full=False).create("a.txt", ours["parents"][0], b"the other hub's",
                                                               rfc3339(T0 + 10))
    OtherClient(emulator.url, EMAIL, full=True).edit(ours["id"], b"edited in Colab, later", rfc3339(T0 + 500))
    lose_state(home)
    summary = pushed(home, emulator)
    assert [s["reason"] for s in summary["skipped"] if s["path"] == "a.txt"] == [
        f"2 items with this name already on Drive; adopted {ours['id']}, left the others alone"], summary
    write(home, "a.txt", b"a later local version", T0 + 900)
    pushed(home, emulator)
    by_id = {f["id"]: f["md5Checksum"] for f in live_files(emulator)["a.txt"]}
    assert by_id == {ours["id"]: md5(b"a later local version"), twin["id"]: md5(b"the other hub's")}


# Defect 28, found by clean-clone soak Z18 (284 examples, 659 s).
@pytest.mark.parametrize("dated", ["later", "earlier"])
def test_a_file_made_after_an_adoption_that_found_it_only_on_drive_is_judged_by_time(home: Path, emulator: Any,
                                                                                      dated: str) -> None:
    """A new volume, empty, with no state; `a.txt` is edited on Drive (Colab) and a push adopts
    the backup folder with nothing here at `a.txt`. Adoption took Drive's copy as the version
    the home last had, so a file made here later at that path was a change on the local side
    only: it replaced Drive's copy with no pin and no conflict, even dated before that copy
    (an old file copied in), so Colab's later work was written over. Nothing here ever had that
    copy: no common version is known, and the later write wins with a conflict reported,
    Drive's revision pinned if it is overwritten."""
    write(home, "a.txt", b"first local version", T0)
    pushed(home, emulator)
    fid = live_files(emulator)["a.txt"][0]["id"]
    lose_state(home)
    (home / "a.txt").unlink()
    web = OtherClient(emulator.url, EMAIL, full=True)
    web.edit(fid, b"edited in Colab", rfc3339(T0 + 200))
    adopted = pushed(home, emulator)
    assert (adopted["created"], adopted["updated"], adopted["trashed"]) == (0, 0, 0), adopted
    write(home, "a.txt", b"a file made here", T0 + (300 if dated == "later" else 100))
    summary = pushed(home, emulator)
    [item] = live_files(emulator)["a.txt"]
    assert summary["conflicts"] == 1, summary
    if dated == "later":
        assert (item["id"], item["md5Checksum"]) == (fid, md5(b"a file made here")), summary
        pinned = [r["md5Checksum"] for r in web.revisions(fid) if r.get("keepForever")]
        assert pinned == [md5(b"edited in Colab")], summary
    else:
        assert (item["id"], item["md5Checksum"]) == (fid, md5(b"edited in Colab")), summary
        assert summary["kept_drive_copy"] == 1, summary
