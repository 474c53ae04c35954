"""`hub --kubernetes`: the nightly dispatcher that pushes every per-user PVC through its own Job.

Zero to JupyterHub gives each user a ReadWriteOnce PVC. A pod can mount such a volume only on
the node it is attached to, so one Job per PVC is the unit of work (DESIGN §7). This module:

1. lists the PVCs by label (`component=singleuser-storage`) and reads each user's name from the
   `hub.jupyter.org/username` *annotation* — never from the PVC name, which KubeSpawner slugs
   and hashes, nor from the label of the same name, which is a lossy slug;
2. finds running single-user servers (same annotation) and skips those users (their own server
   pushes them) or pins their Job to the server's node;
3. optionally asks the JupyterHub API for `last_activity` and skips users idle since the last
   successful push recorded on their PVC (`drive-sync/last-push`): most students are idle on
   most nights, so the nightly cost follows the active users;
4. creates one Job per remaining user with a deterministic name per user per night — a rerun
   meets 409 AlreadyExists and adopts the Job instead of making a second one — keeping at most
   `max_parallel` drive-sync Jobs active;
5. waits, reads each Job's per-user report from its pod's termination message, and prints one
   JSON line per user and a summary line.

Tokens never appear here: the Job reads the encryption key from a Secret via `secretKeyRef`,
the credentials stay in the user's volume, and the hub API token is only sent as a header.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, TextIO

from ..core.settings import API_ROOT_ENV, CLIENT_SECRETS_ENV, KEY_ENV, STATE_SUBDIR
from .runner import emit, is_failure

log = logging.getLogger(__name__)

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
HUB_TOKEN_ENVS = ("DRIVE_SYNC_HUB_API_TOKEN", "JUPYTERHUB_API_TOKEN")
SA_NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
# Exit codes of `jupyter-drive-sync hub --home` that a retry cannot fix (usage, reconnect, Drive full).
FINAL_EXIT_CODES = (2, 3, 4)


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


def default_namespace(environ: dict[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    if env.get("POD_NAMESPACE"):
        return env["POD_NAMESPACE"]
    try:
        with open(SA_NAMESPACE_FILE, encoding="utf-8") as fh:
            return fh.read().strip() or "default"
    except OSError:
        return "default"


def make_api_client(host: str | None = None) -> Any:
    """The official client: `host` for tests and port-forwards, else in-cluster, else kubeconfig."""
    from kubernetes import client, config

    if host:
        return client.ApiClient(client.Configuration(host=host))
    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()
    return client.ApiClient()


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
            {"name": "home", "mountPath": f"{HOME_MOUNT}/{STATE_SUBDIR.as_posix()}",
             "subPath": STATE_SUBDIR.as_posix()},
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


# -- discovery -----------------------------------------------------------------------------------


def _paged(list_fn: Callable[..., Any], **kwargs: Any) -> Iterator[Any]:
    """Every item of a list call, following `continue` (20,000 PVCs are not one response)."""
    token: str | None = None
    while True:
        if token:
            kwargs["_continue"] = token
        page = list_fn(limit=500, **kwargs)
        yield from page.items or []
        token = page.metadata._continue if page.metadata else None
        if not token:
            return


def _annotation(obj: Any, key: str) -> str | None:
    ann = obj.metadata.annotations or {}
    value = ann.get(key)
    return value or None


def _parse_time(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def running_servers(core: Any, options: DispatchOptions) -> dict[str, str | None]:
    """username → node of a running (or starting) single-user server; None if not yet scheduled."""
    servers: dict[str, str | None] = {}
    selector = with_release(options.server_selector, options.release)
    for pod in _paged(core.list_namespaced_pod, namespace=options.namespace, label_selector=selector):
        user = _annotation(pod, USERNAME_ANNOTATION)
        phase = pod.status.phase if pod.status else None
        if not user or phase not in ("Running", "Pending") or pod.metadata.deletion_timestamp:
            continue
        node = pod.spec.node_name if pod.spec else None
        servers[user] = servers.get(user) or node
    return servers


def discover(core: Any, options: DispatchOptions) -> tuple[list[Target], list[dict[str, Any]]]:
    """The users to push tonight, and a report line for each one skipped (with the reason)."""
    targets: list[Target] = []
    skipped: list[dict[str, Any]] = []
    servers = running_servers(core, options)
    selector = with_release(options.pvc_selector, options.release)
    seen: set[str] = set()
    for pvc in _paged(core.list_namespaced_persistent_volume_claim,
                      namespace=options.namespace, label_selector=selector):
        name = pvc.metadata.name
        user = _annotation(pvc, USERNAME_ANNOTATION)
        if not user:
            skipped.append(_line(None, name, "skipped", f"PVC has no {USERNAME_ANNOTATION} annotation"))
            continue
        if pvc.metadata.deletion_timestamp:
            skipped.append(_line(user, name, "skipped", "PVC is being deleted"))
            continue
        if user in seen:
            skipped.append(_line(user, name, "skipped", "another PVC of this user is already scheduled"))
            continue
        seen.add(user)
        last_push = _parse_time(_annotation(pvc, LAST_PUSH_ANNOTATION))
        if user in servers:
            node = servers[user]
            if options.running_users == "pin" and node:
                targets.append(Target(user, name, node=node, last_push=last_push))
            else:
                reason = "server running (it pushes this home itself)" if options.running_users == "skip" \
                    else "server starting and not yet on a node"
                skipped.append(_line(user, name, "skipped", reason))
            continue
        targets.append(Target(user, name, last_push=last_push))
    return targets, skipped


def hub_activity(url: str, token: str | None, timeout: float = 30.0) -> dict[str, dt.datetime | None]:
    """username → latest `last_activity` (user or any of their servers) from the JupyterHub API.

    Follows JupyterHub's pagination when the hub offers it (≥ 2.0), plain lists otherwise.
    The token needs the scopes `list:users` and `read:users:activity`.
    """
    activity: dict[str, dt.datetime | None] = {}
    base = url.rstrip("/") + "/users"
    offset = 0
    while True:
        req = urllib.request.Request(f"{base}?{urllib.parse.urlencode({'offset': offset, 'limit': 200})}")
        req.add_header("Accept", "application/jupyterhub-pagination+json")
        if token:
            req.add_header("Authorization", f"token {token}")
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (admin-configured URL)
            body = json.load(resp)
        items = body.get("items", []) if isinstance(body, dict) else body
        for user in items:
            times = [_parse_time(user.get("last_activity"))]
            times += [_parse_time((s or {}).get("last_activity")) for s in (user.get("servers") or {}).values()]
            known = [t for t in times if t]
            activity[user["name"]] = max(known) if known else None
        nxt = body.get("_pagination", {}).get("next") if isinstance(body, dict) else None
        if not nxt or not items:
            return activity
        offset = int(nxt.get("offset", offset + len(items)))


def idle_since_last_push(target: Target, activity: dict[str, dt.datetime | None]) -> bool:
    """True when the user's server cannot have changed the home since the last good push."""
    if target.last_push is None:
        return False
    last = activity.get(target.username)
    return last is None or last <= target.last_push


