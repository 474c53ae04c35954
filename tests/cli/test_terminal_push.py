"""The CLI as a hub terminal uses it: `$HOME` is the home, a readable progress bar, the account in `status`."""

from __future__ import annotations

import io
import json
import os
import re
import select
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from jupyter_drive_sync.cli.output import TerminalBar
from jupyter_drive_sync.engine.progress import ProgressEvent

from .conftest import cli_env, run_cli

EMAIL = "gus@example.edu"
HUMAN_BYTES = re.compile(r"\d+(?:\.\d+)?/\d+(?:\.\d+)? (?:kB|MB)")  # rich's "0.5/2.0 MB"
RUNNING_ETA = re.compile(r"ETA \d+:\d\d:\d\d")


def _fill(home: Path, n: int, size: int) -> None:
    (home / "work").mkdir()
    for i in range(n):
        (home / "work" / f"data{i:03d}.bin").write_bytes(os.urandom(size))


def test_push_without_home_backs_up_home(connected_home, emulator, tmp_path):
    """In a terminal `$HOME` is the home: no --home needed (and none given here)."""
    home = connected_home("gus", EMAIL)
    (home / "notes.txt").write_text("hello")
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    res = run_cli("push", "--json", "--api-root", emulator.url, env=cli_env(HOME=str(home)), cwd=elsewhere)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["created"] == 1
    names = {f["name"] for f in emulator.files(EMAIL) if not f.get("trashed")}
    assert "notes.txt" in names and "gus" in names  # under home/gus, the home's own name

    env = cli_env()
    env.pop("HOME", None)
    res = run_cli("push", "--api-root", emulator.url, env=env)
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "--home" in res.stderr


def test_bad_write_rate_is_a_usage_error(connected_home, emulator):
    home = connected_home("gus", EMAIL)
    res = run_cli("push", "--write-rate", "-1", "--home", str(home), "--api-root", emulator.url)
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "--write-rate" in res.stderr


def _push_on_a_terminal(home: Path, emulator, *extra: str) -> tuple[int, str, str]:
    """`push` with its stderr on a pseudo-terminal (what a terminal user sees) and stdout piped."""
    master, slave = os.openpty()
    env = cli_env(TERM="xterm", COLUMNS="160", LINES="40")
    proc = subprocess.Popen([sys.executable, "-m", "jupyter_drive_sync", "push", "--home", str(home),
                             "--api-root", emulator.url, *extra],
                            stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL, env=env)
    os.close(slave)
    screen = b""
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 60)
            if not ready:
                break
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            screen += chunk
        out = proc.stdout.read().decode()
        proc.wait(timeout=60)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, out, screen.decode("utf-8", "replace")


def test_progress_bar_on_a_terminal_shows_human_units_rate_and_eta(connected_home, emulator):
    home = connected_home("gus", EMAIL)
    _fill(home, 20, 50_000)  # 1.0 MB in 20 files
    # 10 writes/s: about two seconds, long enough for the bar to be redrawn mid-run
    code, out, screen = _push_on_a_terminal(home, emulator, "--write-rate", "10")
    assert code == 0, screen
    assert HUMAN_BYTES.search(screen), screen
    assert RUNNING_ETA.search(screen), screen  # an estimate while it ran, not only the end
    assert re.search(r"\d+(?:\.\d+)? (?:kB|MB)/s", screen), screen
    assert "20/20 files" in screen and "done in" in screen
    assert out.startswith("created 20,") and "\x1b" not in out  # the summary on stdout stays plain


def test_json_on_a_terminal_has_no_bar(connected_home, emulator):
    home = connected_home("gus", EMAIL)
    _fill(home, 3, 1000)
    code, out, screen = _push_on_a_terminal(home, emulator, "--json")
    assert code == 0, screen
    assert json.loads(out)["created"] == 3  # stdout is the one JSON object
    assert "ETA" not in screen and "files" not in screen


def test_bar_shows_the_runs_own_rate_eta_and_kind():
    """The push's estimate (bound by writes under Google's limit) wins over a byte-rate guess."""
    sink = io.StringIO()
    bar = TerminalBar(sink, {"scanning": "scanning…"},
                      console=Console(file=sink, force_terminal=True, width=160, color_system=None))
    bar(ProgressEvent("scanning"))
    ev = ProgressEvent("uploading", files_done=12, files_total=40, bytes_done=500_000, bytes_total=2_000_000,
                       current_path="a.ipynb")
    ev.bytes_per_second, ev.files_per_second, ev.eta_seconds, ev.current_kind = 2_500_000.0, 3.0, 125.0, "notebooks"
    bar(ev)
    bar.progress.refresh()
    bar.close()
    text = sink.getvalue()
    assert "uploading notebooks" in text and "12/40 files" in text
    assert "0.5/2.0 MB" in text and "2.5 MB/s" in text and "3.0 files/s" in text
    assert "ETA 0:02:05" in text


@pytest.mark.parametrize("offline", [False, True])
def test_status_names_the_account_even_when_it_was_not_recorded(connected_home, emulator, offline):
    """connect_home stores a grant without its email (as an old sign-in did): status asks Drive;
    when it cannot ask, it says so plainly instead of "(unknown account)"."""
    home = connected_home("gus", EMAIL)
    res = run_cli("status", "--api-root", emulator.url, *(["--offline"] if offline else []),
                  env=cli_env(HOME=str(home)))
    assert res.returncode == 0, res.stderr
    if offline:
        assert "connected (account email unknown — run `jupyter-drive-sync auth` to refresh)" in res.stdout
    else:
        assert f"Google Drive: connected as {EMAIL}" in res.stdout
    assert "(unknown account)" not in res.stdout
    if offline:  # and `disconnect` too finds the home in $HOME
        res = run_cli("disconnect", "--api-root", emulator.url, env=cli_env(HOME=str(home)))
        assert res.returncode == 0 and "Disconnected Google Drive." in res.stdout, res.stderr
        assert not (home / ".local/share/jupyter/drive_sync/credentials.json").exists()


def test_write_rate_flag_paces_the_push(connected_home, emulator):
    """`--write-rate` reaches the push: under the emulator's write limit (Google's kind, here 10/s
    after a burst of 5) the paced push is never refused. Without the flag this run would go out
    unpaced (JUPYTER_DRIVE_SYNC_WRITE_RATE=0 in the tests' environment) and be refused at once."""
    emulator.settings(write_rate=10, write_burst=5)
    home = connected_home("gus", EMAIL)
    _fill(home, 12, 100)
    res = run_cli("push", "--json", "--write-rate", "8", "--home", str(home), "--api-root", emulator.url)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["created"] == 12
    assert emulator.stats()["refused_writes"] == 0


@pytest.mark.parametrize("order, first", [("work-first", "z.ipynb"), ("path", "a.bin")])
def test_order_flag_decides_what_goes_to_drive_first(connected_home, emulator, order, first):
    """One upload at a time, paced apart: Drive's creation times show the order the push used."""
    home = connected_home("gus", EMAIL)
    (home / "a.bin").write_bytes(b"\0" * 100)  # data, first by path
    (home / "z.ipynb").write_text("{}")  # a notebook, first when work comes first
    res = run_cli("push", "--json", "--order", order, "--workers", "1", "--write-rate", "20",
                  "--home", str(home), "--api-root", emulator.url)
    assert res.returncode == 0, res.stderr
    created = [f["name"] for f in emulator.files(EMAIL) if f["name"] in ("a.bin", "z.ipynb")]
    assert created[0] == first, created
