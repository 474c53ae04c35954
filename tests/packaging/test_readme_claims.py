"""README's command table and set-up lines hold: every flag it names exists on that command."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from jupyter_drive_sync.cli import build_parser

README = Path(__file__).resolve().parents[2] / "README.md"


def _subparsers() -> dict[str, object]:
    parser = build_parser()
    (action,) = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
    return action.choices  # type: ignore[attr-defined]


def _table_rows() -> list[str]:
    text = README.read_text()
    section = text.split("## Command line", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| `")]


def test_readme_starts_with_the_two_setup_commands() -> None:
    head = README.read_text().split("```")[1].strip().splitlines()
    assert [line.split()[0:2] for line in head] == [["make", "demo"], ["make", "test"]]


@pytest.mark.parametrize("row", _table_rows())
def test_every_flag_in_the_command_table_exists(row: str) -> None:
    commands = _subparsers()
    for usage in re.findall(r"`([a-z][^`]*)`", row.split(" | ")[0]):
        words = usage.split()
        if words[0] not in commands:
            continue
        if words[:2] == ["hub", "report"]:
            from jupyter_drive_sync.cli.hub_report_command import build_parser as report_parser

            known = {o for a in report_parser()._actions for o in a.option_strings}
        else:
            known = {o for a in commands[words[0]]._actions for o in a.option_strings}  # type: ignore[attr-defined]
        for flag in re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", usage):
            assert flag in known, f"README names {flag} for `{words[0]}`, which has no such option"