# -- results -------------------------------------------------------------------------------------


def _line(user: str | None, pvc: str, status: str, reason: str | None = None, **extra: Any) -> dict[str, Any]:
    line: dict[str, Any] = {"type": "user", "user": user, "pvc": pvc, "status": status}
    if reason:
        line["reason"] = reason
    line.update(extra)
    return line


def _finished(job: Any) -> str | None:
    """"succeeded" / "failed" once the Job is over, else None."""
    status = job.status
    if status is None:
        return None
    for cond in status.conditions or []:
        if cond.status == "True" and cond.type in ("Complete", "SuccessCriteriaMet"):
            return "succeeded"
        if cond.status == "True" and cond.type in ("Failed", "FailureTarget"):
            return "failed"
    return None


def _failure_reason(job: Any) -> str:
    for cond in (job.status.conditions or []) if job.status else []:
        if cond.type in ("Failed", "FailureTarget") and cond.status == "True":
            return f"{cond.reason or 'Failed'}: {cond.message or ''}".strip(": ")
    return "job failed"


def pod_report(core: Any, namespace: str, name: str) -> tuple[dict[str, Any] | None, str | None]:
    """The per-user JSON report the push wrote to its termination message (newest pod first)."""
    pods = core.list_namespaced_pod(namespace=namespace, label_selector=f"{JOB_NAME_LABEL}={name}").items
    pods.sort(key=lambda p: p.metadata.creation_timestamp or dt.datetime.min.replace(tzinfo=dt.timezone.utc),
              reverse=True)
    for pod in pods:
        for cs in (pod.status.container_statuses or []) if pod.status else []:
            term = cs.state.terminated if cs.state else None
            if cs.name != CONTAINER or term is None:
                continue
            message = (term.message or "").strip()
            try:
                report = json.loads(message.splitlines()[-1]) if message else None
            except ValueError:
                report = None
            if isinstance(report, dict):
                return report, None
            detail = f"exit {term.exit_code}" + (f" ({term.reason})" if term.reason else "")
            return None, f"{detail}: {message[-300:]}" if message else detail
    return None, None


