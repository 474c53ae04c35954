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


@pytest.mark.parametrize("flag,variable,job_gets", [(None, "1.5", "1.5"), ("2", "1.5", "2"), (None, None, None)])
def test_the_dispatchers_write_rate_reaches_each_job(monkeypatch, flag, variable, job_gets):
    """Found by review: `hub --kubernetes` checked the dispatcher's own variable as "what each
    home's push would use", but the Job manifest never carried it: the Jobs ran at Google's
    default. Now the rate checked is the rate each Job is given, as `--write-rate`."""
    from jupyter_drive_sync.cli import build_parser
    from jupyter_drive_sync.cli.hub_command import dispatch_options_from_args
    from jupyter_drive_sync.hub.manifest import Target, build_job

    if variable is None:
        monkeypatch.delenv(WRITE_RATE_ENV, raising=False)
    else:
        monkeypatch.setenv(WRITE_RATE_ENV, variable)
    argv = ["hub", "--kubernetes", "--image", "img", *(["--write-rate", flag] if flag else [])]
    options = dispatch_options_from_args(build_parser().parse_args(argv), namespace="jhub")
    args = build_job(Target("ana", "claim-ana"), options, "2026-05-01")["spec"]["template"]["spec"]["containers"][0]["args"]
    got = args[args.index("--write-rate") + 1] if "--write-rate" in args else None
    assert got == job_gets, args
