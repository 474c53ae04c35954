"""Binder's demo setup, run by `binder/start` once the Drive emulator is starting.

It does what `jupyter-drive-sync demo` does before it starts JupyterLab: a sample student home,
the demo account at the emulator, and the server extension pointed at both. The extension's
settings go in `<demo-dir>/jupyter-config/jupyter_server_config.json` (JSON, so no path is ever
pasted into code), which `start` puts first on JUPYTER_CONFIG_PATH.

One difference from `make demo`, and why: on mybinder.org the browser runs on the visitor's
machine, so it cannot open the emulator's consent page on the container's loopback. By default
the home is therefore connected here already (the emulator mints the tokens, as the tests do),
and "Sync now" and "Restore from Google Drive…" work at once; `--no-connect` keeps the
first-login prompt for setups where the browser can reach the emulator.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from jupyter_drive_sync.core.settings import default_credentials_path, redirect_uri
from jupyter_drive_sync.auth.credentials import CredentialStore
from jupyter_drive_sync.cli.demo import DEMO_EMAIL, DEMO_USER
from jupyter_drive_sync.emulator.sample import admin, connect_home, make_sample_home

CONFIG_FILENAME = "jupyter_server_config.json"


def _alive(pid: int | None) -> bool:
    if pid is None:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # An exited process its parent has not reaped yet (a zombie) serves nothing either.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc here: trust kill(0)
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def wait_for_emulator(url: str, pid: int | None, timeout_s: float = 60.0) -> None:
    """Until the admin API answers; fails early when the emulator process has exited."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url + "_emulator/stats", timeout=2) as resp:  # noqa: S310 - loopback
                json.loads(resp.read())
                return
        except (urllib.error.URLError, OSError, ValueError):
            pass
        if not _alive(pid):
            raise RuntimeError(f"the Drive emulator (pid {pid}) exited before answering at {url}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the Drive emulator did not answer at {url} within {timeout_s:.0f} s")
        time.sleep(0.2)


def register_hub_callback(url: str) -> None:
    """Under a hub the sign-in comes back to the hub's one callback URL: authorize it for the
    emulator's built-in web client, which (like a Google web client) accepts registered redirect
    URIs only. A standalone server on port 8888 is registered already; other cases are left out."""
    try:
        uri = redirect_uri(environ=os.environ)
    except ValueError:  # standalone: the port is the browser's to tell
        return
    client_id = admin(url, "GET", "_emulator/client_secrets.json")["web"]["client_id"]
    try:
        admin(url, "POST", "_emulator/clients", {"client_id": client_id, "redirect_uris": [uri]})
    except urllib.error.HTTPError as exc:  # e.g. a plain-http hub: Google would refuse it too
        print(f"drive-sync demo: cannot register the sign-in callback {uri}: {exc}", file=sys.stderr)


def server_config(url: str, home: Path) -> dict:
    """The Jupyter server settings that wire the extension to the emulator and the sample home."""
    return {
        "ServerApp": {
            "root_dir": str(home),  # the file browser shows the sample home, as in `make demo`
            "jpserver_extensions": {"jupyter_drive_sync": True},
        },
        "DriveSyncApp": {
            "emulator_url": url,
            "home_dir": str(home),
            "username": DEMO_USER,
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emulator", required=True, help="the emulator's URL (http://127.0.0.1:PORT/)")
    parser.add_argument("--demo-dir", required=True, help="where the sample home and the config go")
    parser.add_argument("--emulator-pid", type=int, default=None, help="fail early if it exits")
    parser.add_argument("--connect", action=argparse.BooleanOptionalAction, default=True,
                        help="connect the sample home to the demo account now (default: yes)")
    args = parser.parse_args(argv)

    url = args.emulator.rstrip("/") + "/"
    demo = Path(args.demo_dir).resolve()
    wait_for_emulator(url, args.emulator_pid)

    home = make_sample_home(demo / "home" / DEMO_USER)
    admin(url, "POST", "_emulator/accounts", {"email": DEMO_EMAIL})
    # The consent page offers this account, so "Connect Google Drive" is two clicks.
    admin(url, "POST", "_emulator/consent", {"auto": False, "email": DEMO_EMAIL})
    if args.connect:
        connect_home(url, home, DEMO_EMAIL)
        # As a sign-in through the consent page would, remember which account it is
        # ("Connected as student@example.edu").
        store = CredentialStore(default_credentials_path(home))
        creds = store.load()
        if creds is not None:
            store.save(creds.with_account(DEMO_EMAIL))
    else:
        register_hub_callback(url)

    config_dir = demo / "jupyter-config"
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / CONFIG_FILENAME).write_text(json.dumps(server_config(url, home), indent=2) + "\n")

    print(f"drive-sync demo: Drive emulator {url} (its page lists the files arriving), "
          f"sample home {home}, account {DEMO_EMAIL}{' (connected)' if args.connect else ''}",
          file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
