"""`hub --homes-root` and `hub --home`: the nightly run over homes this process can reach.

- `--homes-root DIR`: every subdirectory is a user's home on shared storage (NFS, as 2i2c runs
  it). An Indexed Job shards the homes (`JOB_COMPLETION_INDEX`); each shard pushes `--parallel`
  homes at once, each through its own per-user pacer under ONE project bucket sized from the
  admin's project quota, because one Cloud project's quota serves every user (project_bucket.py);
  each account's writes are paced at Drive's per-account write rate by its own Drive client.
- `--max-minutes-per-home M`: a home's time budget tonight. When it runs out, the files in flight
  finish and are recorded, nothing else starts, and the line says `partial` with
  `"continues": true` ("continues next night (n of m files)"); the next night plans the rest.
- `--home DIR --user NAME`: one home, run inside the per-PVC Job that `--kubernetes` creates
  (kube_dispatch.py); the report line also goes to the container's termination message for the
  dispatcher to read.

A student's failure never stops the others: each push runs in its own try, and its error
(revoked token, full Drive, a configuration problem, anything else) becomes that user's report
line (report.py), sorted into the student's or the admin's problem by problems.py.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, TextIO

from ..core.errors import EXIT_USAGE, AlreadyRunning, DriveRefused
from ..core.model import DeletePolicy, Policy, PushSummary
from ..core.options import push_options
from ..core.settings import DEFAULT_FOLDER_TEMPLATE, SyncSettings, default_credentials_path
from ..engine.pool import shared_pacer
from ..engine.progress import ProgressCallback, ProgressEvent
from ..engine.push import run_push
from .problems import classify, client_secrets_problem
from .project_bucket import DEFAULT_USER_QUOTA_PER_MINUTE, ProjectBucket
from .report import compact, continues, emit, exit_code, needs_action, run_exit_code

SHARD_INDEX_ENV = "JOB_COMPLETION_INDEX"  # set by Kubernetes in every pod of an Indexed Job
SHARD_COUNT_ENV = "JOB_COMPLETIONS"  # set by our manifest to the Job's `completions`
DEFAULT_HUB_RATE = 1000.0  # requests/s for the whole run; the pacer backs off on 403/429 anyway


@dataclass(slots=True)
class HubOptions:
    """One nightly run over the homes this process can reach (the CLI fills it from `hub` flags)."""

    homes_root: Path | None = None
    home: Path | None = None  # single-home mode (inside a per-PVC Job)
    user: str | None = None
    shard_index: int = 0
    shard_count: int = 1
    parallel: int = 4
    workers: int = 4  # per home: parallel × workers requests may be in flight
    rate: float = DEFAULT_HUB_RATE  # requests/s for the whole run, unless project_quota_per_minute is set
    # The admin's Drive API quotas (Cloud console, quota units per minute; one call = one unit):
    # the project's, shared by every home of this run, and each user's.
    project_quota_per_minute: float | None = None
    user_quota_per_minute: float = DEFAULT_USER_QUOTA_PER_MINUTE
    write_rate: float | None = None  # writes/s per account (None: Google's documented 3/s)
    max_minutes_per_home: float | None = None  # a home's time budget tonight (None: no limit)
    api_root: str | None = None
    client_secrets: str | None = None
    encryption_key: str | None = dataclasses.field(default=None, repr=False)
    folder_template: str = DEFAULT_FOLDER_TEMPLATE
    policy: Policy = Policy.LAST_WRITE_WINS
    delete_policy: DeletePolicy = DeletePolicy.KEEP
    wait_for_lock: float = 0.0
    termination_log: Path | None = None


# -- which homes ---------------------------------------------------------------------------------


def shard_of(name: str, count: int) -> int:
    """A home's shard from its name alone, so shards stay disjoint even if homes come and go
    between the moments the shard pods list the directory."""
    if count <= 1:
        return 0
    return int.from_bytes(hashlib.sha256(name.encode("utf-8", "surrogateescape")).digest()[:8], "big") % count


def list_homes(root: Path, shard_index: int = 0, shard_count: int = 1) -> Iterator[tuple[str, Path]]:
    """(username, home) for each subdirectory of `root` in this shard, sorted; never follows symlinks."""
    names = []
    with os.scandir(root) as it:
        for entry in it:
            if entry.name.startswith(".") or entry.name == "lost+found":
                continue
            if entry.is_dir(follow_symlinks=False):
                names.append(entry.name)
    for name in sorted(names):
        if shard_of(name, shard_count) == shard_index:
            yield name, root / name


def has_credentials(home: Path) -> bool:
    """One stat: the nightly cost of a student who never connected."""
    try:
        return os.stat(default_credentials_path(home)).st_size > 0
    except OSError:
        return False


# -- one home ------------------------------------------------------------------------------------


def _summary_dict(summary: PushSummary) -> dict[str, Any]:
    """The push summary, with the per-path lists cut to counts plus a sample (a home may hold
    thousands of skipped sockets; the report must stay one readable line)."""
    data = dataclasses.asdict(summary)
    skipped, failed = data.pop("skipped", []), data.pop("failed", [])
    data["skipped"] = len(skipped)
    data["failed"] = len(failed)
    if failed:
        data["failed_sample"] = failed[:5]
    return data


class _Files:
    """The push's file counts as its progress events last said (for "n of m files"), and whether
    the engine cut the run short (its time budget left work undone), passed on to `also`."""

    def __init__(self, also: ProgressCallback | None = None) -> None:
        self.done = 0
        self.total = 0
        self.cut_short = False
        self._also = also

    def __call__(self, event: ProgressEvent) -> None:
        self.done, self.total = event.files_done, event.files_total
        self.cut_short = self.cut_short or event.cut_short
        if self._also is not None:
            self._also(event)


def push_home(user: str, home: Path, options: HubOptions, bucket: ProjectBucket,
              progress: ProgressCallback | None = None) -> dict[str, Any]:
    """Push one home and describe the outcome as a report line; never raises. `progress` is also
    told every event of the push (a caller's log or display)."""
    line: dict[str, Any] = {"type": "user", "user": user, "home": str(home)}
    if not has_credentials(home):
        line.update(status="not_connected", reason="no stored Google Drive credentials")
        return line
    started = time.monotonic()
    budget = options.max_minutes_per_home
    deadline = started + budget * 60 if budget is not None else None
    files = _Files(progress)
    try:
        settings = SyncSettings.for_home(
            home, username=user, api_root=options.api_root, client_secrets_file=options.client_secrets,
            encryption_key=options.encryption_key, folder_template=options.folder_template,
            policy=options.policy, delete_policy=options.delete_policy, workers=options.workers,
        )
        extra = {"write_rate": options.write_rate} if options.write_rate is not None else {}
        user_pacer = shared_pacer(options.user_quota_per_minute / 60.0, max_concurrency=max(1, options.workers))
        with bucket.home_pacer(user_pacer) as pacer:
            summary = run_push(push_options(settings, pacer=pacer, wait_for_lock=options.wait_for_lock,
                                            deadline=deadline, **extra), files)
    except DriveRefused as exc:
        line.update(status="drive_refused", reason=str(exc))
    except AlreadyRunning as exc:
        line.update(status="busy", reason=str(exc))
    except Exception as exc:  # noqa: BLE001 - one student's surprise must not stop the others
        # the student's to fix (needs_reconnect) or the admin's (config_error), see problems.py
        status, reason = classify(exc)
        line.update(status=status, reason=reason)
    else:
        # Out of time only if the engine says so: it marks the run cut short when a task, a wave or
        # a trash did not start because the budget was spent (executor_base._out_of_time; never
        # before the run got ahead by one file, move or trash). Not the clock here: a
        # push whose last uploads finish after the deadline, with a file that vanished (skipped,
        # so neither done nor failed), left nothing for the next night.
        out_of_time = files.cut_short
        line["status"] = "partial" if summary.failed or out_of_time else "ok"
        reasons = []
        if out_of_time:
            line["continues"] = True
            line["files_done"], line["files_total"] = files.done, files.total
            reasons.append(f"continues next night ({files.done} of {files.total} files)")
        if summary.failed:
            reasons.append(f"{len(summary.failed)} file(s) failed")
        if reasons:
            line["reason"] = "; ".join(reasons)
        line["summary"] = _summary_dict(summary)
    line["seconds"] = round(time.monotonic() - started, 3)
    return line


def project_rate(options: HubOptions) -> float:
    """Requests per second for the whole run: the admin's project quota spread over the minute
    (the emulator and Google refill it continuously), else `--rate`."""
    if options.project_quota_per_minute is not None:
        return options.project_quota_per_minute / 60.0
    return options.rate


def make_bucket(options: HubOptions) -> ProjectBucket:
    """The one project bucket every push of this process shares: parallel × workers requests in flight."""
    return ProjectBucket(shared_pacer(project_rate(options), max_concurrency=max(1, options.parallel * options.workers)))


def _config_problems(options: HubOptions) -> list[str]:
    """Run-wide configuration problems worth the admin's attention that do not stop the pushes."""
    if options.homes_root is None:
        return []
    settings = SyncSettings.for_home(options.homes_root, username="-", client_secrets_file=options.client_secrets)
    problem = client_secrets_problem(settings)
    return [problem] if problem else []


# -- the runs ------------------------------------------------------------------------------------


def run_homes_root(options: HubOptions, out: TextIO) -> int:
    """Push every connected home of this shard, `parallel` at a time; 1 if anyone failed."""
    assert options.homes_root is not None
    started = time.monotonic()
    bucket = make_bucket(options)
    problems = _config_problems(options)
    for problem in problems:
        print(f"jupyter-drive-sync hub: {problem}", file=sys.stderr)
    counts: dict[str, int] = {}
    lines: list[dict[str, Any]] = []
    lock = threading.Lock()

    def report(line: dict[str, Any]) -> None:
        with lock:
            counts[line["status"]] = counts.get(line["status"], 0) + 1
            lines.append({k: line.get(k) for k in ("status", "continues", "summary")})
        emit(out, line)

    def work(user: str, home: Path) -> None:
        report(push_home(user, home, options, bucket))

    homes = 0
    with ThreadPoolExecutor(max_workers=max(1, options.parallel), thread_name_prefix="hub-push") as pool:
        for user, home in list_homes(options.homes_root, options.shard_index, options.shard_count):
            homes += 1
            if has_credentials(home):
                pool.submit(work, user, home)
            else:  # in the main thread: an unconnected home never waits for a push slot
                report({"type": "user", "user": user, "home": str(home), "status": "not_connected",
                        "reason": "no stored Google Drive credentials"})
    failed = sum(1 for line in lines if needs_action(line))
    summary: dict[str, Any] = {
        "type": "summary", "mode": "homes-root", "shard_index": options.shard_index,
        "shard_count": options.shard_count, "homes": homes, "failed": failed,
        "by_status": dict(sorted(counts.items())), "seconds": round(time.monotonic() - started, 3),
        "continues": sum(1 for line in lines if continues(line)),  # report.continues: nothing failed
    }
    if problems:
        summary["config_problems"] = problems
    emit(out, summary)
    code = run_exit_code(lines)
    return EXIT_USAGE if problems else code  # the admin's configuration first: it may block everyone


def run_single_home(options: HubOptions, out: TextIO) -> int:
    """One home inside a per-PVC Job; exit status as `push` would end (see report.EXIT_CODES)."""
    assert options.home is not None
    user = options.user or SyncSettings.for_home(options.home).username
    line = push_home(user, options.home, options, make_bucket(options))
    emit(out, line)
    if options.termination_log is not None:
        try:
            options.termination_log.write_text(compact(line) + "\n", encoding="utf-8")
        except OSError as exc:
            print(f"cannot write the termination message: {exc}", file=sys.stderr)
    return exit_code(line["status"], line)
