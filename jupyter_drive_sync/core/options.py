"""What one push or restore is asked to do, as plain values.

These live below the engine so the settings, the server, the hub job and the CLI can all build
a run's options without importing the engine that executes them (and without import cycles).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .model import DeletePolicy, Policy
from .settings import DEFAULT_FOLDER_TEMPLATE, GOOGLE_API_ROOT, SyncSettings


class RequestPacer(Protocol):
    """What a run needs from a request pacer shared across homes (the hub job's `drive.pacing.Pacer`).

    Spelled out here so the options can carry one without depending on the Drive layer.
    """

    def acquire(self, cost: float = 1.0) -> None: ...

    def report(self, ok: bool, rate_limited: bool = False) -> None: ...

    def throttled(self) -> None: ...


# The values of PushOptions.order (engine/plan_order.py uses the same strings).
WORK_FIRST = "work-first"
PATH_ORDER = "path"
UPLOAD_ORDERS = (WORK_FIRST, PATH_ORDER)


class Overwrite(str, enum.Enum):
    """Whether a restore may replace a local file that differs from Drive's copy."""

    NEVER = "never"  # a local file is never replaced (default)
    OLDER = "older"  # replaced only when the local mtime is older than Drive's modifiedTime
    ALWAYS = "always"  # Drive's copy replaces a different local file


@dataclass
class PushOptions:
    home: Path
    user: str | None = None  # default: the home's user (see settings.resolve_username)
    folder_template: str = DEFAULT_FOLDER_TEMPLATE
    api_root: str = GOOGLE_API_ROOT
    credentials_path: Path | None = None  # default: credentials.json in the home's state dir
    encryption_key: str | None = None  # Fernet key for the credentials file
    policy: Policy = Policy.LAST_WRITE_WINS
    delete_policy: DeletePolicy = DeletePolicy.KEEP
    workers: int = 8
    dry_run: bool = False
    max_file_size: int = 5 * 1024**4
    extra_excludes: tuple[str, ...] = ()
    wait_for_lock: float = 0.0  # seconds to wait for the home lock; 0 = fail at once
    pacer: RequestPacer | None = None  # shared by the hub job across homes
    # Upload sizes (None: the Drive client's defaults, 8 MiB chunks above 5 MiB). Small values
    # put every resumable code path in reach of small test files (tests/reliability).
    chunk_size: int | None = None
    multipart_limit: int | None = None
    # Writes per second for this account and the burst above it (None: Google's documented
    # sustained rate, or JUPYTER_DRIVE_SYNC_WRITE_RATE; 0: unpaced), see drive/pacing.py.
    write_rate: float | None = None
    write_burst: float | None = None
    # What goes to Drive first: "work-first" (notebooks, then code and text, newest first, then
    # data and media) or "path" (folders, then files by path). See engine/plan_order.py.
    order: str = WORK_FIRST
    # time.monotonic() after which no further file is started (those in flight finish and are
    # recorded); what is left is planned again by the next push. The hub's nightly time budget.
    # A run always starts one file, move or trash, even past it: every night gets ahead.
    deadline: float | None = None


@dataclass
class RestoreOptions:
    home: Path
    user: str | None = None  # default: the home's user (see settings.resolve_username)
    folder_template: str = DEFAULT_FOLDER_TEMPLATE
    api_root: str = GOOGLE_API_ROOT
    credentials_path: Path | None = None  # default: in the home's state dir
    encryption_key: str | None = None
    path: str = ""  # sub-path of the home to restore ("" = everything)
    overwrite: Overwrite = Overwrite.NEVER
    dry_run: bool = False
    workers: int = 8
    wait_for_lock: float = 0.0
    pacer: RequestPacer | None = None


def push_options(settings: SyncSettings, **overrides: Any) -> PushOptions:
    """The push's options for a home's settings; `overrides` are PushOptions fields."""
    values = settings.run_fields()
    values.update(policy=settings.policy, delete_policy=settings.delete_policy,
                  extra_excludes=tuple(settings.excludes))
    # the server's traits (DriveSyncApp.upload_order, write_rate, write_burst), when set
    for name in ("order", "write_rate", "write_burst"):
        value = getattr(settings, name, None)
        if value is not None:
            values[name] = value
    values.update(overrides)
    return PushOptions(**values)


def restore_options(settings: SyncSettings, **overrides: Any) -> RestoreOptions:
    """The restore's options for a home's settings; `overrides` are RestoreOptions fields."""
    values = settings.run_fields()
    values.update(overrides)
    if "overwrite" in values:
        values["overwrite"] = Overwrite(values["overwrite"])
    return RestoreOptions(**values)
