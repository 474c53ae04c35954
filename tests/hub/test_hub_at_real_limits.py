"""The hub night under Drive's real limits: one project bucket sized from the admin's quota with a
pacer per student, and a time budget per home that a big first push continues the next night."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from jupyter_drive_sync.cli import main as cli_main
from jupyter_drive_sync.emulator.sample import connect_home
from jupyter_drive_sync.hub.manifest import DispatchOptions, Target, build_job
from jupyter_drive_sync.hub.project_bucket import ProjectBucket

from tests.support import helpers


def make_home(root: Path, name: str, files: int) -> Path:
    home = root / name
    for i in range(files):
        path = home / f"work{i % 3}" / f"f{i:03d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{name} {i}\n")
    return home


def run_hub(capsys, *args: str) -> tuple[int, dict[str, dict], dict]:
    code = cli_main(["hub", *args])
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    users = {ln["user"]: ln for ln in lines if ln["type"] == "user"}
    (summary,) = [ln for ln in lines if ln["type"] == "summary"]
    return code, users, summary


def live_paths(emulator, email: str) -> list[str]:
    """Every live file's path, once per Drive file (a duplicate shows twice)."""
    live = [f for f in emulator.files(email) if not f.get("trashed")]
    return [path for path, group in helpers.drive_paths(live).items() for _ in group]


def test_project_bucket_from_the_admins_quota_keeps_every_home_within_it(emulator, tmp_path, capsys):
    # A small project (600 units a minute: 10 calls/s for all students together) and Google's
    # per-account write limit; two groups of four students, each pushed for the first time.
    emulator.settings(project_quota_per_minute=600, write_rate=3.0, write_burst=10)

    def night(group: str, *pacing: str) -> tuple[int, dict[str, dict], dict, dict[str, str]]:
        root = tmp_path / group
        emails = {f"{group}{i}": connect_home(emulator.url, make_home(root, f"{group}{i}", 4),
                                              f"{group}{i}@uni.example")["email"] for i in range(4)}
        emulator.advance_clock(60)  # a new night: the project's bucket is full again
        emulator.reset_stats()
        code, users, _ = run_hub(capsys, "--homes-root", str(root), "--api-root", emulator.url,
                                 "--parallel", "4", "--workers", "4", *pacing)
        return code, users, emulator.stats(), emails

    # Paced for a quota far above the project's (the old shared --rate): Drive refuses calls.
    _, _, unpaced, _ = night("a", "--rate", "1000")
    assert unpaced["refused"].get("project_quota", 0) > 0, unpaced

    # Sized from the admin's quota: every home completes and the project refuses (next to) nothing.
    code, users, stats, emails = night("b", "--project-quota-per-minute", "600")
    assert code == 0 and {u["status"] for u in users.values()} == {"ok"}, users
    assert all(u["summary"]["created"] == 4 and u["summary"]["failed"] == 0 for u in users.values())
    assert stats["refused"].get("project_quota", 0) <= 0.02 * stats["requests"], stats
    for name, email in emails.items():
        paths = live_paths(emulator, email)
        assert len([p for p in paths if p.endswith(".txt")]) == 4 and len(paths) == len(set(paths))


class _CountingPacer:
    """A RequestPacer that only counts what it is told (for the project bucket's bookkeeping)."""

    def __init__(self) -> None:
        self.cuts = 0
        self.lock = threading.Lock()

    def acquire(self, cost: float = 1.0) -> None:
        pass

    def report(self, ok: bool, rate_limited: bool = False) -> None:
        if rate_limited:
            self.cuts += 1

    def throttled(self) -> None:
        self.cuts += 1


def test_one_students_refusals_slow_only_that_student():
    now = [0.0]
    project = _CountingPacer()
    bucket = ProjectBucket(project, window=2.0, clock=lambda: now[0])
    a_user, b_user, c_user = _CountingPacer(), _CountingPacer(), _CountingPacer()
    with bucket.home_pacer(a_user) as a, bucket.home_pacer(b_user) as b, bucket.home_pacer(c_user):
        for _ in range(5):  # student a hits their own per-user limit again and again
            a.acquire()
            a.report(ok=False, rate_limited=True)
            now[0] += 1.0
        assert a_user.cuts == 5 and project.cuts == 0  # only a slows down
        b.acquire()
        b.report(ok=False, rate_limited=True)  # a second student refused at the same time: the project's limit
        assert b_user.cuts == 1 and project.cuts == 1
        now[0] += 10.0
        b.throttled()  # alone again, long after: b's own limit
        assert project.cuts == 1 and b_user.cuts == 2
    with bucket.home_pacer(_CountingPacer()) as only:  # the only home running: its refusals are the project's
        only.report(ok=False, rate_limited=True)
    assert project.cuts == 2


