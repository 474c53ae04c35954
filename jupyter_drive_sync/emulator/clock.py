"""The emulator's one clock: wall time plus an offset that `POST /_emulator/clock` moves forward.

Everything on Google's side that expires or is purged with time (access and refresh tokens,
resumable sessions, old revisions) and the rate buckets read this clock instead of `time`,
so a test can jump a week ahead in one request instead of waiting for it.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path


class EmulatorClock:
    """`time()` and `monotonic()` shifted by one offset that only ever grows (Google's time does
    not run backwards). With a state file the offset survives a restart of a persistent emulator,
    so what expired stays expired."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset = 0.0
        self._state_file: Path | None = None

    def time(self) -> float:
        """Seconds since the epoch, as the emulator sees them (tokens, sessions, revisions)."""
        return time.time() + self._offset

    def monotonic(self) -> float:
        """A monotonic reading that also jumps with the offset (rate and quota buckets refill)."""
        return time.monotonic() + self._offset

    @property
    def offset(self) -> float:
        return self._offset

    def advance(self, seconds: float) -> float:
        """Move the clock forward by `seconds` (>= 0); returns the new `time()`."""
        seconds = float(seconds)
        if not seconds >= 0.0 or seconds == float("inf"):  # also refuses NaN
            raise ValueError("advance_seconds must be a finite number >= 0")
        with self._lock:
            self._offset += seconds
            self._persist()
        return self.time()

    def keep_in(self, state_file: Path) -> None:
        """Read the offset from `state_file` (if present) and write every later change there."""
        with self._lock:
            self._state_file = Path(state_file)
            try:
                saved = float(json.loads(self._state_file.read_text("utf-8"))["offset_seconds"])
            except (FileNotFoundError, ValueError, KeyError, TypeError):
                return
            self._offset = max(self._offset, saved)

    def _persist(self) -> None:
        if self._state_file is None:
            return
        tmp = self._state_file.with_name(f".{self._state_file.name}.tmp")
        tmp.write_text(json.dumps({"offset_seconds": self._offset}), "utf-8")
        os.replace(tmp, self._state_file)
