"""Fixtures for the command line's tests: a new client's secrets file. The CLI subprocess helpers
(`cli_env`, `run_cli`, ...) are in tests/support/command_line.py, shared with tests/server/;
they are imported here too so that `from .conftest import cli_env, run_cli` keeps working."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest

from tests.support.command_line import cli_env, run_cli, write_client_secrets

__all__ = ["cli_env", "run_cli", "secrets_of"]


@pytest.fixture
def secrets_of(tmp_path: Path, emulator: Any) -> Callable[..., Path]:
    """`secrets_of("tv" | "installed" | "web")`: a new client of that type, its secrets file."""

    def make(client_type: str, redirect_uris: list[str] | None = None) -> Path:
        return write_client_secrets(emulator, tmp_path / f"{client_type}_client_secrets.json", client_type,
                                    redirect_uris)

    return make
