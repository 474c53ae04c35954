"""A 20,000-student hub night under Google's limits, simulated: how long it lasts and what bounds it.

The real dispatcher (`hub/kube_dispatch.py`, the official `kubernetes` client) runs against the
fake Kubernetes API of the tests (`tests/hub/kube_fake.py`, real REST over loopback) holding
20,000 student PVCs and a JupyterHub `/hub/api/users` with each student's `last_activity`. The
dispatcher discovers the PVCs, skips running servers and students idle since their last push,
creates one Job per remaining student (at most `--max-parallel` at once) with the flags it
passes in the manifest (`--max-minutes-per-home`, `--write-rate`, `--project-quota-per-minute`
split between the parallel Jobs), polls them every `poll_seconds`, and reads each Job's report.

What is simulated is time and the pushes themselves (homes scaled down to a model): the
dispatcher's clock and sleep are a simulated clock, and a Job finishes in the fake API when its
modelled duration has passed:

    duration = attach + start + reads × read round trip + writes ÷ rate, capped by the budget
    rate     = min(the account's write rate, the Job's share of the project quota)

where reads and writes follow a push of that student's home (changed files or a first push, one
write per file and per new folder, the first `burst` writes free), the read round trip is
the emulator's `--profile google` figure, and the budget is `--max-minutes-per-home` (the rest
"continues next night"). Jumping the clock straight to the next poll at which a Job ends gives
the dispatcher the same answers as sleeping through the polls in between, in fewer requests.

Prints one JSON object per night (its length, the lower bounds each limit sets, the one that
binds) and a summary line. The population is seeded (`--seed`), so runs repeat exactly.
Quick look: `python bench/hub_night.py --students 2000`.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import io
import json
import math
import random
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
for _p in (str(BENCH), str(ROOT)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from tests.hub.kube_fake import FakeKube  # noqa: E402

from jupyter_drive_sync.emulator.settings import GOOGLE_PROFILE  # noqa: E402
from jupyter_drive_sync.hub.kube_dispatch import Dispatcher, make_api_client  # noqa: E402
from jupyter_drive_sync.hub.manifest import (  # noqa: E402
    LAST_PUSH_ANNOTATION,
    USERNAME_ANNOTATION,
    DispatchOptions,
)

NAMESPACE = "jhub"
LAST_NIGHT = dt.datetime(2026, 12, 2, 2, 0, tzinfo=dt.timezone.utc)


def _iso(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(slots=True)
class Student:
    name: str
    pvc: str
    kind: str  # "idle" | "active" | "new" | "running"
    files: int  # files to upload tonight (changed, or the whole home for a new student)
    folders: int  # folders to create tonight


def population(n: int, args: argparse.Namespace, rng: random.Random) -> list[Student]:
    """`n` students: most idle since their last push; `--active-share` changed a few files (a
    long-tailed count: most a handful, a few hundreds); `--new-share` never pushed (a first push
    of a whole home, long-tailed up to 20,000 files); `--running-share` have a server running."""
    out: list[Student] = []
    for i in range(n):
        name = f"student{i:05d}"
        pvc = f"claim-{name}"
        r = rng.random()
        if r < args.new_share:
            files = min(20_000, max(20, int(rng.lognormvariate(math.log(600), 1.1))))
            out.append(Student(name, pvc, "new", files, max(1, files // 15)))
        elif r < args.new_share + args.active_share:
            files = min(2_000, max(1, int(rng.lognormvariate(math.log(6), 1.2))))
            out.append(Student(name, pvc, "active", files, 1 if rng.random() < 0.2 else 0))
        elif r < args.new_share + args.active_share + args.running_share:
            out.append(Student(name, pvc, "running", 0, 0))
        else:
            out.append(Student(name, pvc, "idle", 0, 0))
    return out


class SimClock:
    """The dispatcher's clock and sleep. A sleep of `poll` seconds jumps whole polls ahead to the
    first poll at which a Job will have ended (nothing can change in the polls in between)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.kube: "NightKube | None" = None

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        nxt = self.kube.next_end() if self.kube else None
        steps = 1 if nxt is None else max(1, math.ceil((nxt - self.now) / seconds - 1e-9))
        self.now += steps * seconds


