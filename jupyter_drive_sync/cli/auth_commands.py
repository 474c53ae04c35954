"""`jupyter-drive-sync auth`, `status` and `disconnect`: one home's Google sign-in from a terminal."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from ..auth.connection import disconnect
from ..auth.credentials import CredentialsError
from ..auth.flow import OAuthError
from ..auth.loopback_flow import run_loopback_auth
from ..core.errors import EXIT_NOT_CONNECTED, EXIT_OK, ConfigError
from ..core.settings import settings_from_args
from ..engine.status import home_status
from .output import report_error


def cmd_auth(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    try:
        email = run_loopback_auth(settings, open_browser=not args.no_browser, timeout=args.timeout)
    except (ConfigError, OAuthError, CredentialsError) as exc:
        return report_error("error", exc)
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
        print("Google Drive: not connected (run `jupyter-drive-sync auth --home DIR`)")
    elif status["needs_reauth"]:
        print(f"Google Drive: must reconnect ({status['problem']})")
    else:
        print(f"Google Drive: connected as {status['account'] or '(unknown account)'}")
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
