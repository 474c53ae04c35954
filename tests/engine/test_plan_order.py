"""The push's upload order (engine/plan_order.py, pure): the student's work before their data."""

from __future__ import annotations

import pytest

from jupyter_drive_sync.core.model import Action, ActionKind, LocalEntry
from jupyter_drive_sync.engine.plan_order import (
    CODE_AND_TEXT,
    DATA_AND_MEDIA,
    FOLDERS,
    NOTEBOOKS,
    PATH_ORDER,
    TEXT_MAX_BYTES,
    WORK_FIRST,
    check_order,
    kind_of,
    waves,
)

K = ActionKind


def mkdir(path: str) -> Action:
    parent = path.rpartition("/")[0]
    return Action(K.MKDIR, path, parent_path=parent, local=LocalEntry(path, True, 0, 0))


def create(path: str, size: int = 10, mtime_s: int = 1_700_000_000) -> Action:
    parent = path.rpartition("/")[0]
    return Action(K.CREATE, path, parent_path=parent, local=LocalEntry(path, False, size, mtime_s * 10**9))


@pytest.mark.parametrize("path,size,kind", [
    ("a/analysis.ipynb", 50 * TEXT_MAX_BYTES, NOTEBOOKS),  # a notebook is work at any size
    ("src/model.py", 2000, CODE_AND_TEXT),
    ("paper/main.TEX", 2000, CODE_AND_TEXT),
    ("results/small.csv", 5000, CODE_AND_TEXT),
    ("Makefile", 100, CODE_AND_TEXT),
    (".bashrc", 100, CODE_AND_TEXT),
    ("data/big.csv", TEXT_MAX_BYTES + 1, DATA_AND_MEDIA),  # a large table is data
    ("media/photo.png", 100, DATA_AND_MEDIA),
    ("data/weights.bin", 10, DATA_AND_MEDIA),
    ("archive.tar.gz", 10, DATA_AND_MEDIA),
])
def test_kinds(path, size, kind):
    assert kind_of(path, size) == kind


def test_folders_are_their_own_kind():
    assert kind_of("src", 0, is_dir=True) == FOLDERS


def test_work_first_sends_notebooks_then_code_newest_first_then_data():
    actions = [mkdir("a"), mkdir("w"), create("a/big.bin", 10**8, mtime_s=1_800_000_000),
               create("a/old.py", mtime_s=1_600_000_000), create("w/new.py", mtime_s=1_700_000_000),
               create("w/nb.ipynb", mtime_s=1_500_000_000), create("a/pic.jpg")]
    first, second = waves(actions, WORK_FIRST)
    files = [a.path for a in first if a.kind is K.CREATE] + [a.path for a in second if a.kind is K.CREATE]
    assert files == ["w/nb.ipynb", "w/new.py", "a/old.py", "a/big.bin", "a/pic.jpg"]


def test_folders_of_data_only_wait_for_the_second_wave_and_parents_come_first():
    actions = [mkdir("data"), mkdir("data/raw"), mkdir("proj"), mkdir("proj/src"),
               create("data/raw/x.parquet"), create("proj/src/m.py"), create("proj/readme.md")]
    first, second = waves(actions, WORK_FIRST)
    assert [a.path for a in first if a.kind is K.MKDIR] == ["proj", "proj/src"]
    assert [a.path for a in second if a.kind is K.MKDIR] == ["data", "data/raw"]
    for wave in (first, second):  # within a wave: every folder before any file
        kinds = [a.kind for a in wave]
        assert kinds == sorted(kinds, key=lambda k: k is not K.MKDIR)
    # a folder holding both: created in the first wave, its data file in the second
    first, second = waves([mkdir("mix"), create("mix/a.npy"), create("mix/a.ipynb")], WORK_FIRST)
    assert [a.path for a in first] == ["mix", "mix/a.ipynb"] and [a.path for a in second] == ["mix/a.npy"]


def test_moves_and_bookkeeping_go_in_the_first_wave_and_trashes_are_left_to_the_executor():
    move = Action(K.MOVE, "new/d.bin", drive_id="X", parent_path="new", local=LocalEntry("new/d.bin", False, 5, 0))
    trash = Action(K.TRASH, "gone.bin", drive_id="Y")
    keep = Action(K.KEEP_DRIVE, "kept.bin", drive_id="Z", local=LocalEntry("kept.bin", False, 5, 0))
    actions = [mkdir("new"), move, keep, create("z.bin"), trash]
    first, second = waves(actions, WORK_FIRST)
    assert move in first and keep in first and mkdir("new") in first  # the move needs its folder
    assert [a.path for a in second] == ["z.bin"]
    assert trash not in first + second


def test_path_order_is_the_plan_order():
    actions = [mkdir("a"), create("a/x.bin"), create("a/y.ipynb"), Action(K.TRASH, "t", drive_id="T")]
    assert waves(actions, PATH_ORDER) == [actions[:3]]
    assert waves([], WORK_FIRST) == [] and waves([], PATH_ORDER) == []


def test_an_unknown_order_is_one_clear_error():
    with pytest.raises(ValueError, match="unknown upload order 'size'; use one of: work-first, path"):
        check_order("size")
    assert check_order("path") == PATH_ORDER
