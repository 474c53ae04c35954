"""Real nightly runs for the admin-overview tests: `hub --homes-root` over homes in every state
a night can find them in, against the emulator, with the JSON lines kept as the night's file."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import requests

from jupyter_drive_sync.cli import main as cli_main
from jupyter_drive_sync.emulator.sample import connect_home

# user → what the night finds: backed up, never connected, grant revoked, Drive full
HOMES = {"ada": "ok", "alan": "ok", "grace": "not_connected", "linus": "needs_reconnect", "mary": "drive_refused"}


def make_homes(root: Path, emulator: Any) -> dict[str, str]:
    """Homes under `root` in the states of HOMES; returns user → their account's refresh token."""
    tokens = {}
    for user, state in HOMES.items():
        home = root / user
        (home / "work").mkdir(parents=True)
        (home / "work" / "notes.md").write_text(f"notes of {user}\n")
        if state == "not_connected":
            continue
        acct = connect_home(emulator.url, home, f"{user}@uni.example")
        tokens[user] = acct["refresh_token"]
        if state == "needs_reconnect":
            requests.post(emulator.url + "revoke", data={"token": acct["refresh_token"]}, timeout=10)
        elif state == "drive_refused":
            emulator.update_account(f"{user}@uni.example", storage_quota_bytes=5)
    return tokens


def run_night(root: Path, emulator: Any, out_file: Path) -> int:
    """One nightly run over `root`, its JSON lines written to `out_file`; the run's exit status."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = cli_main(["hub", "--homes-root", str(root), "--api-root", emulator.url,
                         "--parallel", "2", "--workers", "2"])
    out_file.write_text(buf.getvalue())
    return code
