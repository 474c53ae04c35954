"""The batch/v1 Job that pushes one user's volume, built as plain data (what goes over the wire).

Pure: no Kubernetes client and no I/O, so the manifests can be checked offline against the API
schemas. The dispatcher (kube_dispatch.py) creates these Jobs; the CronJob in etc/kubernetes/
runs the dispatcher itself and hands it its own name and UID through OWNER_*_ENV.

Zero to JupyterHub gives each user a ReadWriteOnce PVC, which a pod can mount only on the node
it is attached to, so one Job per PVC is the unit of work. Its name is deterministic per user
per night: a rerun meets 409 AlreadyExists and adopts the Job instead of making a second one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Any

from ..core.errors import EXIT_DRIVE_REFUSED, EXIT_NOT_CONNECTED, EXIT_USAGE
from ..core.settings import API_ROOT_ENV, CLIENT_SECRETS_ENV, KEY_ENV, STATE_DIR_REL

USERNAME_ANNOTATION = "hub.jupyter.org/username"
LAST_PUSH_ANNOTATION = "drive-sync/last-push"
PVC_ANNOTATION = "drive-sync/pvc"
NIGHT_LABEL = "drive-sync/night"
USER_LABEL = "drive-sync/user"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "jupyter-drive-sync"
NAME_LABEL = "app.kubernetes.io/name"
COMPONENT_LABEL = "app.kubernetes.io/component"
RELEASE_LABEL = "app.kubernetes.io/instance"
JOB_NAME_LABEL = "job-name"  # set by the Job controller on its pods
CONTAINER = "push"
HOME_MOUNT = "/home/jovyan"  # where z2jh mounts the home, so paths look the same as in the server
SECRETS_MOUNT = "/etc/jupyter-drive-sync"
TERMINATION_LOG = "/dev/termination-log"
OWNER_NAME_ENV = "DRIVE_SYNC_OWNER_JOB_NAME"
OWNER_UID_ENV = "DRIVE_SYNC_OWNER_JOB_UID"
# Exit codes of `jupyter-drive-sync hub --home` that a retry cannot fix (usage, reconnect, Drive full).
FINAL_EXIT_CODES = (EXIT_USAGE, EXIT_NOT_CONNECTED, EXIT_DRIVE_REFUSED)


@dataclass(slots=True)
class DispatchOptions:
    """Everything the dispatcher needs; the CLI fills it from flags and the environment."""

    namespace: str
    image: str
    secret_name: str = "jupyter-drive-sync"
    pvc_selector: str = "component=singleuser-storage"
    server_selector: str = "component=singleuser-server"
    release: str | None = None  # adds app.kubernetes.io/instance=<release> to both selectors
    running_users: str = "skip"  # "skip" | "pin"
    max_parallel: int = 10
    active_deadline_seconds: int = 3600
    ttl_seconds_after_finished: int = 6 * 3600
    backoff_limit: int = 2
    night: str | None = None  # YYYY-MM-DD (UTC); default today
    job_prefix: str = "drive-sync"
    owner_name: str | None = None  # the dispatcher's own Job (downward API), for garbage collection
    owner_uid: str | None = None
    api_root: str | None = None  # passed to the push Jobs (e.g. an emulator); default Google
    folder_template: str | None = None
    push_workers: int | None = None
    # Limits passed to each push Job: a home's time budget tonight, writes/s per account, and the
    # project's Drive API quota (units/min), of which each of the max_parallel Jobs gets its share.
    max_minutes_per_home: float | None = None
    write_rate: float | None = None
    project_quota_per_minute: float | None = None
    image_pull_policy: str = "IfNotPresent"
    poll_seconds: float = 10.0
    wait_timeout: float = 0.0  # 0: wait until every Job has finished
    hub_api_url: str | None = None  # enables the "idle since last push" skip
    hub_api_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Target:
    """One user's volume and where (if anywhere) it is attached right now."""

    username: str
    pvc: str
    node: str | None = None  # pin the Job here (the user's server runs on it)
    last_push: dt.datetime | None = None


# -- names and selectors ------------------------------------------------------------------------


def user_hash(username: str) -> str:
    return hashlib.sha256(username.encode("utf-8")).hexdigest()[:12]


def tonight(now: dt.datetime | None = None) -> str:
    return (now or dt.datetime.now(dt.timezone.utc)).strftime("%Y-%m-%d")


def job_name(username: str, night: str, prefix: str = "drive-sync") -> str:
    """`drive-sync-20260501-<hash>`: DNS-1123, ≤ 63 chars, the same for a user all night."""
    return f"{prefix}-{night.replace('-', '')}-{user_hash(username)}"