def _arg(args: list[str], flag: str) -> float | None:
    return float(args[args.index(flag) + 1]) if flag in args else None


class NightKube(FakeKube):
    """The fake API with Jobs that end after their modelled duration on the simulated clock."""

    def __init__(self, sim: SimClock, students: dict[str, Student], model: argparse.Namespace) -> None:
        super().__init__(namespace=NAMESPACE)
        self.sim = sim
        self.students = students
        self.model = model
        self.ends: dict[str, float] = {}
        self.reports: dict[str, dict[str, Any]] = {}
        self.totals = {"calls": 0, "writes": 0, "slot_seconds": 0.0, "longest": 0.0, "continues": 0,
                       "files_left": 0, "rate_by": {}}
        self.outcome = self._outcome
        self._active: set[str] = set()
        self._pods_by_label: dict[tuple[str, str], list[str]] = {}
        self._lists: dict[tuple[str, str], list[dict[str, Any]]] = {}
        sim.kube = self

    def start(self) -> str:
        """The fake's server, with Nagle off on each connection: its replies go out as two writes
        (headers, body), which a delayed ACK would hold up 40 ms each, timing the kernel."""
        url = super().start()
        assert self._server is not None
        base = self._server.RequestHandlerClass

        class NoDelay(base):  # type: ignore[misc, valid-type]
            def setup(self) -> None:
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        self._server.RequestHandlerClass = NoDelay
        return url

    # -- the same answers as FakeKube's, with indexes: its scans are linear in every object, and
    # -- a night asks them ~10,000 times over 20,000 PVCs and thousands of Jobs and pods.

    def active_jobs(self) -> list[str]:
        return list(self._active)

    def _finish(self, name: str) -> None:
        before = set(self.pods)
        super()._finish(name)
        self._active.discard(name)
        for pod in set(self.pods) - before:
            for key, value in self.pods[pod]["metadata"]["labels"].items():
                self._pods_by_label.setdefault((key, value), []).append(pod)

    def _list(self, kind: str, store: dict[str, dict[str, Any]], query: dict[str, str]) -> dict[str, Any]:
        selector = query.get("labelSelector") or ""
        if kind == "pods" and selector.startswith("job-name=") and "," not in selector:
            key, value = selector.split("=", 1)
            names = [n for n in self._pods_by_label.get((key, value), []) if n in self.pods]
            return {"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": str(len(self.log))},
                    "items": [self.pods[n] for n in sorted(names)]}
        if kind == "persistentvolumeclaims":  # the PVCs never change membership during a night
            if (kind, selector) not in self._lists:
                self._lists[(kind, selector)] = super()._list(kind, store, {"labelSelector": selector})["items"]
            items = self._lists[(kind, selector)]
            start = int(query.get("continue") or 0)
            size = int(query.get("limit") or 0) or len(items) or 1
            meta: dict[str, Any] = {"resourceVersion": str(len(self.log))}
            if start + size < len(items):
                meta["continue"] = str(start + size)
            return {"kind": "PersistentVolumeClaimList", "apiVersion": "v1", "metadata": meta,
                    "items": items[start:start + size]}
        return super()._list(kind, store, query)

    def next_end(self) -> float | None:
        pending = [self.ends[n] for n in self.active_jobs() if n in self.ends]
        return min(pending) if pending else None

    def _store_job(self, body: dict[str, Any]) -> dict[str, Any]:
        name = body["metadata"]["name"]
        self._active.add(name)
        stored = super()._store_job(body)
        user = stored["metadata"]["annotations"][USERNAME_ANNOTATION]
        args = stored["spec"]["template"]["spec"]["containers"][0]["args"]
        seconds, report = self._model(self.students[user], args)
        self.ends[name] = self.sim.now + seconds
        self.reports[name] = report
        return stored

    def _model(self, s: Student, args: list[str]) -> tuple[float, dict[str, Any]]:
        m = self.model
        write_rate = _arg(args, "--write-rate") or m.write_rate
        job_quota = _arg(args, "--project-quota-per-minute")  # this Job's share (calls/min)
        rate, by = write_rate, "write rate per account"
        if job_quota is not None and job_quota / 60.0 < rate:
            rate, by = job_quota / 60.0, "the Job's share of the project quota"
        budget = _arg(args, "--max-minutes-per-home")
        reads = m.reads_per_push + math.ceil(s.files / 1000)  # + a listing page per 1,000 on a first push
        writes = s.files + s.folders
        push = m.start_seconds + reads * m.read_rtt + max(0, writes - m.burst) / rate
        done_files, status, continues = s.files, "ok", False
        if budget is not None and push > budget * 60:
            share = max(0.0, (budget * 60 - m.start_seconds - reads * m.read_rtt)) / (push - m.start_seconds
                                                                                    - reads * m.read_rtt)
            done_files = int(s.files * share)
            writes = int(writes * share)
            push, status, continues = budget * 60, "partial", True
        seconds = m.attach_seconds + push
        t = self.totals
        t["calls"] += reads + writes
        t["writes"] += writes
        t["slot_seconds"] += seconds
        t["longest"] = max(t["longest"], seconds)
        t["rate_by"][by] = t["rate_by"].get(by, 0) + 1
        if continues:
            t["continues"] += 1
            t["files_left"] += s.files - done_files
        report: dict[str, Any] = {"type": "user", "user": s.name, "status": status, "seconds": round(push, 1),
                                  "summary": {"created": done_files, "failed": []}}
        if continues:
            report.update(continues=True, files_done=done_files, files_total=s.files,
                          reason=f"continues next night ({done_files} of {s.files} files)")
        return seconds, report

    def _outcome(self, job: dict[str, Any]) -> tuple[int, str]:
        return 0, json.dumps(self.reports[job["metadata"]["name"]])

    def _advance(self) -> None:
        self.tick += 1
        for name in self.active_jobs():
            if self.ends.get(name, math.inf) <= self.sim.now + 1e-9:
                self._finish(name)


