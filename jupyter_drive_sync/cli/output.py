"""Run push or restore for the command line and report how it went (DESIGN §6, contract).

One copy of the parts the two commands must agree on: a progress bar only on a terminal and
never with `--json`, a run-ending error as one line and its exit status, the summary as one
JSON object or as text, and exit 1 when any file failed.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, Callable, Mapping

from ..core.settings import settings_from_args
from ..core.errors import SyncError
from ..engine.progress import ProgressCallback, terminal_progress

if TYPE_CHECKING:
    from ..core.settings import SyncSettings

EXIT_OK = 0
EXIT_SOME_FAILED = 1


def run_command(command: str, args: Any, start: Callable[["SyncSettings", ProgressCallback | None], Any],
                phases: Mapping[str, str], describe: Callable[[Any], None]) -> int:
    """`start(settings, progress)` runs the command and returns its summary (a dataclass with a
    `failed` list); `phases` label the bar's phases without counts; `describe` prints the text
    summary (the failures are listed after it, on stderr)."""
    try:
        settings = settings_from_args(args)
        progress = None if args.json or not sys.stderr.isatty() else terminal_progress(sys.stderr, phases)
        summary = start(settings, progress)
    except SyncError as exc:
        print(f"jupyter-drive-sync {command}: {exc}", file=sys.stderr)
        return exc.exit_code
    if args.json:
        print(json.dumps(asdict(summary), ensure_ascii=False))
    else:
        describe(summary)
        for f in summary.failed:
            print(f"  failed: {f['path']}: {f['error']}", file=sys.stderr)
    return EXIT_SOME_FAILED if summary.failed else EXIT_OK
