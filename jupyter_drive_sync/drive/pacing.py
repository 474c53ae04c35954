"""Pacing of Drive requests: one request pacer (rate and requests in flight) shared by every
worker thread, and every home in the hub job; and one write pacer per account.

The request pacer has two controls, both adaptive (AIMD, like TCP congestion control):

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

The write pacer (`WritePacer`) is the binding limit of a backup: Google allows about 3 sustained
writes per second per account, each call inside a batch included, and this cannot be raised.
Writes wait for it *before* they take a place in the request pacer, so a queue of writes never
holds the places that reads need.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Callable

# Google's documented per-user budget: 12,000 queries per 60 s = 200/s.
DEFAULT_RATE = 200.0
# Google Workspace admin help, "Drive best practices" (quoted in rclone issue 7384): "avoid
# exceeding 3 requests per second of sustained write or insert requests, per account. This rate
# limit can't be increased." rclone measured about 2-3 inserts/s and paces uploads for it.
DEFAULT_WRITE_RATE = 3.0
# Google publishes no burst. A small one: our bucket's spare room is what Drive's own bucket keeps
# in reserve while both refill at the same rate, and that reserve absorbs requests that arrive
# bunched (network jitter). It also caps how many writes one batch request may carry.
DEFAULT_WRITE_BURST = 3.0
MAX_BATCH_CALLS = 100  # Drive's limit on calls in one batch request


@dataclass(frozen=True)
class PacerSnapshot:
    """The pacer's state, for logs, tests and benchmarks."""

    rate: float
    concurrency_limit: int
    in_flight: int
    tokens: float
    cuts: int


class _TokenBucket:
    """The refill both pacers share: `burst` tokens at most, `_rate` more every second."""

    burst: float
    _rate: float
    _tokens: float
    _last_refill: float
    _clock: Callable[[], float]

    def _refill(self) -> None:
        now = self._clock()
        elapsed = now - self._last_refill
        if elapsed > 0:
            self._tokens = min(self.burst, self._tokens + elapsed * self._rate)
            self._last_refill = now


class Pacer(_TokenBucket):
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


@dataclass(frozen=True)
class WritePacerSnapshot:
    """The write pacer's state, for logs, tests and benchmarks."""

    rate: float
    tokens: float
    cuts: int


class WritePacer(_TokenBucket):
    """One account's write bucket: writes go out at `rate` per second after a burst of `burst`.

    AIMD as the request pacer, with gentler steps: the ceiling is the account's real limit, so a
    refusal means requests arrived bunched more often than a rate set too high. A refusal drops
    the saved-up tokens (Drive's bucket is empty: a burst now would be refused too) and cuts the
    rate by `decrease`; steady admissions bring it back to the ceiling in about `recovery` seconds.
    Never above the ceiling: Google's write limit cannot be raised, so probing above it only
    collects refusals. `rate <= 0` turns pacing off (an emulator without a write limit).
    """

    def __init__(
        self,
        rate: float = DEFAULT_WRITE_RATE,
        *,
        burst: float | None = None,
        min_rate: float = 0.2,
        decrease: float = 0.7,
        recovery: float = 5.0,
        cooldown: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not 0 < decrease < 1:
            raise ValueError("decrease must be between 0 and 1")
        self.max_rate = max(0.0, float(rate))
        self.enabled = self.max_rate > 0
        self.min_rate = min(float(min_rate), self.max_rate)
        self.burst = max(1.0, float(burst if burst is not None else min(DEFAULT_WRITE_BURST, max(1.0, self.max_rate))))
        self._decrease = decrease
        # per second of admissions at the ceiling, the rate regains (1 - decrease) / recovery of it
        self._rate_increase = self.max_rate * (1 - decrease) / max(recovery, 1e-3)
        self._cooldown = cooldown
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._rate = self.max_rate
        self._tokens = self.burst
        self._last_refill = clock()
        self._last_cut = -math.inf
        self._cuts = 0

    @property
    def batch_limit(self) -> int:
        """Most writes one batch request may carry: no more than the bucket lets out at once
        (Drive charges each call inside a batch as one write, all arriving together)."""
        return max(1, int(self.burst)) if self.enabled else MAX_BATCH_CALLS

    def acquire(self, writes: int = 1) -> None:
        """Block until `writes` write calls may go out (tokens may go into debt, as in Pacer)."""
        if not self.enabled or writes <= 0:
            return
        with self._lock:
            self._refill()
            self._tokens -= writes
            wait = -self._tokens / self._rate if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)

    def admitted(self, writes: int = 1) -> None:
        """Drive took `writes` write calls: grow back towards the ceiling."""
        if not self.enabled or writes <= 0:
            return
        with self._lock:
            if self._rate < self.max_rate:
                self._refill()
                self._rate = min(self.max_rate, self._rate + writes * self._rate_increase / self._rate)

    def refused(self) -> None:
        """Drive refused a write for rate: slow down (once per `cooldown`) and empty the bucket."""
        if not self.enabled:
            return
        with self._lock:
            now = self._clock()
            self._refill()
            self._tokens = min(self._tokens, 0.0)
            if now - self._last_cut < self._cooldown:
                return  # the same bunch of arrivals, already answered
            self._last_cut = now
            self._cuts += 1
            self._rate = max(self.min_rate, self._rate * self._decrease)

    @property
    def rate(self) -> float:
        with self._lock:
            return self._rate

    @property
    def sustained_rate(self) -> float | None:
        """Writes per second this pacer lets out now (after its cuts); None when unpaced.
        What a push's ETA divides the writes left by."""
        return self.rate if self.enabled else None

    def snapshot(self) -> WritePacerSnapshot:
        with self._lock:
            if self.enabled:
                self._refill()
            return WritePacerSnapshot(self._rate, self._tokens, self._cuts)
