"""`--write-rate` and JUPYTER_DRIVE_SYNC_WRITE_RATE are refused the same way by `push` and `hub`:
one line on stderr naming the flag (or variable), exit 2 (core/errors.EXIT_USAGE), no traceback.

Before one rule lived in core/settings.resolve_write_rate, `hub --write-rate inf` was accepted
(push refused it) and a bad variable surfaced only inside each home's push."""

from __future__ import annotations

from pathlib import Path

import pytest

from jupyter_drive_sync.cli import main as cli_main
from jupyter_drive_sync.core.errors import EXIT_USAGE
from jupyter_drive_sync.core.settings import WRITE_RATE_ENV

COMMANDS = {
    "push": lambda root: ["push", "--home", str(root)],
    "hub": lambda root: ["hub", "--homes-root", str(root)],
}


def _refused_in_one_line(capsys, argv: list[str], name: str) -> None:
    code = cli_main(argv)
    err = capsys.readouterr().err
    assert code == EXIT_USAGE, err
    assert len(err.strip().splitlines()) == 1 and name in err and "Traceback" not in err


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "-1"])
def test_a_bad_write_rate_flag_is_one_line_and_exit_2(tmp_path: Path, capsys, command, value):
    _refused_in_one_line(capsys, [*COMMANDS[command](tmp_path), f"--write-rate={value}"], "--write-rate")


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("text", ["inf", "-1", "fast"])
def test_a_bad_write_rate_variable_is_one_line_and_exit_2(tmp_path: Path, capsys, monkeypatch, command, text):
    monkeypatch.setenv(WRITE_RATE_ENV, text)
    _refused_in_one_line(capsys, COMMANDS[command](tmp_path), WRITE_RATE_ENV)


def test_the_flag_wins_over_a_bad_variable_in_the_hub(tmp_path: Path, capsys, monkeypatch):
    """An explicit flag is the value used, so the variable is not consulted (nor refused)."""
    monkeypatch.setenv(WRITE_RATE_ENV, "inf")
    code = cli_main(["hub", "--homes-root", str(tmp_path), "--write-rate", "0"])
    err = capsys.readouterr().err
    assert code == 0 and WRITE_RATE_ENV not in err, err
