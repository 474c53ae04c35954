"""Refresh tokens live as long as Google lets them, through the real google-auth libraries.

Google's OAuth 2.0 overview, "Refresh token expiration" (reference/drive-api-v3.md, "refresh
tokens"): an app in "Testing" publishing status gets refresh tokens that expire after 7 days
(`--refresh-token-lifetime`, off by default, on under `--profile google`); a refresh token unused
for six months expires; at most 100 refresh tokens per account and client, a new one silently
invalidating the oldest (both always on). A dead refresh token gets
`400 {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}`,
which google-auth raises as a RefreshError.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from urllib.parse import parse_qs, urlsplit

import google.auth.transport.requests
import pytest
import requests
from google.auth.exceptions import RefreshError
from google.oauth2.credentials import Credentials
from google_auth_oauthlib.flow import Flow

from jupyter_drive_sync.emulator.settings import EmulatorSettings

DRIVE_FILE = "https://www.googleapis.com/auth/drive.file"
REDIRECT = "http://localhost:8888/drive-sync/oauth2callback"  # registered for the built-in client
DAY = 24 * 3600
WEEK = 7 * DAY


def _sign_in(emulator, email: str, secrets: dict | None = None, redirect: str = REDIRECT) -> Credentials:
    """A whole consent + code exchange with google-auth-oauthlib: a fresh grant and refresh token."""
    flow = Flow.from_client_config(secrets or emulator.client_secrets(), scopes=[DRIVE_FILE], redirect_uri=redirect)
    url, _ = flow.authorization_url(access_type="offline", prompt="consent", login_hint=email)
    resp = requests.get(url, allow_redirects=False, timeout=10)
    assert resp.status_code == 302, resp.text
    flow.fetch_token(code=parse_qs(urlsplit(resp.headers["Location"]).query)["code"][0])
    assert flow.credentials.refresh_token
    return flow.credentials


def _refresh(creds: Credentials) -> None:
    creds.refresh(google.auth.transport.requests.Request())


def _assert_expired_or_revoked(creds: Credentials) -> None:
    with pytest.raises(RefreshError) as err:
        _refresh(creds)
    assert "invalid_grant" in str(err.value) and "Token has been expired or revoked." in str(err.value)


class TestTestingAppLifetime:
    @pytest.fixture
    def emulator_settings(self, emulator_settings: EmulatorSettings) -> EmulatorSettings:
        return dataclasses.replace(emulator_settings, refresh_token_lifetime_s=WEEK)

    def test_refresh_token_expires_after_the_configured_lifetime(self, emulator):
        creds = _sign_in(emulator, "ann@example.edu")
        _refresh(creds)
        emulator.advance_clock(WEEK - 60)
        _refresh(creds)  # still inside its week, however often it is used
        emulator.advance_clock(120)
        _assert_expired_or_revoked(creds)
        again = Credentials(None, refresh_token=creds.refresh_token, token_uri=emulator.url + "token",
                            **emulator.client_ids())
        _assert_expired_or_revoked(again)  # expired for good, not for one attempt

        fresh = _sign_in(emulator, "ann@example.edu")  # signing in again gives a new week
        _refresh(fresh)
        assert requests.get(emulator.url + "drive/v3/about", params={"fields": "user"}, timeout=10,
                            headers={"Authorization": f"Bearer {fresh.token}"}).status_code == 200

    def test_lifetime_can_be_turned_off_while_running(self, emulator):
        creds = _sign_in(emulator, "bob@example.edu")
        assert emulator.settings(refresh_token_lifetime_s=0)["refresh_token_lifetime_s"] == 0
        emulator.advance_clock(WEEK + DAY)
        _refresh(creds)


def test_default_refresh_tokens_have_no_fixed_lifetime(emulator):
    creds = _sign_in(emulator, "cy@example.edu")
    for _ in range(3):  # used every 100 days: alive a year later
        emulator.advance_clock(100 * DAY)
        _refresh(creds)


def test_refresh_token_unused_for_six_months_expires(emulator):
    used = _sign_in(emulator, "dee@example.edu")
    idle = _sign_in(emulator, "dee@example.edu")
    emulator.advance_clock(120 * DAY)
    _refresh(used)
    emulator.advance_clock(64 * DAY)  # idle: 184 days unused; used: 64
    _assert_expired_or_revoked(idle)
    _refresh(used)


def test_101st_refresh_token_silently_invalidates_the_oldest(emulator):
    grants = [_sign_in(emulator, "eve@example.edu") for _ in range(100)]
    other_account = _sign_in(emulator, "fay@example.edu")
    installed = emulator.create_client(client_type="installed")["client_secrets"]
    other_client = _sign_in(emulator, "eve@example.edu", installed, "http://127.0.0.1:45678/")
    for creds in (grants[0], grants[-1]):
        _refresh(creds)  # a hundred live tokens: all good

    newest = _sign_in(emulator, "eve@example.edu")  # the 101st for this account and client
    _assert_expired_or_revoked(grants[0])
    for creds in (grants[1], grants[-1], newest, other_account, other_client):
        _refresh(creds)

    _sign_in(emulator, "eve@example.edu")  # and the 102nd takes the next oldest
    _assert_expired_or_revoked(grants[1])
    _refresh(grants[2])


def test_refresh_token_lifetime_flag_of_the_emulator_command(tmp_path):
    """`jupyter-drive-sync emulator --refresh-token-lifetime SECONDS` sets it; without the flag: 0."""
    for flags, expected in ((["--refresh-token-lifetime", "3600"], 3600), ([], 0),
                            (["--profile", "google"], WEEK)):
        proc = subprocess.Popen(
            [sys.executable, "-c", "import sys; from jupyter_drive_sync.cli import main; sys.exit(main(sys.argv[1:]))",
             "emulator", "--port", "0", *flags],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        try:
            url = None
            for line in proc.stdout:  # the startup line, once ready
                if "Drive emulator listening on " in line:
                    url = line.split("Drive emulator listening on ", 1)[1].strip().rstrip("/") + "/"
                    break
            assert url, "the emulator did not start"
            got = json.loads(requests.get(url + "_emulator/settings", timeout=10).content)
            assert got["refresh_token_lifetime_s"] == expected, flags
        finally:
            proc.terminate()
            proc.wait(timeout=30)
