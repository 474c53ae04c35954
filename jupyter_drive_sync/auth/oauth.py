"""Google sign-in for one home: the server's web flow, the CLI's loopback flow, disconnect.

Both flows use google-auth-oauthlib's `Flow` with PKCE, `access_type=offline`,
`prompt=consent` (so Google always returns a refresh token, even on a reconnect) and the
`drive.file` scope only. The `state` and the PKCE verifier stay on the server, bound to the
signed-in user, single use, for ten minutes. The account's email comes from Drive's
`about(fields=user)`, which `drive.file` allows, so no extra `openid email` scope is asked for.
"""

from __future__ import annotations

import html
import http.server
import ipaddress
import json
import logging
import os
import secrets
import sys
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Callable, TextIO

from google.oauth2.credentials import Credentials

from ..core.settings import SyncSettings, settings_from_args
from .credentials import DRIVE_FILE_SCOPE, CredentialsError, CredentialStore, RevokeError, revoke
from ..core.errors import ConfigError, NotConnected

log = logging.getLogger(__name__)

SCOPES = [DRIVE_FILE_SCOPE]
STATE_TTL_SECONDS = 600
MAX_PENDING_PER_USER = 16


class OAuthError(Exception):
    """The sign-in could not be finished; `kind` says why, for the callback page and the CLI."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind  # "bad_state" | "access_denied" | "exchange_failed" | "not_configured"
        self.message = message


# ---------------------------------------------------------------- endpoints and transport


def _is_loopback(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def client_kind(client_config: dict[str, Any]) -> dict[str, Any]:
    """The inner `web`/`installed` section of a client-secrets document."""
    for key in ("web", "installed"):
        if isinstance(client_config.get(key), dict):
            return client_config[key]
    raise ConfigError("the client secrets must have a `web` or `installed` section")


def allow_loopback_http(client_config: dict[str, Any]) -> None:
    """Let oauthlib talk plain http to a loopback OAuth server (the emulator), and only that.

    oauthlib refuses http endpoints unless OAUTHLIB_INSECURE_TRANSPORT is set (trap 4); that
    switch is process-wide, so it is set only when every http endpoint is on loopback, and a
    plain-http endpoint anywhere else is refused outright.
    """
    section = client_kind(client_config)
    urls = [section.get("auth_uri", ""), section.get("token_uri", "")]
    plain = [u for u in urls if u.startswith("http://")]
    if not plain:
        return
    if not all(_is_loopback(u) for u in plain):
        raise ConfigError("refusing an OAuth endpoint over plain http that is not on this machine")
    os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"


def _make_flow(client_config: dict[str, Any], redirect_uri: str, code_verifier: str | None = None):
    from google_auth_oauthlib.flow import Flow

    allow_loopback_http(client_config)
    return Flow.from_client_config(
        client_config,
        scopes=SCOPES,
        redirect_uri=redirect_uri,
        code_verifier=code_verifier,
        autogenerate_code_verifier=True,
    )


def account_email(creds: Credentials, api_root: str, timeout: float = 30.0) -> str:
    """The signed-in account's email, from Drive `about.get(fields=user)` (allowed by drive.file)."""
    url = api_root.rstrip("/") + "/drive/v3/about?fields=user(emailAddress)&alt=json"
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {creds.token}"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - configured API root
            data = json.loads(resp.read().decode("utf-8"))
    except Exception as exc:  # the grant worked; the email is a nicety, report without a token
        log.warning("could not read the Google account's email: %s", type(exc).__name__)
        return ""
    return str(data.get("user", {}).get("emailAddress", ""))


def _exchange(
    client_config: dict[str, Any], redirect_uri: str, code_verifier: str, code: str
) -> Credentials:
    flow = _make_flow(client_config, redirect_uri, code_verifier)
    try:
        flow.fetch_token(code=code)
    except Exception as exc:  # oauthlib/requests errors carry no tokens but may be long
        raise OAuthError("exchange_failed", f"Google did not accept the sign-in ({type(exc).__name__}).") from None
    creds = flow.credentials
    if not creds.refresh_token:
        raise OAuthError("exchange_failed", "Google returned no refresh token; please try again.")
    return creds


def _store(settings: SyncSettings) -> CredentialStore:
    return CredentialStore(settings.credentials_file, settings.encryption_key)


