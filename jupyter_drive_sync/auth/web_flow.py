"""The server extension's sign-in: Google's consent page in a popup, the callback back to the server.

The `state` and the PKCE verifier never leave the server: they are kept here, bound to the
signed-in Jupyter user, single use, for ten minutes, so a callback can only finish a sign-in
that the same user started from this server.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from ..core.errors import ConfigError
from ..core.settings import SyncSettings
from .connection import save_connection
from .flow import OAuthError, exchange_code, make_flow

log = logging.getLogger(__name__)

STATE_TTL_SECONDS = 600
MAX_PENDING_PER_USER = 16


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
        flow = make_flow(self._client_config(), redirect_uri)
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
        creds = exchange_code(self._client_config(), pending.redirect_uri, pending.code_verifier, code)
        return save_connection(self.settings, creds)
