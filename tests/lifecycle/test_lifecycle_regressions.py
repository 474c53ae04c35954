"""Each product defect the lifecycle model found (issue 13), as one small deterministic test.

Driven only through the CLI, the emulator's admin API and Drive REST calls of another client,
like the model. Each is marked xfail(strict=True) while the defect stands: when a fix lands the
test passes, strict xfail turns that into a failure, and the mark comes off (and the matching
name comes out of `KNOWN_DEFECTS` in test_lifecycle_model.py, re-enabling the model's steps).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from .fixtures import connected_home, lose_state, rfc3339, write
from .harness import (
    FOLDER_MIME,
    STATE_REL,
    CliRun,
    DriveView,
    OtherClient,
    connect,
    finish,
    local_files,
    md5,
    push_argv,
    restore_argv,
    run_cli,
    spawn_cli,
)

EMAIL = "ann@lifecycle.test"
T0 = 1_700_000_000
POST_2262 = 10_413_792_000  # 2300-01-01


def defect(what: str) -> pytest.MarkDecorator:
    return pytest.mark.xfail(strict=True, reason=f"issue 13: {what}")


@pytest.fixture
def home(tmp_path: Path, emulator: Any) -> Path:
    return connected_home(tmp_path, emulator.url, EMAIL)


def cli(*argv: str) -> CliRun:
    """Run the CLI; whatever it does, it answers with an exit status of the contract and no traceback."""
    run = run_cli(*argv)
    assert not run.problems(), f"{run.problems()}\n{run.describe()}"
    return run


def push(home: Path, emulator: Any, *extra: str) -> CliRun:
    return cli(*push_argv(home, emulator.url, *extra))


def pushed(home: Path, emulator: Any, *extra: str) -> dict[str, Any]:
    run = push(home, emulator, *extra)
    assert run.code == 0, run.describe()
    return run.summary or {}


def view(emulator: Any, email: str = EMAIL) -> DriveView:
    return DriveView(emulator.files(email))


def live_file(emulator: Any, rel: str, email: str = EMAIL) -> dict[str, Any]:
    items = [f for f in view(emulator, email).live().get(rel, []) if f["mimeType"] != FOLDER_MIME]
    assert len(items) == 1, f"{rel!r}: {items}"
    return items[0]


def holds(emulator: Any, rel: str, drive_id: str, data: bytes, summary: Any = None) -> None:
    """The one live file at `rel` is the Drive item `drive_id`, holding `data`."""
    f = live_file(emulator, rel)
    assert (f["id"], f["md5Checksum"]) == (drive_id, md5(data)), (rel, summary)


def judged_by_time(emulator: Any, summary: dict[str, Any], rel: str, drive_id: str, *, drive: bytes,
                   local: bytes, drive_later: bool) -> None:
    """An adopted path where both sides differ, settled by last-write-wins in Drive's own item:
    Drive's later copy kept (a conflict reported), or the later local bytes written over it with
    Drive's version pinned."""
    kept = live_file(emulator, rel)
    assert kept["id"] == drive_id, summary
    if drive_later:
        assert kept["md5Checksum"] == md5(drive), summary
        assert (summary["kept_drive_copy"], summary["conflicts"]) == (1, 1), summary
        return
    assert kept["md5Checksum"] == md5(local), summary
    revisions = OtherClient(emulator.url, EMAIL, full=True).revisions(drive_id)
    assert any(r.get("md5Checksum") == md5(drive) and r.get("keepForever") for r in revisions), revisions


def no_duplicates(emulator: Any, email: str = EMAIL) -> None:
    dups = {p: len(fs) for p, fs in view(emulator, email).live().items() if len(fs) > 1}
    assert not dups, f"two live items at one path: {dups}"


def replace_after_push(home: Path, emulator: Any, old: tuple[str, bytes], new: tuple[str, bytes]) -> None:
    """A kind swap between two pushes: `old` (path, content) is written and pushed, then the item
    at its top path is deleted (file or folder) and `new` is written, later, in its place."""
    write(home, old[0], old[1], T0)
    pushed(home, emulator)
    top = home / old[0].split("/")[0]
    if top.is_dir():
        shutil.rmtree(top)
    else:
        top.unlink()
    write(home, new[0], new[1], T0 + 100)


def backed_up_with(home: Path, emulator: Any, kept: dict[str, bytes]) -> None:
    """One live item a path on Drive, holding every local file and every item set aside (`kept`,
    path → content): nothing of the old work lost."""
    no_duplicates(emulator)
    for rel, data in {**local_files(home), **kept}.items():
        assert live_file(emulator, rel)["md5Checksum"] == md5(data), rel


# -- adoption ------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["lost state DB", "new volume with a starter file"])
def test_adoption_keeps_newer_drive_copy(home: Path, emulator: Any, how: str) -> None:
    write(home, "lab/notes.txt", b"mine, first version", T0)
    pushed(home, emulator)
    fid = live_file(emulator, "lab/notes.txt")["id"]
    colab = b"edited in Colab, later"
    OtherClient(emulator.url, EMAIL, full=True).edit(fid, colab, rfc3339(T0 + 1000))
    if how == "lost state DB":
        lose_state(home)
    else:  # the course's starter file, older than the student's work on Drive
        shutil.rmtree(home)
        home.mkdir()
        connect(emulator.url, home, EMAIL)
        write(home, "lab/notes.txt", b"starter", T0 - 1000)
    summary = pushed(home, emulator)
    now = live_file(emulator, "lab/notes.txt")
    if now["md5Checksum"] != md5(colab):  # replaced: only with Drive's revision pinned, and said so
        revs = OtherClient(emulator.url, EMAIL, full=True).revisions(now["id"])
        assert any(r["md5Checksum"] == md5(colab) and r["keepForever"] for r in revs), revs
        assert summary["conflicts"] >= 1, summary


def test_interrupted_adoption_does_not_duplicate(home: Path, emulator: Any) -> None:
    for d in ("a", "b"):
        for n in range(3):
            write(home, f"{d}/f{n}.txt", f"{d}{n}".encode(), T0)
    pushed(home, emulator)
    before = len(view(emulator).live())
    lose_state(home)
    emulator.reset_stats()
    emulator.set_faults(1.0, ["slow"], slow_ms=300)  # every Drive request takes 0.3 s: room to kill
    argv = push_argv(home, emulator.url)
    proc = spawn_cli(*argv)
    try:
        deadline = time.monotonic() + 60
        # two folder look-ups by name (home, stu), then adoption lists the folder's children
        while emulator.stats()["by_route"].get("GET /drive/v3/files", 0) < 3 and time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            time.sleep(0.02)
        finish(proc, argv, kill=True)
    finally:
        emulator.set_faults(0)
    pushed(home, emulator)
    no_duplicates(emulator)
    assert len(view(emulator).live()) == before


@pytest.mark.parametrize("drive_edit_at", [T0 + 500, T0 - 500], ids=["Drive's copy later", "moved file later"])
def test_lost_state_then_a_rename_onto_a_path_drive_holds_is_judged_by_path(home: Path, emulator: Any,
                                                                            drive_edit_at: int) -> None:
    """Soak run E's sequence, cut down: the state DB is lost, folder `e` is deleted and `a.txt`
    is renamed to `e/c`, a path whose Drive copy another client edited. With no row, the push
    adopts `e/c` by path and lets time decide: Drive's later copy is kept (conflict reported) or
    the later local bytes replace it; `a.txt`'s bytes stay in its own Drive item either way
    (`--delete keep`). One live item a path, nothing lost (model bug 13 in RELIABILITY.md)."""
    write(home, "a.txt", b"alpha", T0)
    write(home, "e/c", b"gamma", T0 - 1000)
    pushed(home, emulator)
    a_id, c_id = live_file(emulator, "a.txt")["id"], live_file(emulator, "e/c")["id"]
    OtherClient(emulator.url, EMAIL, full=False).edit(c_id, b"gamma, edited on Drive", rfc3339(drive_edit_at))
    lose_state(home)
    shutil.rmtree(home / "e")
    (home / "e").mkdir()
    os.rename(home / "a.txt", home / "e" / "c")
    summary = pushed(home, emulator)
    judged_by_time(emulator, summary, "e/c", c_id, drive=b"gamma, edited on Drive", local=b"alpha",
                   drive_later=drive_edit_at > T0)
    assert live_file(emulator, "a.txt")["id"] == a_id
    assert live_file(emulator, "a.txt")["md5Checksum"] == md5(b"alpha")
    no_duplicates(emulator)


