"""`jupyter-drive-sync demo`: the whole product on one machine, with no Google account.

It starts the Drive emulator (whose consent page plays Google's part), writes a sample student
home, and starts JupyterLab with the extension pointed at the emulator. `--no-lab` instead pushes
the sample home straight away from the command line and prints where to look.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

from ..core.options import PushOptions
from ..emulator.sample import admin, connect_home, make_sample_home
from ..emulator.server import RunningEmulator, start_in_thread
from ..emulator.settings import EmulatorSettings
from ..engine.push import run_push

DEMO_USER = "student"
DEMO_EMAIL = "student@example.edu"


def _start_emulator(workdir: Path, port: int) -> RunningEmulator:
    settings = EmulatorSettings(data_dir=workdir / "drive-emulator", persistent=True)
    try:
        return start_in_thread(settings, port=port)
    except OSError:  # the port is taken: any free one will do for a demo
        return start_in_thread(settings, port=0)


def run(args: argparse.Namespace) -> int:
    workdir = Path(args.workdir).resolve()
    home = make_sample_home(workdir / "home" / DEMO_USER)
    emu = _start_emulator(workdir, args.port)
    print(f"Drive emulator: {emu.url}  (open it to watch files arrive)", flush=True)
    try:
        if args.no_lab:
            return _push_from_cli(emu.url, home, serve=not args.exit)
        return _run_lab(emu.url, home, args)
    finally:
        emu.stop()


def _push_from_cli(url: str, home: Path, *, serve: bool) -> int:
    connect_home(url, home, DEMO_EMAIL)
    summary = run_push(PushOptions(home=home, user=DEMO_USER, api_root=url))
    print(json.dumps(dataclasses.asdict(summary), indent=1))
    print(f"Pushed {home} into {DEMO_EMAIL}'s Drive at home/{DEMO_USER}: see {url}", flush=True)
    if serve:
        print("Serving the emulator; press Ctrl-C to stop.", flush=True)
        _wait_for_signal()
    return 0


def _lab_port(preferred: int) -> int:
    """`preferred` when it is free, else any free port: JupyterLab must not pick another one by
    itself, since its sign-in callback is registered for this port (next function)."""
    for port in (preferred, 0):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise OSError("no free port on 127.0.0.1")


def _register_callbacks(url: str, port: int) -> None:
    """Authorize the lab's sign-in callback for the emulator's built-in web client, as an admin
    adds "Authorized redirect URIs" in Google's console: a web client accepts no other."""
    client_id = admin(url, "GET", "_emulator/client_secrets.json")["web"]["client_id"]
    uris = [f"http://{host}:{port}/drive-sync/oauth2callback" for host in ("127.0.0.1", "localhost")]
    admin(url, "POST", "_emulator/clients", {"client_id": client_id, "redirect_uris": uris})


def _run_lab(url: str, home: Path, args: argparse.Namespace) -> int:
    # The consent page offers this account, so "Connect Google Drive" is two clicks.
    admin(url, "POST", "_emulator/accounts", {"email": DEMO_EMAIL})
    admin(url, "POST", "_emulator/consent", {"auto": False, "email": DEMO_EMAIL})
    port = _lab_port(args.lab_port)
    _register_callbacks(url, port)
    # Our own token, so the one line we print is a link that opens (JupyterLab's own banner with
    # its token scrolls by among its logs).
    token = secrets.token_hex(24)
    cmd = [
        sys.executable, "-m", "jupyterlab",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={home}",
        f"--DriveSyncApp.emulator_url={url}",
        f"--DriveSyncApp.home_dir={home}",
        f"--DriveSyncApp.username={DEMO_USER}",
        f"--IdentityProvider.token={token}",
    ]
    if args.no_browser:
        cmd.append("--no-browser")
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    print(f"Sample home: {home}\nStarting JupyterLab: open http://127.0.0.1:{port}/lab?token={token}", flush=True)
    proc = subprocess.Popen(cmd)  # argument list, no shell
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGINT)
        return proc.wait()


def _wait_for_signal() -> None:
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