def save_connection(settings: SyncSettings, creds: Credentials) -> str:
    """Read the account's email, then store the credentials (with the email as `account`)."""
    email = account_email(creds, settings.api_root)
    if email:
        creds = creds.with_account(email)
    _store(settings).save(creds)
    return email


# ---------------------------------------------------------------- the server's web flow


@dataclass(frozen=True, slots=True)
class PendingFlow:
    user: str
    code_verifier: str
    redirect_uri: str
    expires_at: float


class PendingFlows:
    """Sign-ins in progress: `state` → who started it, the PKCE verifier, the redirect URI.

    Single use: `take` removes the entry whatever the outcome, so a replayed callback fails.
    """

    def __init__(self, ttl: float = STATE_TTL_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._items: dict[str, PendingFlow] = {}
        self._lock = threading.Lock()

    def add(self, user: str, code_verifier: str, redirect_uri: str) -> str:
        state = secrets.token_urlsafe(32)
        now = self._clock()
        with self._lock:
            self._prune(now)
            mine = sorted((p.expires_at, s) for s, p in self._items.items() if p.user == user)
            for _, old in mine[: max(0, len(mine) - MAX_PENDING_PER_USER + 1)]:
                del self._items[old]
            self._items[state] = PendingFlow(user, code_verifier, redirect_uri, now + self.ttl)
        return state

    def take(self, user: str, state: str | None) -> PendingFlow:
        if not state:
            raise OAuthError("bad_state", "The sign-in link is incomplete (no state).")
        with self._lock:
            pending = self._items.pop(state, None)
        if pending is None or not secrets.compare_digest(pending.user, user):
            raise OAuthError("bad_state", "This sign-in link is unknown, already used or not yours.")
        if pending.expires_at < self._clock():
            raise OAuthError("bad_state", "This sign-in link has expired; start again.")
        return pending

    def _prune(self, now: float) -> None:
        for state in [s for s, p in self._items.items() if p.expires_at < now]:
            del self._items[state]


class WebAuth:
    """The server extension's half of the OAuth web flow for the home it serves."""

    def __init__(self, settings: SyncSettings, pending: PendingFlows | None = None) -> None:
        self.settings = settings
        self.pending = pending or PendingFlows()

    @property
    def configured(self) -> bool:
        try:
            return self.settings.load_client_config() is not None
        except ConfigError as exc:  # the server must still start and answer status
            log.warning("drive-sync: Google sign-in is not usable: %s", exc)
            return False

    def _client_config(self) -> dict[str, Any]:
        try:
            config = self.settings.load_client_config()
        except ConfigError as exc:  # the details (a path on the server) go to the log only
            log.warning("drive-sync: Google sign-in is not usable: %s", exc)
            config = None
        if config is None:
            raise OAuthError("not_configured", "Google sign-in is not configured on this server.")
        return config

    def start(self, user: str, redirect_uri: str) -> str:
        """The Google consent URL for `user`; the state and PKCE verifier stay here."""
        flow = _make_flow(self._client_config(), redirect_uri)
        verifier = secrets.token_urlsafe(64)  # 86 chars of [A-Za-z0-9_-]: a valid PKCE verifier
        flow.code_verifier = verifier
        state = self.pending.add(user, verifier, redirect_uri)
        url, _ = flow.authorization_url(state=state, access_type="offline", prompt="consent")
        return url

    def check_callback(self, user: str, state: str | None, error: str | None) -> PendingFlow:
        """Validate the callback before any network I/O (cheap; safe on the event loop)."""
        pending = self.pending.take(user, state)
        if error:
            kind = "access_denied" if error == "access_denied" else "exchange_failed"
            raise OAuthError(kind, "Access to Google Drive was not granted." if kind == "access_denied"
                             else "Google reported an error during sign-in.")
        return pending

    def finish(self, pending: PendingFlow, code: str | None) -> str:
        """Exchange the code, store the credentials; the account's email. Blocking: run off-loop."""
        if not code:
            raise OAuthError("exchange_failed", "Google sent no authorization code.")
        creds = _exchange(self._client_config(), pending.redirect_uri, pending.code_verifier, code)
        return save_connection(self.settings, creds)


# ---------------------------------------------------------------- status and disconnect


@dataclass(slots=True)
class Connection:
    connected: bool
    account: str | None = None
    needs_reauth: bool = False
    problem: str | None = None  # why the stored credentials cannot be used, for people


def load_credentials(settings: SyncSettings) -> Credentials | None:
    return _store(settings).load()


def check_connection(settings: SyncSettings, *, live: bool = True) -> Connection:
    """Is this home connected, and does Google still honour the grant?

    `live` refreshes the access token (one call to the token endpoint): that is the only way
    to notice a grant revoked from the Google account page. Blocking.
    """
    try:
        creds = load_credentials(settings)
    except CredentialsError as exc:
        return Connection(connected=True, needs_reauth=True, problem=str(exc))
    if creds is None:
        return Connection(connected=False)
    conn = Connection(connected=True, account=creds.account or None)
    if live:
        from google.auth.exceptions import RefreshError, TransportError
        from google.auth.transport.requests import Request

        try:
            creds.refresh(Request())
        except RefreshError:
            conn.needs_reauth = True
            conn.problem = "Google no longer accepts this sign-in; reconnect Google Drive."
        except TransportError:
            pass  # offline is not a reason to ask for a new sign-in
    return conn


def disconnect(settings: SyncSettings) -> bool:
    """Revoke the grant at Google and delete the credentials file; True if there was one.

    The file is deleted even when revoking fails (the user asked to forget it); the error is
    logged without the token.
    """
    store = _store(settings)
    try:
        creds = store.load()
    except CredentialsError:
        creds = None
    if creds is not None:
        try:
            revoke(creds)
        except RevokeError as exc:
            log.warning("%s", exc)
    return store.delete()


# ---------------------------------------------------------------- the CLI's loopback flow

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
        flow = _make_flow(config, redirect)
        state = secrets.token_urlsafe(32)
        url, _ = flow.authorization_url(state=state, access_type="offline", prompt="consent")
        print(f"Open this URL in a browser to connect Google Drive:\n\n    {url}\n", file=out, flush=True)
        if open_browser:
            import webbrowser

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
    creds = _exchange(config, redirect, flow.code_verifier, result.get("code", ""))
    return save_connection(settings, creds)


def require_credentials(settings: SyncSettings) -> Credentials:
    """Stored credentials or NotConnected (for callers that must not go on without them)."""
    try:
        creds = load_credentials(settings)
    except CredentialsError as exc:
        raise NotConnected(str(exc)) from None
    if creds is None:
        raise NotConnected("Google Drive is not connected: run `jupyter-drive-sync auth`.")
    return creds


# ---------------------------------------------------------------- status and the CLI commands


def home_status(settings: SyncSettings, *, live: bool = True) -> dict[str, Any]:
    """What `status` reports for a home (the CLI's view of the server's status route)."""
    from ..server.jobs import probe_home_lock, read_last_push, root_folder_url

    conn = check_connection(settings, live=live)
    last = read_last_push(settings.state_dir)
    return {
        "home": str(settings.home),
        "connected": conn.connected,
        "account": conn.account,
        "needs_reauth": conn.needs_reauth,
        "problem": conn.problem,
        "folder": settings.folder_template.replace("{username}", settings.username),
        "root_folder_id": ((last or {}).get("summary") or {}).get("root_folder_id"),
        "root_folder_url": root_folder_url(last),
        "last_push": last,
        "running": probe_home_lock(settings.state_dir),
    }


def cmd_auth(args: Any) -> int:
    from ..cli import EXIT_NOT_CONNECTED, EXIT_USAGE

    settings = settings_from_args(args)
    try:
        email = run_loopback_auth(settings, open_browser=not args.no_browser, timeout=args.timeout)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (OAuthError, CredentialsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_NOT_CONNECTED
    print(f"Connected Google Drive{' as ' + email if email else ''}; credentials in {settings.credentials_file}")
    return 0


def cmd_status(args: Any) -> int:
    from ..cli import EXIT_NOT_CONNECTED

    status = home_status(settings_from_args(args), live=not args.offline)
    if args.json:
        print(json.dumps(status, indent=None, default=str))
    else:
        if not status["connected"]:
            print("Google Drive: not connected (run `jupyter-drive-sync auth --home DIR`)")
        elif status["needs_reauth"]:
            print(f"Google Drive: must reconnect ({status['problem']})")
        else:
            print(f"Google Drive: connected as {status['account'] or '(unknown account)'}")
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
    return 0 if status["connected"] and not status["needs_reauth"] else EXIT_NOT_CONNECTED


def cmd_disconnect(args: Any) -> int:
    settings = settings_from_args(args)
    removed = disconnect(settings)
    print("Disconnected Google Drive." if removed else "Google Drive was not connected.")
    return 0
