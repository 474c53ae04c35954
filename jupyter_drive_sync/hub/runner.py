"""`hub`: the nightly all-users run (DESIGN §7).

Three modes, one report format (one JSON line per user, then a summary line):

- `--homes-root DIR`: every subdirectory is a user's home on shared storage (NFS, as 2i2c runs
  it). An Indexed Job shards the homes (`JOB_COMPLETION_INDEX`); each shard pushes `--parallel`
  homes at once through ONE shared Pacer, because one Cloud project's quota serves every user.
- `--home DIR --user NAME`: one home, run inside the per-PVC Job that `--kubernetes` creates;
  the report line also goes to the container's termination message for the dispatcher to read.
- `--kubernetes`: the dispatcher (see k8s.py).

A student's failure never stops the others: each push runs in its own try, and its error
(revoked token, full Drive, anything else) becomes that user's report line.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import re
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, TextIO

from ..core.settings import DEFAULT_FOLDER_TEMPLATE, SyncSettings, default_credentials_path
from ..core.model import DeletePolicy, Policy

# Statuses of a user's report line. Only these say "someone must act"; not being connected,
# a home busy with the user's own push, or a skip by design is not a failure of the run.
FAILURE_STATUSES = frozenset({"failed", "needs_reconnect", "drive_refused", "error", "partial", "timeout"})
EXIT_CODES = {"ok": 0, "not_connected": 0, "busy": 0, "skipped": 0, "partial": 1, "error": 1,
              "failed": 1, "needs_reconnect": 3, "drive_refused": 4}
TERMINATION_LIMIT = 4000  # Kubernetes keeps at most 4096 bytes of a termination message
SHARD_INDEX_ENV = "JOB_COMPLETION_INDEX"  # set by Kubernetes in every pod of an Indexed Job
SHARD_COUNT_ENV = "JOB_COMPLETIONS"  # set by our manifest to the Job's `completions`
DEFAULT_HUB_RATE = 1000.0  # requests/s for the whole run; the pacer backs off on 403/429 anyway

_emit_lock = threading.Lock()


def is_failure(status: str) -> bool:
    return status in FAILURE_STATUSES


def emit(out: TextIO, line: dict[str, Any]) -> None:
    """Write one JSON line, whole, even when several push threads finish at once."""
    text = json.dumps(line, separators=(",", ":"), default=str) + "\n"
    with _emit_lock:
        out.write(text)
        out.flush()


@dataclass(slots=True)
class HubOptions:
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


def _summary_dict(summary: Any) -> dict[str, Any]:
    """The push summary, with the per-path lists cut to counts plus a sample (a home may hold
    thousands of skipped sockets; the report must stay one readable line)."""
    data = dataclasses.asdict(summary)
    skipped, failed = data.pop("skipped", []), data.pop("failed", [])
    data["skipped"] = len(skipped)
    data["failed"] = len(failed)
    if failed:
        data["failed_sample"] = failed[:5]
    return data


def push_home(user: str, home: Path, options: HubOptions, pacer: Any) -> dict[str, Any]:
    """Push one home and describe the outcome as a report line; never raises."""
    from ..core.errors import AlreadyRunning, DriveRefused, NotConnected, SyncError

    line: dict[str, Any] = {"type": "user", "user": user, "home": str(home)}
    if not has_credentials(home):
        line.update(status="not_connected", reason="no stored Google Drive credentials")
        return line
    started = time.monotonic()
    try:
        from ..engine.push import run_push

        settings = SyncSettings.for_home(
            home, username=user, api_root=options.api_root, client_secrets_file=options.client_secrets,
            encryption_key=options.encryption_key, folder_template=options.folder_template,
            policy=options.policy, delete_policy=options.delete_policy, workers=options.workers,
        )
        summary = run_push(settings.push_options(pacer=pacer, wait_for_lock=options.wait_for_lock))
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


def make_pacer(options: HubOptions) -> Any:
    from ..drive.pacing import Pacer

    return Pacer(options.rate, max_concurrency=max(1, options.parallel * options.workers))


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
    return 1 if failed else 0


def compact(line: dict[str, Any], limit: int = TERMINATION_LIMIT) -> str:
    """The line as JSON within `limit` bytes, dropping detail before identity and status."""
    text = json.dumps(line, separators=(",", ":"), default=str)
    if len(text.encode()) <= limit:
        return text
    slim = {k: v for k, v in line.items() if k != "summary"}
    if "summary" in line:
        slim["summary"] = {k: v for k, v in line["summary"].items() if k != "failed_sample"}
    if "reason" in slim:
        slim["reason"] = str(slim["reason"])[:500]
    return json.dumps(slim, separators=(",", ":"), default=str)[:limit]


def run_single_home(options: HubOptions, out: TextIO) -> int:
    """One home inside a per-PVC Job; exit status as `push` (0 ok, 1 failures, 3 reconnect, 4 refused)."""
    assert options.home is not None
    user = options.user or SyncSettings.for_home(options.home).username
    line = push_home(user, options.home, options, make_pacer(options))
    emit(out, line)
    if options.termination_log is not None:
        try:
            options.termination_log.write_text(compact(line) + "\n", encoding="utf-8")
        except OSError as exc:
            print(f"cannot write the termination message: {exc}", file=sys.stderr)
    return EXIT_CODES.get(line["status"], 1)


# -- argparse glue (cli.py registers the flags; this turns them into a run) ----------------------


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    try:
        return int(value) if value.strip() else default
    except ValueError:
        return default


def options_from_args(args: argparse.Namespace) -> HubOptions:
    from ..core.errors import ConfigError

    shard_count = args.shard_count if args.shard_count is not None else _env_int(SHARD_COUNT_ENV, 1)
    shard_index = args.shard_index if args.shard_index is not None else _env_int(SHARD_INDEX_ENV, 0)
    if shard_count < 1 or not 0 <= shard_index < shard_count:
        raise ConfigError(f"shard index {shard_index} is not in 0..{shard_count - 1}")
    if args.parallel < 1 or args.workers < 1:
        raise ConfigError("--parallel and --workers must be at least 1")
    return HubOptions(
        homes_root=Path(args.homes_root) if args.homes_root else None,
        home=Path(args.home) if args.home else None,
        user=args.user,
        shard_index=shard_index,
        shard_count=shard_count,
        parallel=args.parallel,
        workers=args.workers,
        rate=args.rate,
        api_root=args.api_root,
        client_secrets=args.client_secrets,
        encryption_key=None,  # from JUPYTER_DRIVE_SYNC_KEY only: a key on the command line leaks via ps
        folder_template=args.folder_template,
        policy=Policy(args.policy),
        delete_policy=DeletePolicy(args.delete),
        wait_for_lock=args.wait_for_lock,
        termination_log=Path(args.termination_log) if args.termination_log else None,
    )


def dispatch_options_from_args(args: argparse.Namespace) -> Any:
    from . import k8s
    from ..core.errors import ConfigError

    image = args.image or os.environ.get("DRIVE_SYNC_IMAGE")
    if not image:
        raise ConfigError("--kubernetes needs --image (or DRIVE_SYNC_IMAGE): the image the push Jobs run")
    if args.night and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", args.night):
        raise ConfigError("--night must look like 2026-05-01")
    if args.max_parallel < 1:
        raise ConfigError("--max-parallel must be at least 1")
    hub_url = args.hub_api_url or None
    token = next((os.environ[n] for n in k8s.HUB_TOKEN_ENVS if os.environ.get(n)), None)
    return k8s.DispatchOptions(
        namespace=args.namespace or k8s.default_namespace(),
        image=image,
        secret_name=args.secret_name,
        pvc_selector=args.pvc_selector,
        server_selector=args.server_selector,
        release=args.release,
        running_users=args.running_users,
        max_parallel=args.max_parallel,
        active_deadline_seconds=args.active_deadline,
        ttl_seconds_after_finished=args.ttl,
        backoff_limit=args.backoff_limit,
        night=args.night,
        job_prefix=args.job_prefix,
        owner_name=os.environ.get(k8s.OWNER_NAME_ENV) or None,
        owner_uid=os.environ.get(k8s.OWNER_UID_ENV) or None,
        api_root=args.api_root,
        folder_template=args.folder_template if args.folder_template != DEFAULT_FOLDER_TEMPLATE else None,
        push_workers=args.workers,
        poll_seconds=args.poll_seconds,
        wait_timeout=args.wait_timeout,
        hub_api_url=hub_url,
        hub_api_token=token,
    )


def main(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Entry point behind `jupyter-drive-sync hub ...`."""
    from ..core.errors import SyncError

    out = out or sys.stdout
    try:
        if args.kubernetes:
            from ..hub.k8s import dispatch

            return dispatch(dispatch_options_from_args(args), out, kube_host=args.kube_host)
        options = options_from_args(args)
        if options.home is not None:
            return run_single_home(options, out)
        if options.homes_root is None or not options.homes_root.is_dir():
            print(f"jupyter-drive-sync hub: {args.homes_root} is not a directory", file=sys.stderr)
            return 2
        return run_homes_root(options, out)
    except SyncError as exc:
        print(f"jupyter-drive-sync hub: {exc}", file=sys.stderr)
        return exc.exit_code
