"""How the command line reports a run: the one-line error and its exit status, the summary.

The CLI's output and exit statuses are a contract (scripts and the nightly job branch on
them), so push and restore share one copy of it: a progress bar only on a terminal and never
with `--json`, a run-ending error as one line and its exit status, the summary as one JSON
object or as text, and exit 1 when any file failed.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from typing import Any, Callable, Mapping

from ..core.errors import EXIT_OK, EXIT_SOME_FAILED, SyncError
from ..core.settings import SyncSettings, settings_from_args
from ..engine.progress import ProgressCallback, terminal_progress


def report_error(prefix: str, exc: Exception) -> int:
    """Print a run-ending error as one line on stderr; its exit status (the error's `exit_code`)."""
    print(f"{prefix}: {exc}", file=sys.stderr)
    return int(getattr(exc, "exit_code", EXIT_SOME_FAILED))


def run_command(command: str, args: Any, start: Callable[[SyncSettings, ProgressCallback | None], Any],
                phases: Mapping[str, str], describe: Callable[[Any], None]) -> int:
    """`start(settings, progress)` runs the command and returns its summary (a dataclass with a
    `failed` list); `phases` label the bar's phases without counts; `describe` prints the text
    summary (the failures are listed after it, on stderr)."""
    try:
        settings = settings_from_args(args)
        progress = None if args.json or not sys.stderr.isatty() else terminal_progress(sys.stderr, phases)
        summary = start(settings, progress)
    except SyncError as exc:
        return report_error(f"jupyter-drive-sync {command}", exc)
    if args.json:
        print(json.dumps(asdict(summary), ensure_ascii=False))
    else:
        describe(summary)
        for f in summary.failed:
            print(f"  failed: {f['path']}: {f['error']}", file=sys.stderr)
    return EXIT_SOME_FAILED if summary.failed else EXIT_OK