@pytest.mark.parametrize("drive_at", [T0 + 500, T0 - 500], ids=["Drive's copy later", "renamed file later"])
@pytest.mark.parametrize("how", ["state lost", "another account, then back"])
def test_a_new_file_renamed_onto_a_path_drive_holds_while_adopting_is_judged_by_time(
        home: Path, emulator: Any, how: str, drive_at: int) -> None:
    """A clean-clone soak's sequence, cut down (model bug 20 in RELIABILITY.md): while the next
    push adopts (state lost, or back from another account), a file Drive never had is renamed
    onto `d/b.ipynb`, whose Drive copy stays. With no row to follow, the push adopts the path
    and lets time decide: Drive's later copy is kept (conflict reported), or the later local
    bytes replace it with Drive's revision pinned; never a second item at the path."""
    write(home, "d/b.ipynb", b"notebook", T0)
    pushed(home, emulator)
    b_id = live_file(emulator, "d/b.ipynb")["id"]
    OtherClient(emulator.url, EMAIL, full=False).edit(b_id, b"notebook, edited on Drive", rfc3339(drive_at))
    if how == "state lost":
        lose_state(home)
    else:
        connect(emulator.url, home, "bo@lifecycle.test")
        pushed(home, emulator)
        connect(emulator.url, home, EMAIL)
    write(home, "x.txt", b"a new file", T0)
    (home / "d" / "b.ipynb").unlink()
    os.rename(home / "x.txt", home / "d" / "b.ipynb")
    summary = pushed(home, emulator)
    judged_by_time(emulator, summary, "d/b.ipynb", b_id, drive=b"notebook, edited on Drive", local=b"a new file",
                   drive_later=drive_at > T0)
    no_duplicates(emulator)


# -- times out of range --------------------------------------------------------------------------


def test_local_mtime_after_2262_is_backed_up(home: Path, emulator: Any) -> None:
    write(home, "ok.txt", b"fine", T0)
    write(home, "future.txt", b"from the far future", POST_2262)
    run = push(home, emulator)
    assert run.code in (0, 1) and run.summary is not None, run.describe()
    assert live_file(emulator, "ok.txt")["md5Checksum"] == md5(b"fine")
    skipped = {s["path"] for s in run.summary["skipped"]}
    assert "future.txt" in skipped or live_file(emulator, "future.txt")["md5Checksum"] == md5(b"from the far future")


@pytest.mark.parametrize("how", ["restore into an empty home", "adoption"])
def test_drive_time_after_2262_restores(home: Path, emulator: Any, tmp_path: Path, how: str) -> None:
    write(home, "a.txt", b"alpha", T0)
    write(home, "b.txt", b"beta", T0)
    pushed(home, emulator)
    far = b"saved by a client with a broken clock"
    OtherClient(emulator.url, EMAIL, full=True).edit(live_file(emulator, "a.txt")["id"], far, rfc3339(POST_2262))
    if how == "adoption":  # which copy wins is test_adoption_keeps_newer_drive_copy's business
        lose_state(home)
        write(home, "b.txt", b"beta, edited", T0 + 100)
        pushed(home, emulator)
        assert live_file(emulator, "b.txt")["md5Checksum"] == md5(b"beta, edited")
        return
    fresh = connected_home(tmp_path / "fresh", emulator.url, EMAIL)
    run = cli(*restore_argv(fresh, emulator.url))
    assert run.code == 0, run.describe()
    assert local_files(fresh) == {"a.txt": far, "b.txt": b"beta"}


# -- accounts ------------------------------------------------------------------------------------


def test_account_switch_backs_up_into_the_new_account(home: Path, emulator: Any) -> None:
    other = "ann.personal@lifecycle.test"
    write(home, "a.txt", b"alpha", T0)
    write(home, "d/b.txt", b"beta", T0)
    pushed(home, emulator)
    connect(emulator.url, home, other)
    write(home, "d/b.txt", b"beta, edited", T0 + 100)
    pushed(home, emulator)
    for rel, data in local_files(home).items():
        assert live_file(emulator, rel, other)["md5Checksum"] == md5(data), rel
    connect(emulator.url, home, EMAIL)  # and back
    write(home, "a.txt", b"alpha, edited", T0 + 200)
    pushed(home, emulator)
    for rel, data in local_files(home).items():
        assert live_file(emulator, rel)["md5Checksum"] == md5(data), rel
    no_duplicates(emulator)
    no_duplicates(emulator, other)


# -- secrets -------------------------------------------------------------------------------------


@pytest.mark.parametrize("target", [".ssh", STATE_REL])
def test_restore_path_never_writes_secrets(home: Path, emulator: Any, tmp_path: Path, target: str) -> None:
    write(home, "a.txt", b"alpha", T0)
    pushed(home, emulator)
    root = view(emulator).root_ids()[0]
    app_elsewhere = OtherClient(emulator.url, EMAIL, full=False)  # this app, on another hub
    when = rfc3339(T0)
    if target == ".ssh":
        ssh = app_elsewhere.create(".ssh", root, None, when)
        app_elsewhere.create("authorized_keys", ssh["id"], b"ssh-ed25519 AAAA mallory", when)
        extra = ["--path", ".ssh"]
    else:
        mallory = tmp_path / "mallory"
        mallory.mkdir()
        connect(emulator.url, mallory, "mallory@lifecycle.test")
        parent = root
        for name in STATE_REL.split("/"):
            parent = app_elsewhere.create(name, parent, None, when)["id"]
        app_elsewhere.create("credentials.json", parent, (mallory / STATE_REL / "credentials.json").read_bytes(), when)
        extra = ["--path", STATE_REL, "--overwrite", "always"]
    creds = (home / STATE_REL / "credentials.json").read_bytes()
    cli(*restore_argv(home, emulator.url, *extra))
    assert not (home / ".ssh" / "authorized_keys").exists()
    assert (home / STATE_REL / "credentials.json").read_bytes() == creds


# -- renames and moves ---------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["move a file", "rename a folder"])
def test_local_rename_is_one_metadata_update(home: Path, emulator: Any, how: str) -> None:
    write(home, "data/big.bin", os.urandom(256 * 1024), T0)
    for n in range(5):
        write(home, f"proj/f{n}.py", f"print({n})".encode(), T0)
    pushed(home, emulator)
    before = view(emulator)
    src, dst = ("data/big.bin", "archive/big.bin") if how == "move a file" else ("proj", "project-final")
    moved_id = before.live()[src][0]["id"]
    (home / dst).parent.mkdir(parents=True, exist_ok=True)
    os.rename(home / src, home / dst)
    summary = pushed(home, emulator)
    after = view(emulator)
    assert summary["bytes_uploaded"] == 0, summary
    assert len([f for f in after.files if f["mimeType"] != FOLDER_MIME]) == \
        len([f for f in before.files if f["mimeType"] != FOLDER_MIME])
    assert moved_id in {f["id"] for f in after.live().get(dst, [])}


@pytest.mark.parametrize("how", ["rename on Drive", "move into a subfolder", "move out of the backup"])
def test_drive_side_move_keeps_backup_complete(home: Path, emulator: Any, how: str) -> None:
    write(home, "a.txt", b"alpha", T0)
    write(home, "d/b.txt", b"beta", T0)
    pushed(home, emulator)
    v = view(emulator)
    f = v.live()["a.txt"][0]
    web = OtherClient(emulator.url, EMAIL, full=True)
    if how == "rename on Drive":
        web.patch(f["id"], {"name": "a (old).txt"})
    elif how == "move into a subfolder":
        web.patch(f["id"], {}, addParents=v.live()["d"][0]["id"], removeParents=f["parents"][0])
    else:
        web.patch(f["id"], {}, addParents="root", removeParents=f["parents"][0])
    write(home, "d/b.txt", b"beta, edited", T0 + 100)
    pushed(home, emulator)
    assert live_file(emulator, "a.txt")["md5Checksum"] == md5(b"alpha")
    if how == "move out of the backup":  # the student's own copy elsewhere is left alone
        moved = view(emulator).by_id[f["id"]]
        assert moved["md5Checksum"] == md5(b"alpha") and not moved["trashed"]


def test_renames_through_a_path_left_and_filled_again_follow_each_file(home: Path, emulator: Any) -> None:
    """Soak run F's sequence, cut down (model bug 14): `d/b.ipynb` renamed to `d/c`, `e/c` moved
    into the freed `d/b.ipynb`, Drive's `d/b.ipynb` item edited by another client, then the new
    `d/b.ipynb` renamed to `a.txt`; one push. Each item follows its own file by identity: `d/c`
    is `d/b.ipynb`'s item with Drive's later edit kept (the local file is unchanged), `a.txt` is
    `e/c`'s item; no bytes sent, no new item, one live item a path."""
    write(home, "d/b.ipynb", b"notebook", T0)
    write(home, "e/c", b"gamma", T0)
    pushed(home, emulator)
    b_id, c_id = live_file(emulator, "d/b.ipynb")["id"], live_file(emulator, "e/c")["id"]
    os.rename(home / "d" / "b.ipynb", home / "d" / "c")
    os.rename(home / "e" / "c", home / "d" / "b.ipynb")
    OtherClient(emulator.url, EMAIL, full=False).edit(b_id, b"notebook, edited on Drive", rfc3339(T0 + 500))
    os.rename(home / "d" / "b.ipynb", home / "a.txt")
    summary = pushed(home, emulator)
    holds(emulator, "d/c", b_id, b"notebook, edited on Drive", summary)
    assert live_file(emulator, "a.txt")["id"] == c_id, summary
    assert (summary["moved"], summary["created"], summary["bytes_uploaded"]) == (2, 0, 0), summary
    no_duplicates(emulator)


