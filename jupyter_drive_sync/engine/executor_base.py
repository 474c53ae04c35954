"""What every step of a push's execution shares: the executor's state, how one action is
guarded (per-file errors to the summary, run-ending ones end the run), the time budget, and the
state row recorded once Drive confirms a write.

The steps themselves live beside it, one job per module: `set_aside` (our items taken off a
path), `empty_files` (batches of empty files), `lazy_folders` (folders just in time) and
`executor` (the order of it all, folders, files and moves).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from concurrent.futures import Future, wait
from typing import Any, BinaryIO, Callable, Protocol, TypeVar

from ..core.errors import DriveRefused, EnvironmentProblem, NotConnected
from ..core.model import Action, ActionKind, EntryStatus, LocalEntry, StateEntry, clamp_mtime_ns
from ..drive.client import DriveClient
from ..drive.errors import DriveApiError
from ..drive.types import DriveFile
from ..home.fs_guards import NotBeneath, open_beneath
from ..home.scan import display_path
from ..home.state_db import StateDB
from .id_supply import IdSupply
from .lazy_folders import LazyFolders
from .plan import PlanRows
from .plan_moves import moved_row
from .plan_order import PATH_ORDER

log = logging.getLogger(__name__)
T = TypeVar("T")

# errors that end the whole run, not one file: reconnect, Drive refused, the machine (a full disk
# under the state DB: nothing more could be recorded)
RUN_ENDING = (NotConnected, DriveRefused, EnvironmentProblem)


def synced_row(path: str, f: DriveFile, local: LocalEntry, *, md5: str | None = None) -> StateEntry:
    """What the state DB remembers after Drive confirmed a write of `local` as `f`."""
    return StateEntry(
        path=path,
        drive_id=f.id,
        is_dir=local.is_dir,
        status=EntryStatus.SYNCED,
        local_size=local.size,
        local_mtime_ns=local.mtime_ns,
        md5=md5 if md5 is not None else f.md5,
        drive_md5=f.md5,
        drive_modified_ms=f.modified_ms,
        drive_head_revision=f.head_revision,
        drive_trashed=f.trashed,
        local_ino=local.ino,
    )


def resume_key(st: os.stat_result | None, local: LocalEntry) -> tuple[int, int]:
    """The file version a resumable session is kept under: size and mtime as read (else as scanned)."""
    if st is None:
        return local.size, local.mtime_ns
    return st.st_size, clamp_mtime_ns(st.st_mtime_ns)


def _folder_step(a: Action) -> bool:
    """A folder's creation or metadata: needed before the work, but not progress of its own."""
    return a.kind in (ActionKind.MKDIR, ActionKind.UPDATE_MTIME) and a.local is not None and a.local.is_dir


class PushReport(Protocol):
    """Where the executor reports (the push run: its summary and progress)."""

    cut_short: bool  # set when the time budget stopped a task from starting

    def skip(self, path: str, reason: str) -> None: ...

    def fail(self, path: str, error: str) -> None: ...

    def emit(self, phase: str, current: str | None = None, *, force: bool = True) -> None: ...

    def byte_counter(self, then: Callable[[], None] | None = None) -> Callable[[int], None]: ...

    def count(self, a: Action) -> None: ...

    def files_confirmed(self, n: int, bytes_uploaded: int = 0) -> None: ...


