"""Injected faults, the per-user quota and request statistics.

These three make the emulator useful as a test bed: faults exercise the client's retry and
resume paths deterministically (a seed replays the same sequence), the quota makes pacing
measurable, and the stats let tests and benchmarks count requests instead of timing them.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from typing import Any, Iterable

from .wire import DriveError

FAULT_KINDS: tuple[str, ...] = ("500", "503", "429", "403-rate", "reset", "lost-after-commit", "slow")

# Fault kinds answered with an HTTP error envelope (the others act on the connection or on time).
_ERROR_FAULTS = {"500", "503", "429", "403-rate"}

_USER_RATE_MESSAGE = (
    "User Rate Limit Exceeded. Rate of requests for user exceed configured project quota. "
    "You may consider re-evaluating expected per-user traffic to the API and adjust project "
    "quota limits accordingly."
)


class FaultInjector:
    """Decides, request by request, whether to inject a fault.

    One `random.Random(seed)` drives every decision, two draws per request whatever the
    outcome, so the same seed and the same request sequence give the same faults.
    """

    def __init__(self, rate: float = 0.0, kinds: Iterable[str] | None = None, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self.slow_s = 0.5  # extra delay for the "slow" kind (admin: slow_ms)
        self.configure(rate, kinds, seed)

    def configure(
        self,
        rate: float,
        kinds: Iterable[str] | None = None,
        seed: int | None = None,
        slow_s: float | None = None,
    ) -> None:
        kinds_t = tuple(kinds) if kinds else FAULT_KINDS
        unknown = [k for k in kinds_t if k not in FAULT_KINDS]
        if unknown:
            raise ValueError(f"unknown fault kinds: {unknown}; known: {list(FAULT_KINDS)}")
        if not 0.0 <= float(rate) <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        with self._lock:
            self.rate = float(rate)
            self.kinds = kinds_t
            self.seed = seed
            self._rng = random.Random(seed)
            self.injected: Counter[str] = Counter()
            if slow_s is not None:
                self.slow_s = float(slow_s)

    def pick(self) -> str | None:
        """The fault for the next request, or None."""
        with self._lock:
            if self.rate <= 0.0:
                return None
            roll = self._rng.random()
            choice = self.kinds[int(self._rng.random() * len(self.kinds)) % len(self.kinds)]
            if roll >= self.rate:
                return None
            self.injected[choice] += 1
            return choice

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "rate": self.rate,
                "kinds": list(self.kinds),
                "seed": self.seed,
                "slow_ms": int(self.slow_s * 1000),
                "injected": dict(self.injected),
            }


def fault_error(kind: str) -> DriveError | None:
    """The Google error envelope an error-kind fault answers with (None for other kinds)."""
    if kind not in _ERROR_FAULTS:
        return None
    if kind == "500":
        return DriveError(500, "backendError", "Internal Error")
    if kind == "503":
        return DriveError(503, "backendError", "The service is currently unavailable.")
    if kind == "429":
        return DriveError(429, "rateLimitExceeded", "Rate Limit Exceeded", domain="usageLimits",
                          headers={"Retry-After": "1"})
    return DriveError(403, "userRateLimitExceeded", _USER_RATE_MESSAGE, domain="usageLimits")


class QuotaLimiter:
    """Per-user quota units, as a token bucket refilled at quota_per_minute / 60 per second.

    The bucket holds one second's worth of units (at least 1), so a client cannot burst a whole
    minute's quota at once: the quota behaves as the steady rate the project's sizing assumes
    (12,000/min = 200/s), which is how Google's limiter feels in practice.
    """

    def __init__(self, quota_per_minute: int = 0) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # email -> (tokens, last refill time)
        self.set_quota(quota_per_minute)

    def set_quota(self, quota_per_minute: int) -> None:
        with self._lock:
            self.quota_per_minute = max(0, int(quota_per_minute))
            self._rate = self.quota_per_minute / 60.0
            self._capacity = max(1.0, self._rate)
            self._buckets.clear()

    def charge(self, email: str, units: int = 1) -> None:
        """Take `units` from the user's bucket or raise 403 userRateLimitExceeded."""
        if self.quota_per_minute <= 0:
            return
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(email, (self._capacity, now))
            tokens = min(self._capacity, tokens + (now - last) * self._rate)
            if tokens < units:
                self._buckets[email] = (tokens, now)
                raise DriveError(403, "userRateLimitExceeded", _USER_RATE_MESSAGE, domain="usageLimits")
            self._buckets[email] = (tokens - units, now)


DRIVE_PREFIXES = ("/drive/", "/upload/", "/batch/")


class Stats:
    """Thread-safe request and quota-unit counters (admin `GET /_emulator/stats`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._requests = 0
            self._units = 0
            self._bytes_received = 0
            self._by_route: Counter[str] = Counter()

    def count_request(self, method: str, route: str) -> None:
        """Count one HTTP request; only Drive routes count towards `requests`."""
        with self._lock:
            self._by_route[f"{method.upper()} {route}"] += 1
            if route.startswith(DRIVE_PREFIXES):
                self._requests += 1

    def add_units(self, n: int = 1) -> None:
        with self._lock:
            self._units += n

    def add_bytes(self, n: int) -> None:
        """Upload body bytes received (lets tests bound how much a resumed upload re-sent)."""
        with self._lock:
            self._bytes_received += n

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": self._requests,
                "units": self._units,
                "bytes_received": self._bytes_received,
                "by_route": dict(self._by_route),
            }


# Collections whose next path segment is an identifier, and the placeholder it becomes.
_COLLECTIONS = {
    "files": "{fileId}",
    "revisions": "{revisionId}",
    "permissions": "{permissionId}",
    "comments": "{commentId}",
    "replies": "{replyId}",
    "drives": "{driveId}",
    "teamdrives": "{teamDriveId}",
    "accounts": "{email}",
    "apis": "{api}",
}
# Fixed segments that may follow a collection name and are not identifiers.
_LITERALS = {"generateIds", "trash", "startPageToken", "watch", "copy", "listLabels", "modifyLabels",
             "download", "export", "rest"}


def route_template(method: str, path: str) -> str:
    """`/drive/v3/files/abc/revisions/r1` -> `/drive/v3/files/{fileId}/revisions/{revisionId}`.

    `method` is accepted for symmetry with the stats key; templates do not depend on it.
    """
    del method
    segments = path.split("/")
    out: list[str] = []
    prev = ""
    for seg in segments:
        if prev in _COLLECTIONS and seg and seg not in _LITERALS:
            out.append(_COLLECTIONS[prev])
            prev = ""
            continue
        out.append(seg)
        prev = seg
    return "/".join(out)
