"""What a push or a restore reports while it runs: progress events and the per-path skipped
and failed lists (the terminal's progress bar draws the events: cli/output.py).

Both runs share it so that the CLI bar, the server's job API (jobs.py reads ProgressEvent's
fields) and the summaries' `skipped`/`failed` entries look the same whichever way data moves.

While a push uploads or a restore downloads, its events also carry the measured rates, an ETA
and the kind of the current item, computed here once for both (`RunProgress._rated`). Under
Google's write limit a push is bound by writes (each file needs at least one) or by bytes,
whichever is slower: the ETA is the larger of (writes left ÷ the write pacer's current rate)
and (bytes left ÷ the measured byte rate), see `eta_seconds`. A restore only reads, so no
pacer rate applies: files left ÷ the measured file rate stands in for the writes bound.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

from ..home.scan import display_path

log = logging.getLogger(__name__)


@dataclass
class ProgressEvent:
    phase: str  # push: "scanning" | "planning" | "uploading" | "done"; restore: "listing" | "downloading" | "done"
    files_done: int = 0
    files_total: int = 0
    bytes_done: int = 0
    bytes_total: int = 0
    current_path: str | None = None
    errors: list[dict] = field(default_factory=list)
    # filled while uploading or downloading (None until measured): rates over the last RATE_WINDOW seconds,
    # the seconds left (see eta_seconds), and what kind of item is going up now (plan_order.KINDS:
    # "notebooks" | "code and text" | "data and media" | "folders")
    files_per_second: float | None = None
    bytes_per_second: float | None = None
    eta_seconds: float | None = None
    current_kind: str | None = None
    # a time budget (PushOptions.deadline) ended the run with work left for the next one: files,
    # but also renames and trashes, which `files_total` does not count
    cut_short: bool = False


ProgressCallback = Callable[[ProgressEvent], None]

RATED_PHASES = ("uploading", "downloading")  # the phases whose events carry rates and an ETA
RATE_WINDOW = 20.0  # seconds of history the measured rates average over
MIN_MEASURED = 1.0  # seconds of history needed before a rate is reported


SATURATED = 0.8  # files go out at this share of the write rate or more: the writes are the bound


def eta_seconds(writes_left: int, bytes_left: int, *, write_rate: float | None,
                bytes_per_second: float | None, files_per_second: float | None = None) -> float | None:
    """Seconds until a run is done, by whichever bound is slower: the writes left at the write
    rate (the account's ~3/s limit binds small files) or the bytes left at the measured byte
    rate (large ones). 0 when nothing is left; None while a needed rate is unknown.

    While files go out as fast as the write rate lets them (`files_per_second` at SATURATED of
    it or more), the measured byte rate is the writes' pace times the files' sizes, not what the
    network carries: dividing a dataset still to come by it would promise hours for minutes, so
    only the writes bound counts until bytes are what holds the files back."""
    writes_left, bytes_left = max(0, writes_left), max(0, bytes_left)
    if not writes_left and not bytes_left:
        return 0.0
    write_bound = bool(write_rate and files_per_second and files_per_second >= SATURATED * write_rate)
    bounds: list[float] = []
    for left, rate in ((writes_left, write_rate), (0 if write_bound else bytes_left, bytes_per_second)):
        if left:
            if not rate or rate <= 0:
                return None  # an unmeasured bound could be the one that binds
            bounds.append(left / rate)
    return round(max(bounds), 1)


class RateMeter:
    """Files and bytes per second over the last `window` seconds of (time, files, bytes) samples."""

    def __init__(self, window: float = RATE_WINDOW, min_span: float = MIN_MEASURED) -> None:
        self.window = window
        self.min_span = min_span
        self._samples: deque[tuple[float, int, int]] = deque()

    def add(self, now: float, files: int, bytes_: int) -> tuple[float | None, float | None]:
        """Record a sample; the (files/s, bytes/s) since the oldest sample within the window."""
        s = self._samples
        s.append((now, files, bytes_))
        while len(s) > 2 and s[1][0] <= now - self.window:  # keep one sample at the window's edge
            s.popleft()
        t0, f0, b0 = s[0]
        span = now - t0
        if span < self.min_span:
            return None, None
        return round(max(0, files - f0) / span, 2), round(max(0, bytes_ - b0) / span, 1)


class RunProgress:
    """A run's counters and per-path reports, safe to update from its worker threads.

    `summary` is the run's summary dataclass; only its `skipped` and `failed` lists are used here.
    """

    EMIT_INTERVAL = 0.05  # seconds between unforced events (a busy pool would flood the callback)

    def __init__(self, summary: Any, progress: ProgressCallback | None) -> None:
        self.summary = summary
        self._progress_cb = progress
        self._lock = threading.Lock()
        self._last_emit = 0.0
        self.files_done = 0
        self.files_total = 0
        self.bytes_done = 0
        self.bytes_total = 0
        self.cut_short = False  # set by the executor when the time budget left work undone
        self._meter = RateMeter()

    # -- what a run adds to its events (the push overrides these) -------------------------------

    def write_rate_now(self) -> float | None:
        """The rate writes can go out at now (the push: its write pacer's); None: unpaced (the
        measured file rate is used instead: a restore, a push without a pacer)."""
        return None

    def writes_left(self) -> int:
        """Items still to do: a push's writes (at least one per file not yet confirmed), a
        restore's downloads."""
        return max(0, self.files_total - self.files_done)

    def kind_of(self, path: str | None) -> str | None:
        """What kind of item `path` is (plan_order.KINDS), if the run knows."""
        return None

    def _rated(self, ev: ProgressEvent, now: float) -> None:
        """Fill `ev`'s rates, ETA and kind (called under the lock)."""
        fps, bps = self._meter.add(now, self.files_done, self.bytes_done)
        ev.files_per_second, ev.bytes_per_second = fps, bps
        write_rate = self.write_rate_now()
        ev.eta_seconds = eta_seconds(self.writes_left(), self.bytes_total - self.bytes_done,
                                     write_rate=write_rate if write_rate else fps, bytes_per_second=bps,
                                     files_per_second=fps if write_rate else None)
        ev.current_kind = self.kind_of(ev.current_path)

    def emit(self, phase: str, current: str | None = None, *, force: bool = True) -> None:
        """Send a progress event; unforced ones are dropped when the last one was very recent."""
        if self._progress_cb is None:
            return
        now = time.monotonic()
        with self._lock:
            if not force and now - self._last_emit < self.EMIT_INTERVAL:
                return
            self._last_emit = now
            ev = ProgressEvent(phase, self.files_done, self.files_total, self.bytes_done, self.bytes_total,
                               current, [dict(e) for e in self.summary.failed], cut_short=self.cut_short)
            if phase in RATED_PHASES:
                self._rated(ev, now)
        try:
            self._progress_cb(ev)
        except Exception:  # noqa: BLE001 - a broken progress display must not stop the run
            log.exception("progress callback failed")

    def skip(self, path: str, reason: str) -> None:
        with self._lock:
            self.summary.skipped.append({"path": display_path(path), "reason": reason})

    def fail(self, path: str, error: str) -> None:
        with self._lock:
            self.summary.failed.append({"path": display_path(path), "error": error})

    def byte_counter(self, then: Callable[[], None] | None = None) -> Callable[[int], None]:
        """A transfer's progress callback (bytes so far of one file), added to `bytes_done`."""
        sent = [0]

        def progress(n: int) -> None:
            with self._lock:
                self.bytes_done += n - sent[0]
            sent[0] = n
            if then is not None:
                then()

        return progress
