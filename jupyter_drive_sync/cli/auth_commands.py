"""`jupyter-drive-sync auth`, `status` and `disconnect`: one home's Google sign-in from a terminal.

`auth` picks the sign-in that works where it runs:

- in a JupyterHub terminal, the server's own sign-in page (the hub's web client): a link to open;
- on a computer with a browser, a Desktop client's loopback redirect (auth/loopback_flow.py);
- on a machine with no browser (or with `--device`), Google's device flow (auth/device_flow.py).

A web client's secrets cannot serve a terminal at all (Google sends a web client only to its
registered redirect URIs), so they get one sentence saying what to use instead.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import webbrowser
from typing import Any, Mapping

from ..auth.connection import disconnect
from ..auth.credentials import CredentialsError
from ..auth.device_flow import run_device_auth
from ..auth.flow import OAuthError
from ..auth.hub_link import hub_sign_in_link, in_hub_terminal
from ..auth.loopback_flow import run_loopback_auth
from ..core.errors import EXIT_NOT_CONNECTED, EXIT_OK, ConfigError
from ..core.settings import SyncSettings, settings_from_args
from ..engine.status import home_status
from .output import report_error

HUB, LOOPBACK, DEVICE = "hub", "loopback", "device"
WEB_CLIENT_IN_TERMINAL = (
    "these client secrets are a web application's: Google sends a web client back only to its registered "
    "redirect URIs, never to this terminal. Use a Desktop app client's secrets here (or `--device` with a "
    "'TVs and Limited Input devices' client), or connect from the Jupyter server's sign-in page")


def has_browser(environ: Mapping[str, str] | None = None) -> bool:
    """Whether a browser can open here: on Linux and the BSDs, a graphical session (DISPLAY or
    WAYLAND_DISPLAY) and a browser Python's `webbrowser` knows; macOS and Windows always have one."""
    env = os.environ if environ is None else environ
    if sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")) \
            and not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")):
        return False
    try:
        webbrowser.get()
    except webbrowser.Error:
        return False
    return True


def choose_flow(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> str:
    """HUB, LOOPBACK or DEVICE: what the flags ask for, else what this place allows."""
    if args.device:
        return DEVICE
    if args.loopback:
        return LOOPBACK
    if in_hub_terminal(environ):
        return HUB
    return LOOPBACK if has_browser(environ) else DEVICE


def _check_terminal_client(settings: SyncSettings) -> None:
    """ConfigError unless the configured client can sign in from a terminal (not a web client)."""
    config = settings.load_client_config()
    if config is None:
        raise ConfigError("no OAuth client configured: pass --client-secrets FILE (a Desktop app client's)")
    if "installed" not in config and isinstance(config.get("web"), dict):
        raise ConfigError(WEB_CLIENT_IN_TERMINAL)


def cmd_auth(args: argparse.Namespace) -> int:
    flow = choose_flow(args)
    if flow == HUB:
        link = hub_sign_in_link(hub_url=args.hub_url)
        where = "" if link.startswith(("http://", "https://")) else " (after your hub's address)"
        print(f"You are in a JupyterHub terminal: connect Google Drive in your browser, on your Jupyter "
              f"server's own sign-in page. Open{where}:\n\n    {link}\n\n"
              f"then run `jupyter-drive-sync status` here to see the connected account.")
        return EXIT_OK
    settings = settings_from_args(args)
    try:
        _check_terminal_client(settings)
        if flow == DEVICE:
            email = run_device_auth(settings)
        else:
            email = run_loopback_auth(settings, open_browser=not args.no_browser, timeout=args.timeout)
    except (ConfigError, OAuthError, CredentialsError) as exc:
        return report_error("jupyter-drive-sync auth", exc)
    print(f"Connected Google Drive{' as ' + email if email else ''}; credentials in {settings.credentials_file}")
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    status = home_status(settings_from_args(args), live=not args.offline)
    if args.json:
        print(json.dumps(status, indent=None, default=str))
    else:
        _print_status(status)
    return EXIT_OK if status["connected"] and not status["needs_reauth"] else EXIT_NOT_CONNECTED


def _print_status(status: dict[str, Any]) -> None:
    if not status["connected"]:
        print("Google Drive: not connected (run `jupyter-drive-sync auth`)")
    elif status["needs_reauth"]:
        print(f"Google Drive: must reconnect ({status['problem']})")
    else:
        if status["account"]:
            print(f"Google Drive: connected as {status['account']}")
        else:  # the email was not recorded and Google could not be asked (offline, or --offline)
            print("Google Drive: connected (account email unknown — run `jupyter-drive-sync auth` to refresh)")
        if status.get("account_changed"):
            print(f"  the backup so far went to {status['backup_account']}; the next push backs this home up "
                  f"to {status['account']}'s Drive")
    print(f"Folder: {status['folder']}" + (f"  {status['root_folder_url']}" if status["root_folder_url"] else ""))
    last = status["last_push"]
    if last:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(last.get("finished_at") or 0)))
        outcome = "ok" if last.get("ok") else (last.get("error") or {}).get("message", "with errors")
        print(f"Last push: {when}, {outcome}")
    else:
        print("Last push: never")
    if status["running"]:
        print(f"Running now: {status['running'].get('kind', 'push')} (pid {status['running'].get('pid', '?')})")


def cmd_disconnect(args: argparse.Namespace) -> int:
    removed = disconnect(settings_from_args(args))
    print("Disconnected Google Drive." if removed else "Google Drive was not connected.")
    return EXIT_OK
