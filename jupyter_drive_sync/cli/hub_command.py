"""`jupyter-drive-sync hub ...`: the nightly all-users run, from its flags to an exit status.

Three modes, one report format (hub/report.py): `--homes-root` and `--home` run here
(hub/runner.py); `--kubernetes` dispatches one Job per user volume (hub/kube_dispatch.py).
The flags themselves are declared with the other commands' in cli/__init__.py.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import TextIO

from ..core.errors import ConfigError, SyncError
from ..core.model import DeletePolicy, Policy
from ..core.settings import DEFAULT_FOLDER_TEMPLATE, resolve_write_rate
from ..hub.activity import HUB_TOKEN_ENVS
from ..hub.manifest import OWNER_NAME_ENV, OWNER_UID_ENV, DispatchOptions
from ..hub.runner import SHARD_COUNT_ENV, SHARD_INDEX_ENV, HubOptions, run_homes_root, run_single_home
from .output import report_error


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    try:
        return int(value) if value.strip() else default
    except ValueError:
        return default


def _check_limits(args: argparse.Namespace) -> None:
    """The pacing and budget flags, each in one line when out of range (ConfigError, exit 2)."""
    for flag, value in (("--project-quota-per-minute", args.project_quota_per_minute),
                        ("--user-quota-per-minute", args.user_quota_per_minute),
                        ("--max-minutes-per-home", args.max_minutes_per_home)):
        if value is not None and not value > 0:  # NaN too
            raise ConfigError(f"{flag} must be more than 0, not {value}")
    # the flag, else JUPYTER_DRIVE_SYNC_WRITE_RATE (what each home's push would use): the one rule
    resolve_write_rate(args.write_rate, name="--write-rate")
    if not args.rate > 0:
        raise ConfigError(f"--rate must be more than 0, not {args.rate}")


def options_from_args(args: argparse.Namespace) -> HubOptions:
    """`--homes-root` / `--home` flags → HubOptions; the shard defaults come from the Indexed Job."""
    shard_count = args.shard_count if args.shard_count is not None else _env_int(SHARD_COUNT_ENV, 1)
    shard_index = args.shard_index if args.shard_index is not None else _env_int(SHARD_INDEX_ENV, 0)
    if shard_count < 1 or not 0 <= shard_index < shard_count:
        raise ConfigError(f"shard index {shard_index} is not in 0..{shard_count - 1}")
    if args.parallel < 1 or args.workers < 1:
        raise ConfigError("--parallel and --workers must be at least 1")
    _check_limits(args)
    return HubOptions(
        homes_root=Path(args.homes_root) if args.homes_root else None,
        home=Path(args.home) if args.home else None,
        user=args.user,
        shard_index=shard_index,
        shard_count=shard_count,
        parallel=args.parallel,
        workers=args.workers,
        rate=args.rate,
        project_quota_per_minute=args.project_quota_per_minute,
        user_quota_per_minute=args.user_quota_per_minute,
        write_rate=args.write_rate,
        max_minutes_per_home=args.max_minutes_per_home,
        api_root=args.api_root,
        client_secrets=args.client_secrets,
        encryption_key=None,  # from JUPYTER_DRIVE_SYNC_KEY only: a key on the command line leaks via ps
        folder_template=args.folder_template,
        policy=Policy(args.policy),
        delete_policy=DeletePolicy(args.delete),
        wait_for_lock=args.wait_for_lock,
        termination_log=Path(args.termination_log) if args.termination_log else None,
    )


def dispatch_options_from_args(args: argparse.Namespace, namespace: str) -> DispatchOptions:
    """`--kubernetes` flags (and the dispatcher pod's environment) → DispatchOptions."""
    image = args.image or os.environ.get("DRIVE_SYNC_IMAGE")
    if not image:
        raise ConfigError("--kubernetes needs --image (or DRIVE_SYNC_IMAGE): the image the push Jobs run")
    if args.night and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", args.night):
        raise ConfigError("--night must look like 2026-05-01")
    if args.max_parallel < 1:
        raise ConfigError("--max-parallel must be at least 1")
    _check_limits(args)
    budget = args.max_minutes_per_home
    if budget is not None and args.active_deadline and budget * 60 >= args.active_deadline:
        raise ConfigError(f"--max-minutes-per-home {budget:g} leaves no time before --active-deadline "
                          f"{args.active_deadline} s stops the Job: raise --active-deadline above {budget * 60 + 300:g}")
    hub_url = args.hub_api_url or None
    token = next((os.environ[n] for n in HUB_TOKEN_ENVS if os.environ.get(n)), None)
    return DispatchOptions(
        namespace=namespace,
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
        owner_name=os.environ.get(OWNER_NAME_ENV) or None,
        owner_uid=os.environ.get(OWNER_UID_ENV) or None,
        api_root=args.api_root,
        folder_template=args.folder_template if args.folder_template != DEFAULT_FOLDER_TEMPLATE else None,
        push_workers=args.workers,
        max_minutes_per_home=args.max_minutes_per_home,
        # the flag, else the dispatcher's JUPYTER_DRIVE_SYNC_WRITE_RATE: the Jobs get it as a flag
        write_rate=resolve_write_rate(args.write_rate, name="--write-rate"),
        project_quota_per_minute=args.project_quota_per_minute,
        poll_seconds=args.poll_seconds,
        wait_timeout=args.wait_timeout,
        hub_api_url=hub_url,
        hub_api_token=token,
    )


def _run_kubernetes(args: argparse.Namespace, out: TextIO) -> int:
    # Imported here, not at the top: the Kubernetes client is the optional `hub` extra, which
    # only the dispatcher needs (`--homes-root` and the per-PVC `--home` runs do without it).
    from ..hub.kube_dispatch import default_namespace, dispatch

    options = dispatch_options_from_args(args, namespace=args.namespace or default_namespace())
    return dispatch(options, out, kube_host=args.kube_host)


def main(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Entry point behind `jupyter-drive-sync hub ...`."""
    out = out or sys.stdout
    try:
        if args.kubernetes:
            return _run_kubernetes(args, out)
        options = options_from_args(args)
        if options.home is not None:
            return run_single_home(options, out)
        if options.homes_root is None or not options.homes_root.is_dir():
            raise ConfigError(f"{args.homes_root} is not a directory")
        return run_homes_root(options, out)
    except SyncError as exc:
        return report_error("jupyter-drive-sync hub", exc)