class ExecutorBase:
    """One push's execution: the client, the state DB, and the rows planning saw."""

    def __init__(self, report: PushReport, client: DriveClient, db: StateDB, state: PlanRows, home: Path,
                 *, workers: int, spare_ids: list[str], order: str = PATH_ORDER,
                 deadline: float | None = None) -> None:
        self.report = report
        self.deadline = deadline  # time.monotonic(): no task starts after it (PushOptions.deadline)
        self.order = order  # plan_order: "work-first" runs the plan in waves, the student's work first
        self.client = client
        self.db = db
        self.state = state
        self.home = home
        self.workers = workers
        self.ids = IdSupply(client, db, spare_ids)  # spare: generated with the root folder's
        # Set by the first run-ending error (reconnect, Drive full, daily cap): tasks the pool
        # has already handed to a worker then return at once instead of sending more refused
        # requests before the pool is cancelled.
        self._ending = threading.Event()
        self.root_id = ""
        self._before_moves: dict[str, StateEntry] = {}
        # Whether a piece of work that the next run need not redo (a file, a move, a trash) has
        # started: until then the budget cuts nothing, so a home whose scan alone outlasts its
        # nightly budget still gets ahead every night instead of never.
        self._got_ahead = False

    # -- guarding ------------------------------------------------------------------------------

    def guard(self, a: Action, fn: Callable[[], T]) -> T | None:
        """Run one action; per-file errors go to the summary (then None), run-ending ones propagate."""
        try:
            return self._unless_ending(fn, gets_ahead=not _folder_step(a))
        except RUN_ENDING:
            raise
        except FileNotFoundError:
            self.report.skip(a.path, "disappeared before it could be uploaded")
        except PermissionError as exc:
            self.report.fail(a.path, f"cannot read: {exc.strerror or exc}")
        except DriveApiError as exc:
            self.report.fail(a.path, str(exc))
        except OSError as exc:
            self.report.fail(a.path, f"{type(exc).__name__}: {exc.strerror or exc}")
        except Exception as exc:  # noqa: BLE001 - one file's surprise must not end the run
            log.exception("unexpected error on %s", display_path(a.path))
            self.report.fail(a.path, f"{type(exc).__name__}: {exc}")
        return None

    def _out_of_time(self) -> bool:
        """Whether the time budget is spent; if so the run is cut short (the hub's report says
        it continues next night, whatever was left: files, renames or trashes). Not before the
        run got ahead by one piece of work (`_got_ahead`): each budgeted run makes progress."""
        if self.deadline is None or time.monotonic() < self.deadline or not self._got_ahead:
            return False
        self.report.cut_short = True
        return True

    def _stopping(self) -> bool:
        """Whether no further task starts (out of time, or the run ending): both only ever
        become true. A guarded step that returned nothing then may simply not have started,
        which is no failure: the next push does it, and nothing after it starts either."""
        return self._ending.is_set() or self.report.cut_short

    def _unless_ending(self, fn: Callable[..., T], *args: Any, gets_ahead: bool = False) -> T | None:
        """Run a pool task unless the run is ending; a run-ending error it raises ends it.
        `gets_ahead`: the task is work the next run need not redo (not a folder step)."""
        if self._ending.is_set() or self._out_of_time():
            return None  # out of time: not started, so neither sent nor recorded; the next push does it
        if gets_ahead:
            self._got_ahead = True  # (workers racing here may start one task each: a bounded overrun)
        try:
            return fn(*args)
        except RUN_ENDING:
            self._ending.set()
            raise

    def _record_moved(self, from_path: str, old: StateEntry, a: Action, f: DriveFile) -> None:
        """After Drive confirmed a move (or a set-aside) of `old`'s item as `f`: its row, and a
        folder's rows below it, follow to `a.path` in one transaction."""
        self.db.record_move(from_path, moved_row(old, a, md5=f.md5, modified_ms=f.modified_ms,
                                                 head_revision=f.head_revision, trashed=f.trashed))

    # -- placing -------------------------------------------------------------------------------

    def _placed_in(self, a: Action, waits: list[Future], lazy: LazyFolders | None,
                   parent_id: Callable[[Action], str | None]) -> str | None:
        """The Drive ID of `a`'s parent folder once the task creating it (if any) is done; None,
        `a` reported, if it failed; None, quietly, if it was not made (out of time, run ending:
        the next push does both)."""
        if waits:
            wait(waits)
        if self._ending.is_set():
            return None
        pid = parent_id(a)
        if pid is None:
            self.report.fail(a.path, "its parent folder could not be created")
            return None
        if lazy is not None and not lazy.made(a.parent_path or ""):
            return None
        return pid

    def _open_source(self, a: Action) -> BinaryIO | None:
        """The file to read for `a`, opened the way every upload opens it: never through a
        symlink, even one swapped in since the scan (see open_beneath); None, reported as
        skipped, if it is no longer a regular file beneath the home."""
        try:
            return open_beneath(self.home, a.path)
        except NotBeneath as exc:
            self.report.skip(a.path, exc.strerror or "no longer a regular file")
            return None

    def _file(self, a: Action, pid: str) -> None:
        """Upload or update one file (the executor's; an empty file that grew goes this way)."""
        raise NotImplementedError
