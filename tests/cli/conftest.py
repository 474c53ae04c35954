"""Helpers for the command line's tests: a CLI subprocess with a clean environment, client secrets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest


def cli_env(**extra: str) -> dict[str, str]:
    """The test process's environment without hub or tool variables, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTERHUB_", "JUPYTER_DRIVE_SYNC_"))}
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    env["JUPYTER_DRIVE_SYNC_WRITE_RATE"] = "0"  # unpaced unless a test says otherwise
    env.update(extra)
    return env


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120,
            cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "jupyter_drive_sync", *args], capture_output=True, text=True,
                          timeout=timeout, env=env if env is not None else cli_env(), cwd=cwd)


@pytest.fixture
def secrets_of(tmp_path: Path, emulator: Any):
    """`secrets_of("tv" | "installed" | "web")`: a new client of that type, its secrets file."""

    def make(client_type: str, redirect_uris: list[str] | None = None) -> Path:
        client = emulator.create_client(redirect_uris, client_type=client_type)
        path = tmp_path / f"{client_type}_client_secrets.json"
        path.write_text(json.dumps(client["client_secrets"]))
        return path

    return make