def test_time_budget_stops_cleanly_and_the_next_night_continues(emulator, tmp_path, capsys):
    root = tmp_path / "homes"
    total = 30
    email = connect_home(emulator.url, make_home(root, "big", total), "big@uni.example")["email"]
    # Google's per-account write rate, here 6 writes/s: 30 files and 4 folders cannot go in 1 second.
    emulator.settings(write_rate=6.0, write_burst=6)
    base = ("--homes-root", str(root), "--api-root", emulator.url, "--write-rate", "6")

    code, users, summary = run_hub(capsys, *base, "--max-minutes-per-home", str(1 / 60))
    line = users["big"]
    assert line["status"] == "partial" and line["continues"] is True, line
    done, of = line["files_done"], line["files_total"]
    assert of == total and done < total
    assert line["reason"] == f"continues next night ({done} of {total} files)"
    assert line["summary"]["created"] == done and line["summary"]["failed"] == 0
    assert code == 0 and summary["failed"] == 0 and summary["continues"] == 1  # nobody has to act
    first = [p for p in live_paths(emulator, email) if p.endswith(".txt")]
    assert len(first) == done == len(set(first))

    code, users, summary = run_hub(capsys, *base)  # the next night, no budget: the rest
    line = users["big"]
    assert line["status"] == "ok" and "continues" not in line, line
    assert line["summary"]["created"] == total - done
    paths = [p for p in live_paths(emulator, email) if p.endswith(".txt")]
    assert len(paths) == len(set(paths)) == total  # everything once: nothing sent twice


def test_single_home_out_of_time_exits_0_so_the_job_is_not_retried(emulator, tmp_path, capsys):
    home = make_home(tmp_path, "jovyan", 20)
    connect_home(emulator.url, home, "ana@uni.example")
    emulator.settings(write_rate=4.0, write_burst=4)
    log = tmp_path / "termination-log"
    code = cli_main(["hub", "--home", str(home), "--user", "ana", "--api-root", emulator.url, "--write-rate", "4",
                     "--max-minutes-per-home", str(1 / 60), "--termination-log", str(log)])
    report = json.loads(log.read_text())
    assert code == 0 and report["status"] == "partial" and report["continues"] is True
    assert report["reason"].startswith("continues next night (")
    capsys.readouterr()


def test_job_manifest_carries_the_budget_and_a_share_of_the_project_quota():
    options = DispatchOptions(namespace="jhub", image="img", max_parallel=10, max_minutes_per_home=30,
                              project_quota_per_minute=12_000, active_deadline_seconds=3600)
    args = build_job(Target("ana", "claim-ana"), options, "2026-05-01")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--max-minutes-per-home") + 1] == "30"
    # 10 Jobs at once, one process each: each may use a tenth of the project's quota.
    assert float(args[args.index("--project-quota-per-minute") + 1]) == 1200


def test_dispatcher_keeps_continuing_homes_apart_from_failures(kube, kube_api):
    import io

    from jupyter_drive_sync.hub import kube_dispatch, manifest

    names = ("big", "keyless", "fine", "mixed")
    for name in names:
        kube.add_pvc(f"claim-{name}", name)
    kube.hub_users = [{"name": n, "last_activity": None} for n in names]

    def outcome(job):
        user = job["metadata"]["annotations"]["hub.jupyter.org/username"]
        line = {"type": "user", "user": user, "status": "ok", "summary": {"created": 3, "failed": 0}}
        if user == "big":  # what `hub --home` leaves when its budget ran out: exit 0, not retried
            line.update(status="partial", continues=True, files_done=1200, files_total=20000,
                        reason="continues next night (1200 of 20000 files)",
                        summary={"created": 1200, "failed": 0})
        if user == "mixed":  # out of time too, but with failed files: someone must look (report.continues)
            line.update(status="partial", continues=True, files_done=10, files_total=30,
                        reason="continues next night (10 of 30 files); 2 file(s) failed",
                        summary={"created": 10, "failed": 2})
        if user == "keyless":
            return 2, json.dumps({**line, "status": "config_error", "reason": "no encryption key"})
        return 0, json.dumps(line)

    kube.outcome = outcome
    out = io.StringIO()
    options = manifest.DispatchOptions(namespace="jhub", image="img", night="2026-05-01", poll_seconds=0,
                                       hub_api_url=f"{kube.url}/hub/api")
    code = kube_dispatch.Dispatcher(kube_api, options, out, sleep=lambda s: None).run()
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    by_user = {ln["user"]: ln for ln in lines if ln["type"] == "user"}
    big = by_user["big"]
    assert (big["status"], big["continues"], big["files_done"], big["files_total"]) == ("partial", True, 1200, 20000)
    assert big["reason"] == "continues next night (1200 of 20000 files)"
    assert by_user["keyless"]["status"] == "config_error"
    summary = lines[-1]
    # the admin's problem and the failed files need action; only the clean budget stop continues
    assert summary["failed"] == 2 and summary["continues"] == 1, summary
    assert code == 2
    # Only the finished push is recorded as one: the continuing home is not "idle" tomorrow.
    annotated = {n for n in names
                 if manifest.LAST_PUSH_ANNOTATION in (kube.pvcs[f"claim-{n}"]["metadata"].get("annotations") or {})}
    assert annotated == {"fine"}


def test_a_budget_longer_than_the_jobs_deadline_is_refused_in_one_line(capsys):
    code = cli_main(["hub", "--kubernetes", "--image", "img", "--namespace", "jhub", "--kube-host", "http://127.0.0.1:9",
                     "--max-minutes-per-home", "90", "--active-deadline", "3600"])
    err = capsys.readouterr().err
    assert code == 2 and "--active-deadline" in err and len(err.strip().splitlines()) == 1
