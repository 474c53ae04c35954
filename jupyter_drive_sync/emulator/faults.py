"""Injected faults, Google's limits on calls (quotas, write rate) and request statistics.

These make the emulator useful as a test bed: faults exercise the client's retry and resume
paths deterministically (a seed replays the same sequence), the limits make pacing measurable
and as strict as Google's, and the stats let tests and benchmarks count requests, writes and
refusals instead of timing them.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from typing import Any, Iterable

from .settings import EmulatorSettings
from .wire import DriveError

# The kinds mixed at random by default; "hang-after-commit" is asked for by name (with `routes`).
RANDOM_KINDS: tuple[str, ...] = ("500", "503", "429", "403-rate", "reset", "lost-after-commit", "slow")
FAULT_KINDS: tuple[str, ...] = (*RANDOM_KINDS, "hang-after-commit")

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
    outcome, so the same seed and the same request sequence give the same faults. `routes`
    ("METHOD template", as the stats count them) limits faults to those calls: a test can
    leave a process hanging at a known kind of request ("hang-after-commit": the change is
    made, the answer held until faults are configured again) and kill it there.
    """

    def __init__(self, rate: float = 0.0, kinds: Iterable[str] | None = None, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self.slow_s = 0.5  # extra delay for the "slow" kind, longest hold of "hang-after-commit" (admin: slow_ms)
        self.generation = 0  # counts configurations: a new one releases held answers
        self.configure(rate, kinds, seed)

    def configure(
        self,
        rate: float,
        kinds: Iterable[str] | None = None,
        seed: int | None = None,
        slow_s: float | None = None,
        routes: Iterable[str] | None = None,
    ) -> None:
        kinds_t = tuple(kinds) if kinds else RANDOM_KINDS
        unknown = [k for k in kinds_t if k not in FAULT_KINDS]
        if unknown:
            raise ValueError(f"unknown fault kinds: {unknown}; known: {list(FAULT_KINDS)}")
        if not 0.0 <= float(rate) <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        with self._lock:
            self.rate = float(rate)
            self.kinds = kinds_t
            self.routes = frozenset(routes) if routes else None
            self.generation += 1
            self.seed = seed
            self._rng = random.Random(seed)
            self.injected: Counter[str] = Counter()
            if slow_s is not None:
                self.slow_s = float(slow_s)

    def pick(self, route: str | None = None) -> str | None:
        """The fault for the next request (`route`: "METHOD template"), or None."""
        with self._lock:
            if self.rate <= 0.0 or (self.routes is not None and route not in self.routes):
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
                "routes": sorted(self.routes) if self.routes is not None else None,
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


# Calls that change nothing although they are POSTs: watching for changes and stopping a watch.
_NOT_WRITES = ("/watch", "/channels/stop")
_PROJECT = ""  # the key of the project-wide bucket (one project: the emulator's)


def is_write_call(method: str, path: str) -> bool:
    """Does this Drive call write: create, update (metadata or content), delete, copy, empty trash?

    Google's write limit covers "write or insert requests" (Workspace admin help, "Drive best
    practices", quoted in rclone issue 7384); reads, `generateIds` (a GET that reserves IDs and
    stores nothing) and watches are not writes.
    """
    return method in ("POST", "PUT", "PATCH", "DELETE") and not path.endswith(_NOT_WRITES)


class _Buckets:
    """Token buckets by key, refilled continuously at `rate` per second up to `capacity`."""

    def __init__(self) -> None:
        self.rate = 0.0
        self.capacity = 0.0
        self._state: dict[str, tuple[float, float]] = {}  # key -> (tokens, when last refilled)

    def configure(self, rate: float, capacity: float) -> None:
        self.rate = max(0.0, float(rate))
        self.capacity = max(1.0, float(capacity))
        self._state.clear()

    def tokens(self, key: str, now: float) -> float:
        if self.rate <= 0.0:
            return float("inf")
        tokens, last = self._state.get(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + max(0.0, now - last) * self.rate)
        self._state[key] = (tokens, now)
        return tokens

    def take(self, key: str, n: float) -> None:
        if self.rate > 0.0:
            tokens, last = self._state[key]
            self._state[key] = (tokens - n, last)


class CallLimits:
    """What Google checks before it runs one API call (each call inside a batch is one call):
    the per-user and the per-project quota and, for writes, the per-account write rate.

    Quotas are buckets holding one second's worth of units (at least 1), so a client cannot burst
    a minute's quota at once: the quota behaves as the steady rate the project's sizing assumes
    (12,000/min = 200/s). One call costs one unit: Google's usage-limits page gives no per-method
    costs. The write bucket holds `write_burst` writes and refills at `write_rate` per second.
    A call refused by any limit takes nothing from the others. All buckets run on the emulator's
    clock, so `POST /_emulator/clock` refills them as real time would.
    """

    def __init__(self, settings: EmulatorSettings, stats: Stats) -> None:
        self._settings = settings
        self._stats = stats
        self._lock = threading.Lock()
        self._user = _Buckets()
        self._project = _Buckets()
        self._writes = _Buckets()
        self.reconfigure()

    def reconfigure(self) -> None:
        """Read the limits from the settings again (after the admin API changed them); buckets start full."""
        s = self._settings
        user_rate = max(0, int(s.quota_per_minute)) / 60.0
        project_rate = max(0, int(s.project_quota_per_minute)) / 60.0
        write_rate = max(0.0, float(s.write_rate))
        with self._lock:
            self._user.configure(user_rate, max(1.0, user_rate))
            self._project.configure(project_rate, max(1.0, project_rate))
            self._writes.configure(write_rate, s.write_burst if s.write_burst > 0 else max(1.0, write_rate))

    def admit(self, email: str, method: str, path: str, *, upload_chunk: bool = False) -> None:
        """Charge one call by `email` or raise Google's error for the first limit it is over.

        `upload_chunk`: a PUT into a resumable session, charged quota as before but not a write of
        its own (the write was the call that opened the session).
        """
        write = not upload_chunk and is_write_call(method, path)
        now = self._settings.clock.monotonic()
        refusal: tuple[str, DriveError] | None = None
        with self._lock:
            if self._user.tokens(email, now) < 1:
                refusal = ("user_quota", _user_quota_error())
            elif self._project.tokens(_PROJECT, now) < 1:
                refusal = ("project_quota", _project_quota_error())
            elif write and self._writes.tokens(email, now) < 1:
                refusal = ("write_rate", _write_rate_error())
            else:
                self._user.take(email, 1)
                self._project.take(_PROJECT, 1)
                if write:
                    self._writes.take(email, 1)
        if refusal is not None:
            self._stats.count_refused(refusal[0], write=write)
            raise refusal[1]
        self._stats.count_call(write=write)


def _user_quota_error() -> DriveError:
    # The per-user quota set in the Cloud console, as Drive words it (witness: tidyverse/googledrive
    # issue 380, a 403 with this message, domain usageLimits, reason userRateLimitExceeded).
    return DriveError(403, "userRateLimitExceeded", _USER_RATE_MESSAGE, domain="usageLimits")


def _project_quota_error() -> DriveError:
    # The project's quota: reference/drive-api-v3.md ("project rate | 403 | rateLimitExceeded"),
    # Google's handle-errors guide ("Rate Limit Exceeded") and odeke-em/drive issue 480
    # ("Error 403: Rate Limit Exceeded, rateLimitExceeded" for every user of one project).
    return DriveError(403, "rateLimitExceeded", "Rate Limit Exceeded", domain="usageLimits")


def _write_rate_error() -> DriveError:
    # Drive's backend write limit answers with the terse text of Google's handle-errors guide,
    # the same words as the daily upload cap (witness: ericberman/MyFlightbookWeb issue 843,
    # occasional uploads refused with exactly this body while well within the console quotas).
    return DriveError(403, "userRateLimitExceeded", "User rate limit exceeded.", domain="usageLimits")


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
            self._writes = 0
            self._refused_writes = 0
            self._refused: Counter[str] = Counter()

    def count_request(self, method: str, route: str) -> None:
        """Count one HTTP request; only Drive routes count towards `requests`."""
        with self._lock:
            self._by_route[f"{method.upper()} {route}"] += 1
            if route.startswith(DRIVE_PREFIXES):
                self._requests += 1

    def add_units(self, n: int = 1) -> None:
        with self._lock:
            self._units += n

    def count_call(self, *, write: bool) -> None:
        """One call admitted: one quota unit, and one write if it writes."""
        with self._lock:
            self._units += 1
            self._writes += int(write)

    def count_refused(self, limit: str, *, write: bool) -> None:
        """One call refused by a limit ("write_rate", "user_quota", "project_quota")."""
        with self._lock:
            self._refused[limit] += 1
            self._refused_writes += int(write)

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
                "writes": self._writes,
                "refused_writes": self._refused_writes,
                "refused": dict(self._refused),
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
