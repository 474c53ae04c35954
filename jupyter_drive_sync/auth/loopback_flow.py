"""Sign in from a terminal (`jupyter-drive-sync auth`): Google redirects to a one-shot server on 127.0.0.1.

There is no Jupyter server to come back to, so the redirect URI is a loopback port this
command listens on for exactly one answer; the state it checks is its own.
"""

from __future__ import annotations

import html
import http.server
import secrets
import sys
import threading
import time
import urllib.parse
import webbrowser
from typing import Any, Callable, TextIO

from ..core.errors import ConfigError
from ..core.settings import SyncSettings
from .connection import save_connection
from .flow import OAuthError, exchange_code, make_flow

_DONE_PAGE = """<!doctype html><meta charset="utf-8"><title>jupyter-drive-sync</title>
<p>{message}</p><p>You can close this window.</p>"""


class _OneShotHandler(http.server.BaseHTTPRequestHandler):
    """Receives Google's redirect once; the flow reads `server.result`."""

    server: "_LoopbackServer"

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        if "state" not in query and "code" not in query and "error" not in query:
            self.send_response(404)
            self.end_headers()
            return
        self.server.result = {k: v[-1] for k, v in query.items()}
        ok = "code" in query
        msg = "Google Drive is connected." if ok else "Google Drive was not connected."
        body = _DONE_PAGE.format(message=html.escape(msg)).encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # keep codes out of the terminal
        return


class _LoopbackServer(http.server.HTTPServer):
    result: dict[str, str] | None = None


def run_loopback_auth(
    settings: SyncSettings,
    *,
    open_browser: bool = True,
    timeout: float = 300.0,
    on_url: Callable[[str], None] | None = None,
    out: TextIO | None = None,
) -> str:
    """Sign in from a terminal: a one-shot server on 127.0.0.1 catches Google's redirect.

    Prints the consent URL (and opens it when `open_browser`); `on_url` lets a caller drive
    the browser instead. Returns the account's email. Raises OAuthError or ConfigError.
    """
    out = out or sys.stderr
    config = settings.load_client_config()
    if config is None:
        raise ConfigError("no OAuth client configured: pass --client-secrets FILE")
    server = _LoopbackServer(("127.0.0.1", 0), _OneShotHandler)
    try:
        redirect = f"http://127.0.0.1:{server.server_address[1]}/"
        flow = make_flow(config, redirect)
        state = secrets.token_urlsafe(32)
        url, _ = flow.authorization_url(state=state, access_type="offline", prompt="consent")
        print(f"Open this URL in a browser to connect Google Drive:\n\n    {url}\n", file=out, flush=True)
        if open_browser:
            try:
                webbrowser.open(url, new=1, autoraise=True)
            except Exception:  # no browser here: the printed URL is enough
                pass
        if on_url is not None:
            threading.Thread(target=on_url, args=(url,), daemon=True).start()
        deadline = time.monotonic() + timeout
        while server.result is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise OAuthError("exchange_failed", "Timed out waiting for Google's answer.")
            server.timeout = min(left, 1.0)
            server.handle_request()
        result = server.result
    finally:
        server.server_close()
    if not secrets.compare_digest(result.get("state", ""), state):
        raise OAuthError("bad_state", "The answer did not come from the sign-in this command started.")
    if result.get("error"):
        raise OAuthError(
            "access_denied" if result["error"] == "access_denied" else "exchange_failed",
            "Access to Google Drive was not granted.",
        )
    creds = exchange_code(config, redirect, flow.code_verifier, result.get("code", ""))
    return save_connection(settings, creds)
