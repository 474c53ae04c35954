"""`hub --kubernetes` against a stateful fake API server, through the real `kubernetes` client."""

from __future__ import annotations

import io
import json
import re

import pytest

from jupyter_drive_sync.hub import kube_dispatch, manifest
from jupyter_drive_sync.cli import main as cli_main

NIGHT = "2026-05-01"
DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def opts(**kw) -> manifest.DispatchOptions:
    base = dict(namespace="jhub", image="ghcr.io/example/jupyter-drive-sync:0.1", night=NIGHT,
                poll_seconds=0, max_parallel=5)
    base.update(kw)
    return manifest.DispatchOptions(**base)


def run(kube_api, options, **kw) -> tuple[int, list[dict]]:
    out = io.StringIO()
    code = kube_dispatch.Dispatcher(kube_api, options, out, sleep=lambda s: None, **kw).run()
    return code, [json.loads(line) for line in out.getvalue().splitlines()]


def users(lines) -> dict[str, dict]:
    return {ln["user"]: ln for ln in lines if ln["type"] == "user" and ln["user"]}


def report_for(job: dict, status: str = "ok", **extra) -> str:
    user = job["metadata"]["annotations"]["hub.jupyter.org/username"]
    return json.dumps({"type": "user", "user": user, "status": status, **extra})


