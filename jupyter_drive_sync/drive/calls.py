"""Running one Drive request: a fresh token, a place in the pacers, retries, errors translated.

Every request goes through here with `num_retries=0` (the library's own retries are not used):
the pacer shared by all threads is acquired and told the outcome, an expired token is
refreshed once for all threads, and a refreshed token is handed back to whoever stores it.
Creates carry pre-generated IDs, so a retry after a lost answer meets `409 fileIdInUse`,
which the callers turn into a `get`: retrying never makes duplicates.

Writes (creates, updates, each call inside a batch) first wait for the account's write pacer,
and only then take a place in the request pacer, so writes queued behind Drive's write limit
never hold the places reads need. Drive's refusals of writes teach the write pacer, its other
rate limits the request pacer; uploads also go past the `DailyCapWatch`, which tells the daily
cap from the write rate. Every write sent and every write refused for rate is counted here.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from google.oauth2.credentials import Credentials

from .errors import DailyCapWatch, DriveApiError, as_drive_error, is_rate_limited
from .pacing import Pacer, WritePacer
from .retry import RetryPolicy
from .transport import ThreadState, ThreadTransports

__all__ = ["DriveCalls", "RequestMaker", "WriteStats"]

log = logging.getLogger(__name__)

RequestMaker = Callable[[ThreadState], Any]
"""Builds and sends one request with the calling thread's connection; called again per attempt."""


@dataclass(frozen=True)
class WriteStats:
    """Write calls sent (each call inside a batch and each retry counts) and those Drive refused for rate."""

    writes: int = 0
    refused_writes: int = 0


class DriveCalls:
    """The request runner shared by the client's reads, writes, batches and uploads.

    `pacer` and `retry` are plain attributes, read at each call, so a caller may swap the pacer
    (the hub shares one between homes) after construction. `write_pacer` is this account's own.
    """

    def __init__(
        self,
        credentials: Credentials,
        transports: ThreadTransports,
        *,
        pacer: Pacer,
        retry: RetryPolicy,
        write_pacer: WritePacer | None = None,
        on_credentials_refreshed: Callable[[Credentials], None] | None = None,
    ) -> None:
        self.credentials = credentials
        self.transports = transports
        self.pacer = pacer
        self.retry = retry
        self.write_pacer = write_pacer if write_pacer is not None else WritePacer(0)
        # its pauses are the retry policy's sleep (tests that make sleeping instant make it instant)
        self.cap_watch = DailyCapWatch(sleep=lambda seconds: self.retry.sleep(seconds))
        self._on_refreshed = on_credentials_refreshed
        self._cred_lock = threading.Lock()
        self._last_token = credentials.token
        self._save_failed_warned = False
        self._stats_lock = threading.Lock()
        self._writes = 0
        self._refused_writes = 0

    def state(self) -> ThreadState:
        return self.transports.state()

    @property
    def write_stats(self) -> WriteStats:
        with self._stats_lock:
            return WriteStats(self._writes, self._refused_writes)

    def call(self, make: RequestMaker, *, cost: float = 1.0, writes: int = 0, upload: bool = False,
             what: str = "Drive call") -> Any:
        """Run one request (built fresh per attempt by `make`) with retries and pacing.

        `writes`: how many write calls the request carries (a batch: one per part); `upload`:
        it sends file content (what the daily cap refuses).
        """

        def attempt() -> Any:
            try:
                self._ensure_token()
                return make(self.state())
            finally:
                self._note_refresh()

        return self.retry.call(attempt, admit=lambda: _Admission(self, cost, writes, upload),
                               translate=as_drive_error, what=what)

    def call_once(self, make: RequestMaker, *, what: str, writes: int = 0, upload: bool = False) -> Any:
        """One paced attempt, errors translated; the caller decides about retrying."""
        admission = _Admission(self, 1.0, writes, upload)
        admission.begin()
        try:
            self._ensure_token()
            result = make(self.state())
        except Exception as raw:  # noqa: BLE001
            translated = as_drive_error(raw)
            exc = admission.end(translated) or translated
            if exc is raw:
                raise
            raise exc from raw
        else:
            admission.end(None)
            return result
        finally:
            if not admission.ended:  # interrupted (KeyboardInterrupt...): the places are given back
                admission.end(RuntimeError("interrupted"))
            self._note_refresh()

    def parts_refused(self, errors: Iterable[DriveApiError], *, writes: bool) -> None:
        """Parts of a batch that went through were refused for rate: count them, slow down."""
        limited = [e for e in errors if is_rate_limited(e)]
        if not limited:
            return
        if writes:
            self.count_writes(refused=len(limited))
            self.write_pacer.refused()
            if any(e.maybe_daily_cap for e in limited):
                self.cap_watch.write_refused()  # batch parts upload nothing: the write rate it is
        if any(not (writes and e.maybe_daily_cap) for e in limited):
            self.pacer.throttled()

    def count_writes(self, *, sent: int = 0, refused: int = 0) -> None:
        with self._stats_lock:
            self._writes += sent
            self._refused_writes += refused

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


class _Admission:
    """One attempt's places: the write pacer (writes), then the request pacer; the daily-cap
    watch around uploads. `end` tells each what happened and counts writes refused for rate."""

    def __init__(self, calls: DriveCalls, cost: float, writes: int, upload: bool) -> None:
        self.calls = calls
        self.cost = cost
        self.writes = writes
        self.upload = upload
        self.ended = False
        self._pacer: Pacer | None = None

    def begin(self) -> None:
        c = self.calls
        if self.upload:
            c.cap_watch.before_upload()  # DailyCapReached once the cap is known: nothing is sent
        c.write_pacer.acquire(self.writes)  # before a place in the request pacer, never holding one
        self._pacer = c.pacer  # the one acquired is the one released, even if swapped meanwhile
        self._pacer.acquire(self.cost)
        c.count_writes(sent=self.writes)

    def end(self, error: BaseException | None) -> BaseException | None:
        if self.ended:
            return error
        self.ended = True
        c = self.calls
        limited = error is not None and is_rate_limited(error)
        write_limit = limited and bool(self.writes) and isinstance(error, DriveApiError) and error.maybe_daily_cap
        if self._pacer is not None:
            # Drive's write limit is the write pacer's business: a queue of writes must not slow reads.
            self._pacer.report(ok=error is None, rate_limited=limited and not write_limit)
        if error is None:
            c.write_pacer.admitted(self.writes)
        elif limited and self.writes:
            c.count_writes(refused=self.writes)
            c.write_pacer.refused()
            if write_limit and not self.upload:
                c.cap_watch.write_refused()
        if self.upload:
            error = c.cap_watch.after_upload(error)
        return error
