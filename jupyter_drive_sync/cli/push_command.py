"""`jupyter-drive-sync push`: back up one home to Google Drive now.

Exit status (contract): 0 all done, 1 some files failed, 2 usage or configuration error,
3 not connected / must reconnect, 4 Drive refused the run (storage full, daily cap).
"""

from __future__ import annotations

import argparse
from typing import Any

from ..core.errors import ConfigError
from ..core.model import DeletePolicy, Policy, PushSummary
from ..core.options import push_options
from ..core.settings import SyncSettings, resolve_write_rate
from ..engine.progress import ProgressCallback
from ..engine.push import run_push
from .output import run_command

PHASES = {"scanning": "scanning…", "planning": "planning…"}  # the progress bar's phases without counts


def cmd_push(args: argparse.Namespace) -> int:
    """Run a push with the command line's options; the exit status."""

    def start(settings: SyncSettings, progress: ProgressCallback | None) -> PushSummary:
        overrides: dict[str, Any] = {"dry_run": bool(args.dry_run)}
        if args.workers is not None:
            if args.workers < 1:
                raise ConfigError("--workers must be at least 1")
            overrides["workers"] = args.workers
        if args.policy:
            overrides["policy"] = Policy(args.policy)
        if args.delete:
            overrides["delete_policy"] = DeletePolicy(args.delete)
        # the flag, else JUPYTER_DRIVE_SYNC_WRITE_RATE, checked by the one rule before any Drive call
        write_rate = resolve_write_rate(args.write_rate, name="--write-rate")
        if write_rate is not None:
            overrides["write_rate"] = write_rate
        if args.order:
            overrides["order"] = args.order
        return run_push(push_options(settings, **overrides), progress)

    return run_command("push", args, start, PHASES, describe)


def describe(s: PushSummary) -> None:
    """The text summary of a push (with --json the summary object is printed instead)."""
    print(f"created {s.created}, updated {s.updated}, metadata {s.metadata_updated}, moved {s.moved}, "
          f"unchanged {s.unchanged}, folders {s.folders_created}, trashed {s.trashed}, kept Drive copy {s.kept_drive_copy}, "
          f"conflicts {s.conflicts}, skipped {len(s.skipped)}, failed {len(s.failed)}, "
          f"{s.bytes_uploaded} bytes in {s.seconds:.1f}s")