def test_a_file_renamed_back_onto_a_path_that_remembers_its_bytes_is_that_file_come_back(home: Path,
                                                                                         emulator: Any) -> None:
    """RELIABILITY.md known limit 14 (an exploring soak's sequence, cut down): `a.txt` is
    deleted for good in the Drive web UI and renamed here to `b.ipynb`, which is trashed on
    Drive and renamed here to `A.txt`; Drive's `A.txt` is edited in the web UI; then `A.txt`
    is renamed back to `a.txt`. The state DB still remembers `a.txt` with these very bytes, so
    the push takes the file as `a.txt` come back (a new item, its old one being gone), not as
    the rename: Drive's later edit stays in `A.txt`'s item, under its name. Nothing is lost,
    one live item a path."""
    write(home, "a.txt", b"alpha", T0)
    pushed(home, emulator)
    web, app = OtherClient(emulator.url, EMAIL, full=True), OtherClient(emulator.url, EMAIL, full=False)
    web.delete(live_file(emulator, "a.txt")["id"])
    os.rename(home / "a.txt", home / "b.ipynb")
    pushed(home, emulator)
    b_id = live_file(emulator, "b.ipynb")["id"]
    app.patch(b_id, {"trashed": True})
    os.rename(home / "b.ipynb", home / "A.txt")
    pushed(home, emulator)
    web.patch(b_id, {"trashed": False})
    pushed(home, emulator)
    big_a = live_file(emulator, "A.txt")["id"]
    web.edit(big_a, b"alpha, edited on Drive", rfc3339(T0 + 900))
    pushed(home, emulator)
    os.rename(home / "A.txt", home / "a.txt")
    summary = pushed(home, emulator)
    assert live_file(emulator, "a.txt")["md5Checksum"] == md5(b"alpha"), summary
    holds(emulator, "A.txt", big_a, b"alpha, edited on Drive", summary)
    no_duplicates(emulator)


# -- kinds ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("old,new,kept", [
    pytest.param(("results", b"a file first"), ("results/run1.csv", b"1,2,3"),
                 {"results (replaced by a folder)": b"a file first"}, id="file to folder"),
    pytest.param(("results/run1.csv", b"1,2,3"), ("results", b"a file now"),
                 {"results (replaced by a file)/run1.csv": b"1,2,3"}, id="folder to file"),
])
def test_file_replaced_by_folder_leaves_one_live_item(home: Path, emulator: Any, tmp_path: Path, old: tuple[str, bytes],
                                                       new: tuple[str, bytes], kept: dict[str, bytes]) -> None:
    """Under the default `keep`, the replaced item stays live on Drive, renamed beside the path
    (RELIABILITY.md, "known limits" 4): one live item a path, and nothing of the old work lost."""
    replace_after_push(home, emulator, old, new)
    pushed(home, emulator)
    backed_up_with(home, emulator, kept)
    again = pushed(home, emulator)  # settled: the next push has nothing to do
    assert (again["created"], again["updated"], again["moved"], again["metadata_updated"]) == (0, 0, 0, 0), again
    # and the backup restores to the home plus the kept item
    fresh = connected_home(tmp_path / "fresh", emulator.url, EMAIL)
    assert cli(*restore_argv(fresh, emulator.url)).code == 0
    assert local_files(fresh) == {**local_files(home), **kept}


def test_aside_name_held_by_another_copy_of_the_app_is_not_reused(home: Path, emulator: Any) -> None:
    """The name planning picks for a replaced item (`results (replaced by a folder)`) may already
    be another client's: another copy of this app (same OAuth client, so its files are visible)
    made a file of that name in the backup folder. The push checks Drive and takes the next
    name: no name holds two items, the other client's file is left alone."""
    write(home, "results", b"a file first", T0)
    pushed(home, emulator)
    other = OtherClient(emulator.url, EMAIL, full=False)
    root = view(emulator).by_id[live_file(emulator, "results")["id"]]["parents"][0]
    theirs = other.create("results (replaced by a folder)", root, b"not ours", rfc3339(T0 + 50))
    (home / "results").unlink()
    write(home, "results/run1.csv", b"1,2,3", T0 + 100)
    pushed(home, emulator)
    backed_up_with(home, emulator, {"results (replaced by a folder 2)": b"a file first",
                                    "results (replaced by a folder)": b"not ours"})
    assert live_file(emulator, "results (replaced by a folder)")["id"] == theirs["id"]


@pytest.mark.parametrize("drive_at", [T0 + 1000, T0 + 200], ids=["Drive's copy later", "new file later"])
def test_a_new_file_where_one_was_renamed_away_is_an_edit_of_that_path(home: Path, emulator: Any,
                                                                      drive_at: int) -> None:
    """A clean-clone soak's sequence, cut down (model bug 22 in RELIABILITY.md), and what an
    editor that keeps a backup does (`b.ipynb` renamed to `b.ipynb~`, a new `b.ipynb` written):
    the path's Drive item stays the path's, and its Drive edit meets the new file by time
    (Drive's later copy kept with a conflict, or the new bytes over it with Drive's pinned);
    the renamed-away file is backed up as a new file. One item a path, nothing lost."""
    write(home, "b.ipynb", b"notebook", T0)
    pushed(home, emulator)
    b_id = live_file(emulator, "b.ipynb")["id"]
    OtherClient(emulator.url, EMAIL, full=True).edit(b_id, b"notebook, edited on Drive", rfc3339(drive_at))
    os.rename(home / "b.ipynb", home / "b.ipynb~")
    write(home, "b.ipynb", b"notebook, written anew", T0 + 500)
    summary = pushed(home, emulator)
    judged_by_time(emulator, summary, "b.ipynb", b_id, drive=b"notebook, edited on Drive",
                   local=b"notebook, written anew", drive_later=drive_at > T0 + 500)
    assert live_file(emulator, "b.ipynb~")["md5Checksum"] == md5(b"notebook"), summary
    no_duplicates(emulator)


def test_back_to_an_earlier_account_leaves_its_moved_item_and_backs_the_path_up(home: Path, emulator: Any) -> None:
    """A clean-clone soak's sequence, cut down (model bug 23 in RELIABILITY.md): on account A,
    `d/b.ipynb` is edited on Drive (the later write) and then moved out of `d` there; the home
    switches to account B and pushes, then back to A. The home's state is B's now, so the push
    adopts A's backup folder again: `d/b.ipynb` is backed up from the home, and the student's
    moved copy, with Drive's later edit, is left alone where it is. (Had the old state been
    kept, the item would be put back by ID with that edit; the model accepts either.) Never
    two items at one path, nothing lost."""
    write(home, "d/b.ipynb", b"notebook", T0)
    write(home, "a.txt", b"alpha", T0)
    pushed(home, emulator)
    b = live_file(emulator, "d/b.ipynb")
    web = OtherClient(emulator.url, EMAIL, full=True)
    web.edit(b["id"], b"notebook, edited on Drive", rfc3339(T0 + 500))
    root = view(emulator).by_id[live_file(emulator, "a.txt")["id"]]["parents"][0]
    web.patch(b["id"], {}, addParents=root, removeParents=b["parents"][0])
    connect(emulator.url, home, "bo@lifecycle.test")
    pushed(home, emulator)
    connect(emulator.url, home, EMAIL)
    summary = pushed(home, emulator)
    assert live_file(emulator, "d/b.ipynb")["md5Checksum"] == md5(b"notebook"), summary
    moved = view(emulator).by_id[b["id"]]
    assert (moved["md5Checksum"], moved["trashed"]) == (md5(b"notebook, edited on Drive"), False), summary
    assert summary["created"] == 1 and summary["conflicts"] == 0, summary
    no_duplicates(emulator)


def test_a_twin_edited_on_drive_stays_put_when_ours_is_renamed_here(home: Path, emulator: Any) -> None:
    """The `make test` model's sequence, cut down (model bug 21 in RELIABILITY.md): another copy
    of this app puts its own `a.txt` beside ours and edits it; here `a.txt` is renamed to
    `b.ipynb`. The push moves our item by ID (no bytes) and leaves the twin where it is, with
    its edit. One item a path, the twin never written."""
    write(home, "a.txt", b"alpha", T0)
    pushed(home, emulator)
    ours = live_file(emulator, "a.txt")
    other = OtherClient(emulator.url, EMAIL, full=False)
    theirs = other.create("a.txt", ours["parents"][0], b"their a.txt", rfc3339(T0 + 50))
    os.rename(home / "a.txt", home / "b.ipynb")
    other.edit(theirs["id"], b"their a.txt, edited", rfc3339(T0 + 100))
    summary = pushed(home, emulator)
    holds(emulator, "b.ipynb", ours["id"], b"alpha", summary)
    holds(emulator, "a.txt", theirs["id"], b"their a.txt, edited", summary)
    assert (summary["moved"], summary["created"], summary["bytes_uploaded"]) == (1, 0, 0), summary
    no_duplicates(emulator)