# -- the dispatcher ------------------------------------------------------------------------------


@dataclass(slots=True)
class _Tracked:
    target: Target | None  # None: a drive-sync Job from elsewhere that still holds a slot
    adopted: bool = False


class Dispatcher:
    """One night's dispatch: discover, create Jobs within the parallelism budget, collect results."""

    def __init__(self, api_client: Any, options: DispatchOptions, out: TextIO,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        from kubernetes import client

        self.core = client.CoreV1Api(api_client)
        self.batch = client.BatchV1Api(api_client)
        self.options = options
        self.out = out
        self.sleep = sleep
        self.clock = clock
        self.night = options.night or tonight()
        self.counts = {"jobs_created": 0, "jobs_adopted": 0}
        self.lines: list[dict[str, Any]] = []
        self._patch_denied = False

    def _emit(self, line: dict[str, Any]) -> None:
        self.lines.append(line)
        emit(self.out, line)

    def run(self) -> int:
        from kubernetes.client import V1Job
        from kubernetes.client.exceptions import ApiException

        started = self.clock()
        opts = self.options
        targets, skipped = discover(self.core, opts)
        for line in skipped:
            self._emit(line)
        activity = self._activity() if opts.hub_api_url else None
        if activity is not None:
            still: list[Target] = []
            for t in targets:
                if idle_since_last_push(t, activity):
                    self._emit(_line(t.username, t.pvc, "skipped", "no server activity since the last push"))
                else:
                    still.append(t)
            targets = still

        # What already exists: tonight's Jobs are adopted, other drive-sync Jobs still running
        # (a slow last night, a manual run) hold slots until they finish.
        tracked: dict[str, _Tracked] = {}
        existing = {}
        for job in _paged(self.batch.list_namespaced_job, namespace=opts.namespace,
                          label_selector=f"{MANAGED_BY_LABEL}={MANAGED_BY}"):
            existing[job.metadata.name] = job
            if _finished(job) is None:
                tracked[job.metadata.name] = _Tracked(None)
        pending: list[Target] = []
        for t in targets:
            name = job_name(t.username, self.night, opts.job_prefix)
            if name in existing:
                tracked[name] = _Tracked(t, adopted=True)
                self.counts["jobs_adopted"] += 1
            else:
                pending.append(t)
        pending.reverse()  # pop() from the end keeps the PVC listing order

        deadline = started + opts.wait_timeout if opts.wait_timeout > 0 else None
        first = True
        while pending or any(tr.target for tr in tracked.values()):
            if not first:
                self.sleep(opts.poll_seconds)
            first = False
            self._poll(tracked)
            active = len(tracked)
            while pending and active < opts.max_parallel:
                t = pending.pop()
                body = V1Job.from_dict(build_job(t, opts, self.night))
                name = body.metadata.name
                try:
                    self.batch.create_namespaced_job(namespace=opts.namespace, body=body)
                    self.counts["jobs_created"] += 1
                    tracked[name] = _Tracked(t)
                except ApiException as exc:
                    if exc.status != 409:
                        self._emit(_line(t.username, t.pvc, "failed", f"cannot create Job: {exc.status} {exc.reason}",
                                         job=name))
                        continue
                    tracked[name] = _Tracked(t, adopted=True)  # a rerun raced us: never a second Job
                    self.counts["jobs_adopted"] += 1
                active += 1
            if deadline is not None and self.clock() >= deadline:
                self._give_up(tracked, pending)
                break
        return self._summary(started)

    def _activity(self) -> dict[str, dt.datetime | None] | None:
        """The hub's view of who was active; None (push everyone) when the hub cannot say."""
        try:
            return hub_activity(self.options.hub_api_url or "", self.options.hub_api_token)
        except (OSError, ValueError, KeyError) as exc:  # URLError is an OSError
            log.warning("JupyterHub API unavailable (%s): pushing every user tonight", type(exc).__name__)
            return None

    def _poll(self, tracked: dict[str, _Tracked]) -> None:
        """GET each unfinished Job (≤ max_parallel requests); report and forget finished ones."""
        from kubernetes.client.exceptions import ApiException

        for name in list(tracked):
            entry = tracked[name]
            try:
                job = self.batch.read_namespaced_job(name=name, namespace=self.options.namespace)
            except ApiException as exc:
                if exc.status != 404:  # a busy or restarting API server: ask again next round
                    log.warning("cannot read Job %s (%s); retrying", name, exc.status)
                    continue
                del tracked[name]
                if entry.target:
                    self._emit(_line(entry.target.username, entry.target.pvc, "failed",
                                     "the Job disappeared before it finished", job=name))
                continue
            outcome = _finished(job)
            if outcome is None:
                continue
            del tracked[name]
            if entry.target:
                self._collect(entry, job, outcome)

    def _collect(self, entry: _Tracked, job: Any, outcome: str) -> None:
        target = entry.target
        assert target is not None
        name = job.metadata.name
        report, detail = pod_report(self.core, self.options.namespace, name)
        extra: dict[str, Any] = {"job": name}
        if entry.adopted:
            extra["adopted"] = True
        if report is not None:
            status = report.get("status") or ("ok" if outcome == "succeeded" else "failed")
            reason = report.get("reason")
            for key in ("summary", "seconds"):
                if key in report:
                    extra[key] = report[key]
        else:
            status = "ok" if outcome == "succeeded" else "failed"
            reason = None if outcome == "succeeded" else (detail or _failure_reason(job))
        if outcome == "failed" and not is_failure(status) and report is None:
            status = "failed"
        self._emit(_line(target.username, target.pvc, status, reason, **extra))
        if not is_failure(status) and self.options.hub_api_url:
            started = job.status.start_time if job.status else None
            self._record_push(target, started or dt.datetime.now(dt.timezone.utc))

    def _record_push(self, target: Target, when: dt.datetime) -> None:
        """Annotate the PVC so tomorrow's run can skip the user if they stay idle."""
        from kubernetes.client.exceptions import ApiException

        if self._patch_denied:
            return
        stamp = when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = {"metadata": {"annotations": {LAST_PUSH_ANNOTATION: stamp}}}
        try:
            self.core.patch_namespaced_persistent_volume_claim(
                name=target.pvc, namespace=self.options.namespace, body=body)
        except ApiException as exc:
            if exc.status == 403:
                self._patch_denied = True
                log.warning("not allowed to patch PVCs: the idle-user skip cannot record pushes")
            else:
                log.warning("could not annotate PVC %s: %s %s", target.pvc, exc.status, exc.reason)

    def _give_up(self, tracked: dict[str, _Tracked], pending: Iterable[Target]) -> None:
        """The window is over: stop tonight's unfinished Jobs so they release their volumes."""
        from kubernetes.client.exceptions import ApiException

        for name, entry in tracked.items():
            if entry.target is None:
                continue
            try:
                self.batch.delete_namespaced_job(name=name, namespace=self.options.namespace,
                                                 propagation_policy="Background")
            except ApiException as exc:
                if exc.status != 404:
                    log.warning("could not delete Job %s: %s", name, exc.status)
            self._emit(_line(entry.target.username, entry.target.pvc, "timeout",
                             "still running when the dispatcher's wait ended; Job deleted", job=name))
        for t in pending:
            self._emit(_line(t.username, t.pvc, "timeout", "not started before the dispatcher's wait ended"))

    def _summary(self, started: float) -> int:
        users = [ln for ln in self.lines if ln.get("type") == "user"]
        by_status: dict[str, int] = {}
        for ln in users:
            by_status[ln["status"]] = by_status.get(ln["status"], 0) + 1
        failed = sum(1 for ln in users if is_failure(ln["status"]))
        emit(self.out, {
            "type": "summary", "mode": "kubernetes", "night": self.night, "users": len(users),
            "failed": failed, "by_status": by_status, **self.counts,
            "seconds": round(self.clock() - started, 3),
        })
        return 1 if failed else 0


def dispatch(options: DispatchOptions, out: TextIO, api_client: Any | None = None,
             kube_host: str | None = None, sleep: Callable[[float], None] = time.sleep) -> int:
    """Run one night's dispatch; exit status 0 when nobody failed, 1 otherwise."""
    from kubernetes.client.exceptions import ApiException

    api = api_client if api_client is not None else make_api_client(kube_host)
    try:
        return Dispatcher(api, options, out, sleep=sleep).run()
    except ApiException as exc:
        # Most often RBAC (403) or a wrong namespace: say which call, not a traceback.
        print(f"jupyter-drive-sync hub: Kubernetes API refused a request: {exc.status} {exc.reason}",
              file=sys.stderr)
        return 2
