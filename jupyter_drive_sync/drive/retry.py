"""The one retry policy for Drive calls.

google-api-python-client retries with an uncapped `random() * 2**n`, never reads Retry-After,
and re-sends exhausted bodies on resumable chunks (reference/drive-api-v3.md, trap 2). So the
client always runs with `num_retries=0` and every retry decision is made here, in one place,
where the pacer also learns about rate limits. What counts as retryable is decided in
`errors.py`; this module only decides when and how often.
"""

from __future__ import annotations

import logging
import random as _random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Protocol, TypeVar

from .errors import DriveApiError, is_rate_limited, is_retryable, is_transport_error

if TYPE_CHECKING:
    from .pacing import Pacer

__all__ = ["Admission", "RetryPolicy"]

log = logging.getLogger(__name__)

T = TypeVar("T")


class Admission(Protocol):
    """One attempt's place with the pacers: taken before the request, given back after it.

    `end` learns how the attempt went (None: it succeeded) and returns the error to classify,
    which it may replace (the client's write admission turns persistent upload refusals into
    DailyCapReached).
    """

    def begin(self) -> None: ...

    def end(self, error: BaseException | None) -> BaseException | None: ...


class _PacerAdmission:
    """A place in one request pacer, told whether the attempt was rate-limited."""

    def __init__(self, pacer: "Pacer", cost: float) -> None:
        self.pacer = pacer
        self.cost = cost

    def begin(self) -> None:
        self.pacer.acquire(self.cost)

    def end(self, error: BaseException | None) -> BaseException | None:
        self.pacer.report(ok=error is None, rate_limited=error is not None and is_rate_limited(error))
        return error


@dataclass
class RetryPolicy:
    """Exponential backoff with full jitter, capped, honouring Retry-After, bounded tries.

    Delay before retry n (n = 1, 2, ...): `random() * min(cap, base * 2**(n-1))`; when the
    answer carried Retry-After, at least that long (bounded by `max_retry_after`).
    """

    max_tries: int = 8
    base: float = 1.0
    cap: float = 32.0
    max_retry_after: float = 300.0
    sleep: Callable[[float], None] = time.sleep
    random: Callable[[], float] = _random.random

    def delay(self, retry_number: int, exc: BaseException | None = None) -> float:
        """Seconds to wait before retry `retry_number` (1-based) after `exc`."""
        ceiling = min(self.cap, self.base * (2 ** max(0, retry_number - 1)))
        wait = self.random() * ceiling
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            wait = max(wait, min(float(retry_after), self.max_retry_after))
        return wait

    def call(
        self,
        fn: Callable[[], T],
        *,
        pacer: "Pacer | None" = None,
        cost: float = 1.0,
        translate: Callable[[BaseException], BaseException] | None = None,
        what: str = "Drive call",
        admit: Callable[[], Admission] | None = None,
    ) -> T:
        """Run `fn` (one HTTP request) until it succeeds, fails for good, or tries run out.

        `translate` maps library exceptions to DriveApiError (the client passes
        `errors.as_drive_error`); what it returns is what gets classified and, in the end, raised.
        Each attempt takes its place with `admit()` (the client's pacers), else with `pacer`.
        """
        attempt = 0
        while True:
            attempt += 1
            admission = admit() if admit is not None else _PacerAdmission(pacer, cost) if pacer is not None else None
            if admission is not None:
                admission.begin()
            ended = admission is None
            try:
                result = fn()
            except Exception as raw:  # noqa: BLE001 - classified below, re-raised if not retryable
                exc = translate(raw) if translate is not None else raw
                if admission is not None:
                    ended = True
                    exc = admission.end(exc) or exc
                if not is_retryable(exc) or attempt >= self.max_tries:
                    if is_transport_error(exc):  # out of tries: say so plainly (and as a SyncError)
                        raise DriveApiError(0, "networkError", f"Google Drive could not be reached after "
                                            f"{attempt} tries ({_describe(exc)})", retryable=True) from raw
                    if exc is raw:
                        raise
                    raise exc from raw
            else:
                if admission is not None:
                    ended = True
                    admission.end(None)
                return result
            finally:
                if not ended:  # interrupted (KeyboardInterrupt...): the place is still given back
                    admission.end(RuntimeError("interrupted"))  # type: ignore[union-attr]
            wait = self.delay(attempt, exc)
            log.info("%s failed (%s); retry %d/%d in %.1fs", what, _describe(exc), attempt,
                     self.max_tries - 1, wait)
            self.sleep(wait)


def _describe(exc: BaseException) -> str:
    # Never the response body or headers: error bodies may echo request details.
    if isinstance(exc, DriveApiError):
        return f"{exc.status} {exc.reason}"
    return type(exc).__name__