@pytest.mark.parametrize("vacated", ["deleted", "renamed away"])
def test_rename_onto_a_path_vacated_since_the_last_push_is_an_edit_of_it(home: Path, emulator: Any,
                                                                          vacated: str) -> None:
    """RELIABILITY.md known limit 13 (the soak's sequence, cut down): `a.txt` deleted or renamed
    away, then `e/c` renamed onto it, one push. The state DB still has `a.txt`'s row live, so
    this is an edit of `a.txt` (a save by rename keeps the Drive ID and history): `c`'s bytes go
    into `a.txt`'s item, `e/c`'s item stays where it is with Drive's later edit (kept as a
    deleted file), a file renamed away from `a.txt` is a new item. One live item a path."""
    write(home, "a.txt", b"alpha", T0)
    write(home, "e/c", b"gamma", T0)
    pushed(home, emulator)
    a_id, c_id = live_file(emulator, "a.txt")["id"], live_file(emulator, "e/c")["id"]
    OtherClient(emulator.url, EMAIL, full=False).edit(c_id, b"gamma, edited on Drive", rfc3339(T0 + 500))
    if vacated == "deleted":
        (home / "a.txt").unlink()
    else:
        os.rename(home / "a.txt", home / "x.txt")
    os.rename(home / "e" / "c", home / "a.txt")
    summary = pushed(home, emulator)
    assert live_file(emulator, "a.txt")["id"] == a_id, summary
    assert live_file(emulator, "a.txt")["md5Checksum"] == md5(b"gamma"), summary
    holds(emulator, "e/c", c_id, b"gamma, edited on Drive", summary)
    if vacated == "renamed away":
        assert live_file(emulator, "x.txt")["md5Checksum"] == md5(b"alpha"), summary
    no_duplicates(emulator)


def test_file_back_after_a_trash_push_is_backed_up(home: Path, emulator: Any) -> None:
    write(home, "thesis.tex", b"chapter one", T0)
    write(home, "ch/two.tex", b"chapter two", T0)
    pushed(home, emulator, "--delete", "trash")
    (home / "thesis.tex").unlink()  # deleted (its Drive copy trashed)...
    shutil.rmtree(home / "ch")
    pushed(home, emulator, "--delete", "trash")
    write(home, "thesis.tex", b"chapter one", T0)  # ...and put back unchanged (`cp -p` from a USB stick)
    write(home, "ch/two.tex", b"chapter two", T0)
    summary = pushed(home, emulator, "--delete", "trash")
    assert live_file(emulator, "thesis.tex")["md5Checksum"] == md5(b"chapter one")
    assert live_file(emulator, "ch/two.tex")["md5Checksum"] == md5(b"chapter two")
    assert summary["bytes_uploaded"] == 0 and summary["created"] == 0, summary  # out of the trash by ID
    no_duplicates(emulator)


@pytest.mark.parametrize("old,new,kept", [
    pytest.param(("a.txt", b"a file first"), ("a.txt/x.txt", b"now a folder"),
                 {"a (replaced by a folder).txt": b"a file first"}, id="a folder where Drive has a file"),
    pytest.param(("a/x.txt", b"in a folder first"), ("a", b"now a file"),
                 {"a (replaced by a file)/x.txt": b"in a folder first"}, id="a file where Drive has a folder"),
])
def test_restore_after_a_lost_state_leaves_no_path_unadopted(home: Path, emulator: Any, old: tuple[str, bytes],
                                                              new: tuple[str, bytes], kept: dict[str, bytes]) -> None:
    """Found by the model: a restore into a home whose state is lost, where the other kind now
    stands at a backed-up path, marked the adoption finished without a row for that path; the
    next push then created the local item beside Drive's (two live items at one path)."""
    write(home, "b.txt", b"bee", T0)
    replace_after_push(home, emulator, old, new)
    lose_state(home)
    cli(*restore_argv(home, emulator.url, "--overwrite", "older"))
    pushed(home, emulator)
    backed_up_with(home, emulator, kept)


def test_a_later_drive_copy_renamed_away_while_the_state_is_lost_is_followed_by_id(home: Path,
                                                                                  emulator: Any) -> None:
    """RELIABILITY.md model bug 19 (the `make test` model's sequence, cut down): with the state
    lost, Drive's `b.ipynb` (the later write) is renamed on Drive by another client; a restore
    writes it into the home under its new name, the student edits it there and pushes. The
    older local `b.ipynb` is backed up at its own path (nothing is there any more), the renamed
    item is updated by ID from the local edit: no conflict, nothing duplicated, Drive's copy of
    the moment before still in the renamed item's history."""
    write(home, "b.ipynb", b"notebook", T0)
    pushed(home, emulator)
    drive_copy = live_file(emulator, "b.ipynb")
    write(home, "b.ipynb", b"notebook, an old edit", -315_619_200)  # 1960: older than Drive's copy
    lose_state(home)
    OtherClient(emulator.url, EMAIL, full=True).patch(drive_copy["id"], {"name": "renamed-b.ipynb"})
    cli(*restore_argv(home, emulator.url, "--overwrite", "never"))
    assert (home / "renamed-b.ipynb").read_bytes() == b"notebook"
    assert (home / "b.ipynb").read_bytes() == b"notebook, an old edit"
    write(home, "renamed-b.ipynb", b"notebook, edited under its new name", T0 + 500)
    summary = pushed(home, emulator)
    assert live_file(emulator, "b.ipynb")["md5Checksum"] == md5(b"notebook, an old edit"), summary
    holds(emulator, "renamed-b.ipynb", drive_copy["id"], b"notebook, edited under its new name")
    assert (summary["created"], summary["updated"], summary["conflicts"]) == (1, 1, 0), summary
    revisions = OtherClient(emulator.url, EMAIL, full=True).revisions(drive_copy["id"])
    assert md5(b"notebook") in {r.get("md5Checksum") for r in revisions}, revisions
    no_duplicates(emulator)


@pytest.mark.parametrize("faults", [False, True], ids=["plain", "a push lost after commit between"])
def test_a_new_file_at_a_path_left_by_a_case_only_folder_rename_pins_drives_edit(home: Path, emulator: Any,
                                                                                  faults: bool) -> None:
    """The steps of RELIABILITY.md run O's open check, written out: `d` renamed to `D` here,
    the state lost, Drive's `d/b.ipynb` edited twice by another client (a push between), then a
    new, later `d/b.ipynb` written here. The case-only rename is a path of its own on Drive (`D`
    beside `d`); the new local file wins by time in Drive's own item, Drive's second edit pinned
    and reported as a conflict, and nothing is duplicated."""
    write(home, "d/b.ipynb", b"first", T0)
    pushed(home, emulator)
    fid = live_file(emulator, "d/b.ipynb")["id"]
    (home / "d").rename(home / "D")
    lose_state(home)
    other = OtherClient(emulator.url, EMAIL, full=True)
    other.edit(fid, b"Drive's first edit", rfc3339(T0 + 100))
    pushed(home, emulator)
    other.edit(fid, b"Drive's second edit", rfc3339(T0 + 200))
    if faults:
        emulator.set_faults(0.1, ["lost-after-commit"], 0)
        try:
            push(home, emulator)
        finally:
            emulator.set_faults(0)
    write(home, "d/b.ipynb", b"new here, later", T0 + 300)
    summary = pushed(home, emulator)
    judged_by_time(emulator, summary, "d/b.ipynb", fid, drive=b"Drive's second edit", local=b"new here, later",
                   drive_later=False)
    assert summary["conflicts"] == 1, summary
    assert live_file(emulator, "D/b.ipynb")["md5Checksum"] == md5(b"first")
    no_duplicates(emulator)


@pytest.mark.parametrize("full", [True, False], ids=["made in the web UI", "made by another copy of this app"])
@pytest.mark.parametrize("lost_state", [False, True], ids=["state kept", "state lost"])
def test_a_twin_renamed_away_and_edited_there_is_not_this_paths_history(home: Path, emulator: Any,
                                                                        lost_state: bool, full: bool) -> None:
    """RELIABILITY.md model bugs 24 (clean-clone soak P) and 26 (`make test`'s model): a file of
    the same name is made beside a backed-up one, in the Drive web UI (the app cannot see it)
    or by this app on another hub, then renamed and edited there. The state DB links the
    backup's own item to the path, so that item stays the path's: a push leaves it alone,
    whether the state DB survived or adoption runs, and the other file is untouched."""
    write(home, "e/c", b"the home's c", T0)
    pushed(home, emulator)
    ours = live_file(emulator, "e/c")
    web = OtherClient(emulator.url, EMAIL, full=full)
    twin = web.create("c", ours["parents"][0], b"a twin made in the web UI", rfc3339(T0 + 100))
    web.patch(twin["id"], {"name": "renamed-c"})
    web.edit(twin["id"], b"the twin, edited after its rename", rfc3339(T0 + 200))
    if lost_state:
        lose_state(home)
    summary = pushed(home, emulator)
    holds(emulator, "e/c", ours["id"], b"the home's c", summary)
    assert (summary["updated"], summary["conflicts"], summary["kept_drive_copy"]) == (0, 0, 0), summary
    holds(emulator, "e/renamed-c", twin["id"], b"the twin, edited after its rename")


