"""`hub --homes-root` and `hub --home`: the nightly run over homes this process can reach.

- `--homes-root DIR`: every subdirectory is a user's home on shared storage (NFS, as 2i2c runs
  it). An Indexed Job shards the homes (`JOB_COMPLETION_INDEX`); each shard pushes `--parallel`
  homes at once through ONE shared request pacer, because one Cloud project's quota serves
  every user.
- `--home DIR --user NAME`: one home, run inside the per-PVC Job that `--kubernetes` creates
  (kube_dispatch.py); the report line also goes to the container's termination message for the
  dispatcher to read.

A student's failure never stops the others: each push runs in its own try, and its error
(revoked token, full Drive, anything else) becomes that user's report line (report.py).
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

from ..core.errors import EXIT_OK, EXIT_SOME_FAILED, AlreadyRunning, DriveRefused, NotConnected, SyncError
from ..core.model import DeletePolicy, Policy, PushSummary
from ..core.options import RequestPacer, push_options
from ..core.settings import DEFAULT_FOLDER_TEMPLATE, SyncSettings, default_credentials_path
from ..engine.pool import shared_pacer
from ..engine.push import run_push
from .report import compact, emit, exit_code, is_failure

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
    rate: float = DEFAULT_HUB_RATE
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


def push_home(user: str, home: Path, options: HubOptions, pacer: RequestPacer) -> dict[str, Any]:
    """Push one home and describe the outcome as a report line; never raises."""
    line: dict[str, Any] = {"type": "user", "user": user, "home": str(home)}
    if not has_credentials(home):
        line.update(status="not_connected", reason="no stored Google Drive credentials")
        return line
    started = time.monotonic()
    try:
        settings = SyncSettings.for_home(
            home, username=user, api_root=options.api_root, client_secrets_file=options.client_secrets,
            encryption_key=options.encryption_key, folder_template=options.folder_template,
            policy=options.policy, delete_policy=options.delete_policy, workers=options.workers,
        )
        summary = run_push(push_options(settings, pacer=pacer, wait_for_lock=options.wait_for_lock))
    except NotConnected as exc:
        line.update(status="needs_reconnect", reason=str(exc))
    except DriveRefused as exc:
        line.update(status="drive_refused", reason=str(exc))
    except AlreadyRunning as exc:
        line.update(status="busy", reason=str(exc))
    except SyncError as exc:
        line.update(status="error", reason=str(exc))
    except Exception as exc:  # noqa: BLE001 - one student's surprise must not stop the others
        line.update(status="error", reason=f"{type(exc).__name__}: {exc}")
    else:
        line["status"] = "partial" if summary.failed else "ok"
        if summary.failed:
            line["reason"] = f"{len(summary.failed)} file(s) failed"
        line["summary"] = _summary_dict(summary)
    line["seconds"] = round(time.monotonic() - started, 3)
    return line


def make_pacer(options: HubOptions) -> RequestPacer:
    """The one pacer every push of this process shares: parallel × workers requests in flight."""
    return shared_pacer(options.rate, max_concurrency=max(1, options.parallel * options.workers))


# -- the runs ------------------------------------------------------------------------------------


def run_homes_root(options: HubOptions, out: TextIO) -> int:
    """Push every connected home of this shard, `parallel` at a time; 1 if anyone failed."""
    assert options.homes_root is not None
    started = time.monotonic()
    pacer = make_pacer(options)
    counts: dict[str, int] = {}
    lock = threading.Lock()

    def report(line: dict[str, Any]) -> None:
        with lock:
            counts[line["status"]] = counts.get(line["status"], 0) + 1
        emit(out, line)

    def work(user: str, home: Path) -> None:
        report(push_home(user, home, options, pacer))

    homes = 0
    with ThreadPoolExecutor(max_workers=max(1, options.parallel), thread_name_prefix="hub-push") as pool:
        for user, home in list_homes(options.homes_root, options.shard_index, options.shard_count):
            homes += 1
            if has_credentials(home):
                pool.submit(work, user, home)
            else:  # in the main thread: an unconnected home never waits for a push slot
                report({"type": "user", "user": user, "home": str(home), "status": "not_connected",
                        "reason": "no stored Google Drive credentials"})
    failed = sum(n for status, n in counts.items() if is_failure(status))
    emit(out, {
        "type": "summary", "mode": "homes-root", "shard_index": options.shard_index,
        "shard_count": options.shard_count, "homes": homes, "failed": failed,
        "by_status": dict(sorted(counts.items())), "seconds": round(time.monotonic() - started, 3),
    })
    return EXIT_SOME_FAILED if failed else EXIT_OK


def run_single_home(options: HubOptions, out: TextIO) -> int:
    """One home inside a per-PVC Job; exit status as `push` would end (see report.EXIT_CODES)."""
    assert options.home is not None
    user = options.user or SyncSettings.for_home(options.home).username
    line = push_home(user, options.home, options, make_pacer(options))
    emit(out, line)
    if options.termination_log is not None:
        try:
            options.termination_log.write_text(compact(line) + "\n", encoding="utf-8")
        except OSError as exc:
            print(f"cannot write the termination message: {exc}", file=sys.stderr)
    return exit_code(line["status"])
