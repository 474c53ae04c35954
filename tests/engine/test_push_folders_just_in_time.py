"""The first notebook of a first push is on Drive within its first few writes.

Under the work-first order each new folder is created just before the first file that needs it
(engine/plan_order.py `folders_just_in_time`), not all of the wave's folders up front: under
Google's ~3 writes/s, thirty folders first would keep every notebook off Drive for ten seconds.

The emulator limits writes (5/s here) and its stats count them. The push is stopped after a
known number of notebooks by a full Drive (room for two and a half of them): what it wrote by
then must be those notebooks and only the folders they (and the one refused) lie in. A second
push finishes the job with no second copy of anything, one write per file and per folder in all.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from jupyter_drive_sync.core.errors import DriveRefused
from jupyter_drive_sync.core.model import FOLDER_MIME, Action, ActionKind, LocalEntry
from jupyter_drive_sync.core.options import PushOptions
from jupyter_drive_sync.engine.plan_order import folders_just_in_time
from jupyter_drive_sync.engine.push import run_push

from tests.support import helpers
from tests.support.helpers import write

EMAIL = "jit@uni.edu"
USER = "jo"
ROOT_CHAIN = 2  # `home` and `home/jo`
NB_SIZE = 2000
# three levels deep each: 2 courses, 3 weeks each, a lab folder in every week (14 folders)
NOTEBOOKS = [f"course{c}/week{w}/lab/nb{c}{w}.ipynb" for c in range(2) for w in range(3)]
FOLDERS = sorted({p.rsplit("/", i)[0] for p in NOTEBOOKS for i in (1, 2, 3)})
KEPT = 2  # notebooks the Drive has room for


def ancestors(path: str) -> set[str]:
    parts = path.split("/")
    return {"/".join(parts[:i]) for i in range(1, len(parts))}


@pytest.fixture
def home(connected_home) -> Path:
    h = connected_home(USER, EMAIL)
    for i, rel in enumerate(NOTEBOOKS):  # the last one is the newest: it goes first
        write(h, rel, b'{"cells": [%d]}' % i + b" " * (NB_SIZE - 14), 1_700_000_000 + i)
    write(h, "course1/week2/data.bin", b"\0" * 100, 1_800_000_000)  # data: after every notebook
    return h


def on_drive(emulator) -> tuple[set[str], set[str]]:
    """(folders, files) of the home on Drive."""
    tree = helpers.drive_tree(emulator, EMAIL, f"home/{USER}")
    return ({p for p, f in tree.items() if f["mimeType"] == FOLDER_MIME},
            {p for p, f in tree.items() if f["mimeType"] != FOLDER_MIME})


@pytest.mark.parametrize("workers", [1, 3])
def test_a_push_stopped_after_two_notebooks_wrote_only_their_folders(home, emulator, workers):
    emulator.settings(write_rate=5, write_burst=2)
    emulator.update_account(EMAIL, storage_quota_bytes=KEPT * NB_SIZE + NB_SIZE // 2)
    emulator.reset_stats()
    with pytest.raises(DriveRefused):
        run_push(PushOptions(home=home, user=USER, api_root=emulator.url, workers=workers, write_rate=5))
    stats = emulator.stats()
    folders, files = on_drive(emulator)
    newest_first = NOTEBOOKS[::-1]
    # the newest notebooks, three folders deep, made it; no folder was made that nothing needed
    # (beyond the chains of the uploads in flight when Drive filled up: one per other worker).
    # Uploads in flight together finish in any order: with 3 workers the third newest may take
    # the room before the second newest (seen on a loaded machine)
    in_flight = set(newest_first[:KEPT + workers - 1])
    assert len(files) >= KEPT and files <= in_flight, files
    needed = set().union(*(ancestors(p) for p in newest_first[:KEPT + workers]))
    assert folders <= needed, folders - needed
    assert len(folders) < len(FOLDERS)
    # each write Drive admitted: the root chain, a folder or a file now on Drive, or one refused upload
    # per worker (Drive was full)
    assert ROOT_CHAIN + len(folders) + len(files) < stats["writes"] <= \
        ROOT_CHAIN + len(folders) + len(files) + workers, stats
    if workers == 1:  # one at a time: exactly the first notebooks' chains, then the refused upload
        assert files == set(newest_first[:KEPT])
        assert folders == set().union(*(ancestors(p) for p in newest_first[:KEPT + 1]))
        assert stats["writes"] == ROOT_CHAIN + len(folders) + KEPT + 1

    # room again: the next push does the rest, nothing twice (drive_tree fails on a duplicate)
    emulator.update_account(EMAIL, storage_quota_bytes=10**9)
    before = ROOT_CHAIN + len(folders) + len(files)  # the first push's writes that Drive kept
    emulator.reset_stats()
    summary = run_push(PushOptions(home=home, user=USER, api_root=emulator.url, workers=workers, write_rate=5))
    assert summary.failed == []
    folders, files = on_drive(emulator)
    assert folders == set(FOLDERS) and files == {*NOTEBOOKS, "course1/week2/data.bin"}
    assert before + emulator.stats()["writes"] == ROOT_CHAIN + len(FOLDERS) + len(NOTEBOOKS) + 1


def test_the_first_notebook_is_on_drive_after_its_own_folders_and_nothing_else(home, emulator):
    """The order of the writes, as the emulator's admin listing gives it (by createdTime; one
    worker, 5 writes/s: 200 ms apart): the first notebook right after its 3 folders."""
    emulator.settings(write_rate=5, write_burst=1)
    summary = run_push(PushOptions(home=home, user=USER, api_root=emulator.url, workers=1, write_rate=5))
    assert summary.failed == [] and summary.folders_created == len(FOLDERS)
    tree = helpers.drive_tree(emulator, EMAIL, f"home/{USER}")
    path_of = {f["id"]: p for p, f in tree.items()}
    order = [path_of[f["id"]] for f in emulator.files(EMAIL) if f["id"] in path_of]  # oldest first
    first = NOTEBOOKS[-1]
    assert order[:4] == ["course1", "course1/week2", "course1/week2/lab", first], order
    for path in order:  # parents first, and every folder just before the first item inside it
        assert ancestors(path) <= set(order[:order.index(path)]), path
    for folder in FOLDERS:
        i = order.index(folder)
        assert any(p.startswith(folder + "/") for p in order[i + 1:i + 4]), (folder, order)


def test_the_schedule_puts_each_folder_just_before_its_first_file():
    """plan_order.folders_just_in_time (pure): each folder once, top-down, in the step of the
    first action inside it; what nothing needs comes last; bookkeeping needs no folder."""
    K = ActionKind

    def mkdir(path: str) -> Action:
        return Action(K.MKDIR, path, parent_path=path.rpartition("/")[0], local=LocalEntry(path, True, 0, 0))

    def create(path: str) -> Action:
        return Action(K.CREATE, path, parent_path=path.rpartition("/")[0], local=LocalEntry(path, False, 9, 0))

    folders = [mkdir(p) for p in ("a", "a/b", "a/b/c", "d", "e", "e/f")]
    keep = Action(K.KEEP_DRIVE, "e/f/kept.bin", drive_id="K", local=LocalEntry("e/f/kept.bin", False, 5, 0))
    actions = [keep, create("a/b/c/new.ipynb"), create("a/b/c/old.ipynb"), create("top.py"), create("a/x.py"),
               create("d/y.py")]
    steps = folders_just_in_time(folders, actions)
    assert [([f.path for f in fs], a.path if a else None) for fs, a in steps] == [
        ([], "e/f/kept.bin"),
        (["a", "a/b", "a/b/c"], "a/b/c/new.ipynb"),
        ([], "a/b/c/old.ipynb"),
        ([], "top.py"),
        ([], "a/x.py"),
        (["d"], "d/y.py"),
        (["e", "e/f"], None),
    ]
    assert folders_just_in_time([], actions[:1]) == [([], keep)]