def with_release(selector: str, release: str | None) -> str:
    return f"{selector},{RELEASE_LABEL}={release}" if release else selector


# -- the Job -------------------------------------------------------------------------------------


def build_job(target: Target, options: DispatchOptions, night: str) -> dict[str, Any]:
    """The batch/v1 Job that pushes one user's volume; a plain dict (what goes over the wire).

    The home is mounted read-only; only the tool's own state directory (same volume, subPath)
    is writable, because the push records Drive IDs and takes its lock there.
    """
    name = job_name(target.username, night, options.job_prefix)
    labels = {
        NAME_LABEL: "jupyter-drive-sync",
        COMPONENT_LABEL: "push",
        MANAGED_BY_LABEL: MANAGED_BY,
        NIGHT_LABEL: night,
        USER_LABEL: user_hash(target.username),
    }
    annotations = {USERNAME_ANNOTATION: target.username, PVC_ANNOTATION: target.pvc}
    args = ["hub", "--home", HOME_MOUNT, "--user", target.username, "--termination-log", TERMINATION_LOG]
    if options.folder_template:
        args += ["--folder-template", options.folder_template]
    if options.push_workers:
        args += ["--workers", str(options.push_workers)]
    if options.max_minutes_per_home:
        args += ["--max-minutes-per-home", f"{options.max_minutes_per_home:g}"]
    if options.write_rate is not None:
        args += ["--write-rate", f"{options.write_rate:g}"]
    if options.project_quota_per_minute:  # each Job is its own process: the quota split between them
        args += ["--project-quota-per-minute", f"{options.project_quota_per_minute / max(1, options.max_parallel):g}"]
    env = [
        {"name": "HOME", "value": HOME_MOUNT},
        {"name": "JUPYTERHUB_USER", "value": target.username},
        {"name": KEY_ENV, "valueFrom": {"secretKeyRef": {
            "name": options.secret_name, "key": "encryption-key", "optional": True}}},
        {"name": CLIENT_SECRETS_ENV, "value": f"{SECRETS_MOUNT}/client_secrets.json"},
    ]
    if options.api_root:
        env.append({"name": API_ROOT_ENV, "value": options.api_root})
    container = {
        "name": CONTAINER,
        "image": options.image,
        "imagePullPolicy": options.image_pull_policy,
        "command": ["jupyter-drive-sync"],
        "args": args,
        "env": env,
        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "terminationMessagePath": TERMINATION_LOG,
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "volumeMounts": [
            {"name": "home", "mountPath": HOME_MOUNT, "readOnly": True},
            {"name": "home", "mountPath": f"{HOME_MOUNT}/{STATE_DIR_REL}",
             "subPath": STATE_DIR_REL},
            {"name": "secrets", "mountPath": SECRETS_MOUNT, "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": {
            "runAsUser": 1000,
            "runAsGroup": 100,
            "fsGroup": 100,
            "fsGroupChangePolicy": "OnRootMismatch",  # no recursive chown of 20,000 files a night
            "runAsNonRoot": True,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": [
            {"name": "home", "persistentVolumeClaim": {"claimName": target.pvc}},
            {"name": "secrets", "secret": {
                "secretName": options.secret_name, "optional": True, "defaultMode": 0o440,
                "items": [{"key": "client_secrets.json", "path": "client_secrets.json"}]}},
            {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
        ],
    }
    if target.node:
        pod_spec["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchFields": [
                {"key": "metadata.name", "operator": "In", "values": [target.node]}]}]}}}
    metadata: dict[str, Any] = {"name": name, "labels": labels, "annotations": annotations}
    if options.owner_name and options.owner_uid:
        metadata["ownerReferences"] = [{
            "apiVersion": "batch/v1", "kind": "Job",
            "name": options.owner_name, "uid": options.owner_uid,
        }]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata,
        "spec": {
            "backoffLimit": options.backoff_limit,
            "activeDeadlineSeconds": options.active_deadline_seconds,
            "ttlSecondsAfterFinished": options.ttl_seconds_after_finished,
            "podFailurePolicy": {"rules": [
                {"action": "FailJob", "onExitCodes": {
                    "containerName": CONTAINER, "operator": "In", "values": list(FINAL_EXIT_CODES)}},
                {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]},
            ]},
            "template": {"metadata": {"labels": labels, "annotations": annotations}, "spec": pod_spec},
        },
    }
