"""A first push under Drive's per-account write limit is paced, not refused.

The emulator limits writes per account (`write_rate`, `write_burst`, as Google's ~3 sustained
writes per second, scaled up here so the test stays short); the push's write pacer runs at the
rate it is given, so almost no write is refused, no file fails, and `push --json` reports what
was sent as a write and what Drive refused.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jupyter_drive_sync.cli import main
from jupyter_drive_sync.core.options import PushOptions
from jupyter_drive_sync.core.settings import WRITE_RATE_ENV
from jupyter_drive_sync.engine.push import run_push

from tests.support.helpers import write

EMAIL = "paced@uni.edu"
USER = "pat"
FOLDERS = 6
FILES = 60
ROOT_CHAIN = 2  # `home` and `home/pat`
KINDS = (".ipynb", ".py", ".csv", ".txt", ".png")


@pytest.fixture
def home(connected_home) -> Path:
    h = connected_home(USER, EMAIL)
    for i in range(FILES):
        write(h, f"unit{i % FOLDERS}/f{i:02d}{KINDS[i % len(KINDS)]}", f"file {i}\n".encode() * (50 + i))
    return h


def attempted(stats: dict) -> int:
    """Writes that reached the emulator: admitted and refused."""
    return stats["writes"] + stats["refused_writes"]


def test_first_push_under_the_write_limit_is_paced_not_refused(home, emulator):
    emulator.settings(write_rate=10, write_burst=5)
    emulator.reset_stats()
    summary = run_push(PushOptions(home=home, user=USER, api_root=emulator.url, workers=8, write_rate=10))
    stats = emulator.stats()
    assert summary.failed == [] and summary.created == FILES and summary.folders_created == FOLDERS
    assert stats["writes"] == FILES + FOLDERS + ROOT_CHAIN  # one write per file and per folder
    assert stats["refused_writes"] <= 0.02 * attempted(stats), stats
    assert (summary.writes, summary.refused_writes) == (attempted(stats), stats["refused_writes"])


def test_push_refused_by_the_write_rate_is_not_ended_as_the_daily_cap(home, emulator, monkeypatch):
    """Regression: with writes unpaced, the first write Drive refused for rate ended the push
    with exit 4, "daily upload limit reached" (Google words both alike)."""
    monkeypatch.setenv(WRITE_RATE_ENV, "0")
    emulator.settings(write_rate=40, write_burst=4)
    emulator.reset_stats()
    summary = run_push(PushOptions(home=home, user=USER, api_root=emulator.url, workers=8))
    stats = emulator.stats()
    assert stats["refused_writes"] > 0  # Drive did refuse: the rate was in force
    assert summary.failed == [] and summary.created == FILES
    assert summary.refused_writes == stats["refused_writes"]


def test_push_json_reports_writes_and_refused_writes(home, emulator, monkeypatch, capsys):
    monkeypatch.setenv(WRITE_RATE_ENV, "10")
    emulator.settings(write_rate=10, write_burst=5)
    emulator.reset_stats()
    rc = main(["push", "--home", str(home), "--user", USER, "--api-root", emulator.url, "--json"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    summary = json.loads(out)
    stats = emulator.stats()
    assert summary["writes"] == attempted(stats) and summary["refused_writes"] == stats["refused_writes"]
    assert summary["seconds"] > 0
