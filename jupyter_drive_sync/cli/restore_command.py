"""`jupyter-drive-sync restore`: bring files back from the home's Drive folder.

Exit status (contract): 0 all done, 1 some files failed or nothing to restore, 2 usage or
configuration error, 3 not connected / must reconnect, 4 Drive refused the run.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..core.options import Overwrite, restore_options
from ..core.settings import SyncSettings
from ..engine.progress import ProgressCallback
from ..engine.restore import RestoreSummary, run_restore
from .output import run_command

PHASES = {"listing": "listing what Drive holds…"}  # the progress bar's phases without counts


def cmd_restore(args: argparse.Namespace) -> int:
    """Run a restore with the command line's options; the exit status."""

    def start(settings: SyncSettings, progress: ProgressCallback | None) -> RestoreSummary:
        overrides: dict[str, Any] = {"dry_run": bool(args.dry_run), "path": args.path or "",
                                     "overwrite": Overwrite(args.overwrite)}
        if args.workers is not None:
            overrides["workers"] = args.workers
        return run_restore(restore_options(settings, **overrides), progress)

    def describe(s: RestoreSummary) -> None:
        would = "would be " if args.dry_run else ""
        print(f"{would}restored {s.restored}, replaced {s.replaced}, unchanged {s.unchanged}, "
              f"kept local {s.skipped_existing}, folders {s.folders_created}, renamed {len(s.renamed)}, "
              f"skipped {len(s.skipped)}, failed {len(s.failed)}, {s.bytes_downloaded} bytes in {s.seconds:.1f}s")
        for r in s.renamed:
            print(f"  renamed: {r['path']} (on Drive: {r['drive_name']!r}): {r['reason']}", file=sys.stderr)
        for k in s.skipped:
            print(f"  skipped: {k['path']}: {k['reason']}", file=sys.stderr)

    return run_command("restore", args, start, PHASES, describe)
