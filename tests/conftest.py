"""Fixtures every test folder may use.

The emulator ones (`emulator`, `emulator_settings`, `EmulatorHandle`) come from the plugin the
emulator ships; this file adds those that need client code, which the emulator package must
not import. Shared helper modules live in `tests/support/` (`from tests.support.helpers import ...`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import pytest

from jupyter_drive_sync.emulator.sample import connect_home

if TYPE_CHECKING:  # imported by pytest_plugins below, which also rewrites its asserts
    from jupyter_drive_sync.emulator.pytest_plugin import EmulatorHandle

pytest_plugins = ["jupyter_drive_sync.emulator.pytest_plugin"]

# Writes go out unpaced in tests (the CLI, the server and the hub in subprocesses too): the
# emulator has no write limit unless a test sets one, and Google's 3 writes/s would make every
# push slow. Tests of the write limit set the rate themselves (PushOptions.write_rate, or this).
os.environ.setdefault("JUPYTER_DRIVE_SYNC_WRITE_RATE", "0")

# pytest's assert messages inside the shared helpers too; registered before they are imported.
pytest.register_assert_rewrite("tests.support")


@pytest.fixture
def connected_home(tmp_path: Path, emulator: EmulatorHandle) -> Callable[[str, str], Path]:
    """`connected_home(user, email)`: a new home `tmp_path/<user>` whose stored credentials are
    a fresh drive.file token of `email` at this test's emulator."""

    def make(user: str, email: str) -> Path:
        home = tmp_path / user
        home.mkdir()
        connect_home(emulator.url, home, email)
        return home

    return make
