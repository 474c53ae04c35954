"""What a push or a restore reports while it runs: progress events, the per-path skipped and
failed lists, and the terminal progress bar.

Both runs share it so that the CLI bar, the server's job API (jobs.py reads ProgressEvent's
fields) and the summaries' `skipped`/`failed` entries look the same whichever way data moves.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

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


ProgressCallback = Callable[[ProgressEvent], None]


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
                               current, [dict(e) for e in self.summary.failed])
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


def terminal_progress(stream: Any, labels: Mapping[str, str]) -> ProgressCallback:
    """A one-line progress bar on `stream` (a terminal); `labels` name the phases that have no
    file counts yet (e.g. {"scanning": "scanning…"}), the others show files and bytes."""
    last = [0.0]

    def show(ev: ProgressEvent) -> None:
        now = time.monotonic()
        if ev.phase != "done" and now - last[0] < 0.1:
            return
        last[0] = now
        if ev.phase in labels:
            text = labels[ev.phase]
        else:
            pct = 100 * ev.bytes_done // ev.bytes_total if ev.bytes_total else 100
            text = f"{ev.files_done}/{ev.files_total} files, {pct}% of {ev.bytes_total} bytes"
        stream.write("\r\033[K" + text + ("\n" if ev.phase == "done" else ""))
        stream.flush()

    return show
