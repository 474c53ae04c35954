"""When the hub says a push "continues next night": only when the engine cut it short.

The engine marks a run cut short (ProgressEvent.cut_short) when its time budget stopped a task,
a wave or a trash from starting. The hub's line must follow that flag, not the clock: a push
whose last uploads finish after the deadline left nothing undone, even if a file vanished
between the scan and its upload (skipped: neither done nor failed).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from jupyter_drive_sync.emulator.sample import connect_home
from jupyter_drive_sync.engine.progress import ProgressEvent
from jupyter_drive_sync.hub.report import continues, needs_action
from jupyter_drive_sync.hub.runner import HubOptions, make_bucket, push_home

BUDGET_S = 5.0  # far more than two small files need to start against the in-process emulator


def test_a_push_ending_after_its_deadline_with_a_vanished_file_is_ok_not_continues(emulator, tmp_path: Path) -> None:
    root = tmp_path / "homes"
    home = root / "ana"
    (home / "work").mkdir(parents=True)
    (home / "work" / "notes.md").write_text("notes\n")
    (home / "work" / "gone.txt").write_text("about to vanish\n")
    connect_home(emulator.url, home, "ana@uni.example")
    options = HubOptions(homes_root=root, api_root=emulator.url, workers=1, max_minutes_per_home=BUDGET_S / 60)
    seen: list[ProgressEvent] = []
    first_event: list[float] = []  # after push_home took its start: the deadline is before this + budget

    def student_and_slow_finish(event: ProgressEvent) -> None:
        first_event[:] = first_event or [time.monotonic()]
        seen.append(event)
        if event.phase == "uploading" and event.current_path is None:  # planned, nothing sent yet
            (home / "work" / "gone.txt").unlink(missing_ok=True)  # the student deletes it mid-run
        if event.phase == "done":  # every task has run: now let the budget run out
            time.sleep(max(0.0, first_event[0] + BUDGET_S + 0.05 - time.monotonic()))

    line = push_home("ana", home, options, make_bucket(options), progress=student_and_slow_finish)

    last = seen[-1]
    assert last.phase == "done" and not last.cut_short, "the engine started every task within the budget"
    assert (last.files_done, last.files_total) == (1, 2)  # one file left neither done nor failed
    assert line["summary"]["skipped"] == 1 and line["summary"]["failed"] == 0, line
    assert line["status"] == "ok" and "continues" not in line, line  # nothing for the next night
    assert not continues(line) and not needs_action(line)



def test_a_budget_spent_before_the_first_upload_still_backs_up_a_file_each_night(emulator, tmp_path: Path) -> None:
    """A home whose scan alone outlasts its nightly budget (here: a budget of 60 µs, spent long
    before the first request) still gets ahead every night: one file a night with one worker,
    then `ok`, each file once on Drive. Before, every such night ended with nothing done."""
    root = tmp_path / "homes"
    home = root / "bo"
    names = ["a.ipynb", "lab/b.py", "lab/c.csv", "d.md"]
    for rel in names:
        (home / rel).parent.mkdir(parents=True, exist_ok=True)
        (home / rel).write_text(f"{rel}\n")
    connect_home(emulator.url, home, "bo@uni.example")
    options = HubOptions(homes_root=root, api_root=emulator.url, workers=1, max_minutes_per_home=1e-6)
    left = [len(names)]
    for _night in names:
        line = push_home("bo", home, options, make_bucket(options))
        if line["status"] == "ok":
            break
        assert line["status"] == "partial" and line["continues"] and line["summary"]["failed"] == 0, line
        now_left = line["files_total"] - line["files_done"]
        assert line["files_done"] >= 1 and now_left < left[-1], (left, line)
        left.append(now_left)
    assert line["status"] == "ok" and "continues" not in line, (left, line)
    assert len(left) >= 2, "the budget was spent before the first upload: the first night could not finish"
    on_drive = sorted(f["name"] for f in emulator.files("bo@uni.example")
                      if f["mimeType"] != "application/vnd.google-apps.folder" and not f.get("trashed"))
    assert on_drive == sorted(rel.rpartition("/")[2] for rel in names)


@pytest.mark.parametrize("change", ["two folders renamed, a file in each edited", "two files replaced by folders"])
def test_steps_the_budget_left_undone_are_not_failures(emulator, tmp_path: Path, change: str) -> None:
    """Found by review: a folder move or a set-aside the budget stopped from starting was read
    as a failure (its subtree "could not be created", its path "could not be set aside"), so
    the night said "some files failed" instead of "continues next night"."""
    root = tmp_path / "homes"
    home = root / "cy"
    for d in ("p", "q"):
        (home / d).mkdir(parents=True)
        (home / d / "n.ipynb").write_text(f"{d}\n")
    connect_home(emulator.url, home, "cy@uni.example")
    plain = HubOptions(homes_root=root, api_root=emulator.url, workers=1)
    assert push_home("cy", home, plain, make_bucket(plain))["status"] == "ok"
    for d in ("p", "q"):
        if change.startswith("two folders"):
            (home / d).rename(home / f"{d}2")
            (home / f"{d}2" / "n.ipynb").write_text(f"{d}, edited\n")
        else:
            shutil.rmtree(home / d)
            (home / d / "n.ipynb").mkdir(parents=True)
            (home / d / "n.ipynb" / "inside.txt").write_text("now a folder\n")
    tight = HubOptions(homes_root=root, api_root=emulator.url, workers=1, max_minutes_per_home=1e-7)
    line = push_home("cy", home, tight, make_bucket(tight))
    assert line["status"] == "partial" and line.get("continues") is True, line
    assert line["summary"]["failed"] == 0 and continues(line) and not needs_action(line), line
    assert push_home("cy", home, plain, make_bucket(plain))["status"] == "ok"