def test_discovery_by_label_and_annotation_including_slugged_names(kube, kube_api):
    # KubeSpawner's safe slugs: the PVC name and the username label are lossy; the annotation is not.
    kube.add_pvc("claim-alice", "alice")
    kube.add_pvc("claim-bob-40uni-2eedu---8d4e1c2a", "bob@uni.edu",
                 labels={"hub.jupyter.org/username": "bob-40uni-2eedu---8d4e1c2a"})
    kube.add_pvc("claim-carol", "Carol.Smith")
    kube.add_pvc("hub-db-dir", "root", labels={"component": "hub"})  # not a user volume
    kube.add_pvc("claim-orphan", None)  # no annotation: reported, never guessed from the name

    code, lines = run(kube_api, opts())

    by_user = users(lines)
    assert set(by_user) == {"alice", "bob@uni.edu", "Carol.Smith"}
    assert all(by_user[u]["status"] == "ok" for u in by_user)
    assert by_user["bob@uni.edu"]["pvc"] == "claim-bob-40uni-2eedu---8d4e1c2a"
    orphan = [ln for ln in lines if ln.get("pvc") == "claim-orphan"]
    assert orphan and orphan[0]["status"] == "skipped" and "annotation" in orphan[0]["reason"]
    assert code == 0
    # One Job per user, named deterministically, carrying the real username, never the slug.
    assert sorted(kube.created) == sorted(manifest.job_name(u, NIGHT) for u in by_user)
    bob_job = kube.jobs[manifest.job_name("bob@uni.edu", NIGHT)]
    args = bob_job["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--user") + 1] == "bob@uni.edu"
    assert bob_job["spec"]["template"]["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] == \
        "claim-bob-40uni-2eedu---8d4e1c2a"
    # The PVC list asked the server to filter by label.
    assert any("labelSelector=component%3Dsingleuser-storage" in p for m, p in kube.log
               if "persistentvolumeclaims" in p)


def test_release_label_narrows_both_selectors(kube, kube_api):
    kube.add_pvc("claim-a", "a", labels={"app.kubernetes.io/instance": "prod"})
    kube.add_pvc("claim-b", "b", labels={"app.kubernetes.io/instance": "staging"})
    kube.add_server_pod("jupyter-a", "a", labels={"app.kubernetes.io/instance": "staging"})
    code, lines = run(kube_api, opts(release="prod"))
    assert set(users(lines)) == {"a"}  # b is another release; a's *staging* server does not count
    assert users(lines)["a"]["status"] == "ok"


def test_running_users_are_skipped_by_default(kube, kube_api):
    kube.add_pvc("claim-alice", "alice")
    kube.add_pvc("claim-bob", "bob")
    kube.add_server_pod("jupyter-alice", "alice", node="node-7")
    kube.add_server_pod("jupyter-bob-old", "bob", phase="Succeeded")  # a finished pod is not running
    code, lines = run(kube_api, opts())
    by_user = users(lines)
    assert by_user["alice"]["status"] == "skipped" and "server running" in by_user["alice"]["reason"]
    assert by_user["bob"]["status"] == "ok"
    assert kube.created == [manifest.job_name("bob", NIGHT)]
    assert code == 0


def test_running_users_pinned_to_their_node(kube, kube_api):
    kube.add_pvc("claim-alice", "alice")
    kube.add_pvc("claim-dan", "dan")
    kube.add_server_pod("jupyter-alice", "alice", node="node-7")
    kube.add_server_pod("jupyter-dan", "dan", node=None, phase="Pending")  # not on a node yet
    code, lines = run(kube_api, opts(running_users="pin"))
    job = kube.jobs[manifest.job_name("alice", NIGHT)]
    terms = job["spec"]["template"]["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms == [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["node-7"]}]}]
    assert users(lines)["alice"]["status"] == "ok"
    assert users(lines)["dan"]["status"] == "skipped"
    assert manifest.job_name("dan", NIGHT) not in kube.jobs


def test_job_spec_posture(kube, kube_api):
    kube.add_pvc("claim-alice", "alice")
    options = opts(owner_name="drive-sync-nightly-29100000", owner_uid="0f0e-uid",
                   active_deadline_seconds=1800, ttl_seconds_after_finished=7200, backoff_limit=1)
    run(kube_api, options)
    name = manifest.job_name("alice", NIGHT)
    assert DNS1123.match(name) and len(name) <= 63
    job = kube.jobs[name]
    spec, pod = job["spec"], job["spec"]["template"]["spec"]
    assert spec["activeDeadlineSeconds"] == 1800
    assert spec["ttlSecondsAfterFinished"] == 7200
    assert spec["backoffLimit"] == 1
    assert job["metadata"]["ownerReferences"] == [
        {"apiVersion": "batch/v1", "kind": "Job", "name": "drive-sync-nightly-29100000", "uid": "0f0e-uid"}]
    assert job["metadata"]["labels"][manifest.NIGHT_LABEL] == NIGHT
    assert job["metadata"]["labels"][manifest.MANAGED_BY_LABEL] == manifest.MANAGED_BY
    assert job["metadata"]["annotations"]["hub.jupyter.org/username"] == "alice"
    sc = pod["securityContext"]
    assert (sc["runAsUser"], sc["runAsGroup"], sc["fsGroup"], sc["runAsNonRoot"]) == (1000, 100, 100, True)
    assert pod["restartPolicy"] == "Never" and pod["automountServiceAccountToken"] is False
    (c,) = pod["containers"]
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert c["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert c["terminationMessagePolicy"] == "FallbackToLogsOnError"
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
    assert mounts["/home/jovyan"]["readOnly"] is True
    state = mounts["/home/jovyan/.local/share/jupyter/drive_sync"]
    assert state["subPath"] == ".local/share/jupyter/drive_sync" and not state.get("readOnly")
    # Secrets by reference only: the spec holds no key or token values.
    key_env = next(e for e in c["env"] if e["name"] == "JUPYTER_DRIVE_SYNC_KEY")
    assert key_env["valueFrom"]["secretKeyRef"]["name"] == "jupyter-drive-sync"
    assert "value" not in key_env
    # Retrying cannot fix "reconnect" or "Drive full": those exit codes fail the Job at once.
    rule = spec["podFailurePolicy"]["rules"][0]
    assert rule["action"] == "FailJob" and rule["onExitCodes"]["values"] == [2, 3, 4]
    # What we sent is a valid V1Job for the real client's models.
    from kubernetes.client import V1Job

    assert V1Job.from_dict(job).spec.template.spec.security_context.fs_group == 100


def test_max_parallel_is_honoured_and_results_collected(kube, kube_api):
    kube.job_ticks = 4
    names = [f"user{i:02d}" for i in range(12)]
    for n in names:
        kube.add_pvc(f"claim-{n}", n)
    failing = {"user03": (3, "needs_reconnect"), "user07": (4, "drive_refused")}

    def outcome(job):
        user = job["metadata"]["annotations"]["hub.jupyter.org/username"]
        if user == "user10":
            return 1, "Traceback (most recent call last):\n  boom"  # not a report: the logs fallback
        if user in failing:
            code, status = failing[user]
            return code, report_for(job, status, reason="token revoked" if code == 3 else "storage full")
        return 0, report_for(job, "ok", summary={"created": 2, "unchanged": 5})

    kube.outcome = outcome
    code, lines = run(kube_api, opts(max_parallel=3))

    assert kube.max_active == 3  # reached, never exceeded
    assert len(kube.created) == 12
    by_user = users(lines)
    assert set(by_user) == set(names)
    assert by_user["user03"]["status"] == "needs_reconnect" and by_user["user03"]["reason"] == "token revoked"
    assert by_user["user07"]["status"] == "drive_refused"
    assert by_user["user10"]["status"] == "failed" and "boom" in by_user["user10"]["reason"]
    assert by_user["user00"]["summary"] == {"created": 2, "unchanged": 5}
    summary = lines[-1]
    assert summary["type"] == "summary" and summary["failed"] == 3 and summary["jobs_created"] == 12
    assert summary["by_status"]["ok"] == 9
    assert code == 1


def test_slots_held_by_other_drive_sync_jobs_count(kube, kube_api):
    kube.add_pvc("claim-a", "a")
    kube.add_pvc("claim-b", "b")
    # Last night's straggler, still running, holds one of two slots.
    straggler = manifest.build_job(manifest.Target("zed", "claim-zed"), opts(), "2026-04-30")
    kube.add_job(straggler)
    code, lines = run(kube_api, opts(max_parallel=2))
    assert kube.max_active <= 2
    assert set(users(lines)) == {"a", "b"} and code == 0


def test_second_dispatch_same_night_creates_nothing_new(kube, kube_api):
    for n in ("alice", "bob", "carol"):
        kube.add_pvc(f"claim-{n}", n)
    code1, _ = run(kube_api, opts())
    first = list(kube.created)
    code2, lines = run(kube_api, opts())
    assert len(first) == 3 and kube.created == first  # nothing created the second time
    assert len(kube.jobs) == 3
    by_user = users(lines)
    assert all(ln["status"] == "ok" and ln["adopted"] for ln in by_user.values())
    assert lines[-1]["jobs_created"] == 0 and lines[-1]["jobs_adopted"] == 3
    # A different night means new Jobs.
    run(kube_api, opts(night="2026-05-02"))
    assert len(kube.created) == 6
    assert code1 == code2 == 0


def test_conflict_on_create_adopts_the_existing_job(kube, kube_api):
    kube.add_pvc("claim-alice", "alice")
    # Created between our listing and our create (a concurrent manual run): 409 → adopt.
    real_list = kube._list

    def list_then_race(kind, store, query):
        result = real_list(kind, store, query)
        if kind == "jobs" and not kube.jobs:
            kube.add_job(manifest.build_job(manifest.Target("alice", "claim-alice"), opts(), NIGHT))
        return result

    kube._list = list_then_race
    code, lines = run(kube_api, opts())
    assert kube.conflicts == 1 and kube.created == [] and len(kube.jobs) == 1
    assert users(lines)["alice"]["adopted"] is True and code == 0


def test_paged_lists_are_followed(kube, kube_api):
    kube.page_size = 2
    for i in range(5):
        kube.add_pvc(f"claim-u{i}", f"u{i}")
    code, lines = run(kube_api, opts())
    assert len(users(lines)) == 5
    assert any("continue=" in p for _, p in kube.log)


def test_idle_users_skipped_via_hub_api_and_last_push_recorded(kube, kube_api):
    kube.add_pvc("claim-idle", "idle", annotations={manifest.LAST_PUSH_ANNOTATION: "2026-04-30T02:00:00Z"})
    kube.add_pvc("claim-busy", "busy", annotations={manifest.LAST_PUSH_ANNOTATION: "2026-04-30T02:00:00Z"})
    kube.add_pvc("claim-new", "new")
    kube.hub_token = "hub-secret-token"
    kube.hub_users = [
        {"name": "idle", "last_activity": "2026-04-29T10:00:00Z", "servers": {}},
        {"name": "busy", "last_activity": "2026-04-29T10:00:00Z",
         "servers": {"": {"last_activity": "2026-04-30T15:00:00Z"}}},
        {"name": "new", "last_activity": None, "servers": {}},
    ]
    out = io.StringIO()
    options = opts(hub_api_url=f"{kube.url}/hub/api", hub_api_token="hub-secret-token")
    code = kube_dispatch.Dispatcher(kube_api, options, out, sleep=lambda s: None).run()
    assert "hub-secret-token" not in out.getvalue()
    by_user = users([json.loads(x) for x in out.getvalue().splitlines()])
    assert by_user["idle"]["status"] == "skipped" and "no server activity" in by_user["idle"]["reason"]
    assert by_user["busy"]["status"] == "ok" and by_user["new"]["status"] == "ok"
    assert manifest.job_name("idle", NIGHT) not in kube.jobs
    # Successful pushes are recorded on the PVC, so tomorrow an idle "new" is skipped too.
    stamp = kube.pvcs["claim-new"]["metadata"]["annotations"][manifest.LAST_PUSH_ANNOTATION]
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", stamp)
    assert kube.pvcs["claim-idle"]["metadata"]["annotations"][manifest.LAST_PUSH_ANNOTATION] == "2026-04-30T02:00:00Z"
    assert code == 0


def test_hub_api_down_means_push_everyone(kube, kube_api):
    kube.add_pvc("claim-a", "a", annotations={manifest.LAST_PUSH_ANNOTATION: "2026-04-30T02:00:00Z"})
    code, lines = run(kube_api, opts(hub_api_url=f"{kube.url}/no-hub-here"))  # 404 from the hub URL
    assert users(lines)["a"]["status"] == "ok" and code == 0


def test_without_patch_rights_pushes_still_succeed(kube, kube_api):
    kube.forbidden.add(("PATCH", "persistentvolumeclaims"))
    kube.add_pvc("claim-a", "a")
    kube.add_pvc("claim-b", "b")
    kube.hub_users = [{"name": "a", "last_activity": None}, {"name": "b", "last_activity": None}]
    code, lines = run(kube_api, opts(hub_api_url=f"{kube.url}/hub/api"))
    assert {u["status"] for u in users(lines).values()} == {"ok"} and code == 0
    assert sum(1 for m, p in kube.log if m == "PATCH") == 1  # asked once, then stopped asking


def test_rbac_refusal_is_a_clear_configuration_error(kube, kube_api, capsys):
    kube.forbidden.add(("GET", "persistentvolumeclaims"))
    kube.add_pvc("claim-a", "a")
    out = io.StringIO()
    assert kube_dispatch.dispatch(opts(), out, api_client=kube_api, sleep=lambda s: None) == 2
    assert "403" in capsys.readouterr().err and kube.created == []


def test_wait_timeout_stops_unfinished_jobs(kube, kube_api):
    kube.job_ticks = 10_000
    for n in ("a", "b", "c"):
        kube.add_pvc(f"claim-{n}", n)
    ticks = iter(range(1000))
    code, lines = run(kube_api, opts(max_parallel=2, wait_timeout=5), clock=lambda: next(ticks) * 1.0)
    by_user = users(lines)
    assert {u: ln["status"] for u, ln in by_user.items()} == {"a": "timeout", "b": "timeout", "c": "timeout"}
    assert kube.jobs == {}  # the two started Jobs were deleted to free their volumes
    assert code == 1


def test_cli_entry_point(kube, capsys, monkeypatch):
    kube.job_ticks = 1
    kube.add_pvc("claim-alice", "alice")
    monkeypatch.setenv(manifest.OWNER_NAME_ENV, "nightly-1")
    monkeypatch.setenv(manifest.OWNER_UID_ENV, "uid-1")
    code = cli_main(["hub", "--kubernetes", "--kube-host", kube.url, "--namespace", "jhub",
                     "--image", "img:1", "--night", NIGHT, "--poll-seconds", "0", "--max-parallel", "2",
                     "--api-root", "http://drive.example/"])
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert code == 0 and lines[0]["user"] == "alice" and lines[-1]["type"] == "summary"
    job = kube.jobs[manifest.job_name("alice", NIGHT)]
    assert job["metadata"]["ownerReferences"][0]["uid"] == "uid-1"
    env = {e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["JUPYTER_DRIVE_SYNC_API_ROOT"] == "http://drive.example/"


def test_cli_requires_an_image(kube, capsys, monkeypatch):
    monkeypatch.delenv("DRIVE_SYNC_IMAGE", raising=False)
    assert cli_main(["hub", "--kubernetes", "--kube-host", kube.url, "--namespace", "jhub"]) == 2
    assert "--image" in capsys.readouterr().err


@pytest.mark.parametrize("user", ["a", "Émilie.Dupont@uni.example", "x" * 200])
def test_job_names_are_dns1123_and_stable(user):
    name = manifest.job_name(user, NIGHT)
    assert DNS1123.match(name) and len(name) <= 63
    assert name == manifest.job_name(user, NIGHT) != manifest.job_name(user, "2026-05-02")