def test_a_drive_edit_after_an_adoption_stays_though_its_time_is_earlier(home: Path, emulator: Any) -> None:
    """RELIABILITY.md model bug 25 (an exploring soak): Drive's copy, dated 2300, restored here;
    the state lost and the home adopted again (both sides agree); then another client edits the
    file on Drive with an ordinary, earlier modifiedTime. The local copy has not changed since
    the adoption, so Drive's edit is the later write and stays, its time notwithstanding."""
    write(home, "d/b.ipynb", b"notebook", T0)
    pushed(home, emulator)
    fid = live_file(emulator, "d/b.ipynb")["id"]
    other = OtherClient(emulator.url, EMAIL, full=True)
    lose_state(home)
    other.edit(fid, b"dated 2300 on Drive", rfc3339(POST_2262))
    cli(*restore_argv(home, emulator.url, "--overwrite", "older"))
    assert (home / "d/b.ipynb").read_bytes() == b"dated 2300 on Drive"
    lose_state(home)
    adopted = pushed(home, emulator)
    assert (adopted["updated"], adopted["conflicts"]) == (0, 0), adopted
    other.edit(fid, b"edited on Drive after the adoption", rfc3339(T0 + 500))
    summary = pushed(home, emulator)
    holds(emulator, "d/b.ipynb", fid, b"edited on Drive after the adoption", summary)
    assert (summary["updated"], summary["kept_drive_copy"], summary["conflicts"]) == (0, 1, 0), summary
    assert (home / "d/b.ipynb").read_bytes() == b"dated 2300 on Drive"


def test_an_older_file_moved_onto_a_backed_up_path_while_adopting_keeps_drives_own_item(home: Path,
                                                                                        emulator: Any) -> None:
    """RELIABILITY.md model bug 27 (clean-clone soak S): a new volume brings an older starter
    `d/b.ipynb` and no state; the student moves it onto `e/c`, a path Drive holds a later copy
    of. Adoption judges the path by time: Drive's own `e/c` item is the later write and is kept,
    by ID, untouched, and the conflict reported; `d/b.ipynb` stays on Drive as it was. Later
    pushes, one lost after commit among them, change nothing: Drive's `e/c` is the later edit."""
    write(home, "d/b.ipynb", b"the notebook", T0)
    write(home, "e/c", b"the home's c", T0)
    pushed(home, emulator)
    before = {rel: live_file(emulator, rel) for rel in ("d/b.ipynb", "e/c")}
    shutil.rmtree(home / "d")
    shutil.rmtree(home / "e")
    lose_state(home)
    write(home, "d/b.ipynb", b"a starter notebook", -315_619_200)  # 1960: older than Drive's copies
    (home / "e").mkdir()
    (home / "d/b.ipynb").rename(home / "e/c")
    summary = pushed(home, emulator)
    emulator.set_faults(0.6, ["lost-after-commit"], 69)
    try:
        push(home, emulator)
    finally:
        emulator.set_faults(0)
    again = pushed(home, emulator)
    for rel, f in before.items():
        now = live_file(emulator, rel)
        assert (now["id"], now["md5Checksum"]) == (f["id"], f["md5Checksum"]), (rel, summary, again)
    # the conflict is reported once; after it, the local copy is known and Drive's is the later edit
    assert (summary["kept_drive_copy"], summary["conflicts"], summary["created"], summary["updated"]) == (1, 1, 0, 0)
    assert (again["kept_drive_copy"], again["conflicts"], again["created"], again["updated"]) == (1, 0, 0, 0), again
    assert (home / "e/c").read_bytes() == b"a starter notebook"
    no_duplicates(emulator)


def test_a_web_ui_twins_edit_beside_ours_is_not_our_history_when_ours_moves(home: Path, emulator: Any) -> None:
    """RELIABILITY.md model bug 28 (clean-clone soak U): `e/c` edited on Drive (the later copy,
    kept), then a file of the same name made beside it in the Drive web UI and edited there;
    the student moves `e/c` to `d/c`. The push moves the backup's own item by ID, Drive's later
    edit with it, and leaves the other file at `e/c` as it is."""
    write(home, "e/c", b"the home's c", T0)
    pushed(home, emulator)
    ours = live_file(emulator, "e/c")
    web = OtherClient(emulator.url, EMAIL, full=True)
    web.edit(ours["id"], b"edited in Colab, dated 2300", rfc3339(POST_2262))
    assert pushed(home, emulator)["kept_drive_copy"] == 1
    twin = web.create("c", ours["parents"][0], b"a twin made in the web UI", rfc3339(T0 + 100))
    web.edit(twin["id"], b"the twin, edited there", rfc3339(POST_2262 + 5))
    (home / "d").mkdir()
    (home / "e/c").rename(home / "d/c")
    summary = pushed(home, emulator)
    holds(emulator, "d/c", ours["id"], b"edited in Colab, dated 2300", summary)
    holds(emulator, "e/c", twin["id"], b"the twin, edited there", summary)
    assert (summary["moved"], summary["updated"], summary["created"]) == (1, 0, 0), summary
    assert (home / "d/c").read_bytes() == b"the home's c"


def test_a_drive_edit_after_a_restore_found_both_sides_the_same_stays(home: Path, emulator: Any) -> None:
    """RELIABILITY.md model bug 29 (clean-clone soak V): `e/c`, dated 2300 on Drive, restored
    here (`--overwrite older`), the state lost, and a restore that finds both sides the same and
    links the path to Drive's item. Another client then edits the file on Drive with an
    ordinary, earlier time. The local copy has not changed since the two agreed, so Drive's
    edit is the later write and stays: no adoption by time (which would take the local 2300)."""
    write(home, "e/c", b"the home's c", T0)
    pushed(home, emulator)
    fid = live_file(emulator, "e/c")["id"]
    other = OtherClient(emulator.url, EMAIL, full=True)
    other.edit(fid, b"dated 2300 on Drive", rfc3339(POST_2262))
    cli(*restore_argv(home, emulator.url, "--overwrite", "older"))
    lose_state(home)
    found = cli(*restore_argv(home, emulator.url, "--overwrite", "older"))
    assert found.code == 0 and (home / "e/c").read_bytes() == b"dated 2300 on Drive", found.describe()
    other.edit(fid, b"edited on Drive after the restore", rfc3339(T0 + 500))
    summary = pushed(home, emulator)
    holds(emulator, "e/c", fid, b"edited on Drive after the restore", summary)
    assert (summary["updated"], summary["kept_drive_copy"], summary["conflicts"]) == (0, 1, 0), summary


def test_a_local_edit_after_a_restore_found_both_sides_the_same_is_the_later_write(home: Path, emulator: Any) -> None:
    """Model bug 29 again (clean-clone soak W), beside a file of the same name made in the Drive
    web UI (the app cannot see it): the state lost, a restore finds `a.txt` the same on both
    sides and links it; then the student edits it with an old mtime (a copy from an archive).
    It is the later write all the same: it goes into the backup's own item, no conflict, and
    the other file is left as it is."""
    write(home, "a.txt", b"alpha", T0)
    pushed(home, emulator)
    ours = live_file(emulator, "a.txt")
    web = OtherClient(emulator.url, EMAIL, full=True)
    twin = web.create("a.txt", ours["parents"][0], b"a twin made in the web UI", rfc3339(T0 + 100))
    lose_state(home)
    found = cli(*restore_argv(home, emulator.url, "--overwrite", "never"))
    assert found.code == 0 and (home / "a.txt").read_bytes() == b"alpha", found.describe()
    write(home, "a.txt", b"alpha, from an old archive", -315_619_200)  # 1960
    summary = pushed(home, emulator)
    items = {f["id"]: f["md5Checksum"] for f in view(emulator).live()["a.txt"]}
    assert items == {ours["id"]: md5(b"alpha, from an old archive"), twin["id"]: md5(b"a twin made in the web UI")}
    assert (summary["updated"], summary["conflicts"], summary["created"]) == (1, 0, 0), summary


