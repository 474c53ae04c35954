"""How the command line reports a run: the one-line error and its exit status, the summary.

The CLI's output and exit statuses are a contract (scripts and the nightly job branch on
them), so every command shares one copy of it: a progress bar only on a terminal and never
with `--json`, a run-ending error as one line and its exit status, the summary as one JSON
object or as text, and exit 1 when any file failed.

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
import traceback
from dataclasses import asdict
from typing import Any, Callable, Mapping

from ..core.errors import EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, SyncError
from ..core.settings import SyncSettings, settings_from_args
from ..engine.progress import ProgressCallback, terminal_progress
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


def run_command(command: str, args: Any, start: Callable[[SyncSettings, ProgressCallback | None], Any],
                phases: Mapping[str, str], describe: Callable[[Any], None]) -> int:
    """`start(settings, progress)` runs the command and returns its summary (a dataclass with a
    `failed` list); `phases` label the bar's phases without counts; `describe` prints the text
    summary (the failures are listed after it, on stderr)."""
    try:
        settings = settings_from_args(args)
        progress = None if args.json or not sys.stderr.isatty() else terminal_progress(sys.stderr, phases)
        summary = start(settings, progress)
    except Exception as exc:  # noqa: BLE001 - one line and an exit status, never a traceback
        return report_error(f"jupyter-drive-sync {command}", exc)
    if args.json:
        print(json.dumps(asdict(summary), ensure_ascii=False))
    else:
        describe(summary)
        for f in summary.failed:
            print(f"  failed: {f['path']}: {f['error']}", file=sys.stderr)
    return EXIT_SOME_FAILED if summary.failed else EXIT_OK
