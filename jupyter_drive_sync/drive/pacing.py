"""Pacing of Drive requests shared by every worker thread (and every home in the hub job).

Two controls, both adaptive (AIMD, like TCP congestion control):

- a token bucket limits the request *rate* (quota units per second);
- a permit count limits the requests *in flight* at once.

Drive answers overload with 403 userRateLimitExceeded / rateLimitExceeded or 429. On such an
answer both controls are cut by a factor (multiplicative decrease, at most once per
`cooldown` seconds, so a burst of rejections from one overload counts once); every success
raises them a little (additive increase) back towards the configured ceilings. Retrying alone
would hammer a throttled account; slowing everyone down together is what ends the throttling.

Usage, around each HTTP request::

    pacer.acquire(cost)          # blocks for a permit and for tokens
    try: ... request ...
    finally: pacer.report(ok, rate_limited)
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Callable

# Google's documented per-user budget: 12,000 queries per 60 s = 200/s.
DEFAULT_RATE = 200.0


@dataclass(frozen=True)
class PacerSnapshot:
    """The pacer's state, for logs, tests and benchmarks."""

    rate: float
    concurrency_limit: int
    in_flight: int
    tokens: float
    cuts: int


class Pacer:
    """Thread-safe token bucket plus adaptive concurrency limit."""

    def __init__(
        self,
        rate: float = DEFAULT_RATE,
        *,
        burst: float | None = None,
        max_concurrency: int = 64,
        min_rate: float = 1.0,
        decrease: float = 0.5,
        rate_increase: float | None = None,
        cooldown: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """`rate` and `max_concurrency` are ceilings: the pacer starts there and returns there.

        `rate_increase` is how much the rate grows per second of steady successes (each
        success adds rate_increase / rate); default 5 % of `rate`, so a halved rate is back
        at the ceiling after ~10 s without rejections.

        `burst` defaults to half a second's worth: Drive's own bucket holds about a second's,
        so at full speed the other half absorbs requests that arrive bunched (a burst as large
        as Drive's left no margin and drew an occasional 403 userRateLimitExceeded).
        """
        if rate <= 0 or max_concurrency < 1:
            raise ValueError("rate must be > 0 and max_concurrency >= 1")
        if not 0 < decrease < 1:
            raise ValueError("decrease must be between 0 and 1")
        self.max_rate = float(rate)
        self.min_rate = min(float(min_rate), self.max_rate)
        self.burst = float(burst if burst is not None else max(1.0, rate / 2))
        self.max_concurrency = max_concurrency
        self._decrease = decrease
        self._rate_increase = rate_increase if rate_increase is not None else 0.05 * self.max_rate
        self._cooldown = cooldown
        self._clock = clock
        self._sleep = sleep

        self._cond = threading.Condition()
        self._rate = self.max_rate
        self._tokens = self.burst
        self._last_refill = clock()
        self._limit = float(max_concurrency)
        self._in_flight = 0
        self._last_cut = -math.inf
        self._cuts = 0

    # -- the two calls around each request ---------------------------------------------------

    def acquire(self, cost: float = 1.0) -> None:
        """Block until a concurrency permit is free and `cost` tokens are paid for.

        Tokens may go into debt (a batch of 100 calls costs 100); the caller then sleeps
        until the debt would have been refilled, outside the lock.
        """
        with self._cond:
            while self._in_flight >= max(1, int(self._limit)):
                self._cond.wait()
            self._in_flight += 1
            self._refill()
            self._tokens -= cost
            wait = -self._tokens / self._rate if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)

    def report(self, ok: bool, rate_limited: bool = False) -> None:
        """Release the permit taken by `acquire` and adapt to how the request went."""
        with self._cond:
            self._in_flight = max(0, self._in_flight - 1)
            if rate_limited:
                self._cut()
            elif ok:
                self._grow()
            self._cond.notify_all()

    def throttled(self) -> None:
        """Drive rate-limited something inside a request that otherwise succeeded (a batch part)."""
        with self._cond:
            self._cut()
            self._cond.notify_all()

    # -- AIMD ------------------------------------------------------------------------------

    def _cut(self) -> None:
        now = self._clock()
        if now - self._last_cut < self._cooldown:
            return  # the same overload, already answered
        self._last_cut = now
        self._cuts += 1
        self._refill()
        self._rate = max(self.min_rate, self._rate * self._decrease)
        # Cut from what was really in use, else a high idle ceiling would make the cut a no-op.
        in_use = min(self._limit, float(self._in_flight + 1))
        self._limit = max(1.0, in_use * self._decrease)
        # Drop saved-up tokens: a burst right after being throttled is the wrong answer.
        self._tokens = min(self._tokens, 0.0)

    def _grow(self) -> None:
        if self._rate < self.max_rate:
            self._refill()
            self._rate = min(self.max_rate, self._rate + self._rate_increase / self._rate)
        if self._limit < self.max_concurrency:
            self._limit = min(float(self.max_concurrency), self._limit + 1.0 / self._limit)

    def _refill(self) -> None:
        now = self._clock()
        elapsed = now - self._last_refill
        if elapsed > 0:
            self._tokens = min(self.burst, self._tokens + elapsed * self._rate)
            self._last_refill = now

    # -- inspection ----------------------------------------------------------------------

    @property
    def rate(self) -> float:
        with self._cond:
            return self._rate

    @property
    def concurrency_limit(self) -> int:
        with self._cond:
            return max(1, int(self._limit))

    def snapshot(self) -> PacerSnapshot:
        with self._cond:
            self._refill()
            return PacerSnapshot(self._rate, max(1, int(self._limit)), self._in_flight, self._tokens, self._cuts)