def test_a_file_moved_then_replaced_leaves_its_items_later_drive_edit_at_its_old_path(home: Path,
                                                                                      emulator: Any) -> None:
    """RELIABILITY.md model bug 30 (clean-clone soak Y): `a.txt` renamed to `b.ipynb` here (no
    push yet), then `b.ipynb` replaced by a folder and that by a new file; meanwhile this app on
    another hub edits `a.txt`'s Drive item, dated 2300. The new `b.ipynb` is a new file (a new
    inode, other bytes): it gets a Drive item of its own with its bytes, and `a.txt`'s item keeps
    Drive's later edit where it is, since the file deleted here is older than that edit."""
    write(home, "a.txt", b"alpha", T0)
    pushed(home, emulator)
    ours = live_file(emulator, "a.txt")
    (home / "a.txt").rename(home / "b.ipynb")
    (home / "b.ipynb").unlink()
    write(home, "b.ipynb/x.txt", b"a folder for a while", T0 + 10)
    shutil.rmtree(home / "b.ipynb")
    write(home, "b.ipynb", b"a new notebook, not alpha", T0 + 20)
    OtherClient(emulator.url, EMAIL, full=False).edit(ours["id"], b"alpha, edited on another hub", rfc3339(POST_2262))
    summary = pushed(home, emulator)
    holds(emulator, "a.txt", ours["id"], b"alpha, edited on another hub", summary)
    new = live_file(emulator, "b.ipynb")
    assert new["id"] != ours["id"] and new["md5Checksum"] == md5(b"a new notebook, not alpha"), summary
    assert (summary["created"], summary["moved"], summary["updated"], summary["trashed"]) == (1, 0, 0, 0), summary


@pytest.mark.parametrize("removed", ["deleted", "replaced by a folder, then deleted"])
def test_a_file_moved_onto_a_path_whose_row_is_live_is_that_paths_edit(home: Path, emulator: Any, removed: str) -> None:
    """RELIABILITY.md model bug 31 (clean-clone soak Y2): `a.txt`'s Drive copy is edited by this
    app on another hub, dated 2300, and kept (the later write). Here `a.txt` is then removed (or
    replaced by a folder, which is deleted in turn) and `d/a.txt` moved onto it, with no push
    between: the state DB still has `a.txt`'s row, so the push plans `a.txt` in place, as an edit
    of that path. Drive's later copy stays in `a.txt`'s item with a conflict reported, and
    `d/a.txt`'s item keeps its bytes where it is (the default `keep`): nothing is moved over it."""
    write(home, "a.txt", b"alpha", T0)
    write(home, "d/a.txt", b"the file that moves", T0 + 10)
    pushed(home, emulator)
    ours, moving = live_file(emulator, "a.txt"), live_file(emulator, "d/a.txt")
    OtherClient(emulator.url, EMAIL, full=False).edit(ours["id"], b"alpha, edited on another hub", rfc3339(POST_2262))
    pushed(home, emulator)  # unchanged here: Drive's later edit stays
    if removed == "deleted":
        (home / "a.txt").unlink()
    else:
        (home / "a.txt").unlink()
        write(home, "a.txt/x.txt", b"a folder for a while", T0 + 20)
        shutil.rmtree(home / "a.txt")
    os.rename(home / "d/a.txt", home / "a.txt")
    summary = pushed(home, emulator)
    holds(emulator, "a.txt", ours["id"], b"alpha, edited on another hub", summary)
    holds(emulator, "d/a.txt", moving["id"], b"the file that moves", summary)
    assert (summary["moved"], summary["kept_drive_copy"], summary["conflicts"], summary["created"]) == (0, 1, 1, 0), summary


def test_a_file_restored_while_the_state_is_lost_renames_by_id_with_its_drive_history(home: Path,
                                                                                     emulator: Any) -> None:
    """RELIABILITY.md model bug 32 (`make test`'s model): a new volume (no files, no state DB),
    a restore that writes `a.txt` back, then another copy of this app edits `a.txt` on Drive
    (the later write), and here `a.txt`, unchanged since the restore, is renamed `b.ipynb`. The
    restore gave `a.txt` a row and its inode, so the push knows the rename: one move by ID, no
    bytes, and the item keeps Drive's later edit under its new name; nothing stays at `a.txt`."""
    write(home, "a.txt", b"alpha", T0)
    pushed(home, emulator)
    ours = live_file(emulator, "a.txt")
    lose_state(home)
    (home / "a.txt").unlink()
    assert cli(*restore_argv(home, emulator.url)).code == 0
    assert (home / "a.txt").read_bytes() == b"alpha"
    OtherClient(emulator.url, EMAIL, full=False).edit(ours["id"], b"alpha, edited on another hub", rfc3339(T0 + 300))
    os.rename(home / "a.txt", home / "b.ipynb")
    summary = pushed(home, emulator)
    holds(emulator, "b.ipynb", ours["id"], b"alpha, edited on another hub", summary)
    assert "a.txt" not in view(emulator).live(), summary
    assert (summary["moved"], summary["created"], summary["bytes_uploaded"]) == (1, 0, 0), summary


def test_a_folder_renamed_back_after_a_restore_wrote_its_new_name_is_a_new_folder(home: Path, emulator: Any) -> None:
    """RELIABILITY.md model bug 33 (clean-clone soak Z): `e/a.txt`'s Drive copy is the later
    write (kept). `e` is renamed `D` here and a push moves it on Drive by ID (in the soak, a
    push that then failed); `D` is renamed back to `e`, and a restore brings `D` back from Drive
    (nothing is at `D` here), writing Drive's later copy into `D/a.txt` and linking `D` to the
    item. `e` is then a folder no row knows: the push backs `e/a.txt` up as a new item with its
    local bytes and leaves `D/a.txt`'s item, with Drive's edit, alone."""
    write(home, "e/a.txt", b"local, older", T0)
    pushed(home, emulator)
    ours = live_file(emulator, "e/a.txt")
    OtherClient(emulator.url, EMAIL, full=False).edit(ours["id"], b"edited on another hub, later", rfc3339(T0 + 300))
    pushed(home, emulator)  # unchanged here: Drive's later copy stays
    os.rename(home / "e", home / "D")
    assert pushed(home, emulator)["moved"] == 1
    os.rename(home / "D", home / "e")
    assert cli(*restore_argv(home, emulator.url)).code == 0
    assert (home / "D/a.txt").read_bytes() == b"edited on another hub, later"
    summary = pushed(home, emulator)
    holds(emulator, "D/a.txt", ours["id"], b"edited on another hub, later", summary)
    new = live_file(emulator, "e/a.txt")
    assert new["id"] != ours["id"] and new["md5Checksum"] == md5(b"local, older"), summary
    assert (summary["created"], summary["folders_created"], summary["moved"], summary["updated"]) == (1, 1, 0, 0), summary


def test_a_changed_file_moved_onto_a_path_a_new_volume_lacks_meets_that_paths_drive_copy(home: Path,
                                                                                       emulator: Any) -> None:
    """RELIABILITY.md model bug 35 (an exploring soak): a new volume lacks `e/c`, so the
    adoption gives `e/c` a row of a file missing here (not a deletion); this app on another hub
    then edits `e/c` on Drive, dated 2300. Here `d/a.txt`, edited on both sides since (here
    later, and longer: no identity), is renamed `e/c`. The push plans `e/c` in place: Drive's
    later copy stays in `e/c`'s own item with a conflict reported, and `d/a.txt`'s item keeps
    its own Drive edit where it is (`keep`); nothing is moved or created."""
    write(home, "e/c", b"c v1", T0)
    write(home, "d/a.txt", b"a v1", T0)
    pushed(home, emulator)
    c_item, a_item = live_file(emulator, "e/c"), live_file(emulator, "d/a.txt")
    lose_state(home)
    shutil.rmtree(home / "e")
    pushed(home, emulator)
    other = OtherClient(emulator.url, EMAIL, full=False)
    other.edit(c_item["id"], b"c, edited on another hub in 2300", rfc3339(POST_2262))
    other.edit(a_item["id"], b"a, edited on another hub", rfc3339(T0 + 100))
    write(home, "d/a.txt", b"a, edited here later and longer", T0 + 200)
    (home / "e").mkdir()
    os.rename(home / "d/a.txt", home / "e/c")
    summary = pushed(home, emulator)
    holds(emulator, "e/c", c_item["id"], b"c, edited on another hub in 2300", summary)
    holds(emulator, "d/a.txt", a_item["id"], b"a, edited on another hub", summary)
    assert (summary["moved"], summary["created"], summary["kept_drive_copy"], summary["conflicts"]) == (0, 0, 1, 1), summary