def run_night(students: list[Student], args: argparse.Namespace, max_parallel: int) -> dict[str, Any]:
    sim = SimClock()
    kube = NightKube(sim, {s.name: s for s in students}, args)
    active_at = _iso(LAST_NIGHT + dt.timedelta(hours=13))
    idle_at = _iso(LAST_NIGHT - dt.timedelta(hours=20))
    users = []
    for s in students:
        ann = {} if s.kind == "new" else {LAST_PUSH_ANNOTATION: _iso(LAST_NIGHT)}
        kube.add_pvc(s.pvc, s.name, annotations=ann)
        if s.kind == "running":
            kube.add_server_pod(f"jupyter-{s.name}", s.name)
        users.append({"name": s.name, "last_activity": active_at if s.kind in ("active", "new", "running")
                      else idle_at, "servers": {}})
    kube.hub_users = users
    kube.hub_token = "bench-token"
    host = kube.start()
    try:
        opts = DispatchOptions(namespace=NAMESPACE, image="jupyter-drive-sync:bench", max_parallel=max_parallel,
                               night="2026-12-03", hub_api_url=host + "/hub/api", hub_api_token="bench-token",
                               max_minutes_per_home=args.max_minutes_per_home, write_rate=args.write_rate,
                               project_quota_per_minute=args.project_quota_per_minute,
                               poll_seconds=args.poll_seconds)
        out = io.StringIO()
        t0 = time.perf_counter()
        code = Dispatcher(make_api_client(host), opts, out, sleep=sim.sleep, clock=sim.clock).run()
        real = time.perf_counter() - t0
    finally:
        kube.stop()
    lines = [json.loads(x) for x in out.getvalue().splitlines() if x.startswith("{")]
    summary = next(x for x in lines if x.get("type") == "summary")
    t = kube.totals
    project_rate = args.project_quota_per_minute / 60.0
    bounds = {
        "project quota (all calls ÷ project rate)": t["calls"] / project_rate,
        "Job slots (Σ attach + push ÷ max parallel)": t["slot_seconds"] / max_parallel,
        "the longest Job (budget per home + attach)": t["longest"],
    }
    binding = max(bounds, key=lambda k: bounds[k])
    night = summary["seconds"]
    kinds = {k: sum(1 for s in students if s.kind == k) for k in ("idle", "active", "new", "running")}
    return {
        "scenario": "hub_night", "students": len(students), "population": kinds, "max_parallel": max_parallel,
        "jobs": summary.get("jobs_created"), "by_status": summary.get("by_status"), "exit": code,
        "night_seconds": round(night, 1), "night_hours": round(night / 3600, 2),
        "bounds_seconds": {k: round(v, 1) for k, v in bounds.items()}, "bound_by": binding,
        "ratio_to_bound": round(night / bounds[binding], 3) if bounds[binding] else None,
        "job_rate_set_by": t["rate_by"], "calls": t["calls"], "writes": t["writes"],
        "continues_next_night": t["continues"], "files_left_for_next_night": t["files_left"],
        "kube_requests": len(kube.log), "simulation_seconds": round(real, 1),
    }


