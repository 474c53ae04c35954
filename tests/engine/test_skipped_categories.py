"""What a push left out, sorted for the UI (engine/status.py `categorize_summary`): on purpose
(secrets, Jupyter's runtime files, links, sockets), a note, or a real problem; folders told apart
from files. Real pushes against the emulator, so a reworded reason fails here first."""

from __future__ import annotations

import os
import socket
from dataclasses import asdict
from pathlib import Path

import pytest

from jupyter_drive_sync.core.options import PushOptions
from jupyter_drive_sync.core.settings import state_dir
from jupyter_drive_sync.engine.account_check import AccountCheck
from jupyter_drive_sync.engine.push import run_push
from jupyter_drive_sync.engine.remote_changes import LET_GO_DELETED, MOVED_OUT, STRANDED
from jupyter_drive_sync.engine.status import (
    NOTICE, ON_PURPOSE, PROBLEM, categorize_job, categorize_summary, read_last_push, skip_category,
)

from tests.support.helpers import write

EMAIL = "cat@uni.edu"


@pytest.fixture
def home(connected_home) -> Path:
    return connected_home("cat", EMAIL)


def by_path(summary: dict) -> dict[str, dict]:
    return {e["path"]: e for e in summary["skipped"] + summary["failed"]}


def test_a_push_that_did_all_it_should_has_only_entries_on_purpose(home, emulator, tmp_path):
    write(home, "nb.ipynb", b"{}")
    write(home, ".ssh/id_rsa", b"secret")
    write(home, ".local/share/jupyter/runtime/kernel-1.json", b"{}")  # Jupyter's runtime (keys)
    os.symlink("/etc", home / "shortcut")
    os.mkfifo(home / "pipe")
    sock = socket.socket(socket.AF_UNIX)
    short = Path("/tmp") / f"g-sock-{os.getpid()}"  # AF_UNIX paths are short: bind near, move in
    sock.bind(str(short))
    os.replace(short, home / "kernel.sock")
    try:
        s = run_push(PushOptions(home=home, user="cat", api_root=emulator.url, workers=2))
    finally:
        sock.close()
    entries = by_path(categorize_summary(asdict(s), home))
    assert {p: (e["category"], e["is_folder"]) for p, e in entries.items()} == {
        ".ssh": (ON_PURPOSE, True),
        ".local/share/jupyter/runtime": (ON_PURPOSE, True),
        "shortcut": (ON_PURPOSE, False),
        "pipe": (ON_PURPOSE, False),
        "kernel.sock": (ON_PURPOSE, False),
    }
    # the contract's keys stay as they were
    assert all({"path", "reason"} <= set(e) for e in entries.values())


def test_real_problems_are_problems(home, emulator):
    write(home, "ok.txt", b"ok")
    write(home, "huge.bin", b"x" * 2000)
    (home / b"bad\xffname.txt".decode("utf-8", "surrogateescape")).write_bytes(b"?")
    s = run_push(PushOptions(home=home, user="cat", api_root=emulator.url, workers=2, max_file_size=1000))
    entries = by_path(categorize_summary(asdict(s), home))
    assert entries["huge.bin"]["category"] == PROBLEM
    bad = [e for p, e in entries.items() if p.startswith("bad")]
    assert len(bad) == 1 and bad[0]["category"] == PROBLEM
    assert all(e["category"] != ON_PURPOSE for e in entries.values())


def test_status_and_the_job_api_carry_the_categories(home, emulator):
    write(home, "a.txt", b"a")
    write(home, ".ssh/id_rsa", b"secret")
    run_push(PushOptions(home=home, user="cat", api_root=emulator.url, workers=2))
    last = read_last_push(state_dir(home), home)
    assert last is not None
    assert by_path(last["summary"])[".ssh"] == {
        "path": ".ssh", "reason": by_path(last["summary"])[".ssh"]["reason"],
        "category": ON_PURPOSE, "is_folder": True,
    }
    job = categorize_job({"kind": "push", "summary": last["summary"]}, home)
    assert job["summary"]["skipped"][0]["category"] == ON_PURPOSE
    restore = {"kind": "restore", "summary": {"skipped": [{"path": "x", "reason": "y"}]}}
    assert categorize_job(restore, home) == restore  # a restore's summary is its own


@pytest.mark.parametrize("reason, category", [
    (AccountCheck("b@x.org", "a@x.org", switched=True).note(), NOTICE),
    (MOVED_OUT.format(what="file"), NOTICE),
    (LET_GO_DELETED, NOTICE),
    (STRANDED, NOTICE),
    ("3 items with this name already on Drive; adopted X1, left the others alone", NOTICE),
    ("disappeared during the scan", NOTICE),
    ("not readable (permission denied)", PROBLEM),
    ("larger than the size limit (2000 > 1000 bytes)", PROBLEM),
    ("something no one has written yet", PROBLEM),  # unknown: never hidden as green
])
def test_reasons_written_elsewhere(reason, category):
    assert skip_category(reason) == category


def test_a_failure_is_always_a_problem(tmp_path):
    summary = {"skipped": [], "failed": [{"path": ".ssh", "reason": "a secret (keys, tokens, passwords)"}]}
    assert categorize_summary(summary, tmp_path)["failed"][0]["category"] == PROBLEM