def test_a_file_moved_on_drive_beside_ours_is_restored_under_one_name_each(home: Path, emulator: Any) -> None:
    """RELIABILITY.md model bug 34 (clean-clone soak Z2): in the Drive web UI the student moves
    `e/c` into the backup folder's top, beside the backup's own `c`. The volume is then lost
    (no files, no state): the adoption takes the one of the two `c`s Drive made first, and a
    restore brings both back, the adopted one as `c` and the other under a tagged name. The next
    push uploads nothing and creates nothing: the two items stay as the student put them."""
    write(home, "e/c", b"e/c, the older", T0)
    write(home, "c", b"", T0 + 100)
    pushed(home, emulator)
    moved, ours = live_file(emulator, "e/c"), live_file(emulator, "c")
    root = view(emulator).root_ids()[0]
    web = OtherClient(emulator.url, EMAIL, full=True)
    web.patch(moved["id"], {}, addParents=root, removeParents=moved["parents"][0])
    shutil.rmtree(home / "e")
    (home / "c").unlink()
    lose_state(home)
    pushed(home, emulator)
    run = cli(*restore_argv(home, emulator.url))
    assert run.code == 0, run.describe()
    made = {f["id"]: web.http.get(f"{emulator.url}drive/v3/files/{f['id']}", params={"fields": "createdTime"},
                                  timeout=30).json()["createdTime"] for f in (moved, ours)}
    first, second = sorted((moved, ours), key=lambda f: (made[f["id"]], f["id"]))
    content = {moved["id"]: b"e/c, the older", ours["id"]: b""}
    assert (home / "c").read_bytes() == content[first["id"]], made
    tagged = [p.name for p in home.iterdir() if p.name.startswith("c~")]
    assert len(tagged) == 1 and (home / tagged[0]).read_bytes() == content[second["id"]], sorted(
        p.name for p in home.iterdir())
    summary = pushed(home, emulator)
    live = {p: [f["id"] for f in fs] for p, fs in view(emulator).live().items() if not p.startswith("e")}
    # the two the student's move put side by side stay so (each linked to its own local name)
    assert sorted(live.get("c", [])) == sorted([moved["id"], ours["id"]]) and tagged[0] not in live, (live, summary)
    assert (summary["created"], summary["updated"], summary["bytes_uploaded"]) == (0, 0, 0), summary


def test_a_folder_made_here_after_a_new_volume_and_renamed_is_a_new_folder(home: Path, emulator: Any) -> None:
    """RELIABILITY.md model bug 36 (clean-clone soak Z4): a new volume (no files, no state) is
    adopted, so Drive's `e` has a row with no folder here. Then `e` is made here anew, holding
    only a FIFO, and renamed `moved`. No row knows this folder (its inode), so the push makes
    `moved` as a new folder, sends nothing, and leaves Drive's `e` and what it holds alone."""
    write(home, "e/c", b"c v1", T0)
    pushed(home, emulator)
    c_item = live_file(emulator, "e/c")
    lose_state(home)
    shutil.rmtree(home / "e")
    pushed(home, emulator)
    (home / "e").mkdir()
    os.mkfifo(home / "e" / "pipe")
    os.rename(home / "e", home / "moved")
    summary = pushed(home, emulator)
    holds(emulator, "e/c", c_item["id"], b"c v1", summary)
    assert [f["mimeType"] for f in view(emulator).live().get("moved", [])] == [FOLDER_MIME], summary
    assert (summary["folders_created"], summary["moved"], summary["bytes_uploaded"]) == (1, 0, 0), summary


def test_an_item_moved_on_drive_and_restored_at_its_new_path_is_linked_there(home: Path, emulator: Any) -> None:
    """RELIABILITY.md model bug 37 (an exploring soak): in the Drive web UI the student moves
    the folder `d` into `e` and edits `e/d/b.ipynb` there. A restore brings `e/d/b.ipynb` into
    the home, which links the item to that path; the student then edits it here. Drive has not
    changed since the restore, so the push writes the local edit into the same item, with no
    conflict; the home's own `d/b.ipynb`, still here, is backed up at `d/b.ipynb`."""
    write(home, "d/b.ipynb", b"b v1", T0)
    write(home, "e/c", b"c", T0)
    pushed(home, emulator)
    item, live = live_file(emulator, "d/b.ipynb"), view(emulator).live()
    web = OtherClient(emulator.url, EMAIL, full=True)
    web.patch(live["d"][0]["id"], {}, addParents=live["e"][0]["id"], removeParents=live["d"][0]["parents"][0])
    web.edit(item["id"], b"b, edited on Drive after the move", rfc3339(T0 + 100))
    assert cli(*restore_argv(home, emulator.url)).code == 0
    assert (home / "e/d/b.ipynb").read_bytes() == b"b, edited on Drive after the move"
    write(home, "e/d/b.ipynb", b"b, edited here after the restore", T0 + 50)
    summary = pushed(home, emulator)
    holds(emulator, "e/d/b.ipynb", item["id"], b"b, edited here after the restore", summary)
    assert live_file(emulator, "d/b.ipynb")["md5Checksum"] == md5(b"b v1"), summary
    assert summary["conflicts"] == 0, summary


def test_back_to_an_earlier_account_a_file_unchanged_here_keeps_that_drives_later_edit(home: Path,
                                                                                       emulator: Any) -> None:
    """An exploring soak's sequence, cut down (model bug 38 in RELIABILITY.md): on account A,
    `e/c` (its mtime after 2262) is backed up, then edited on Drive, dated 2300; both times are
    carried as the same instant, but the local file has not changed since Drive agreed, so the
    push keeps Drive's edit. The home connects account B and, before any push there, A again:
    the state is still A's, and the local file the one A's Drive agreed with, so Drive's edit
    stays; nothing here is a later write. (After a push to B the state is B's, and A's folder is
    adopted again: the times are then equal, and both copies are kept, as the model accepts.)"""
    write(home, "e/c", b"edited here, dated after 2262", POST_2262)
    pushed(home, emulator)
    fid = live_file(emulator, "e/c")["id"]
    OtherClient(emulator.url, EMAIL, full=True).edit(fid, b"edited on Drive, dated 2300", rfc3339(POST_2262 + 7))
    kept = pushed(home, emulator)
    assert (kept["kept_drive_copy"], kept["conflicts"]) == (1, 0), kept
    connect(emulator.url, home, "bo@lifecycle.test")
    connect(emulator.url, home, EMAIL)
    summary = pushed(home, emulator)
    holds(emulator, "e/c", fid, b"edited on Drive, dated 2300", summary)
    assert (summary["updated"], summary["conflicts"]) == (0, 0), summary
    assert (home / "e/c").read_bytes() == b"edited here, dated after 2262"
    no_duplicates(emulator)


def test_a_new_file_with_a_gone_files_bytes_takes_its_item_and_drive_edit(home: Path, emulator: Any) -> None:
    """A clean-clone soak's sequence, cut down (model bug 39 in RELIABILITY.md): the folder `d`
    is renamed `D` here; a restore writes `d/b.ipynb` back from Drive beside it (the same bytes
    as `D/b.ipynb`); that copy is deleted, and `d/b.ipynb`'s item is edited on Drive, dated
    2300. To the push `d/b.ipynb` is gone and `D/b.ipynb`, which no row knows, has its size and
    md5: one file moved (as a copy then a delete is). Its item moves there by ID and keeps
    Drive's later edit; no bytes are sent and nothing is left at `d/b.ipynb`."""
    write(home, "d/b.ipynb", b"notebook", T0)
    pushed(home, emulator)
    fid = live_file(emulator, "d/b.ipynb")["id"]
    os.rename(home / "d", home / "D")
    cli(*restore_argv(home, emulator.url, "--overwrite", "never"))
    assert (home / "d/b.ipynb").read_bytes() == b"notebook"
    (home / "d/b.ipynb").unlink()
    OtherClient(emulator.url, EMAIL, full=True).edit(fid, b"edited on Drive, dated 2300", rfc3339(POST_2262))
    summary = pushed(home, emulator)
    holds(emulator, "D/b.ipynb", fid, b"edited on Drive, dated 2300", summary)
    assert "d/b.ipynb" not in view(emulator).live(), summary
    assert (summary["moved"], summary["bytes_uploaded"], summary["kept_drive_copy"]) == (1, 0, 1), summary
    assert (home / "D/b.ipynb").read_bytes() == b"notebook"
    no_duplicates(emulator)


def test_a_file_moved_here_then_edited_to_another_size_is_a_new_file(home: Path, emulator: Any) -> None:
    """A clean-clone soak's sequence, cut down (model bug 40 in RELIABILITY.md): `e/A.txt`,
    empty, is edited on Drive, dated 2300; here it is moved to `d/b.ipynb` and then edited
    (another size). The push knows a moved file by its inode and size, so this is `e/A.txt`
    deleted and a new `d/b.ipynb`: the new file is backed up with its own bytes, and the Drive
    edit stays in `e/A.txt`'s item, kept as a deleted file's copy (the default `keep`)."""
    write(home, "e/A.txt", b"", T0)
    pushed(home, emulator)
    fid = live_file(emulator, "e/A.txt")["id"]
    OtherClient(emulator.url, EMAIL, full=True).edit(fid, b"edited on Drive, dated 2300", rfc3339(POST_2262))
    (home / "d").mkdir()
    os.rename(home / "e/A.txt", home / "d/b.ipynb")
    write(home, "d/b.ipynb", b"written here after the move", T0 + 500)
    summary = pushed(home, emulator)
    assert live_file(emulator, "d/b.ipynb")["md5Checksum"] == md5(b"written here after the move"), summary
    holds(emulator, "e/A.txt", fid, b"edited on Drive, dated 2300", summary)
    assert (summary["moved"], summary["created"]) == (0, 1), summary
    no_duplicates(emulator)


