"""The errors a Drive caller can act on, and how an HTTP answer or a library exception becomes one.

Every decision about an answer (give up, retry, slow down, end the run and tell the user why)
starts from the DriveApiError built here, so the retry policy, the batch engine and the upload
loop all classify an answer the same way.
"""

from __future__ import annotations

import email.utils
import errno
import http.client
import json
import socket
import threading
import time
from typing import Callable, Mapping

import httplib2
from google.auth.exceptions import RefreshError
from googleapiclient.errors import HttpError

from ..core.errors import DriveRefused, NotConnected, SyncError

__all__ = [
    "DriveApiError",
    "NeedsReauth",
    "StorageFull",
    "DailyCapReached",
    "DailyCapWatch",
    "NotFound",
    "RUN_ENDING",
    "is_daily_cap",
    "maybe_daily_cap",
    "parse_retry_after",
    "error_from_response",
    "error_from_refresh",
    "as_drive_error",
    "is_transport_error",
    "is_retryable",
    "is_rate_limited",
]

RATE_LIMIT_REASONS = frozenset({"userRateLimitExceeded", "rateLimitExceeded"})
_TRANSIENT_ERRNOS = frozenset(
    {errno.ETIMEDOUT, errno.EPIPE, errno.ECONNABORTED, errno.ECONNREFUSED, errno.ECONNRESET,
     errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL}
)
_DAILY_CAP_REASONS = frozenset({"uploadLimitExceeded", "dailyLimitExceeded", "dailyUploadLimitExceeded"})


