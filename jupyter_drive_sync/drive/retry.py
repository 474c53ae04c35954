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
from typing import TYPE_CHECKING, Callable, TypeVar

from .errors import DriveApiError, is_rate_limited, is_retryable, is_transport_error

if TYPE_CHECKING:
    from .pacing import Pacer

__all__ = ["RetryPolicy"]

log = logging.getLogger(__name__)

T = TypeVar("T")


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
    ) -> T:
        """Run `fn` (one HTTP request) until it succeeds, fails for good, or tries run out.

        `translate` maps library exceptions to DriveApiError (the client passes
        `errors.as_drive_error`); what it returns is what gets classified and, in the end, raised.
        """
        attempt = 0
        while True:
            attempt += 1
            if pacer is not None:
                pacer.acquire(cost)
            ok, limited = False, False
            try:
                result = fn()
                ok = True
            except Exception as raw:  # noqa: BLE001 - classified below, re-raised if not retryable
                exc = translate(raw) if translate is not None else raw
                limited = is_rate_limited(exc)
                if not is_retryable(exc) or attempt >= self.max_tries:
                    if is_transport_error(exc):  # out of tries: say so plainly (and as a SyncError)
                        raise DriveApiError(0, "networkError", f"Google Drive could not be reached after "
                                            f"{attempt} tries ({_describe(exc)})", retryable=True) from raw
                    if exc is raw:
                        raise
                    raise exc from raw
            finally:
                if pacer is not None:  # every acquire is released, whatever happened
                    pacer.report(ok=ok, rate_limited=limited)
            if ok:
                return result
            wait = self.delay(attempt, exc)
            log.info("%s failed (%s); retry %d/%d in %.1fs", what, _describe(exc), attempt,
                     self.max_tries - 1, wait)
            self.sleep(wait)


def _describe(exc: BaseException) -> str:
    # Never the response body or headers: error bodies may echo request details.
    if isinstance(exc, DriveApiError):
        return f"{exc.status} {exc.reason}"
    return type(exc).__name__
