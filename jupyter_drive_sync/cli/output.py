"""How the command line reports a run: the one-line error and its exit status, the summary.

The CLI's output and exit statuses are a contract (scripts and the nightly job branch on
them), so every command shares one copy of it: a progress bar only on a terminal and never
with `--json`, a run-ending error as one line and its exit status, the summary as one JSON
object or as text, and exit 1 when any file failed.

The bar is `rich`'s (it redraws from worker threads safely and knows terminal widths): files,
bytes in human units, the rate and the time left. The rates and the ETA are the run's own
(ProgressEvent's `bytes_per_second`, `files_per_second`, `eta_seconds`: a push under Google's
write limit is bound by writes, which a byte rate cannot see), else rich's measured ones.

Nothing prints a traceback. Errors of the environment that reach this far without having been
put in words where they happened (a full disk, too few file descriptors, a file of another
owner) are said in one line and end with exit 2, like the configuration problems they are: the
student or the admin must fix the machine. Anything else is a bug: one line and exit 1, and
the traceback only when JUPYTER_DRIVE_SYNC_DEBUG is set.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import threading
import traceback
from dataclasses import asdict
from typing import Any, Callable, Mapping, TextIO

from rich.console import Console
from rich.filesize import decimal
from rich.progress import BarColumn, DownloadColumn, Progress, ProgressColumn, Task, TaskID, TextColumn
from rich.text import Text

from ..core.errors import EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, SyncError
from ..core.settings import SyncSettings, settings_from_args
from ..engine.progress import ProgressCallback, ProgressEvent
from ..home.machine_errors import environment_problem

DEBUG_ENV = "JUPYTER_DRIVE_SYNC_DEBUG"  # set: an unexpected error also prints its traceback


def report_error(prefix: str, exc: BaseException) -> int:
    """Print a run-ending error as one line on stderr; its exit status (see the module docstring)."""
    text, status = describe_error(exc)
    print(f"{prefix}: {text}", file=sys.stderr)
    if status == EXIT_SOME_FAILED and not isinstance(exc, SyncError) and os.environ.get(DEBUG_ENV):
        traceback.print_exception(exc)
    return status


def describe_error(exc: BaseException) -> tuple[str, int]:
    """(one line, exit status) for an error that ended a command."""
    if isinstance(exc, SyncError) or hasattr(exc, "exit_code"):
        return _one_line(str(exc)), int(getattr(exc, "exit_code", EXIT_SOME_FAILED))
    if isinstance(exc, OSError):
        problem = environment_problem(exc, "a file")
        if problem is not None:
            return str(problem), EXIT_USAGE
        where = f": {exc.filename}" if exc.filename else ""
        return _one_line(f"{exc.strerror or exc}{where}"), EXIT_SOME_FAILED
    if isinstance(exc, sqlite3.OperationalError):  # the state DB, beyond what opening it checks
        return _one_line(f"cannot use the state DB: {exc}"), EXIT_USAGE
    return _one_line(f"unexpected error ({type(exc).__name__}: {exc}); set {DEBUG_ENV}=1 to see where"), \
        EXIT_SOME_FAILED


def _one_line(text: str) -> str:
    return " ".join(text.split()) or "error"


def _clock(seconds: float | None) -> str:
    if seconds is None or seconds != seconds or seconds < 0:  # unknown (or NaN)
        return "-:--:--"
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class _FilesColumn(ProgressColumn):
    """`12/40 files`, once the run knows how many."""

    def render(self, task: Task) -> Text:
        total = task.fields.get("files_total")
        return Text(f"{task.fields.get('files_done', 0)}/{total} files" if total else "")


class _RateColumn(ProgressColumn):
    """`1.2 MB/s, 3.0 files/s`: the run's measured rates, else rich's byte speed."""

    def render(self, task: Task) -> Text:
        if task.total is None:
            return Text("")
        bps = task.fields.get("bytes_per_second")
        bps = task.speed if bps is None else bps
        fps = task.fields.get("files_per_second")
        parts = [f"{decimal(int(bps))}/s" if bps is not None else "-- B/s"]
        if fps is not None:
            parts.append(f"{fps:.1f} files/s")
        return Text(", ".join(parts))


class _EtaColumn(ProgressColumn):
    """`ETA 0:01:05`: the run's estimate, else rich's from the byte speed; `done in` at the end."""

    def render(self, task: Task) -> Text:
        if task.total is None:
            return Text("")
        if task.finished:
            return Text(f"done in {_clock(task.finished_time or task.elapsed)}")
        eta = task.fields.get("eta_seconds")
        return Text(f"ETA {_clock(task.time_remaining if eta is None else eta)}")


class _BytesColumn(DownloadColumn):
    """`0.5/2.0 MB`, once there are bytes to count (blank while scanning)."""

    def render(self, task: Task) -> Text:
        return Text("") if task.total is None else super().render(task)


class TerminalBar:
    """The progress bar of one push or restore on a terminal; a ProgressCallback. `close()` ends it
    (also when the run fails). `labels` name the phases that have no counts yet."""

    def __init__(self, stream: TextIO, labels: Mapping[str, str], console: Console | None = None) -> None:
        self.labels = labels
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(bar_width=24), _FilesColumn(),
            _BytesColumn(), _RateColumn(), _EtaColumn(),
            console=console or Console(file=stream), refresh_per_second=4)
        self._task: TaskID | None = None
        self._started = False
        self._closed = False  # a late event (a worker finishing after "done") draws nothing more
        self._lock = threading.Lock()  # events come from the run's worker threads

    def __call__(self, ev: ProgressEvent) -> None:
        with self._lock:
            self._show(ev)

    def _show(self, ev: ProgressEvent) -> None:
        if self._closed:
            return
        if not self._started:
            self.progress.start()
            self._started = True
        if ev.phase in self.labels:
            self._update(description=self.labels[ev.phase], total=None, completed=0)
            return
        kind = getattr(ev, "current_kind", None)
        phase = "done" if ev.phase == "done" else ev.phase + (f" {kind}" if kind else "")
        self._update(
            description=phase, total=max(ev.bytes_total, ev.bytes_done), completed=ev.bytes_done,
            files_done=ev.files_done, files_total=ev.files_total,
            bytes_per_second=getattr(ev, "bytes_per_second", None),
            files_per_second=getattr(ev, "files_per_second", None),
            eta_seconds=getattr(ev, "eta_seconds", None))
        if ev.phase == "done":
            self._stop()

    def _update(self, **fields: Any) -> None:
        if self._task is None:
            self._task = self.progress.add_task(**{"description": "", **fields})
        else:
            self.progress.update(self._task, **fields)

    def close(self) -> None:
        with self._lock:
            self._stop()

    def _stop(self) -> None:
        self._closed = True
        if self._started:
            self.progress.stop()
            self._started = False


def run_command(command: str, args: Any, start: Callable[[SyncSettings, ProgressCallback | None], Any],
                phases: Mapping[str, str], describe: Callable[[Any], None]) -> int:
    """`start(settings, progress)` runs the command and returns its summary (a dataclass with a
    `failed` list); `phases` label the bar's phases without counts; `describe` prints the text
    summary (the failures are listed after it, on stderr)."""
    bar = None if args.json or not sys.stderr.isatty() else TerminalBar(sys.stderr, phases)
    try:
        try:
            summary = start(settings_from_args(args), bar)
        finally:  # also on Ctrl-C: give the terminal its cursor back
            if bar is not None:
                bar.close()
    except Exception as exc:  # noqa: BLE001 - one line and an exit status, never a traceback
        return report_error(f"jupyter-drive-sync {command}", exc)
    if args.json:
        print(json.dumps(asdict(summary), ensure_ascii=False))
    else:
        describe(summary)
        for f in summary.failed:
            print(f"  failed: {f['path']}: {f['error']}", file=sys.stderr)
    return EXIT_SOME_FAILED if summary.failed else EXIT_OK
