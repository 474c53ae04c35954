"""Pacing for a night of many homes: each student's own request pacer under one project bucket.

Google meters a Cloud project twice: per user (each student's account) and for the whole
project (every student of the hub together, the single-user servers included). Sharing one
pacer for everything, as the hub job once did, let one student's refusals slow every other
student. Here each home's requests pass its own pacer (the per-user quota) and then the
project's (the admin's project quota); each account's writes have their own write pacer in
the Drive client (about 3/s, Google's per-account limit).

A refusal for rate does not say which limit it hit in a form the pacer sees, so a cut of the
project bucket needs a second witness: rate refusals from at least two homes within `window`
seconds (or from the only home running). A project limit shows up in everyone's answers at
once; a user limit in one student's only.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

from ..core.options import RequestPacer

# What a project may spend, in quota units per minute: the unit of the Cloud console's Drive API
# quotas page (Drive API usage limits, developers.google.com/workspace/drive/api/guides/limits):
# 12,000 queries (one call, one unit) for projects that used the Drive API before 2026, 1,000,000
# units for newer ones. We charge one unit per call, the older scheme's rule; Google publishes no
# per-method costs for the newer one, so a new project's figure is an upper bound.
DEFAULT_PROJECT_QUOTA_PER_MINUTE = 12_000
# The per-user figure of the same page: 12,000 (older projects) or 325,000 units per minute.
DEFAULT_USER_QUOTA_PER_MINUTE = 12_000


class ProjectBucket:
    """The project-wide pacer and the bookkeeping that decides when a refusal was the project's."""

    def __init__(self, pacer: RequestPacer, *, window: float = 2.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.pacer = pacer
        self._window = window
        self._clock = clock
        self._lock = threading.Lock()
        self._active = 0
        self._refusals: dict[int, float] = {}  # home pacer id → time of its last rate refusal

    def home_pacer(self, user_pacer: RequestPacer) -> "HomePacer":
        return HomePacer(self, user_pacer)

    def opened(self) -> None:
        with self._lock:
            self._active += 1

    def closed(self, home: "HomePacer") -> None:
        with self._lock:
            self._active = max(0, self._active - 1)
            self._refusals.pop(id(home), None)

    def project_refusal(self, home: "HomePacer") -> bool:
        """Note a rate refusal seen by `home`; True when it looks like the project's limit."""
        now = self._clock()
        with self._lock:
            self._refusals[id(home)] = now
            for key, when in list(self._refusals.items()):
                if now - when > self._window:
                    del self._refusals[key]
            return len(self._refusals) >= min(2, max(1, self._active))


class HomePacer:
    """One home's pacer (a `RequestPacer`): its own per-user pacer first, then the project's."""

    def __init__(self, bucket: ProjectBucket, user_pacer: RequestPacer) -> None:
        self._bucket = bucket
        self._user = user_pacer
        self._open = False

    def __enter__(self) -> "HomePacer":
        self._bucket.opened()
        self._open = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self._open:
            self._open = False
            self._bucket.closed(self)

    def acquire(self, cost: float = 1.0) -> None:
        self._user.acquire(cost)  # always in this order (user, then project): no waiting in a cycle
        try:
            self._bucket.pacer.acquire(cost)
        except BaseException:
            self._user.report(ok=False)
            raise

    def report(self, ok: bool, rate_limited: bool = False) -> None:
        self._user.report(ok, rate_limited)
        self._bucket.pacer.report(ok, rate_limited and self._bucket.project_refusal(self))

    def throttled(self) -> None:
        self._user.throttled()
        if self._bucket.project_refusal(self):
            self._bucket.pacer.throttled()
