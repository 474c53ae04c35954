"""A small stateful Kubernetes API server on loopback, for driving the real `kubernetes` client.

It speaks the real REST paths and shapes (lists with `metadata.continue`, 404/409 `Status`
objects, strategic/merge patches of metadata) for the few resources the dispatcher uses:
PersistentVolumeClaims, Pods and batch/v1 Jobs, plus a JupyterHub `/hub/api/users`.

Jobs run on a logical clock, not wall time: every GET of a Job or list of Jobs is one tick;
a Job finishes `job_ticks` ticks after it was created, its pod then shows the termination
message that `outcome(job)` decides. The server records the largest number of unfinished
Jobs ever seen at once, so a test can check `--max-parallel`.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

Outcome = Callable[[dict[str, Any]], "tuple[int, str]"]


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def match_selector(labels: dict[str, str], selector: str | None) -> bool:
    """Equality, inequality, existence and `in (...)` terms, comma-separated (AND)."""
    if not selector:
        return True
    terms, depth, cur = [], 0, ""
    for ch in selector:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            terms.append(cur)
            cur = ""
        else:
            cur += ch
    terms.append(cur)
    for term in (t.strip() for t in terms if t.strip()):
        if " in " in term:
            key, values = term.split(" in ", 1)
            if labels.get(key.strip()) not in {v.strip() for v in values.strip("() ").split(",")}:
                return False
        elif "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key.strip()) == value.strip():
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key.strip()) != value.strip():
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def status_object(code: int, reason: str, message: str, name: str = "", kind: str = "") -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "details": {"name": name, "kind": kind}, "code": code}


def merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
    """JSON merge patch (RFC 7386); the strategic merge of plain maps is the same."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


