"""When the hub says a push "continues next night": only when the engine cut it short.

The engine marks a run cut short (ProgressEvent.cut_short) when its time budget stopped a task,
a wave or a trash from starting. The hub's line must follow that flag, not the clock: a push
whose last uploads finish after the deadline left nothing undone, even if a file vanished
between the scan and its upload (skipped: neither done nor failed).
"""

from __future__ import annotations

import time
from pathlib import Path

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

