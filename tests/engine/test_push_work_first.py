"""What matters first goes first: a push stopped part-way holds the student's work, not their data.

The home's data sorts first by path (`a_data/`), so today's order ("path") would send it first.
Drive fills up part-way through the push (the account's storage quota, the quickest run-ending
stop the emulator has): under "work-first" every notebook and code file is already on Drive by
then; under "path" almost none is. A paced push's progress events carry the rates, an ETA
from the write pacer's rate, and the kind of what is going up; the server's job JSON passes
them on.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from jupyter_drive_sync.core.errors import ConfigError, DriveRefused
from jupyter_drive_sync.core.options import PATH_ORDER, WORK_FIRST, PushOptions
from jupyter_drive_sync.engine.plan_order import CODE_AND_TEXT, DATA_AND_MEDIA, FOLDERS, NOTEBOOKS
from jupyter_drive_sync.engine.progress import ProgressEvent
from jupyter_drive_sync.engine.push import run_push
from jupyter_drive_sync.server.jobs import JobManager

from tests.support import helpers
from tests.support.helpers import write

EMAIL = "wendy@uni.edu"
USER = "wendy"
DATA_FILES, DATA_SIZE = 6, 40_000
NOTEBOOKS_N, CODE_N = 8, 8


@pytest.fixture
def home(connected_home) -> Path:
    h = connected_home(USER, EMAIL)
    for i in range(DATA_FILES):
        write(h, f"a_data/raw{i}.parquet", bytes([i]) * DATA_SIZE, 1_700_000_000 + i)
    for i in range(NOTEBOOKS_N):
        write(h, f"work/nb{i}.ipynb", b'{"cells": [%d]}' % i + b" " * 1500, 1_600_000_000 + i)
    for i in range(CODE_N):
        write(h, f"work/src/m{i}.py", b"x = %d\n" % i + b"#" * 800, 1_600_000_000 + i)
    return h


def work_bytes(home: Path) -> int:
    return sum(p.stat().st_size for p in (home / "work").rglob("*") if p.is_file())


@pytest.mark.parametrize("order", [WORK_FIRST, PATH_ORDER])
def test_a_push_stopped_part_way_holds_the_notebooks_under_work_first(home, emulator, order):
    # room for all the work and less than one data file
    emulator.update_account(EMAIL, storage_quota_bytes=work_bytes(home) + DATA_SIZE // 2)
    with pytest.raises(DriveRefused):
        run_push(PushOptions(home=home, user=USER, api_root=emulator.url, workers=2, order=order))
    on_drive = {p for p, f in helpers.drive_tree(emulator, EMAIL, f"home/{USER}").items()
                if f.get("size") not in (None, "0")}
    notebooks = {p for p in on_drive if p.endswith(".ipynb")}
    code = {p for p in on_drive if p.endswith(".py")}
    if order == WORK_FIRST:
        assert (len(notebooks), len(code)) == (NOTEBOOKS_N, CODE_N), on_drive
        assert not any(p.startswith("a_data/") for p in on_drive)
    else:  # today's order: the datasets went first and filled the Drive
        assert len(notebooks) + len(code) <= 2, on_drive


def test_default_order_is_work_first_and_a_bad_one_is_a_config_error(home, emulator):
    assert PushOptions(home=home).order == WORK_FIRST
    with pytest.raises(ConfigError, match="unknown upload order"):
        run_push(PushOptions(home=home, user=USER, api_root=emulator.url, order="biggest-first"))


def test_paced_push_events_carry_rate_eta_and_kind(home, emulator):
    rate = 15.0
    emulator.settings(write_rate=rate, write_burst=5)
    events: list[ProgressEvent] = []
    summary = run_push(PushOptions(home=home, user=USER, api_root=emulator.url, workers=4, write_rate=rate),
                       events.append)
    assert summary.failed == [] and summary.created == DATA_FILES + NOTEBOOKS_N + CODE_N
    uploading = [e for e in events if e.phase == "uploading"]
    kinds = [e.current_kind for e in uploading if e.current_kind]
    assert kinds[0] == FOLDERS and {NOTEBOOKS, CODE_AND_TEXT, DATA_AND_MEDIA} <= set(kinds)
    # notebooks start first, then code and text (workers overlap them); data only once both are done
    last = {k: max(i for i, x in enumerate(kinds) if x == k) for k in set(kinds)}
    first = {k: min(i for i, x in enumerate(kinds) if x == k) for k in set(kinds)}
    assert first[NOTEBOOKS] < first[CODE_AND_TEXT] < first[DATA_AND_MEDIA]
    assert max(last[NOTEBOOKS], last[CODE_AND_TEXT]) < first[DATA_AND_MEDIA]
    measured = [e for e in uploading if e.eta_seconds is not None and e.files_done < e.files_total]
    assert measured, "no ETA while uploading"
    for e in measured:
        assert e.files_per_second is not None and e.bytes_per_second is not None
        # the write bound: the files left at no more than the pacer's ceiling rate
        assert e.eta_seconds >= (e.files_total - e.files_done) / rate - 0.1, e
    assert all(e.eta_seconds is None for e in events if e.phase != "uploading")


def test_the_job_json_carries_rate_eta_and_kind(tmp_path):
    seen: list[dict] = []
    gate = threading.Event()

    def runner(options, progress):
        progress(ProgressEvent("uploading", 3, 10, 300, 1000, "a.ipynb", files_per_second=2.5,
                               bytes_per_second=100.0, eta_seconds=2.8, current_kind=NOTEBOOKS))
        seen.append(jobs.get(job_id[0]).to_dict())
        gate.set()
        return {"created": 10}

    jobs = JobManager(tmp_path / "state", lambda: None)
    job_id: list[str] = []
    try:
        job_id.append(jobs.start_restore(lambda: None, runner).id)
        assert gate.wait(30)
    finally:
        jobs.shutdown()
    assert {k: seen[0][k] for k in ("files_per_second", "bytes_per_second", "eta_seconds", "current_kind")} == \
        {"files_per_second": 2.5, "bytes_per_second": 100.0, "eta_seconds": 2.8, "current_kind": NOTEBOOKS}