class DriveApiError(SyncError):
    """A Drive call failed for good (or is about to be retried): HTTP status, errors[0].reason, message.

    A SyncError (exit status 1) so that a run that cannot go on (Drive down after every retry,
    a wrong --api-root) ends with one clear line, not a traceback; per-file ones are caught
    before that and go in the summary.
    """

    def __init__(
        self,
        status: int,
        reason: str,
        message: str,
        *,
        domain: str = "",
        retry_after: float | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message
        self.domain = domain
        self.retry_after = retry_after
        self._retryable = retryable

    @property
    def rate_limited(self) -> bool:
        """Drive asked us to slow down (the pacer cuts its rate on these)."""
        return self.status == 429 or (self.status == 403 and self.reason in RATE_LIMIT_REASONS)

    @property
    def retryable(self) -> bool:
        if self._retryable is not None:
            return self._retryable
        return self.status >= 500 or self.rate_limited

    @property
    def maybe_daily_cap(self) -> bool:
        """Drive's words fit both its per-account write rate and its daily upload cap (see
        `maybe_daily_cap()`): retried as a rate limit; a `DailyCapWatch` tells which it was."""
        return maybe_daily_cap(self.status, self.reason, self.message)

    def __str__(self) -> str:
        return f"{self.status} {self.reason}: {self.message}" if self.status else f"{self.reason}: {self.message}"


class NeedsReauth(DriveApiError, NotConnected):
    """The refresh token was revoked or expired (invalid_grant): the user must reconnect."""


class StorageFull(DriveApiError, DriveRefused):
    """The user's Drive is full (storageQuotaExceeded); retrying cannot help."""

    error_kind = "drive_full"  # the word the server's job API reports (jobs.error_kind)

    def __str__(self) -> str:  # what the student reads: what happened, and what to do
        return (f"Google Drive is full ({DriveApiError.__str__(self)}). Free space in Google Drive "
                "or add storage, then push again; what was backed up so far is kept.")


class DailyCapReached(DriveApiError, DriveRefused):
    """The 750 GB/day upload cap: unlike per-minute rate limits, it lasts for hours.

    Raised at once when Drive names the cap (a reason or words of its own); when Drive uses the
    write rate's words instead, only once a `DailyCapWatch` has seen the refusals persist.
    """

    error_kind = "upload_cap"

    def __str__(self) -> str:  # Google's own words ("User rate limit exceeded.") sound transient
        return (f"Google Drive's daily upload limit was reached ({DriveApiError.__str__(self)}). "
                "Uploads are refused until tomorrow; the next push continues where this one stopped.")

    @property
    def rate_limited(self) -> bool:  # slowing down does not help: stop
        return False

    @property
    def retryable(self) -> bool:
        return False

    @property
    def maybe_daily_cap(self) -> bool:  # no doubt left
        return False

    @classmethod
    def from_error(cls, err: DriveApiError) -> "DailyCapReached":
        return cls(err.status, err.reason, err.message, domain=err.domain, retry_after=err.retry_after)


class NotFound(DriveApiError):
    """404: the file does not exist, or this app may not see it (drive.file scope)."""


# What ends a whole run rather than one file: raised through batches and uploads, never collected.
RUN_ENDING: tuple[type[DriveApiError], ...] = (NeedsReauth, StorageFull, DailyCapReached)


class DailyCapWatch:
    """Tells Drive's daily upload cap from its per-account write rate when Drive words both alike.

    Two signals besides the words: *what was refused* — the cap refuses content uploads only,
    the write rate refuses every write, so a folder create or a metadata update refused with
    the same words means the rate is in force —, and *persistence* — the write rate refills
    its bucket within a fraction of a second (3 writes/s), the cap refuses for the rest of the day.

    A streak is a run of such refusals of uploads, with no upload taken and no other write refused
    alike in between. From the streak's second refusal, uploads go one at a time: one thread
    probes after each pause of `probe_delays` (seconds of the client's sleep), the others wait,
    since they would only collect refusals. An upload taken ends the streak (it was the rate);
    when the last probe is refused too, it is the cap: DailyCapReached, for that upload and,
    without a request, for every later one of this client (the cap lasts until tomorrow).
    With the defaults: 4 refused uploads over at least 4 s of pauses.
    """

    def __init__(self, probe_delays: tuple[float, ...] = (1.0, 3.0),
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if not probe_delays:
            raise ValueError("at least one probe is needed to tell the cap from the rate")
        self.probe_delays = probe_delays
        self._sleep = sleep
        self._cond = threading.Condition()
        self._streak = 0
        self._probes_refused = 0
        self._prober: int | None = None  # the thread holding the probe, if any
        self._cap: DailyCapReached | None = None

    @property
    def reached(self) -> bool:
        with self._cond:
            return self._cap is not None

    def before_upload(self) -> None:
        """Wait for this upload's turn; DailyCapReached once the cap is known (nothing is sent)."""
        with self._cond:
            while True:
                if self._cap is not None:
                    raise self._cap
                if self._streak < 2:
                    return  # no doubt yet: everyone uploads
                if self._prober is None:
                    break
                self._cond.wait()
            self._prober = threading.get_ident()
            delay = self.probe_delays[min(self._probes_refused, len(self.probe_delays) - 1)]
        self._sleep(delay)

    def after_upload(self, error: BaseException | None) -> BaseException | None:
        """How the upload went (None: taken); returns the error to go on with (maybe DailyCapReached)."""
        with self._cond:
            probing = self._prober == threading.get_ident()
            if probing:
                self._prober = None
            if error is None:
                self._streak = self._probes_refused = 0
            elif isinstance(error, DriveApiError) and error.maybe_daily_cap:
                self._streak += 1
                self._probes_refused += int(probing)
                if self._cap is None and self._probes_refused >= len(self.probe_delays):
                    self._cap = DailyCapReached.from_error(error)
            self._cond.notify_all()
            return self._cap if self._cap is not None and error is not None else error

    def write_refused(self) -> None:
        """A write that uploads nothing was refused in the same words: the write rate is in force."""
        with self._cond:
            if self._cap is None:
                self._streak = self._probes_refused = 0
                self._cond.notify_all()


# -- classification --------------------------------------------------------------------------


def is_daily_cap(status: int, reason: str, message: str, domain: str = "") -> bool:
    """Whether Drive *names* the daily upload cap: a dedicated reason, or words about a daily or
    upload limit. Taken at its word, at once.

    Drive's usual answer at the cap is only the terse 403 userRateLimitExceeded "User rate limit
    exceeded." (reference/drive-api-v3.md; rclone's --drive-stop-on-upload-limit matches exactly
    that text and warns it relies on strings Google does not document). Its per-account write
    limit answers with the same reason and the same words (the emulator, after Google's
    handle-errors guide), so that text alone decides nothing: see `maybe_daily_cap` and
    `DailyCapWatch`.
    """
    if status != 403:
        return False
    if reason in _DAILY_CAP_REASONS:
        return True
    if reason != "userRateLimitExceeded":
        return False
    text = message.strip().lower()
    return "daily" in text or "upload limit" in text or "dailylimit" in domain.lower()


def maybe_daily_cap(status: int, reason: str, message: str) -> bool:
    """A 403 userRateLimitExceeded that could be the daily upload cap or the per-account write rate.

    Only the per-minute quota says which limit it is ("Rate of requests for user exceed configured
    project quota", Google's handle-errors guide): anything else under this reason may be either.
    """
    return status == 403 and reason == "userRateLimitExceeded" and "quota" not in message.lower()


def parse_retry_after(value: str | None, *, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date; None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - now())


def error_from_response(status: int, headers: Mapping[str, str] | None, content: bytes | str | None) -> DriveApiError:
    """Build the right DriveApiError subclass from an HTTP error answer (Google's JSON envelope)."""
    text = content.decode("utf-8", "replace") if isinstance(content, bytes) else (content or "")
    reason, message, domain = "", "", ""
    try:
        doc = json.loads(text) if text else {}
    except ValueError:
        doc = {}
    err = doc.get("error") if isinstance(doc, dict) else None
    if isinstance(err, dict):
        message = str(err.get("message") or "")
        items = err.get("errors") or []
        if items and isinstance(items[0], dict):
            reason = str(items[0].get("reason") or "")
            domain = str(items[0].get("domain") or "")
            message = message or str(items[0].get("message") or "")
        reason = reason or str(err.get("status") or "")
    elif isinstance(err, str):  # OAuth-style {"error": "invalid_grant", ...}
        reason = err
        message = str(doc.get("error_description") or "")
    if not message:
        message = text[:200] or http.client.responses.get(status, "error")
    retry_after = None
    if headers is not None:
        lowered = {str(k).lower(): v for k, v in dict(headers).items()}
        retry_after = parse_retry_after(lowered.get("retry-after"))

    kwargs = dict(domain=domain, retry_after=retry_after)
    if status == 404:
        return NotFound(status, reason or "notFound", message, **kwargs)
    if status == 401 or reason == "invalid_grant":
        return NeedsReauth(status, reason or "authError", message, **kwargs)
    if status == 403 and reason == "storageQuotaExceeded":
        return StorageFull(status, reason, message, **kwargs)
    if is_daily_cap(status, reason, message, domain):
        return DailyCapReached(status, reason, message, **kwargs)
    return DriveApiError(status, reason, message, **kwargs)


def error_from_refresh(exc: Exception) -> DriveApiError:
    """A google-auth RefreshError: invalid_grant (revoked/expired) → NeedsReauth; transient → retryable."""
    if getattr(exc, "retryable", False):
        return DriveApiError(0, "tokenRefreshFailed", _refresh_message(exc), retryable=True)
    return NeedsReauth(0, "invalid_grant", "Google Drive access was revoked or has expired: reconnect Google Drive.")


def _refresh_message(exc: Exception) -> str:
    # RefreshError args may carry the token endpoint's response: keep only the first line.
    return str(exc.args[0] if exc.args else exc).splitlines()[0][:200]


def is_transport_error(exc: BaseException) -> bool:
    """Network trouble that says nothing about the request itself: safe to retry."""
    if isinstance(exc, (socket.timeout, TimeoutError, ConnectionError, http.client.HTTPException)):
        return True
    if isinstance(exc, httplib2.HttpLib2Error):
        return not isinstance(exc, httplib2.RedirectLimit)
    if isinstance(exc, OSError):
        return exc.errno in _TRANSIENT_ERRNOS
    # google.auth.exceptions.TransportError: the token endpoint was unreachable
    return type(exc).__name__ == "TransportError" and type(exc).__module__.startswith("google.auth")


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, DriveApiError):
        return exc.retryable
    return is_transport_error(exc)


def is_rate_limited(exc: BaseException) -> bool:
    return isinstance(exc, DriveApiError) and exc.rate_limited



def as_drive_error(exc: BaseException) -> BaseException:
    """A library exception as the DriveApiError it means (anything else unchanged).

    googleapiclient raises HttpError and google-auth raises RefreshError; past this point only
    DriveApiError (or transport errors, see `is_transport_error`) is classified.
    """
    if isinstance(exc, HttpError):
        return error_from_response(exc.resp.status, exc.resp, exc.content)
    if isinstance(exc, RefreshError):
        return error_from_refresh(exc)
    return exc