def _default_poll() -> float:
    """The dispatcher's own poll interval (DispatchOptions.poll_seconds)."""
    return next(f.default for f in dataclasses.fields(DispatchOptions) if f.name == "poll_seconds")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--students", type=int, default=20_000)
    ap.add_argument("--active-share", type=float, default=0.15, help="students who used the hub since their last push")
    ap.add_argument("--new-share", type=float, default=0.01, help="students never pushed (a first push tonight)")
    ap.add_argument("--running-share", type=float, default=0.01, help="servers still running at night (skipped)")
    ap.add_argument("--max-parallel", default="10,66", help="comma-separated: one night per value "
                    "(10: the dispatcher's default; 66: project quota ÷ 3 writes/s)")
    ap.add_argument("--max-minutes-per-home", type=float, default=30.0)
    ap.add_argument("--write-rate", type=float, default=GOOGLE_PROFILE["write_rate"])
    ap.add_argument("--burst", type=int, default=GOOGLE_PROFILE["write_burst"])
    ap.add_argument("--project-quota-per-minute", type=float, default=GOOGLE_PROFILE["project_quota_per_minute"])
    ap.add_argument("--read-rtt", type=float, default=GOOGLE_PROFILE["latency_ms"] / 1000)
    ap.add_argument("--reads-per-push", type=int, default=3, help="token refresh, changes feed, ID supply")
    ap.add_argument("--attach-seconds", type=float, default=45.0,
                    help="Job start: pod scheduled, volume attached, image started (an assumption)")
    ap.add_argument("--start-seconds", type=float, default=3.0, help="process start and scan of a home")
    ap.add_argument("--poll-seconds", type=float, default=_default_poll())
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--json-out", metavar="FILE")
    args = ap.parse_args()
    # The fake API serves from threads of this process: switch threads at once on a blocking
    # socket call, not after the default 5 ms, or the GIL hand-over times the simulation itself.
    sys.setswitchinterval(1e-4)
    students = population(args.students, args, random.Random(args.seed))
    model = {k: getattr(args, k) for k in ("active_share", "new_share", "running_share", "max_minutes_per_home",
                                           "write_rate", "burst", "project_quota_per_minute", "read_rtt",
                                           "reads_per_push", "attach_seconds", "start_seconds", "poll_seconds",
                                           "seed")}
    results: list[dict[str, Any]] = [{"scenario": "model", **model}]
    print(json.dumps(results[0]), flush=True)
    for mp in [int(x) for x in args.max_parallel.split(",") if x]:
        r = run_night(students, args, mp)
        results.append(r)
        print(json.dumps(r), flush=True)
        print(f"# {r['students']:,} students, {r['jobs']:,} Jobs, at most {mp} at once: the night lasts "
              f"{r['night_hours']} h; bound by {r['bound_by']} "
              f"({r['bounds_seconds'][r['bound_by']] / 3600:.2f} h); {r['continues_next_night']} home(s) "
              "continue next night", flush=True)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
