"""The command line as a user runs it, for the tests of `auth`, `status`, `push` ... (tests/cli/ and
tests/server/test_cli_auth.py): a subprocess with a clean environment, an empty home, a client's
secrets file. Written once here so that every CLI test runs the command the same way.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from jupyter_drive_sync.auth.credentials import CredentialStore

CREDENTIALS_REL = ".local/share/jupyter/drive_sync/credentials.json"  # where `auth` stores a home's grant


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
    """`python -m jupyter_drive_sync ARGS` to the end (default environment: `cli_env()`)."""
    return subprocess.run([sys.executable, "-m", "jupyter_drive_sync", *args], capture_output=True, text=True,
                          timeout=timeout, env=env if env is not None else cli_env(), cwd=cwd)


@contextmanager
def running_cli(*args: str, env: dict[str, str]) -> Iterator[subprocess.Popen]:
    """The command running while the block answers what it shows (a sign-in page, a code);
    killed if it is still running when the block ends, so no test leaves one behind."""
    proc = subprocess.Popen([sys.executable, "-m", "jupyter_drive_sync", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def read_until(proc: subprocess.Popen, marker: str) -> str:
    """What the running command printed on stderr up to the line holding `marker`."""
    shown = ""
    while marker not in shown:
        line = proc.stderr.readline()
        assert line, f"ended early ({proc.wait()}): {shown}{proc.stderr.read()}"
        shown += line
    return shown


def check_signed_in(proc: subprocess.Popen, home: Path, email: str) -> None:
    """The running `auth` ends 0 within a minute, says which account it connected, and the home's
    stored grant is that account's."""
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert f"Connected Google Drive as {email}" in out
    assert CredentialStore(home / CREDENTIALS_REL).load().account == email


def user_home(root: Path, user: str) -> Path:
    """A new, empty home `root/<user>`: the name is the user's, as on a hub (Drive folder home/<user>)."""
    home = root / user
    home.mkdir()
    return home


def write_client_secrets(emulator: Any, path: Path, client_type: str,
                         redirect_uris: list[str] | None = None) -> Path:
    """A new OAuth client of `client_type` ("web" | "installed" | "tv") on the emulator; its
    client_secrets.json written to `path`, as the Google console's download."""
    client = emulator.create_client(redirect_uris, client_type=client_type)
    path.write_text(json.dumps(client["client_secrets"]))
    return path