class FakeKube:
    """The state behind the server; tests add PVCs/pods and read what the dispatcher did."""

    def __init__(self, namespace: str = "jhub", job_ticks: int = 3, page_size: int | None = None) -> None:
        self.namespace = namespace
        self.job_ticks = job_ticks
        self.page_size = page_size  # force `continue` paging even when the client asks for more
        self.outcome: Outcome = lambda job: (0, json.dumps({"type": "user", "status": "ok"}))
        self.pvcs: dict[str, dict[str, Any]] = {}
        self.pods: dict[str, dict[str, Any]] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.hub_users: list[dict[str, Any]] | None = None
        self.hub_token: str | None = None
        self.log: list[tuple[str, str]] = []  # (method, path?query)
        self.created: list[str] = []
        self.conflicts = 0
        self.forbidden: set[tuple[str, str]] = set()  # (method, resource) answered 403, as RBAC would
        self.max_active = 0
        self.tick = 0
        self._job_born: dict[str, int] = {}
        self.lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- fixtures ---------------------------------------------------------------------------------

    def add_pvc(self, name: str, username: str | None, labels: dict[str, str] | None = None,
                annotations: dict[str, str] | None = None) -> None:
        ann = dict(annotations or {})
        if username is not None:
            ann["hub.jupyter.org/username"] = username
        self.pvcs[name] = {
            "apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": name, "namespace": self.namespace, "uid": str(uuid.uuid4()),
                         "creationTimestamp": _now(),
                         "labels": {"component": "singleuser-storage", "app": "jupyterhub", **(labels or {})},
                         "annotations": ann},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}},
            "status": {"phase": "Bound"},
        }

    def add_server_pod(self, name: str, username: str, node: str | None = "node-1", phase: str = "Running",
                       labels: dict[str, str] | None = None) -> None:
        self.pods[name] = {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": self.namespace, "uid": str(uuid.uuid4()),
                         "creationTimestamp": _now(),
                         "labels": {"component": "singleuser-server", "app": "jupyterhub", **(labels or {})},
                         "annotations": {"hub.jupyter.org/username": username}},
            "spec": {"containers": [{"name": "notebook", "image": "jupyter/base"}],
                     **({"nodeName": node} if node else {})},
            "status": {"phase": phase},
        }

    def add_job(self, body: dict[str, Any], finished: bool = False) -> None:
        """A Job that exists before the dispatcher runs (from last night, or a manual run)."""
        with self.lock:
            self._store_job(copy.deepcopy(body))
            if finished:
                self._finish(body["metadata"]["name"])

    # -- server lifecycle -------------------------------------------------------------------------

    def start(self) -> str:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _body(self) -> Any:
                n = int(self.headers.get("Content-Length") or 0)
                return json.loads(self.rfile.read(n) or b"null") if n else None

            def _send(self, code: int, obj: Any) -> None:
                data = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self) -> None:
                body = self._body() if self.command in ("POST", "PATCH", "PUT", "DELETE") else None
                code, obj = fake.route(self.command, self.path, body, dict(self.headers))
                self._send(code, obj)

            do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    # -- routing ----------------------------------------------------------------------------------

    def route(self, method: str, raw_path: str, body: Any, headers: dict[str, str]) -> tuple[int, Any]:
        parts = urlsplit(raw_path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        segs = [s for s in parts.path.split("/") if s]
        with self.lock:
            self.log.append((method, raw_path))
            if segs[:3] == ["hub", "api", "users"]:
                return self._hub_users(query, headers)
            if segs[:2] == ["api", "v1"] and len(segs) >= 5 and segs[2] == "namespaces":
                ns, kind, name = segs[3], segs[4], (segs[5] if len(segs) > 5 else None)
                store = {"persistentvolumeclaims": self.pvcs, "pods": self.pods}.get(kind)
            elif segs[:3] == ["apis", "batch", "v1"] and len(segs) >= 6 and segs[3] == "namespaces":
                ns, kind, name = segs[4], segs[5], (segs[6] if len(segs) > 6 else None)
                store = self.jobs if kind == "jobs" else None
            else:
                return 404, status_object(404, "NotFound", f"the server could not find {parts.path}")
            if store is None or ns != self.namespace:
                return 404, status_object(404, "NotFound", f"{kind} in {ns} not served")
            if (method, kind) in self.forbidden:
                return 403, status_object(403, "Forbidden", f'{kind} is forbidden: User "system:serviceaccount:'
                                          f'{ns}:jupyter-drive-sync" cannot {method.lower()} resource "{kind}"')
            if kind == "jobs":
                self._advance()
            if name is None and method == "GET":
                return 200, self._list(kind, store, query)
            if name is None and method == "POST" and kind == "jobs":
                return self._create_job(body)
            if name is None:
                return 405, status_object(405, "MethodNotAllowed", "not supported")
            obj = store.get(name)
            if obj is None:
                return 404, status_object(404, "NotFound", f'{kind} "{name}" not found', name, kind)
            if method == "GET":
                return 200, obj
            if method == "PATCH" and kind == "persistentvolumeclaims":
                merge(obj, {"metadata": (body or {}).get("metadata", {})})
                return 200, obj
            if method == "DELETE" and kind == "jobs":
                del self.jobs[name]
                for pod_name in [p for p, pod in self.pods.items()
                                 if pod["metadata"]["labels"].get("job-name") == name]:
                    del self.pods[pod_name]
                return 200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                             "details": {"name": name, "group": "batch", "kind": "jobs"}}
            return 405, status_object(405, "MethodNotAllowed", "not supported")

    def _list(self, kind: str, store: dict[str, dict[str, Any]], query: dict[str, str]) -> dict[str, Any]:
        items = [o for o in store.values() if match_selector(o["metadata"].get("labels") or {},
                                                             query.get("labelSelector"))]
        items.sort(key=lambda o: o["metadata"]["name"])
        start = int(query.get("continue") or 0)
        size = int(query.get("limit") or 0) or len(items) or 1
        if self.page_size:
            size = min(size, self.page_size)
        page = items[start:start + size]
        meta: dict[str, Any] = {"resourceVersion": str(len(self.log))}
        if start + size < len(items):
            meta["continue"] = str(start + size)
        list_kind = {"persistentvolumeclaims": "PersistentVolumeClaimList", "pods": "PodList",
                     "jobs": "JobList"}[kind]
        return {"kind": list_kind, "apiVersion": "batch/v1" if kind == "jobs" else "v1",
                "metadata": meta, "items": page}

    def _hub_users(self, query: dict[str, str], headers: dict[str, str]) -> tuple[int, Any]:
        if self.hub_users is None:
            return 404, {"status": 404, "message": "Not Found"}
        auth = headers.get("Authorization") or headers.get("authorization") or ""
        if self.hub_token and auth != f"token {self.hub_token}":
            return 403, {"status": 403, "message": "Forbidden"}
        offset, limit = int(query.get("offset", 0)), int(query.get("limit", 200))
        page = self.hub_users[offset:offset + limit]
        nxt = {"offset": offset + limit, "limit": limit} if offset + limit < len(self.hub_users) else None
        return 200, {"items": page, "_pagination": {"offset": offset, "limit": limit,
                                                     "total": len(self.hub_users), "next": nxt}}

    # -- the Job "controller" and "kubelet" -------------------------------------------------------

    def active_jobs(self) -> list[str]:
        return [n for n, j in self.jobs.items() if not j["status"].get("conditions")]

    def _store_job(self, body: dict[str, Any]) -> dict[str, Any]:
        name = body["metadata"]["name"]
        body["metadata"].update(namespace=self.namespace, uid=str(uuid.uuid4()), creationTimestamp=_now(),
                                resourceVersion=str(len(self.log)))
        body["status"] = {"active": 1, "startTime": _now()}
        self.jobs[name] = body
        self._job_born[name] = self.tick
        self.max_active = max(self.max_active, len(self.active_jobs()))
        return body

    def _create_job(self, body: dict[str, Any]) -> tuple[int, Any]:
        name = body["metadata"]["name"]
        if name in self.jobs:
            self.conflicts += 1
            return 409, status_object(409, "AlreadyExists", f'jobs.batch "{name}" already exists', name, "jobs")
        self.created.append(name)
        return 201, self._store_job(body)

    def _advance(self) -> None:
        self.tick += 1
        for name in self.active_jobs():
            if self.tick - self._job_born[name] >= self.job_ticks:
                self._finish(name)

    def _finish(self, name: str) -> None:
        job = self.jobs[name]
        exit_code, message = self.outcome(job)
        ok = exit_code == 0
        pod_name = f"{name}-{uuid.uuid4().hex[:5]}"
        self.pods[pod_name] = {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": pod_name, "namespace": self.namespace, "creationTimestamp": _now(),
                         "labels": {**job["spec"]["template"]["metadata"].get("labels", {}),
                                    "job-name": name, "batch.kubernetes.io/job-name": name,
                                    "controller-uid": job["metadata"]["uid"]}},
            "spec": job["spec"]["template"]["spec"],
            "status": {"phase": "Succeeded" if ok else "Failed", "containerStatuses": [{
                "name": "push", "image": "x", "imageID": "", "ready": False, "restartCount": 0,
                "state": {"terminated": {"exitCode": exit_code, "message": message,
                                         "reason": "Completed" if ok else "Error"}}}]},
        }
        cond = {"type": "Complete" if ok else "Failed", "status": "True", "lastTransitionTime": _now(),
                **({} if ok else {"reason": "PodFailurePolicy", "message": f"exit code {exit_code}"})}
        job["status"] = {"startTime": job["status"].get("startTime", _now()), "completionTime": _now(),
                         "succeeded" if ok else "failed": 1, "conditions": [cond]}
