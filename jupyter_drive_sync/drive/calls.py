"""Running one Drive request: a fresh token, a place in the pacer, retries, errors translated.

Every request goes through here with `num_retries=0` (the library's own retries are not used):
the pacer shared by all threads is acquired and told the outcome, an expired token is
refreshed once for all threads, and a refreshed token is handed back to whoever stores it.
Creates carry pre-generated IDs, so a retry after a lost answer meets `409 fileIdInUse`,
which the callers turn into a `get`: retrying never makes duplicates.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable

from google.oauth2.credentials import Credentials

from .errors import as_drive_error, is_rate_limited
from .pacing import Pacer
from .retry import RetryPolicy
from .transport import ThreadState, ThreadTransports

__all__ = ["DriveCalls", "RequestMaker"]

log = logging.getLogger(__name__)

RequestMaker = Callable[[ThreadState], Any]
"""Builds and sends one request with the calling thread's connection; called again per attempt."""


class DriveCalls:
    """The request runner shared by the client's reads, writes, batches and uploads.

    `pacer` and `retry` are plain attributes, read at each call, so a caller may swap the pacer
    (the hub shares one between homes) after construction.
    """

    def __init__(
        self,
        credentials: Credentials,
        transports: ThreadTransports,
        *,
        pacer: Pacer,
        retry: RetryPolicy,
        on_credentials_refreshed: Callable[[Credentials], None] | None = None,
    ) -> None:
        self.credentials = credentials
        self.transports = transports
        self.pacer = pacer
        self.retry = retry
        self._on_refreshed = on_credentials_refreshed
        self._cred_lock = threading.Lock()
        self._last_token = credentials.token
        self._save_failed_warned = False

    def state(self) -> ThreadState:
        return self.transports.state()

    def call(self, make: RequestMaker, *, cost: float = 1.0, what: str = "Drive call") -> Any:
        """Run one request (built fresh per attempt by `make`) with retries and pacing."""

        def attempt() -> Any:
            try:
                self._ensure_token()
                return make(self.state())
            finally:
                self._note_refresh()

        return self.retry.call(attempt, pacer=self.pacer, cost=cost, translate=as_drive_error, what=what)

    def call_once(self, make: RequestMaker, *, what: str) -> Any:
        """One paced attempt, errors translated; the caller decides about retrying."""
        self.pacer.acquire(1.0)
        ok, limited = False, False
        try:
            self._ensure_token()
            result = make(self.state())
            ok = True
            return result
        except Exception as raw:  # noqa: BLE001
            exc = as_drive_error(raw)
            limited = is_rate_limited(exc)
            if exc is raw:
                raise
            raise exc from raw
        finally:
            self.pacer.report(ok=ok, rate_limited=limited)
            self._note_refresh()

    def _ensure_token(self) -> None:
        """Refresh an expired token once, under a lock, instead of in every thread at once."""
        if self.credentials.valid:
            return
        with self._cred_lock:
            if not self.credentials.valid:
                self.credentials.refresh(self.transports.auth_request())

    def _note_refresh(self) -> None:
        """Write a refreshed token back (best effort: a read-only Secret must not stop a push)."""
        token = self.credentials.token
        if token == self._last_token:
            return
        with self._cred_lock:
            if token == self._last_token:
                return
            self._last_token = token
            if self._on_refreshed is None:
                return
            try:
                self._on_refreshed(self.credentials)
            except Exception as exc:  # noqa: BLE001
                if not self._save_failed_warned:
                    self._save_failed_warned = True
                    log.warning("could not save the refreshed Google token (%s: %s); continuing with it in memory",
                                type(exc).__name__, getattr(exc, "strerror", None) or "error")