def test_a_local_edit_dated_1969_after_a_push_wrote_over_a_drive_edit_goes_up(home: Path, emulator: Any) -> None:
    """A clean-clone soak's sequence, cut down (model bug 41 in RELIABILITY.md): `d/b.ipynb` is
    edited on Drive and then here, later; the push writes the local bytes over Drive's edit,
    pinned first, with a conflict. Then it is edited here again with an mtime before 1970. Drive's
    copy is this home's own now (the state DB knows it), so nothing on Drive changed since: the
    new bytes go up, whatever their time says, and the first Drive edit stays pinned."""
    write(home, "d/b.ipynb", b"notebook", T0)
    pushed(home, emulator)
    fid = live_file(emulator, "d/b.ipynb")["id"]
    other = OtherClient(emulator.url, EMAIL, full=True)
    other.edit(fid, b"edited on Drive", rfc3339(T0 + 100))
    write(home, "d/b.ipynb", b"edited here, later", T0 + 200)
    first = pushed(home, emulator)
    assert (first["updated"], first["conflicts"]) == (1, 1), first
    write(home, "d/b.ipynb", b"edited here again, dated 1969", -86_400)
    summary = pushed(home, emulator)
    holds(emulator, "d/b.ipynb", fid, b"edited here again, dated 1969", summary)
    assert (summary["updated"], summary["conflicts"], summary["kept_drive_copy"]) == (1, 0, 0), summary
    pinned = [r["md5Checksum"] for r in other.revisions(fid) if r.get("keepForever")]
    assert pinned == [md5(b"edited on Drive")], summary


def test_a_file_moved_into_an_untracked_folder_on_drive_is_let_go_and_its_later_edit_is_not_the_paths(
        home: Path, emulator: Any) -> None:
    """A clean-clone soak's sequence, cut down (model bug 42 in RELIABILITY.md): in the Drive web
    UI the student moves `a.txt` into a folder the backup does not track. The push lets that item
    go and backs `a.txt` up into a fresh item. Another client then edits the moved item, later;
    the next push leaves it alone, and `a.txt` on Drive keeps the home's bytes."""
    write(home, "a.txt", b"alpha", T0)
    pushed(home, emulator)
    old = live_file(emulator, "a.txt")
    web = OtherClient(emulator.url, EMAIL, full=True)
    mine = web.create("mine", old["parents"][0], None, rfc3339(T0 + 10))
    web.patch(old["id"], {}, addParents=mine["id"], removeParents=old["parents"][0])
    first = pushed(home, emulator)
    fresh = live_file(emulator, "a.txt")
    assert fresh["id"] != old["id"] and fresh["md5Checksum"] == md5(b"alpha"), first
    web.edit(old["id"], b"edited on Drive, in the student's folder", rfc3339(T0 + 500))
    summary = pushed(home, emulator)
    holds(emulator, "a.txt", fresh["id"], b"alpha", summary)
    moved = view(emulator).by_id[old["id"]]
    assert (moved["md5Checksum"], moved["parents"]) == (md5(b"edited on Drive, in the student's folder"),
                                                        [mine["id"]]), summary
    assert (summary["updated"], summary["created"], summary["moved"]) == (0, 0, 0), summary
    no_duplicates(emulator)


def test_a_file_whose_item_is_trashed_moved_onto_a_kept_leftover_meets_that_copy_by_time(home: Path,
                                                                                       emulator: Any) -> None:
    """A clean-clone soak's sequence, cut down (model bug 43 in RELIABILITY.md): `a.txt` is
    deleted here and its Drive copy kept (`keep`); another client edits that copy, dated 2300;
    `e/c` is trashed on Drive; then `e/c` is renamed `a.txt` here. Its item is in the trash, so
    there is nothing to move by ID: the path's own row plans it in place, and its Drive copy,
    the later write, stays (kept, reported); nothing comes out of the trash."""
    write(home, "a.txt", b"alpha", T0)
    write(home, "e/c", b"the c file", T0)
    pushed(home, emulator)
    a, c = live_file(emulator, "a.txt"), live_file(emulator, "e/c")
    (home / "a.txt").unlink()
    pushed(home, emulator)
    web = OtherClient(emulator.url, EMAIL, full=True)
    web.edit(a["id"], b"edited on Drive, dated 2300", rfc3339(POST_2262))
    web.patch(c["id"], {"trashed": True})
    os.rename(home / "e/c", home / "a.txt")
    summary = pushed(home, emulator)
    holds(emulator, "a.txt", a["id"], b"edited on Drive, dated 2300", summary)
    assert view(emulator).by_id[c["id"]]["trashed"] is True, summary
    assert (summary["moved"], summary["created"], summary["kept_drive_copy"]) == (0, 0, 1), summary
    assert (home / "a.txt").read_bytes() == b"the c file"
    no_duplicates(emulator)


def test_a_file_back_with_its_folder_untrashed_by_a_push_is_judged_by_time_again(home: Path, emulator: Any) -> None:
    """A clean-clone soak's sequence, cut down (model bug 44 in RELIABILITY.md): the folder `d` is
    trashed in the Drive web UI; a new file below it here makes the push take `d` out of the
    trash by ID, and `d/a.txt` comes back with it. Later `d/a.txt` is edited on Drive and, earlier,
    here: it is a live file again, so last-write-wins keeps Drive's later edit."""
    write(home, "d/a.txt", b"alpha", T0)
    write(home, "d/b.ipynb", b"notebook", T0)
    pushed(home, emulator)
    a = live_file(emulator, "d/a.txt")
    web = OtherClient(emulator.url, EMAIL, full=True)
    web.patch(a["parents"][0], {"trashed": True})
    write(home, "d/new.txt", b"new here", T0 + 100)
    pushed(home, emulator)
    holds(emulator, "d/a.txt", a["id"], b"alpha")
    web.edit(a["id"], b"edited on Drive, later", rfc3339(T0 + 500))
    write(home, "d/a.txt", b"edited here, earlier", T0 + 400)
    summary = pushed(home, emulator)
    holds(emulator, "d/a.txt", a["id"], b"edited on Drive, later", summary)
    assert (summary["updated"], summary["kept_drive_copy"]) == (0, 1), summary
    no_duplicates(emulator)


def backed_up_then_back_from_another_account(home: Path, emulator: Any, path: str, data: bytes, mtime: int) -> str:
    """`path` backed up on this account; then another account connected and, before any push
    there, this one again (the state is still this account's). The file's Drive ID."""
    write(home, path, data, mtime)
    pushed(home, emulator)
    fid = live_file(emulator, path)["id"]
    connect(emulator.url, home, "bo@lifecycle.test")
    connect(emulator.url, home, EMAIL)
    return fid


def test_back_to_an_earlier_account_a_local_change_as_late_as_its_own_drive_copy_is_a_plain_update(
        home: Path, emulator: Any) -> None:
    """A clean-clone soak's sequence, cut down (model bug 45 in RELIABILITY.md): on account A,
    `a.txt` (its mtime after 2262) is backed up. The home connects account B and, before any
    push there, A again; `a.txt` is changed here, dated after 2262 too, so both times are
    carried as the same instant. The state is still A's and Drive's copy is its own last push:
    only the local side changed, so the push updates it in place with nothing to pin and no
    conflict. (Adopted again, the equal times would keep both, Drive's pinned: the model
    accepts either.)"""
    fid = backed_up_then_back_from_another_account(home, emulator, "a.txt", b"backed up, dated after 2262",
                                                   POST_2262)
    write(home, "a.txt", b"changed here, dated after 2262 as well", POST_2262 + 60)
    summary = pushed(home, emulator)
    holds(emulator, "a.txt", fid, b"changed here, dated after 2262 as well", summary)
    assert (summary["updated"], summary["conflicts"]) == (1, 0), summary
    revisions = OtherClient(emulator.url, EMAIL, full=True).revisions(fid)
    assert not [r for r in revisions if r.get("keepForever")], revisions
    no_duplicates(emulator)


def test_back_to_an_earlier_account_a_new_file_with_a_gone_files_bytes_takes_its_item(home: Path,
                                                                                      emulator: Any) -> None:
    """A clean-clone soak's sequence, cut down (model bug 46 in RELIABILITY.md): on account A,
    `d/A.txt` is backed up. The home connects account B and, before any push there, A again,
    so the state is still A's. Here `d/A.txt` is copied to `d/a.txt` and deleted; on Drive
    this app on another hub edits `d/A.txt`'s item. To A's state that is one file moved (the
    same size and md5 as its last backup): its item moves to `d/a.txt` by ID and keeps the
    later Drive edit, nothing is created and nothing is left at `d/A.txt` (as without the
    account switch: model bug 39)."""
    fid = backed_up_then_back_from_another_account(home, emulator, "d/A.txt", b"the capital file", T0)
    write(home, "d/a.txt", b"the capital file", T0 + 50)
    (home / "d/A.txt").unlink()
    OtherClient(emulator.url, EMAIL, full=False).edit(fid, b"edited by the other hub", rfc3339(T0 + 300))
    summary = pushed(home, emulator)
    holds(emulator, "d/a.txt", fid, b"edited by the other hub", summary)
    assert (summary["moved"], summary["created"], summary["updated"]) == (1, 0, 0), summary
    assert "d/A.txt" not in view(emulator).live(), summary
    no_duplicates(emulator)
