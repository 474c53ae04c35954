"""The CLI's `auth` (loopback redirect), `status` and `disconnect`, against the emulator."""

from __future__ import annotations

import io
import json
import stat
from pathlib import Path

import pytest
import requests

from jupyter_drive_sync.auth.flow import OAuthError
from jupyter_drive_sync.auth.loopback_flow import run_loopback_auth
from jupyter_drive_sync.core.settings import SyncSettings
from jupyter_drive_sync.auth.credentials import CredentialStore

from tests.support.command_line import cli_env, run_cli, user_home, write_client_secrets

EMAIL = "bob@example.edu"


@pytest.fixture
def cli_home(tmp_path: Path) -> Path:
    return user_home(tmp_path, "bob")


@pytest.fixture
def secrets_file(tmp_path: Path, emulator) -> Path:
    """A Desktop ("installed") client's secrets: only that type may use a loopback redirect on
    whatever port `auth` listens on (a web client would get redirect_uri_mismatch, as at Google)."""
    return write_client_secrets(emulator, tmp_path / "client_secrets.json", "installed")


def _settings(cli_home: Path, emulator, secrets_file: Path, key: str | None = None) -> SyncSettings:
    return SyncSettings.for_home(cli_home, environ={}, api_root=emulator.url,
                                 client_secrets_file=secrets_file, encryption_key=key)


def _browser(url: str) -> None:
    """What the user's browser does: open the consent URL and follow it back to the loopback."""
    requests.get(url, timeout=30)


def test_loopback_auth_stores_credentials(cli_home, emulator, secrets_file):
    emulator.create_account(EMAIL)
    out = io.StringIO()
    settings = _settings(cli_home, emulator, secrets_file)
    email = run_loopback_auth(settings, open_browser=False, timeout=30, on_url=_browser, out=out)
    assert email == EMAIL
    assert "http://127.0.0.1:" in out.getvalue()  # the consent URL is printed, redirect on loopback
    path = settings.credentials_file
    assert path == cli_home / ".local/share/jupyter/drive_sync/credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    creds = CredentialStore(path).load()
    assert creds.account == EMAIL and creds.refresh_token


def test_loopback_auth_refuses_a_forged_answer(cli_home, emulator, secrets_file):
    """A redirect carrying another state (not from this command's sign-in) stores nothing."""
    from urllib.parse import parse_qs, urlsplit

    def forger(url: str) -> None:
        redirect = parse_qs(urlsplit(url).query)["redirect_uri"][0]
        requests.get(redirect, params={"code": "stolen", "state": "forged"}, timeout=30)

    settings = _settings(cli_home, emulator, secrets_file)
    with pytest.raises(OAuthError) as err:
        run_loopback_auth(settings, open_browser=False, timeout=30, on_url=forger, out=io.StringIO())
    assert err.value.kind == "bad_state"
    assert not settings.credentials_file.exists()


def test_status_and_disconnect_commands(cli_home, emulator, secrets_file, tmp_path):
    from cryptography.fernet import Fernet

    key = Fernet.generate_key().decode()
    args = ("--home", str(cli_home), "--api-root", emulator.url)
    res = run_cli("status", *args, "--json")
    assert res.returncode == 3
    assert json.loads(res.stdout)["connected"] is False

    emulator.create_account(EMAIL)
    settings = _settings(cli_home, emulator, secrets_file, key)
    run_loopback_auth(settings, open_browser=False, timeout=30, on_url=_browser, out=io.StringIO())
    creds = CredentialStore(settings.credentials_file, key).load()

    res = run_cli("status", *args, "--json", env=cli_env(JUPYTER_DRIVE_SYNC_KEY=key))
    assert res.returncode == 0, res.stderr
    status = json.loads(res.stdout)
    assert status["connected"] is True and status["account"] == EMAIL and status["needs_reauth"] is False
    assert status["folder"] == "home/bob"

    res = run_cli("status", *args, env=cli_env(JUPYTER_DRIVE_SYNC_KEY=key))
    assert EMAIL in res.stdout and creds.refresh_token not in res.stdout + res.stderr

    res = run_cli("disconnect", *args, env=cli_env(JUPYTER_DRIVE_SYNC_KEY=key))
    assert res.returncode == 0, res.stderr
    assert not settings.credentials_file.exists()
    revoked = requests.post(emulator.url + "token", timeout=30, data={
        "grant_type": "refresh_token", "refresh_token": creds.refresh_token,
        "client_id": creds.client_id, "client_secret": creds.client_secret})
    assert revoked.status_code == 400 and revoked.json()["error"] == "invalid_grant"


def test_auth_without_client_secrets_is_a_usage_error(cli_home):
    res = run_cli("auth", "--home", str(cli_home), "--no-browser", "--timeout", "1")
    assert res.returncode == 2
    assert "client-secrets" in res.stderr
