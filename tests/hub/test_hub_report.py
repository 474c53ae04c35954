"""`hub report`: the admin's overview of real nightly runs (issue 15, item 5)."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import requests

from jupyter_drive_sync.cli import main as cli_main
from jupyter_drive_sync.hub.overview import build, render_html
from jupyter_drive_sync.hub.report import needs_action, run_exit_code

from tests.support.hub_nights import make_homes, run_night


def report(*args: str) -> tuple[int, str]:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = cli_main(["hub", "report", *args])
    return code, buf.getvalue()


def test_report_of_two_real_nights_says_who_needs_what(emulator, tmp_path: Path) -> None:
    root = tmp_path / "homes"
    tokens = make_homes(root, emulator)
    night1, night2 = tmp_path / "2026-12-01.jsonl", tmp_path / "2026-12-02.jsonl"
    assert run_night(root, emulator, night1) == 1  # two students must act: the run says so
    # Between the nights Alan revokes the app's access; Ada keeps working.
    requests.post(emulator.url + "revoke", data={"token": tokens["alan"]}, timeout=10)
    (root / "ada" / "work" / "notes.md").write_text("more notes\n")
    run_night(root, emulator, night2)

    code, text = report(str(night1), str(night2))
    assert code == 0
    assert "2 night(s) read, the last: 2026-12-02.jsonl" in text
    assert "Students: 5   connected: 4   backed up last night: 1" in text
    assert "need to reconnect: 2" in text and "hit drive limits: 1" in text
    reconnect = text.split("Need to reconnect (2)")[1].split("\n\n")[0]
    assert "alan [needs_reconnect]" in reconnect and "last backed up 2026-12-01.jsonl (1 night(s) ago)" in reconnect
    assert "linus [needs_reconnect]" in reconnect and "never backed up in these nights" in reconnect
    assert "mary [drive_refused]" in text.split("Hit Drive limits (1)")[1]
    assert "Not connected (1): grace" in text
    assert "ada" not in reconnect and "refresh_token" not in text

    code, raw = report("--json", str(night1), str(night2))
    data = json.loads(raw)
    assert data["counts"]["ok"] == 1 and data["counts"]["reconnect"] == 2 and data["connected"] == 4
    assert sorted(s["user"] for s in data["needs"]["reconnect"]) == ["alan", "linus"]


def test_html_page_escapes_everything_and_stands_alone(tmp_path: Path) -> None:
    line = {"type": "user", "user": "<script>alert(1)</script>", "status": "error", "reason": "a & b <i>"}
    page = render_html(build([("n1", json.dumps(line))]))
    assert "<script>" not in page and "&lt;script&gt;" in page and "a &amp; b &lt;i&gt;" in page
    assert "http://" not in page and "https://" not in page  # nothing loaded from elsewhere


def test_lines_that_are_not_report_lines_are_counted_not_fatal(tmp_path: Path) -> None:
    night = tmp_path / "n.jsonl"
    night.write_text('WARNING something\n{"type":"user","user":"ada","status":"ok"}\n{"cut\n[1,2]\n')
    code, text = report(str(night))
    assert code == 0 and "Students: 1" in text and "(3 line(s) were not report lines" in text


def test_unreadable_file_is_one_line_and_exit_2(tmp_path: Path, capsys) -> None:
    code = cli_main(["hub", "report", str(tmp_path / "missing.jsonl")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "cannot read" in err and "Traceback" not in err


def test_config_problems_and_budget_continuations_have_their_own_groups() -> None:
    lines = [
        {"type": "user", "user": "a", "status": "config_error", "reason": "no encryption key"},
        {"type": "user", "user": "b", "status": "partial", "continues": True, "reason": "120 of 2000 files"},
        {"type": "user", "user": "c", "status": "partial", "reason": "2 file(s) failed"},
        {"type": "user", "user": "d", "status": "something_new"},
    ]
    view = build([("n", "\n".join(json.dumps(x) for x in lines))])
    assert {s.user: s.group for s in view.students.values()} == {"a": "config", "b": "continues", "c": "failed", "d": "error"}


def test_a_line_that_continues_but_had_failures_needs_action_in_the_overview_as_in_the_exit_code() -> None:
    """One definition of "continues next night" (report.continues): nothing may have failed. A
    budget-stopped push with failed files is the admin's to look at, in the overview as in the
    night's exit code; a clean one is nobody's."""
    failing = {"type": "user", "user": "eve", "status": "partial", "continues": True,
               "reason": "continues next night (40 of 900 files); 2 file(s) failed",
               "summary": {"failed": 2, "failed_sample": [{"path": "a.bin", "error": "x"}]}}
    clean = {"type": "user", "user": "max", "status": "partial", "continues": True,
             "reason": "continues next night (40 of 900 files)", "summary": {"failed": 0}}
    view = build([("n", "\n".join(json.dumps(x) for x in (failing, clean)))])
    groups = {s.user: s.group for s in view.students.values()}
    assert groups == {"eve": "failed", "max": "continues"}
    assert needs_action(failing) and run_exit_code([failing]) == 1
    assert not needs_action(clean) and run_exit_code([clean]) == 0
    # the overview's "who acts" matches: eve is listed among those needing the admin
    assert view.as_dict()["needs"]["failed"][0]["user"] == "eve"


def test_overview_knows_no_status_or_key_nothing_writes() -> None:
    """Only `partial` + `continues` (report.continues) means continuing: a bare `continues` status
    or a `continues_next_night` key is nothing the run writes, so it is an unknown line (error)
    or a plain partial (failed), never silently "nobody acts"."""
    lines = [{"type": "user", "user": "a", "status": "continues"},
             {"type": "user", "user": "b", "status": "partial", "continues_next_night": True}]
    view = build([("n", "\n".join(json.dumps(x) for x in lines))])
    assert {s.user: s.group for s in view.students.values()} == {"a": "error", "b": "failed"}
