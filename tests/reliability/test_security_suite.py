"""Security checks beyond tests/server/test_security.py (which covers route enumeration for
login, XSRF on three POSTs, `next`/`redirect_uri` on auth/start, and the server's own state
checks) and tests/emulator/test_oauth.py:

- OAuth code/PKCE replay and mismatch driven through google-auth-oauthlib's own Flow;
- open-redirect variants through `auth/start` (scheme-relative, backslash, Host headers);
- XSRF on EVERY POST route the server registers (read from its router, restore included);
- symlink escapes on push and on restore;
- the token file: 0600 in a 0700 dir, Fernet-encrypted (no JSON, no token in clear), a wrong
  key is exit 3 with one line, never a traceback;
- the secrets denylist at top level and nested, end to end;
- no secret in the logs: the CLI and the server run at DEBUG and their captured logs are
  searched for every access and refresh token the emulator minted and the client secret;
- the Kubernetes Role: namespaced, no secrets, no wildcards, no escalation verbs.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
import yaml
from cryptography.fernet import Fernet
from google_auth_oauthlib.flow import Flow
from oauthlib.oauth2.rfc6749.errors import InvalidGrantError, OAuth2Error

from jupyter_drive_sync.emulator.sample import connect_home
from jupyter_drive_sync.core.options import PushOptions
from jupyter_drive_sync.engine.push import run_push
from jupyter_drive_sync.core.settings import state_dir

# the server config (jp_server_config and what it needs); `home` here is this module's own
from tests.support.server_fixtures import (  # noqa: F401
    drive_sync_config, fernet_key, jp_server_config, registered_redirect_uri, standalone_env)

from .conftest import CLI, Mirror, drive_paths, md5, run_cli

EMAIL = "sec@uni.edu"
USER = "sam"
SCOPE = "https://www.googleapis.com/auth/drive.file"
REPO = Path(__file__).resolve().parents[2]
EVIL = "evil.example"


# -- OAuth: codes and PKCE, through the real Flow ----------------------------------------------


def _flow(emulator, redirect: str = "http://localhost:8888/drive-sync/oauth2callback") -> Flow:
    flow = Flow.from_client_config(emulator.client_secrets(), scopes=[SCOPE], redirect_uri=redirect,
                                   autogenerate_code_verifier=True)
    return flow


def _code_for(flow: Flow, emulator) -> str:
    url, state = flow.authorization_url(access_type="offline", prompt="consent")
    r = requests.get(url, allow_redirects=False, timeout=30)
    assert r.status_code in (302, 303), r.text
    q = parse_qs(urlsplit(r.headers["Location"]).query)
    assert q["state"] == [state]
    return q["code"][0]


@pytest.fixture
def consenting(emulator):
    emulator.create_account(EMAIL)
    emulator._admin("POST", "_emulator/consent", json={"auto": True, "email": EMAIL})
    return emulator


def test_pkce_verifier_of_another_sign_in_is_refused(consenting):
    a, b = _flow(consenting), _flow(consenting)
    code_a = _code_for(a, consenting)
    _code_for(b, consenting)
    b_verifier = b.code_verifier
    assert a.code_verifier != b_verifier
    a.code_verifier = b_verifier  # an attacker holding A's code but only their own verifier
    with pytest.raises(InvalidGrantError):
        a.fetch_token(code=code_a)
    a.code_verifier = None  # and no verifier at all
    with pytest.raises(OAuth2Error):
        a.fetch_token(code=code_a)


def test_code_replayed_after_a_successful_exchange_is_refused(consenting):
    flow = _flow(consenting)
    code = _code_for(flow, consenting)
    verifier = flow.code_verifier
    token = flow.fetch_token(code=code)
    assert token["refresh_token"]
    replay = _flow(consenting)
    replay.code_verifier = verifier  # even with the right verifier
    with pytest.raises(InvalidGrantError):
        replay.fetch_token(code=code)


def test_code_sent_back_to_another_redirect_uri_is_refused(consenting):
    flow = _flow(consenting)
    code = _code_for(flow, consenting)
    thief = _flow(consenting, redirect="http://127.0.0.1:9/steal")
    thief.code_verifier = flow.code_verifier
    with pytest.raises(OAuth2Error):
        thief.fetch_token(code=code)


# -- the server: open redirects and XSRF everywhere ---------------------------------------------------


ATTACKS = [
    {"next": f"//{EVIL}/"},
    {"next": f"https:{EVIL}"},
    {"next": f"/\\{EVIL}"},
    {"redirect_uri": f"http://{EVIL}/drive-sync/oauth2callback"},
    {"return_to": f"https://{EVIL}", "continue": f"https://{EVIL}", "url": f"https://{EVIL}"},
    {"state": "attacker-chosen", "code_challenge": "x" * 43, "client_id": "attacker"},
]


@pytest.mark.parametrize("params", ATTACKS, ids=lambda p: ",".join(p))
async def test_auth_start_ignores_redirect_attempts(jp_fetch, emulator, params):
    resp = await jp_fetch("drive-sync", "auth", "start", params=params, follow_redirects=False, raise_error=False)
    assert resp.code == 302
    location = resp.headers["Location"]
    assert location.startswith(emulator.url + "o/oauth2/auth?")
    q = parse_qs(urlsplit(location).query)
    assert EVIL not in location and q["client_id"] != ["attacker"]
    assert q["state"] != ["attacker-chosen"] and q["code_challenge"] != ["x" * 43]
    assert urlsplit(q["redirect_uri"][0]).hostname in ("localhost", "127.0.0.1")


@pytest.mark.parametrize("header", ["Host", "X-Forwarded-Host"])
async def test_a_forged_host_header_never_becomes_the_redirect_target(jp_fetch, emulator, header):
    resp = await jp_fetch("drive-sync", "auth", "start", headers={header: EVIL}, follow_redirects=False,
                          raise_error=False)
    # refused by Jupyter's own host check, or a redirect that does not go to the forged host
    assert resp.code in (302, 403), resp.code
    if resp.code == 302:
        q = parse_qs(urlsplit(resp.headers["Location"]).query)
        assert header == "Host" or EVIL not in q["redirect_uri"][0]
        assert urlsplit(resp.headers["Location"]).hostname == "127.0.0.1"


async def test_every_post_route_needs_xsrf(jp_serverapp, jp_fetch, http_server_client):
    from tornado.routing import PathMatches
    from tornado.web import RequestHandler

    def walk(rules):
        for rule in rules:
            yield rule
            yield from walk(getattr(rule.target, "rules", None) or [])

    posts = []
    for rule in walk(jp_serverapp.web_app.default_router.rules):
        t = rule.target
        if isinstance(rule.matcher, PathMatches) and isinstance(t, type) and issubclass(t, RequestHandler) \
                and t.__module__.startswith("jupyter_drive_sync") and t.post is not RequestHandler.post:
            posts.append(re.sub(r"\([^)]*\)", "abc123", rule.matcher.regex.pattern.rstrip("$")).replace("\\", ""))
    assert {p.rsplit("drive-sync/", 1)[1] for p in posts} >= {"push", "restore", "disconnect", "prompt"}

    # a logged-in browser session (cookie), but no XSRF token: every POST is refused
    login = jp_serverapp.base_url + "login"
    first = await http_server_client.fetch(login, raise_error=False, follow_redirects=False)
    cookies = {c.split("=", 1)[0]: c.split("=", 1)[1].split(";", 1)[0] for c in first.headers.get_list("Set-Cookie")}
    body = urlencode({"password": jp_serverapp.identity_provider.token, "_xsrf": cookies["_xsrf"]})
    done = await http_server_client.fetch(login, method="POST", body=body, raise_error=False, follow_redirects=False,
                                          headers={"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())})
    for c in done.headers.get_list("Set-Cookie"):
        cookies[c.split("=", 1)[0]] = c.split("=", 1)[1].split(";", 1)[0]
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    ok = await http_server_client.fetch(jp_serverapp.base_url + "drive-sync/status", headers={"Cookie": cookie},
                                        raise_error=False)
    assert ok.code == 200  # the session itself is good
    for path in posts:
        resp = await http_server_client.fetch(path, method="POST", body=b'{"path": "", "choice": "never"}',
                                              headers={"Cookie": cookie}, raise_error=False)
        assert resp.code == 403, (path, resp.code)


# -- symlink escapes ---------------------------------------------------------------------------------


@pytest.fixture
def home(connected_home) -> Path:
    return connected_home(USER, EMAIL)


def test_restore_never_writes_through_a_symlink(home, emulator, tmp_path):
    (home / "work").mkdir()
    (home / "work" / "notes.txt").write_bytes(b"the notes on Drive\n")
    (home / "top.txt").write_bytes(b"top on Drive\n")
    assert run_push(PushOptions(home=home, user=USER, api_root=emulator.url)).failed == []
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "notes.txt").write_bytes(b"outside, must stay\n")
    (outside / "victim.txt").write_bytes(b"victim, must stay\n")
    # the folder becomes a symlink out of the home; a file becomes a symlink to another file
    os.rename(home / "work", tmp_path / "work-moved")
    os.symlink(outside, home / "work")
    (home / "top.txt").unlink()
    os.symlink(outside / "victim.txt", home / "top.txt")
    code, out, err = run_cli("restore", "--home", str(home), "--user", USER, "--api-root", emulator.url, "--json",
                             "--overwrite", "always")
    assert "Traceback" not in err and code in (0, 1), err
    assert (outside / "notes.txt").read_bytes() == b"outside, must stay\n"
    assert (outside / "victim.txt").read_bytes() == b"victim, must stay\n"
    assert sorted(os.listdir(outside)) == ["notes.txt", "victim.txt"]
    summary = json.loads(out)
    said = {x["path"]: x.get("reason") or x.get("error") for x in summary["skipped"] + summary["failed"]}
    assert any(p.startswith("work") for p in said) and "top.txt" in said, said


def test_push_never_reads_through_symlinks_anywhere_on_the_path(home, emulator, tmp_path):
    outside = tmp_path / "outside"
    (outside / "deep").mkdir(parents=True)
    (outside / "deep" / "loot.txt").write_bytes(b"outside loot\n")
    (home / "a").mkdir()
    os.symlink(outside, home / "a" / "b")  # a/b/deep/loot.txt only reachable through a symlink
    os.symlink("../../..", home / "a" / "up")
    (home / ".drivesyncignore").symlink_to(outside / "deep" / "loot.txt")
    s = run_push(PushOptions(home=home, user=USER, api_root=emulator.url))
    assert md5(b"outside loot\n") not in {f.get("md5Checksum") for f in emulator.files(EMAIL)}
    said = {x["path"] for x in s.skipped}
    assert {"a/b", "a/up"} <= said


# -- the token file -----------------------------------------------------------------------------------


def test_token_file_is_private_encrypted_and_a_wrong_key_is_exit_3(home, emulator, tmp_path):
    key = Fernet.generate_key().decode()
    acct = connect_home(emulator.url, home, EMAIL, key=key)
    cred = state_dir(home) / "credentials.json"
    assert stat.S_IMODE(cred.stat().st_mode) == 0o600
    assert stat.S_IMODE(cred.parent.stat().st_mode) == 0o700
    raw = cred.read_bytes()
    assert acct["refresh_token"].encode() not in raw and acct["access_token"].encode() not in raw
    with pytest.raises(ValueError):
        json.loads(raw)
    assert json.loads(Fernet(key.encode()).decrypt(raw))["refresh_token"] == acct["refresh_token"]
    (home / "a.txt").write_bytes(b"a")

    env = {**os.environ, "JUPYTER_DRIVE_SYNC_KEY": key}
    args = ["push", "--home", str(home), "--user", USER, "--api-root", emulator.url, "--json"]
    assert run_cli(*args, env=env)[0] == 0
    assert stat.S_IMODE(cred.stat().st_mode) == 0o600  # still private after the run (refreshes rewrite it)
    for bad_env, word in (({**os.environ, "JUPYTER_DRIVE_SYNC_KEY": Fernet.generate_key().decode()}, "key"),
                          ({k: v for k, v in os.environ.items() if k != "JUPYTER_DRIVE_SYNC_KEY"}, "encrypt"),
                          ({**os.environ, "JUPYTER_DRIVE_SYNC_KEY": "not-a-fernet-key"}, "key")):
        code, out, err = run_cli(*args, env=bad_env)
        assert code == 3 and out == "", (code, err)
        assert "Traceback" not in err and err.count("\n") == 1 and word in err.lower(), err
        assert key not in err


# -- the secrets denylist -----------------------------------------------------------------------------


SECRETS = [".ssh/id_ed25519", ".gnupg/private-keys-v1.d/k.key", ".netrc", ".git-credentials",
           ".config/gcloud/credentials.db", ".config/rclone/rclone.conf", ".aws/credentials", ".kube/config",
           ".docker/config.json"]


def test_secrets_denylist_top_level_and_nested(home, emulator):
    planted: dict[str, bytes] = {}
    for where in ("", "backup/old-home/", "projects/p1/deep/er/"):
        for rel in SECRETS:
            data = f"SECRET {where}{rel} {os.urandom(8).hex()}\n".encode()
            p = home / (where + rel)
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
            planted[where + rel] = data
    (home / "projects" / "p1" / "deep" / "er" / "notes.md").write_bytes(b"kept\n")
    (home / ".docker" / "daemon.json").write_bytes(b"{}\n")  # only config.json is a secret
    s = run_push(PushOptions(home=home, user=USER, api_root=emulator.url))
    assert s.failed == []
    files = emulator.files(EMAIL)
    md5s = {f.get("md5Checksum") for f in files}
    names = {f["name"] for f in files}
    for rel, data in planted.items():
        assert md5(data) not in md5s, rel
    assert not names & {".ssh", ".gnupg", ".netrc", ".git-credentials", "gcloud", "rclone", ".aws", ".kube",
                        "config.json", "credentials.json"}
    tree = drive_paths(files)
    assert f"home/{USER}/projects/p1/deep/er/notes.md" in tree and f"home/{USER}/.docker/daemon.json" in tree
    assert len(planted) == 27
    # a user rule cannot re-include a secret
    (home / ".drivesyncignore").write_text("!.ssh\n!.ssh/**\n!**/.aws/**\n")
    run_push(PushOptions(home=home, user=USER, api_root=emulator.url))
    assert not {md5(d) for d in planted.values()} & {f.get("md5Checksum") for f in emulator.files(EMAIL)}


# -- no secrets in logs -------------------------------------------------------------------------------


def _all_secrets(emulator) -> set[str]:
    """Every access and refresh token the emulator ever minted, and the client secret."""
    accounts = emulator.ctx.accounts
    found = set(accounts._access) | set(accounts._refresh)
    found.add(emulator.client_ids()["client_secret"])
    assert len(found) >= 3
    return found


DEBUG_CLI = ("import logging, sys; logging.basicConfig(level=logging.DEBUG, stream=sys.stderr); "
             "import httplib2; httplib2.debuglevel = 0; "
             "from jupyter_drive_sync.cli import main; sys.exit(main(sys.argv[1:]))")


def test_cli_logs_at_debug_hold_no_token_or_secret(home, emulator):
    for i in range(20):
        (home / f"f{i}.txt").write_bytes(os.urandom(200))
    emulator.settings(token_lifetime_s=1)  # every run refreshes its token (and logs about it)
    connect_home(emulator.url, home, EMAIL)
    emulator.set_faults(0.3, kinds=["500", "429", "403-rate", "reset"], seed=3)  # and retries (logged)
    logs = []
    for args in (["push", "--workers", "2"], ["status"], ["restore", "--overwrite", "never"], ["push", "--json"]):
        proc = subprocess.run([sys.executable, "-c", DEBUG_CLI, *args[:1], "--home", str(home), "--user", USER,
                               "--api-root", emulator.url, *args[1:]],
                              capture_output=True, timeout=300, stdin=subprocess.DEVNULL)
        logs.append(proc.stdout.decode("utf-8", "replace") + proc.stderr.decode("utf-8", "replace"))
    emulator.set_faults(0)
    text = "\n".join(logs)
    assert "DEBUG" in text and "retry" in text.lower()  # the logs really were at DEBUG, retries included
    leaked = [s[:12] + "…" for s in _all_secrets(emulator) if s in text]
    assert not leaked, leaked


async def test_server_logs_at_debug_hold_no_token_or_secret(jp_fetch, jp_serverapp, emulator, caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    emulator.create_account(EMAIL)
    emulator._admin("POST", "_emulator/consent", json={"auto": True, "email": EMAIL})
    emulator.settings(token_lifetime_s=1)
    cookies: dict[str, str] = {}

    async def fetch(*parts: str, **kw: Any) -> Any:
        headers = dict(kw.pop("headers", {}))
        if cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        resp = await jp_fetch(*parts, headers=headers, raise_error=False, **kw)
        for raw in resp.headers.get_list("Set-Cookie"):
            cookies[raw.split("=", 1)[0]] = raw.split("=", 1)[1].split(";", 1)[0]
        return resp

    start = await fetch("drive-sync", "auth", "start", follow_redirects=False)
    answer = await asyncio.to_thread(requests.get, start.headers["Location"], allow_redirects=False, timeout=30)
    params = {k: v[-1] for k, v in parse_qs(urlsplit(answer.headers["Location"]).query).items()}
    assert (await fetch("drive-sync", "oauth2callback", params=params)).code == 200
    home = Path(jp_serverapp.root_dir)
    (home / "nb.ipynb").write_bytes(b"{}")
    resp = await fetch("drive-sync", "push", method="POST", body=b"{}")
    assert resp.code == 202, resp.body
    job = json.loads(resp.body)["job"]["id"]
    for _ in range(600):
        st = json.loads((await fetch("drive-sync", "push", job)).body)["job"]
        if st["state"] not in ("queued", "running"):
            break
        await asyncio.sleep(0.05)
    assert st["state"] == "done", st
    await asyncio.sleep(1.1)  # the access token expires: status refreshes it
    await fetch("drive-sync", "status")
    await fetch("drive-sync", "remote", params={"path": ""})
    assert (await fetch("drive-sync", "disconnect", method="POST", body=b"{}")).code == 200
    text = caplog.text + "\n".join(str(r.args) for r in caplog.records)
    assert any(r.levelno == logging.DEBUG for r in caplog.records)
    leaked = [s[:12] + "…" for s in _all_secrets(emulator) if s in text]
    assert not leaked, leaked


# -- the Kubernetes Role ------------------------------------------------------------------------------


def test_kubernetes_role_is_namespaced_without_secrets_wildcards_or_escalation():
    docs = [d for d in yaml.safe_load_all((REPO / "etc/kubernetes/rbac.yaml").read_text()) if d]
    kinds = [d["kind"] for d in docs]
    assert "ClusterRole" not in kinds and "ClusterRoleBinding" not in kinds
    all_docs = [d for p in sorted((REPO / "etc/kubernetes").glob("*.yaml"))
                for d in yaml.safe_load_all(p.read_text()) if d]
    assert not [d for d in all_docs if d["kind"] in ("ClusterRole", "ClusterRoleBinding")]
    roles = [d for d in docs if d["kind"] == "Role"]
    assert len(roles) == 1
    allowed = {"get", "list", "watch", "create", "patch", "delete"}
    for rule in roles[0]["rules"]:
        assert "*" not in rule["verbs"] and "*" not in rule["resources"] and "*" not in rule.get("apiGroups", [])
        assert set(rule["verbs"]) <= allowed, rule
        assert not {"escalate", "bind", "impersonate", "deletecollection"} & set(rule["verbs"])
        assert not {"secrets", "pods/exec", "pods/attach", "pods/portforward", "serviceaccounts/token",
                    "roles", "rolebindings", "nodes"} & set(rule["resources"]), rule
        if "pods" in rule["resources"]:
            assert set(rule["verbs"]) <= {"get", "list", "watch"}  # reads pods, never creates them
    binding = next(d for d in docs if d["kind"] == "RoleBinding")
    assert binding["roleRef"]["kind"] == "Role"
    assert [s["kind"] for s in binding["subjects"]] == ["ServiceAccount"]
    assert binding["subjects"][0]["namespace"] == roles[0]["metadata"]["namespace"]
