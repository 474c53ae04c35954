"""etc/kubernetes/*.yaml (and the Jobs the dispatcher creates) against the real API schemas.

`kubernetes-validate --strict` checks structure and unknown fields offline; it does not check
enum values, so the values an admin signs off on (Forbid, Never, verbs...) are asserted here.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from jupyter_drive_sync.hub import manifest

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = sorted((ROOT / "etc" / "kubernetes").glob("*.yaml"))
K8S_VERSION = "1.35.0"
VALIDATE = shutil.which("kubernetes-validate", path=str(Path(sys.executable).parent)) or "kubernetes-validate"


def docs() -> list[dict]:
    out = []
    for path in MANIFESTS:
        out += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return out


def by_kind(kind: str) -> list[dict]:
    return [d for d in docs() if d["kind"] == kind]


def validate(*paths: Path) -> subprocess.CompletedProcess:
    return subprocess.run([VALIDATE, "-k", K8S_VERSION, "--strict", *map(str, paths)],
                          capture_output=True, text=True, timeout=120)


def test_manifests_exist():
    names = {p.name for p in MANIFESTS}
    assert {"cronjob.yaml", "rbac.yaml", "secret.example.yaml", "indexed-job-nfs.yaml"} <= names


def test_every_manifest_validates_strictly():
    result = validate(*MANIFESTS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("passed") == len(docs())


def test_validator_rejects_unknown_fields(tmp_path):
    # A control: the check above would be worthless if strict mode let typos through.
    bad = tmp_path / "bad.yaml"
    cron = by_kind("CronJob")[0]
    cron["spec"]["concurrencyPolicyy"] = "Forbid"
    bad.write_text(yaml.safe_dump(cron))
    assert validate(bad).returncode != 0


def test_dispatched_job_validates_strictly(tmp_path):
    options = manifest.DispatchOptions(namespace="jhub", image="img:1", owner_name="n", owner_uid="u",
                                  api_root="http://emulator:8765/", folder_template="backup/{username}")
    pinned = manifest.Target("alice@uni.edu", "claim-alice-40uni-2eedu", node="node-3")
    path = tmp_path / "job.yaml"
    path.write_text(json.dumps(manifest.build_job(pinned, options, "2026-05-01")))
    result = validate(path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_one_namespace_no_cluster_rights():
    kinds = {d["kind"] for d in docs()}
    assert not kinds & {"ClusterRole", "ClusterRoleBinding", "Namespace"}
    assert {d["metadata"]["namespace"] for d in docs()} == {"jhub"}
    (binding,) = by_kind("RoleBinding")
    assert binding["roleRef"]["kind"] == "Role"
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "jupyter-drive-sync", "namespace": "jhub"}]


def test_role_is_least_privilege():
    (role,) = by_kind("Role")
    rights = {(g, r): set(rule["verbs"]) for rule in role["rules"]
              for g in rule["apiGroups"] for r in rule["resources"]}
    assert rights == {
        ("", "persistentvolumeclaims"): {"get", "list", "patch"},
        ("", "pods"): {"get", "list"},
        ("batch", "jobs"): {"create", "get", "list", "delete"},
    }
    assert not any("*" in v or "secrets" in r for (_, r), v in rights.items())


def pod_of(cron: dict) -> dict:
    return cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def test_dispatcher_cronjob():
    (cron,) = [c for c in by_kind("CronJob") if "--kubernetes" in pod_of(c)["containers"][0]["args"]]
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    pod = pod_of(cron)
    assert pod["restartPolicy"] == "Never"
    assert pod["serviceAccountName"] == "jupyter-drive-sync"
    assert pod["securityContext"]["runAsNonRoot"] is True
    (c,) = pod["containers"]
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]
    env = {e["name"]: e for e in c["env"]}
    assert env[manifest.OWNER_UID_ENV]["valueFrom"]["fieldRef"]["fieldPath"] == \
        "metadata.labels['batch.kubernetes.io/controller-uid']"
    assert env[manifest.OWNER_NAME_ENV]["valueFrom"]["fieldRef"]["fieldPath"] == \
        "metadata.labels['batch.kubernetes.io/job-name']"
    # Secrets only by reference, never inline.
    assert all("value" not in e for e in c["env"] if "TOKEN" in e["name"] or "KEY" in e["name"])
    # The flags in the manifest are ones the CLI accepts.
    from jupyter_drive_sync.cli import build_parser

    args = build_parser().parse_args(c["args"])
    assert args.kubernetes and args.running_users in ("skip", "pin") and args.max_parallel >= 1
    # ... and that the dispatcher accepts together (a home's budget ends before the Job's deadline).
    from jupyter_drive_sync.cli.hub_command import dispatch_options_from_args

    args.image = args.image or env["DRIVE_SYNC_IMAGE"]["value"]
    options = dispatch_options_from_args(args, namespace="jhub")
    assert options.max_minutes_per_home * 60 < options.active_deadline_seconds
    assert options.project_quota_per_minute and options.project_quota_per_minute / options.max_parallel >= 60


def test_indexed_job_variant_for_nfs():
    (cron,) = [c for c in by_kind("CronJob") if "--homes-root" in pod_of(c)["containers"][0]["args"]]
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    job = cron["spec"]["jobTemplate"]["spec"]
    assert job["completionMode"] == "Indexed"
    (c,) = job["template"]["spec"]["containers"]
    env = {e["name"]: e for e in c["env"]}
    assert env["JOB_COMPLETIONS"]["value"] == str(job["completions"])  # shard count = completions
    assert {r["action"] for r in job["podFailurePolicy"]["rules"]} <= {"FailIndex", "Ignore", "FailJob", "Count"}
    sc = job["template"]["spec"]["securityContext"]
    assert (sc["runAsUser"], sc["runAsGroup"], sc["fsGroup"]) == (1000, 100, 100)
    assert job["template"]["spec"]["automountServiceAccountToken"] is False
    from jupyter_drive_sync.cli import build_parser
    from jupyter_drive_sync.cli.hub_command import options_from_args

    options = options_from_args(build_parser().parse_args(c["args"]))  # flags the CLI accepts, in range
    assert options.max_minutes_per_home and options.project_quota_per_minute


def test_secret_example_has_the_keys_the_jobs_read():
    (secret,) = by_kind("Secret")
    assert {"encryption-key", "client_secrets.json"} <= set(secret["stringData"])
    client = json.loads(secret["stringData"]["client_secrets.json"])
    assert client["web"]["redirect_uris"] == ["https://hub.example.org/hub/user-redirect/drive-sync/oauth2callback"]


@pytest.mark.parametrize("path", [ROOT / "Dockerfile"])
def test_dockerfile_runs_as_non_root_with_the_hub_extra(path):
    text = path.read_text()
    assert "[hub]" in text
    assert any(line.strip().startswith("USER 1000") for line in text.splitlines())
