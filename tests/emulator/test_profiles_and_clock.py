"""`jupyter-drive-sync emulator --profile google|fast` and the flags that tune Google's numbers,
and the emulator's clock (`POST /_emulator/clock`) that token and resumable-session expiry read.
Driven through the real command, google-api-python-client and google-auth; nothing is mocked.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import google.oauth2.credentials
import google_auth_httplib2
import httplib2
import pytest
import requests
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from googleapiclient.http import MediaIoBaseUpload

from jupyter_drive_sync.emulator.pytest_plugin import EmulatorHandle
from jupyter_drive_sync.emulator.server import start_in_thread
from jupyter_drive_sync.emulator.settings import EmulatorSettings

WEEK_S = 7 * 24 * 3600
# The `jupyter-drive-sync` command, run by this test's interpreter.
COMMAND = [sys.executable, "-c", "import sys; from jupyter_drive_sync.cli import main; sys.exit(main(sys.argv[1:]))"]


class _CommandEmulator:
    """`jupyter-drive-sync emulator ARGS` in a subprocess, reached at the URL it prints."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [*COMMAND, "emulator", "--port", "0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.startswith("Drive emulator listening on http://127.0.0.1:"), line
        self.url = line.split(" on ", 1)[1].strip() + "/"

    def admin(self, method: str, path: str, **kw: Any) -> Any:
        resp = requests.request(method, self.url + path, timeout=30, **kw)
        resp.raise_for_status()
        return resp.json()

    def drive(self, email: str) -> Any:
        acct = self.admin("POST", "_emulator/accounts", json={"email": email})
        creds = google.oauth2.credentials.Credentials(token=acct["access_token"])
        return build("drive", "v3", credentials=creds, static_discovery=False,
                     discoveryServiceUrl=self.url + "discovery/v1/apis/{api}/{apiVersion}/rest")

    def stop(self) -> None:
        self.proc.terminate()
        assert self.proc.wait(timeout=30) == 0


@pytest.fixture
def command_emulator() -> Iterator[Any]:
    started: list[_CommandEmulator] = []

    def start(*args: str) -> _CommandEmulator:
        started.append(_CommandEmulator(*args))
        return started[-1]

    yield start
    for emu in started:
        if emu.proc.poll() is None:
            emu.stop()


