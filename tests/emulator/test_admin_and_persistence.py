"""The admin API contract (`/_emulator/...`), persistence across restarts, faults, quotas and the CLI."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from jupyter_drive_sync.emulator.faults import route_template

DRIVE_FILE = "https://www.googleapis.com/auth/drive.file"
FILE_KEYS = {"id", "name", "mimeType", "parents", "md5Checksum", "size", "modifiedTime", "trashed", "appProperties"}
CLI = [str(Path(sys.executable).with_name("jupyter-drive-sync"))]
if not Path(CLI[0]).exists():
    CLI = [sys.executable, "-m", "jupyter_drive_sync"]


def _curl(*args: str) -> dict:
    """The admin API as an operator would use it: curl, JSON out."""
    assert shutil.which("curl"), "curl missing: `make test` installs it (the admin API contract is checked with curl)"
    out = subprocess.run(["curl", "-sS", "--fail", *args], check=True, capture_output=True, timeout=30)
    return json.loads(out.stdout)


def _upload(url: str, token: str, name: str, content: bytes, **meta) -> dict:
    boundary = "xyzzy"
    body = (f"--{boundary}\r\nContent-Type: application/json\r\n\r\n".encode()
            + json.dumps({"name": name, **meta}).encode()
            + f"\r\n--{boundary}\r\nContent-Type: application/octet-stream\r\n\r\n".encode()
            + content + f"\r\n--{boundary}--\r\n".encode())
    resp = requests.post(url + "upload/drive/v3/files",
                         params={"uploadType": "multipart", "fields": "id,name,md5Checksum,size"},
                         headers={"Authorization": f"Bearer {token}",
                                  "Content-Type": f"multipart/related; boundary={boundary}"},
                         data=body, timeout=30)
    return {"status": resp.status_code, **resp.json()}


def test_admin_contract_with_curl(emulator):
    url = emulator.url
    acct = _curl("-X", "POST", "-H", "Content-Type: application/json", "-d", '{"email": "Ann@Example.edu"}',
                 url + "_emulator/accounts")
    assert {"email", "refresh_token", "access_token"} <= set(acct) and acct["email"] == "ann@example.edu"
    again = _curl("-X", "POST", "-d", '{"email": "ann@example.edu"}', url + "_emulator/accounts")
    assert again["access_token"] != acct["access_token"]  # idempotent account, fresh tokens

    web = _curl(url + "_emulator/client_secrets.json")["web"]
    assert web["auth_uri"] == url + "o/oauth2/auth" and web["token_uri"] == url + "token"
    assert web["client_id"] and web["client_secret"] and isinstance(web["redirect_uris"], list)

    made = _upload(url, acct["access_token"], "notes.txt", b"hello")
    assert made["status"] == 200
    files = _curl(url + "_emulator/accounts/ann@example.edu/files")["files"]
    mine = [f for f in files if f["id"] == made["id"]]
    assert len(mine) == 1 and FILE_KEYS <= set(mine[0])
    assert mine[0]["md5Checksum"] == hashlib.md5(b"hello").hexdigest() and mine[0]["trashed"] is False

    stats = _curl(url + "_emulator/stats")
    assert set(stats) >= {"requests", "units", "by_route"}
    assert stats["by_route"]["POST /upload/drive/v3/files"] == 1
    assert stats["by_route"]["POST /_emulator/accounts"] == 2  # admin routes: by_route only
    assert stats["requests"] == 1 and stats["units"] == 1
    reset = _curl("-X", "POST", url + "_emulator/stats/reset")
    assert reset["requests"] == 0 and reset["units"] == 0

    faults = _curl("-X", "POST", "-d", '{"rate": 0.25, "kinds": ["503", "reset"], "seed": 9}', url + "_emulator/faults")
    assert faults["rate"] == 0.25 and faults["kinds"] == ["503", "reset"]
    off = _curl("-X", "POST", "-d", '{"rate": 0}', url + "_emulator/faults")
    assert off["rate"] == 0

    unknown = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                              url + "_emulator/accounts/nobody@example.edu/files"], capture_output=True, timeout=30)
    assert unknown.stdout == b"404"


def test_drive_requests_and_units_are_counted(emulator):
    token = emulator.create_account("cnt@example.edu")["access_token"]
    emulator.reset_stats()
    h = {"Authorization": f"Bearer {token}"}
    requests.get(emulator.url + "drive/v3/files", headers=h, timeout=30)
    requests.get(emulator.url + "drive/v3/about?fields=user", headers=h, timeout=30)
    requests.get(emulator.url + "drive/v3/files/abc123", headers=h, timeout=30)  # 404 still costs a unit
    requests.post(emulator.url + "token", data={"grant_type": "refresh_token"}, timeout=30)  # not Drive
    stats = emulator.stats()
    assert stats["requests"] == 3 and stats["units"] == 3
    assert stats["by_route"]["GET /drive/v3/files/{fileId}"] == 1
    assert stats["by_route"]["POST /token"] == 1


def test_route_templates():
    assert route_template("GET", "/drive/v3/files/abc") == "/drive/v3/files/{fileId}"
    assert route_template("GET", "/drive/v3/files/abc/revisions/r1") == "/drive/v3/files/{fileId}/revisions/{revisionId}"
    assert route_template("PATCH", "/upload/drive/v3/files/abc") == "/upload/drive/v3/files/{fileId}"
    assert route_template("GET", "/drive/v3/files/generateIds") == "/drive/v3/files/generateIds"
    assert route_template("DELETE", "/drive/v3/files/trash") == "/drive/v3/files/trash"
    assert route_template("GET", "/drive/v3/changes/startPageToken") == "/drive/v3/changes/startPageToken"
    assert route_template("POST", "/batch/drive/v3") == "/batch/drive/v3"


def _status_sequence(emulator, token: str, seed: int, n: int = 40) -> list[int]:
    emulator.set_faults(rate=0.5, kinds=["500", "503", "429", "403-rate"], seed=seed)
    out = [requests.get(emulator.url + "drive/v3/about?fields=kind", headers={"Authorization": f"Bearer {token}"},
                        timeout=30).status_code for _ in range(n)]
    emulator.set_faults(rate=0)
    return out


def test_faults_are_deterministic_for_a_seed(emulator):
    token = emulator.create_account("det@example.edu")["access_token"]
    first = _status_sequence(emulator, token, seed=1234)
    assert _status_sequence(emulator, token, seed=1234) == first
    assert _status_sequence(emulator, token, seed=999) != first
    assert set(first) - {200} and 200 in first


def test_injected_error_envelopes(emulator):
    token = emulator.create_account("env@example.edu")["access_token"]
    h = {"Authorization": f"Bearer {token}"}
    expected = {"500": (500, "backendError"), "503": (503, "backendError"),
                "429": (429, "rateLimitExceeded"), "403-rate": (403, "userRateLimitExceeded")}
    for kind, (code, reason) in expected.items():
        emulator.set_faults(rate=1.0, kinds=[kind], seed=0)
        resp = requests.get(emulator.url + "drive/v3/files", headers=h, timeout=30)
        assert resp.status_code == code
        assert resp.json()["error"]["errors"][0]["reason"] == reason
        if kind == "429":
            assert resp.headers["Retry-After"]
    emulator.set_faults(rate=0)


def test_lost_after_commit_applies_the_change(emulator):
    token = emulator.create_account("lost@example.edu")["access_token"]
    emulator.set_faults(rate=1.0, kinds=["lost-after-commit"], seed=0)
    parts = urlsplit(emulator.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    body = json.dumps({"name": "committed.txt"})
    conn.request("POST", "/drive/v3/files?fields=id", body=body,
                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with pytest.raises((http.client.HTTPException, ConnectionError)):
        conn.getresponse()  # the client never hears back ...
    conn.close()
    emulator.set_faults(rate=0)
    names = [f["name"] for f in emulator.files("lost@example.edu")]
    assert names.count("committed.txt") == 1  # ... but the file was created


def test_reset_drops_before_handling(emulator):
    token = emulator.create_account("reset@example.edu")["access_token"]
    emulator.set_faults(rate=1.0, kinds=["reset"], seed=0)
    parts = urlsplit(emulator.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.request("POST", "/drive/v3/files", body=json.dumps({"name": "never.txt"}),
                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with pytest.raises((http.client.HTTPException, ConnectionError)):
        conn.getresponse()
    conn.close()
    emulator.set_faults(rate=0)
    assert "never.txt" not in [f["name"] for f in emulator.files("reset@example.edu")]


def test_per_user_quota_gives_user_rate_limit_exceeded(emulator):
    token = emulator.create_account("quota@example.edu")["access_token"]
    other = emulator.create_account("other@example.edu")["access_token"]
    emulator.settings(quota_per_minute=60)  # one unit per second, no burst beyond one second's worth
    statuses = []
    for _ in range(5):
        resp = requests.get(emulator.url + "drive/v3/files", headers={"Authorization": f"Bearer {token}"}, timeout=30)
        statuses.append(resp.status_code)
        if resp.status_code == 403:
            err = resp.json()["error"]["errors"][0]
            assert err["reason"] == "userRateLimitExceeded" and err["domain"] == "usageLimits"
    assert 403 in statuses
    # per user: another account still has its own budget
    assert requests.get(emulator.url + "drive/v3/files", headers={"Authorization": f"Bearer {other}"},
                        timeout=30).status_code == 200


def test_storage_full_is_storage_quota_exceeded(emulator):
    token = emulator.create_account("full@example.edu", storage_quota_bytes=100)["access_token"]
    assert _upload(emulator.url, token, "small.txt", b"x" * 60)["status"] == 200
    resp = _upload(emulator.url, token, "big.txt", b"x" * 60)
    assert resp["status"] == 403 and resp["error"]["errors"][0]["reason"] == "storageQuotaExceeded"
    emulator.update_account("full@example.edu", storage_quota_bytes=10_000)
    assert _upload(emulator.url, token, "big.txt", b"x" * 60)["status"] == 200


def test_index_page_escapes_names(emulator):
    token = emulator.create_account("html@example.edu")["access_token"]
    assert _upload(emulator.url, token, "<script>alert(1)</script>.txt", b"x")["status"] == 200
    page = requests.get(emulator.url, timeout=30)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;.txt" in page.text
    assert "<script>" not in page.text
    assert "html@example.edu" in page.text


# ---- the CLI process ---------------------------------------------------------------------------

def _start_cli(data_dir: Path | None) -> tuple[subprocess.Popen, str]:
    cmd = [*CLI, "emulator", "--port", "0"] + (["--data-dir", str(data_dir)] if data_dir else [])
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    line = proc.stdout.readline()  # type: ignore[union-attr]
    assert line.startswith("Drive emulator listening on http://127.0.0.1:"), line
    return proc, line.strip().rsplit(" ", 1)[1] + "/"


def _stop_cli(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> int:
    proc.send_signal(sig)
    try:
        return proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_state_survives_restart_with_data_dir(tmp_path):
    data = tmp_path / "emu"
    proc, url = _start_cli(data)
    try:
        acct = requests.post(url + "_emulator/accounts", json={"email": "keep@example.edu"}, timeout=30).json()
        made = _upload(url, acct["access_token"], "kept.txt", b"survives")
        assert made["status"] == 200
        # a resumable session with one chunk received
        init = requests.post(url + "upload/drive/v3/files?uploadType=resumable&fields=id,md5Checksum",
                             headers={"Authorization": f"Bearer {acct['access_token']}",
                                      "X-Upload-Content-Length": "6", "Content-Type": "application/json"},
                             data=b'{"name": "resumed.txt"}', timeout=30)
        session = init.headers["Location"]
        part = requests.put(session, data=b"abc", headers={"Content-Range": "bytes 0-2/6"}, timeout=30)
        assert part.status_code == 308
    finally:
        assert _stop_cli(proc) == 0

    proc, url2 = _start_cli(data)
    try:
        files = requests.get(url2 + "_emulator/accounts/keep@example.edu/files", timeout=30).json()["files"]
        assert [f["md5Checksum"] for f in files if f["name"] == "kept.txt"] == [hashlib.md5(b"survives").hexdigest()]
        # the old access token still works, and so does the refresh token
        about = requests.get(url2 + "drive/v3/about?fields=user(emailAddress)",
                             headers={"Authorization": f"Bearer {acct['access_token']}"}, timeout=30)
        assert about.status_code == 200 and about.json()["user"]["emailAddress"] == "keep@example.edu"
        web = requests.get(url2 + "_emulator/client_secrets.json", timeout=30).json()["web"]
        refreshed = requests.post(url2 + "token", timeout=30, data={
            "grant_type": "refresh_token", "refresh_token": acct["refresh_token"],
            "client_id": web["client_id"], "client_secret": web["client_secret"]})
        assert refreshed.status_code == 200 and refreshed.json()["access_token"]
        # the session resumes (its URI names the old port: keep the path and query)
        s = urlsplit(session)
        session2 = f"{url2}{s.path.lstrip('/')}?{s.query}"
        status = requests.put(session2, data=b"", headers={"Content-Range": "bytes */6"}, timeout=30)
        assert status.status_code == 308 and status.headers["Range"] == "bytes=0-2"
        done = requests.put(session2, data=b"def", headers={"Content-Range": "bytes 3-5/6"}, timeout=30)
        assert done.status_code == 200 and done.json()["md5Checksum"] == hashlib.md5(b"abcdef").hexdigest()
    finally:
        assert _stop_cli(proc, signal.SIGINT) == 0


def test_without_data_dir_the_temp_dir_is_removed(tmp_path):
    before = set(Path(os.environ.get("TMPDIR", "/tmp")).glob("drive-emulator-*"))
    proc, url = _start_cli(None)
    try:
        assert requests.get(url + "_emulator/stats", timeout=30).status_code == 200
        during = set(Path(os.environ.get("TMPDIR", "/tmp")).glob("drive-emulator-*")) - before
        assert len(during) == 1
    finally:
        assert _stop_cli(proc) == 0
    assert not any(p.exists() for p in during)


def test_discovery_document_points_at_the_emulator(emulator):
    doc = requests.get(emulator.url + "discovery/v1/apis/drive/v3/rest", timeout=30).json()
    assert doc["rootUrl"] == emulator.url and doc["baseUrl"] == emulator.url + "drive/v3/"
    assert requests.get(emulator.url + "discovery/v1/apis/sheets/v4/rest", timeout=30).status_code == 404
    assert requests.get(emulator.url + "no/such/route", timeout=30).status_code == 404


def test_hang_after_commit_holds_the_answer_of_the_routes_asked_for_until_faults_change(emulator):
    """The fault a test kills a client at a known request with: only the listed routes are hit,
    the change is made at once, and the answer is held until faults are configured again."""
    token = emulator.create_account("hang@example.edu")["access_token"]
    h = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    snap = emulator.set_faults(rate=1.0, kinds=["hang-after-commit"], routes=["POST /drive/v3/files"], slow_ms=60_000)
    assert snap["routes"] == ["POST /drive/v3/files"]
    assert requests.get(emulator.url + "drive/v3/about?fields=kind", headers=h, timeout=30).status_code == 200
    parts = urlsplit(emulator.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.request("POST", "/drive/v3/files?fields=id", body=json.dumps({"name": "held.txt"}), headers=h)
    conn.sock.settimeout(1.0)
    with pytest.raises(TimeoutError):
        conn.getresponse()  # held ...
    assert [f["name"] for f in emulator.files("hang@example.edu")] == ["held.txt"]  # ... and made
    conn.sock.settimeout(30)
    emulator.set_faults(rate=0)  # releases it: the connection closes with no answer
    with pytest.raises((http.client.HTTPException, ConnectionError, OSError)):
        conn.getresponse()
    conn.close()
    assert emulator.set_faults(rate=0)["kinds"] == ["500", "503", "429", "403-rate", "reset", "lost-after-commit",
                                                    "slow"]  # never mixed in at random
