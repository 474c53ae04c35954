"""Background pushes and restores for the server extension: one at a time per home, never on
the IOLoop.

A push runs `run_push` (a restore `run_restore`) in a worker thread and feeds a progress
snapshot that the REST API reads. The home's lock file is shared with the CLI and the nightly
job, so a run started elsewhere shows here as a running job (and a new one is refused with it).
The last push's outcome is recorded beside the state DB (a restore's in its own record), so
status after a server restart still shows it.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..core.errors import AlreadyRunning, ConfigError, DriveRefused, EnvironmentProblem, NotConnected, SyncError
from ..engine.push import run_push
from ..engine.restore import run_restore
from ..engine.status import DONE, FAILED, QUEUED, RUNNING, job_record_filename, read_last_job, write_record

log = logging.getLogger(__name__)

EXTERNAL_JOB_ID = "external"
KEEP_JOBS = 20


def error_kind(exc: BaseException, *, has_credentials: bool = True) -> str:
    """A stable word the frontend can switch on (`needs_reauth`, `drive_full`, ...)."""
    own = getattr(exc, "error_kind", None)  # e.g. restore's "nothing_to_restore"
    if isinstance(own, str):
        return own
    if isinstance(exc, NotConnected):
        return "needs_reauth" if has_credentials else "not_connected"
    if isinstance(exc, DriveRefused):
        text = f"{getattr(exc, 'reason', '')} {exc}".lower()
        if "storage" in text or "full" in text:
            return "drive_full"
        return "upload_cap" if "daily" in text or "cap" in text else "drive_refused"
    if isinstance(exc, AlreadyRunning):
        return "already_running"
    if isinstance(exc, EnvironmentProblem):  # the machine: a permission, a full disk, another owner
        return "environment"
    if isinstance(exc, ConfigError):
        return "config"
    # A Drive call that failed for good (drive/errors.DriveApiError, reached without importing
    # drive/: status 0 is "never answered", after every retry).
    status, reason = getattr(exc, "status", None), getattr(exc, "reason", None)
    if isinstance(exc, SyncError) and isinstance(status, int) and isinstance(reason, str):
        return "drive_unreachable" if status == 0 else "drive_error"
    if isinstance(exc, SyncError):
        return "sync_error"
    return "internal"


@dataclass(slots=True)
class Job:
    """What `GET drive-sync/push/<id>` returns (and `job` in status)."""

    id: str
    kind: str = "push"
    state: str = QUEUED
    source: str = "server"  # "server": started here; "external": the CLI or the nightly job
    phase: str | None = None
    files_done: int = 0
    files_total: int = 0
    bytes_done: int = 0
    bytes_total: int = 0
    current_path: str | None = None
    rate: float = 0.0  # bytes per second since the run started
    # while uploading (engine/progress.py): measured rates, seconds left, what kind goes up now
    files_per_second: float | None = None
    bytes_per_second: float | None = None
    eta_seconds: float | None = None
    current_kind: str | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] | None = None
    error: dict[str, str] | None = None  # {kind, message} when the run ended early
    started_at: float | None = None
    finished_at: float | None = None

    @property
    def active(self) -> bool:
        return self.state in (QUEUED, RUNNING)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class JobConflict(Exception):
    """A push or restore is already running for this home (here or in another process)."""

    def __init__(self, job: Job) -> None:
        super().__init__(f"a {job.kind} is already running for this home")
        self.job = job


def _summary_dict(summary: Any) -> dict[str, Any]:
    if summary is None:
        return {}
    if isinstance(summary, dict):
        return dict(summary)
    try:
        return asdict(summary)
    except TypeError:
        return dict(vars(summary))


class JobManager:
    """Runs pushes for one home, one at a time, and remembers how they went.

    `make_options()` builds fresh `PushOptions` for each run (settings may change between
    runs); `lock_holder()` says who holds the home lock when it is not us (None: free).
    `on_finished(job, exc)` runs in the worker thread after every job.
    """

    def __init__(
        self,
        state_dir: Path,
        make_options: Callable[[], Any],
        *,
        runner: Callable[..., Any] | None = None,
        lock_holder: Callable[[], dict[str, Any] | None] | None = None,
        has_credentials: Callable[[], bool] = lambda: True,
        on_finished: Callable[[Job, BaseException | None], None] | None = None,
        executor: Executor | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.state_dir = Path(state_dir)
        self._make_options = make_options
        self._runner = runner
        self._lock_holder = lock_holder or (lambda: None)
        self._has_credentials = has_credentials
        self._on_finished = on_finished
        self._executor = executor or ThreadPoolExecutor(max_workers=1, thread_name_prefix="drive-sync-job")
        self._clock = clock
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self._current: Job | None = None

    # ------------------------------------------------------------ queries

    def current(self) -> Job | None:
        """The running job: ours, or a pseudo-job for a push holding the lock elsewhere."""
        with self._lock:
            if self._current is not None and self._current.active:
                return self._snapshot(self._current)
        holder = self._safe_holder()
        return self._external_job(holder) if holder is not None else None

    def get(self, job_id: str) -> Job | None:
        if job_id == EXTERNAL_JOB_ID:
            holder = self._safe_holder()
            if holder is not None:
                return self._external_job(holder)
            return Job(id=EXTERNAL_JOB_ID, state=DONE, source="external")
        with self._lock:
            job = self._jobs.get(job_id)
            return self._snapshot(job) if job is not None else None

    def last_finished(self) -> dict[str, Any] | None:
        """The last job that ran here (this process or an earlier one), from disk."""
        return read_last_job(self.state_dir)

    # ------------------------------------------------------------ starting

    def start_push(self) -> Job:
        """Queue a push and return its job; JobConflict with the running one if busy."""
        return self._start("push", self._make_options, self._runner or run_push)

    def start_restore(self, make_options: Callable[[], Any], runner: Callable[..., Any] | None = None) -> Job:
        """Queue a restore (`make_options()` → RestoreOptions): the same lock, 409 and progress as a push."""
        return self._start("restore", make_options, runner or run_restore)

    def _start(self, kind: str, make_options: Callable[[], Any], runner: Callable[..., Any]) -> Job:
        with self._lock:
            if self._current is not None and self._current.active:
                raise JobConflict(self._snapshot(self._current))
            holder = self._safe_holder()
            if holder is not None:
                raise JobConflict(self._external_job(holder))
            job = Job(id=secrets.token_hex(8), kind=kind, started_at=self._clock())
            self._current = job
            self._jobs[job.id] = job
            self._forget_old()
            self._executor.submit(self._run, job, make_options, runner)
            return self._snapshot(job)

    def shutdown(self) -> None:
        """Stop taking jobs; a running push finishes its current file and is left to end."""
        self._executor.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------ the worker thread

    def _run(self, job: Job, make_options: Callable[[], Any], runner: Callable[..., Any]) -> None:
        exc: BaseException | None = None
        started = time.monotonic()

        def progress(event: Any) -> None:
            with self._lock:
                job.phase = getattr(event, "phase", job.phase)
                job.files_done = int(getattr(event, "files_done", job.files_done) or 0)
                job.files_total = int(getattr(event, "files_total", job.files_total) or 0)
                job.bytes_done = int(getattr(event, "bytes_done", job.bytes_done) or 0)
                job.bytes_total = int(getattr(event, "bytes_total", job.bytes_total) or 0)
                job.current_path = getattr(event, "current_path", None)
                job.errors = list(getattr(event, "errors", job.errors) or [])
                elapsed = time.monotonic() - started
                job.rate = round(job.bytes_done / elapsed, 1) if elapsed > 0 else 0.0
                for name in ("files_per_second", "bytes_per_second", "eta_seconds", "current_kind"):
                    setattr(job, name, getattr(event, name, None))

        with self._lock:
            job.state = RUNNING
        try:
            summary = runner(make_options(), progress)
            with self._lock:
                job.summary = _summary_dict(summary)
                job.state = DONE
                job.phase = "done"
                job.current_path = None
        except BaseException as e:  # noqa: BLE001 - every ending must reach the job record
            exc = e
            kind = error_kind(e, has_credentials=self._safe_has_credentials())
            if kind == "internal":
                log.exception("drive-sync %s failed", job.kind)
                message = f"The {job.kind} stopped on an unexpected error; see the server log."
            else:
                message = str(e)
            with self._lock:
                job.state = FAILED
                job.error = {"kind": kind, "message": message}
                job.current_path = None
        finally:
            with self._lock:
                job.finished_at = self._clock()
                record = job.to_dict()
            self._persist(record, job.kind)
            if self._on_finished is not None:
                try:
                    self._on_finished(job, exc)
                except Exception:  # noqa: BLE001
                    log.exception("drive-sync job callback failed")
        if exc is not None and not isinstance(exc, Exception):
            raise exc  # KeyboardInterrupt/SystemExit keep propagating

    # ------------------------------------------------------------ helpers

    def _snapshot(self, job: Job) -> Job:
        copy = Job(**job.to_dict())
        copy.errors = [dict(e) for e in job.errors]
        return copy

    def _external_job(self, holder: dict[str, Any]) -> Job:
        started = holder.get("started_at") or holder.get("started")
        return Job(
            id=EXTERNAL_JOB_ID,
            kind=str(holder.get("kind") or "push"),
            state=RUNNING,
            source="external",
            started_at=started if isinstance(started, (int, float)) else None,
        )

    def _safe_holder(self) -> dict[str, Any] | None:
        try:
            return self._lock_holder()
        except Exception:  # noqa: BLE001 - a probe failure must not break status
            log.exception("drive-sync: cannot probe the home lock")
            return None

    def _safe_has_credentials(self) -> bool:
        try:
            return bool(self._has_credentials())
        except Exception:  # noqa: BLE001
            return True

    def _forget_old(self) -> None:
        if len(self._jobs) > KEEP_JOBS:
            for job_id in sorted(self._jobs, key=lambda j: self._jobs[j].started_at or 0)[: -KEEP_JOBS]:
                if self._jobs[job_id] is not self._current:
                    del self._jobs[job_id]

    def _persist(self, record: dict[str, Any], kind: str = "push") -> None:
        try:
            write_record(self.state_dir, job_record_filename(kind), record)
        except OSError as exc:
            log.warning("drive-sync: cannot save the last job's record: %s", exc)
