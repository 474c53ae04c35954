"""`hub --kubernetes`: the nightly dispatcher that pushes every per-user PVC through its own Job.

With the official `kubernetes` client (the optional `hub` extra), it:

1. lists the PVCs by label (`component=singleuser-storage`) and reads each user's name from the
   `hub.jupyter.org/username` *annotation* — never from the PVC name, which KubeSpawner slugs
   and hashes, nor from the label of the same name, which is a lossy slug;
2. finds running single-user servers (same annotation) and skips those users (their own server
   pushes them) or pins their Job to the server's node;
3. optionally asks the JupyterHub API for `last_activity` (activity.py) and skips users idle
   since the last successful push recorded on their PVC (`drive-sync/last-push`);
4. creates one Job per remaining user (manifest.py), adopting tonight's Job when it already
   exists, keeping at most `max_parallel` drive-sync Jobs active;
5. waits, reads each Job's per-user report from its pod's termination message, and prints one
   JSON line per user and a summary line (report.py).

Tokens never appear here: the Job reads the encryption key from a Secret via `secretKeyRef`,
the credentials stay in the user's volume, and the hub API token is only sent as a header.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, TextIO

from kubernetes import client, config
from kubernetes.client import V1Job
from kubernetes.client.exceptions import ApiException

from ..core.errors import EXIT_USAGE
from .activity import hub_activity, idle_since_last_push, parse_time
from .manifest import (
    CONTAINER,
    JOB_NAME_LABEL,
    LAST_PUSH_ANNOTATION,
    MANAGED_BY,
    MANAGED_BY_LABEL,
    USERNAME_ANNOTATION,
    DispatchOptions,
    Target,
    build_job,
    job_name,
    tonight,
    with_release,
)
from .report import continues, count_by_status, emit, is_failure, needs_action, parse_line, run_exit_code

log = logging.getLogger(__name__)

SA_NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"


def default_namespace(environ: dict[str, str] | None = None) -> str:
    """The dispatcher's own namespace (POD_NAMESPACE or the service account's), else "default"."""
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
    if host:
        return client.ApiClient(client.Configuration(host=host))
    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()
    return client.ApiClient()


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
        last_push = parse_time(_annotation(pvc, LAST_PUSH_ANNOTATION))
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
            report = parse_line(message)
            if report is not None:
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
            for key in ("summary", "seconds", "continues", "files_done", "files_total"):
                if key in report:
                    extra[key] = report[key]
        else:
            status = "ok" if outcome == "succeeded" else "failed"
            reason = None if outcome == "succeeded" else (detail or _failure_reason(job))
        if outcome == "failed" and not is_failure(status) and report is None:
            status = "failed"
        self._emit(_line(target.username, target.pvc, status, reason, **extra))
        # only a finished push counts as one: a home stopped by its time budget is not idle tomorrow
        if not is_failure(status) and self.options.hub_api_url:
            started = job.status.start_time if job.status else None
            self._record_push(target, started or dt.datetime.now(dt.timezone.utc))

    def _record_push(self, target: Target, when: dt.datetime) -> None:
        """Annotate the PVC so tomorrow's run can skip the user if they stay idle."""
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
        by_status = count_by_status(users)
        failed = sum(1 for ln in users if needs_action(ln))
        emit(self.out, {
            "type": "summary", "mode": "kubernetes", "night": self.night, "users": len(users),
            "failed": failed, "by_status": by_status, **self.counts,
            "continues": sum(1 for ln in users if continues(ln)),  # report.continues: nothing failed
            "seconds": round(self.clock() - started, 3),
        })
        return run_exit_code(users)


def dispatch(options: DispatchOptions, out: TextIO, api_client: Any | None = None,
             kube_host: str | None = None, sleep: Callable[[float], None] = time.sleep) -> int:
    """Run one night's dispatch; exit status 0 when nobody failed, 1 otherwise."""
    api = api_client if api_client is not None else make_api_client(kube_host)
    try:
        return Dispatcher(api, options, out, sleep=sleep).run()
    except ApiException as exc:
        # Most often RBAC (403) or a wrong namespace: say which call, not a traceback.
        print(f"jupyter-drive-sync hub: Kubernetes API refused a request: {exc.status} {exc.reason}",
              file=sys.stderr)
        return EXIT_USAGE
