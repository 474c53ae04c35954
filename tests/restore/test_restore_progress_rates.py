"""A restore's "downloading" events carry the rates, an ETA and the current item's kind, as a
push's "uploading" events do (one implementation: engine/progress.py `RunProgress._rated`).

A restore reads only: no write pacer applies, so the ETA is the larger of (files left ÷ the
measured file rate) and (bytes left ÷ the measured byte rate). The emulator's latency makes the
downloads take long enough (over a second) for a rate to be measured.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from jupyter_drive_sync.core.options import PushOptions, RestoreOptions
from jupyter_drive_sync.engine.plan_order import DATA_AND_MEDIA, NOTEBOOKS
from jupyter_drive_sync.engine.progress import ProgressEvent, eta_seconds
from jupyter_drive_sync.engine.push import run_push
from jupyter_drive_sync.engine.restore import run_restore

from tests.support.helpers import write

EMAIL = "rita@uni.edu"
USER = "rita"
NOTEBOOKS_N, DATA_N = 12, 12


@pytest.fixture
def home(connected_home, emulator) -> Path:
    """A home pushed, then its files deleted: what the restore brings back."""
    h = connected_home(USER, EMAIL)
    for i in range(NOTEBOOKS_N):
        write(h, f"work/nb{i}.ipynb", b'{"cells": [%d]}' % i + b" " * 500)
    for i in range(DATA_N):
        write(h, f"data/d{i}.bin", bytes([i]) * 20_000)
    assert run_push(PushOptions(home=h, user=USER, api_root=emulator.url)).failed == []
    for sub in ("work", "data"):
        shutil.rmtree(h / sub)
    return h


def test_downloading_events_carry_rates_eta_and_kind(home, emulator):
    emulator.settings(latency_ms=60)  # one worker, ~24 downloads: well over MIN_MEASURED seconds
    events: list[ProgressEvent] = []
    summary = run_restore(RestoreOptions(home=home, user=USER, api_root=emulator.url, workers=1), events.append)
    assert summary.failed == [] and summary.restored == NOTEBOOKS_N + DATA_N

    downloading = [e for e in events if e.phase == "downloading"]
    measured = [e for e in downloading if e.eta_seconds is not None and e.files_done < e.files_total]
    assert measured, "no ETA while downloading"
    for e in measured:
        assert e.files_per_second and e.bytes_per_second
        # the push's formula, with the measured file rate standing in for a write rate
        assert e.eta_seconds == eta_seconds(e.files_total - e.files_done, e.bytes_total - e.bytes_done,
                                            write_rate=e.files_per_second, bytes_per_second=e.bytes_per_second)
        assert e.eta_seconds > 0
    # before MIN_MEASURED seconds of downloads, no rate is claimed
    early = [e for e in downloading if e.files_done == 0]
    assert early and all(e.files_per_second is None and e.eta_seconds is None for e in early)

    kinds = {e.current_path: e.current_kind for e in downloading if e.current_path}
    assert {k for p, k in kinds.items() if p.endswith(".ipynb")} == {NOTEBOOKS}
    assert {k for p, k in kinds.items() if p.endswith(".bin")} == {DATA_AND_MEDIA}
    assert all(e.eta_seconds is None and e.files_per_second is None
               for e in events if e.phase not in ("downloading", "uploading"))