def test_profile_google_sets_every_realistic_limit_at_once(command_emulator) -> None:
    emu = command_emulator("--profile", "google")
    settings = emu.admin("GET", "_emulator/settings")
    assert settings["profile"] == "google"
    assert (settings["write_rate"], settings["write_burst"]) == (3, 10)
    assert (settings["quota_per_minute"], settings["project_quota_per_minute"]) == (12000, 12000)
    assert settings["latency_ms"] >= 200 and settings["write_latency_ms"] >= 500
    assert settings["refresh_token_lifetime_s"] == WEEK_S

    drive = emu.drive("ann@example.edu")
    started = time.monotonic()
    drive.files().list(fields="files(id)").execute()
    assert time.monotonic() - started >= 0.2  # a real round trip, not a loopback's

    # 20 writes at once: the burst of 10 goes through, the rest is refused as Google refuses it
    token = emu.admin("POST", "_emulator/accounts", json={"email": "bob@example.edu"})["access_token"]
    statuses: list[int] = []
    bodies: list[dict[str, Any]] = []

    def create(i: int) -> None:
        resp = requests.post(emu.url + "drive/v3/files", json={"name": f"f{i}"}, timeout=30,
                             headers={"Authorization": f"Bearer {token}"})
        statuses.append(resp.status_code)
        if resp.status_code != 200:
            bodies.append(resp.json()["error"])

    threads = [threading.Thread(target=create, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert 10 <= statuses.count(200) <= 12 and statuses.count(403) == 20 - statuses.count(200)
    assert all(b["errors"][0]["reason"] == "userRateLimitExceeded" for b in bodies)
    assert emu.admin("GET", "_emulator/stats")["refused_writes"] == statuses.count(403)


def test_flags_override_the_profile_and_no_flags_is_todays_emulator(command_emulator) -> None:
    tuned = command_emulator("--profile", "google", "--write-rate", "5", "--write-burst", "20",
                             "--project-quota-per-minute", "1000000", "--quota-per-minute", "325000",
                             "--latency-ms", "0", "--write-latency-ms", "0")
    settings = tuned.admin("GET", "_emulator/settings")
    assert (settings["write_rate"], settings["write_burst"]) == (5, 20)
    assert (settings["quota_per_minute"], settings["project_quota_per_minute"]) == (325000, 1000000)
    assert settings["refresh_token_lifetime_s"] == WEEK_S  # not given: the profile's

    plain = command_emulator()  # no flags: as lenient as before
    settings = plain.admin("GET", "_emulator/settings")
    assert settings["profile"] == "fast"
    assert settings["write_rate"] == 0 and settings["quota_per_minute"] == 0
    assert settings["project_quota_per_minute"] == 0 and settings["latency_ms"] == 0
    assert settings["refresh_token_lifetime_s"] == 0
    drive = plain.drive("ann@example.edu")
    for i in range(30):  # no write limit
        drive.files().create(body={"name": f"f{i}"}, fields="id").execute()


def test_unknown_profile_is_a_usage_error() -> None:
    done = subprocess.run([*COMMAND, "emulator", "--profile", "slow"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "--profile: invalid choice" in done.stderr


def _credentials(emulator: EmulatorHandle, email: str) -> tuple[dict[str, Any], google.oauth2.credentials.Credentials]:
    acct = emulator.create_account(email)
    creds = google.oauth2.credentials.Credentials(  # no expiry known: the 401 is what tells it
        token=acct["access_token"], refresh_token=acct["refresh_token"], token_uri=acct["token_uri"],
        **emulator.client_ids())
    return acct, creds


def _about(emulator: EmulatorHandle, token: str) -> requests.Response:
    return requests.get(emulator.url + "drive/v3/about", params={"fields": "user(emailAddress)"},
                        headers={"Authorization": f"Bearer {token}"}, timeout=10)


def test_clock_advance_expires_the_access_token_then_refresh_works(emulator) -> None:
    acct, creds = _credentials(emulator, "ann@example.edu")
    assert _about(emulator, acct["access_token"]).status_code == 200
    before = emulator.advance_clock(0)["epoch_seconds"]
    moved = emulator.advance_clock(3601)  # the token lives 3600 s
    assert moved["epoch_seconds"] - before >= 3601 and moved["now"].endswith("Z")
    expired = _about(emulator, acct["access_token"])
    assert expired.status_code == 401 and expired.json()["error"]["errors"][0]["reason"] == "authError"
    emulator.reset_stats()
    http = google_auth_httplib2.AuthorizedHttp(creds, http=httplib2.Http(timeout=10))
    resp, body = http.request(emulator.url + "drive/v3/about?fields=user(emailAddress)")
    assert resp.status == 200, body
    assert json.loads(body)["user"]["emailAddress"] == "ann@example.edu"
    assert creds.token != acct["access_token"]
    by_route = emulator.stats()["by_route"]
    assert by_route["GET /drive/v3/about"] == 2 and by_route["POST /token"] == 1  # the 401, a refresh, the replay


def test_clock_advance_expires_a_resumable_session(emulator) -> None:
    acct, creds = _credentials(emulator, "ann@example.edu")
    drive = build("drive", "v3", credentials=creds, static_discovery=False,
                  discoveryServiceUrl=emulator.url + "discovery/v1/apis/{api}/{apiVersion}/rest")
    data = b"y" * (3 * 256 * 1024)
    media = MediaIoBaseUpload(io.BytesIO(data), "application/octet-stream", chunksize=256 * 1024, resumable=True)
    request = drive.files().create(body={"name": "big.bin"}, media_body=media, fields="id")
    status, done = request.next_chunk()
    assert done is None and status.resumable_progress == 256 * 1024
    emulator.advance_clock(WEEK_S + 3600)  # Google keeps a session about a week
    with pytest.raises(HttpError) as gone:
        request.next_chunk()
    assert gone.value.resp.status == 404
    assert [f for f in emulator.files("ann@example.edu") if f["name"] == "big.bin"] == []


def test_clock_only_moves_forward(emulator) -> None:
    for bad in ({"advance_seconds": -5}, {"advance_seconds": "soon"}, {}, {"advance_seconds": True}):
        resp = requests.post(emulator.url + "_emulator/clock", json=bad, timeout=10)
        assert resp.status_code == 400, bad
    now = requests.get(emulator.url + "_emulator/clock", timeout=10).json()
    assert now["offset_seconds"] == 0
    assert abs(now["epoch_seconds"] - time.time()) < 5


def test_clock_offset_survives_a_restart_of_a_persistent_emulator(tmp_path: Path) -> None:
    settings = EmulatorSettings(data_dir=tmp_path / "data", persistent=True)
    first = EmulatorHandle(start_in_thread(settings))
    try:
        token = first.create_account("ann@example.edu")["access_token"]
        first.advance_clock(7200)
        assert _about(first, token).status_code == 401
    finally:
        first.http.close()
        first.running.stop()
    second = EmulatorHandle(start_in_thread(EmulatorSettings(data_dir=tmp_path / "data", persistent=True)))
    try:
        assert second.advance_clock(0)["offset_seconds"] == 7200
        assert _about(second, token).status_code == 401  # what expired stays expired
    finally:
        second.http.close()
        second.running.stop()
