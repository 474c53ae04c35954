"""`auth --device` on a machine with no browser: Google's device flow, against the emulator.

The emulator answers as Google does (emulator/device_flow.py): a device code and a user code,
`authorization_pending` until the user decides on the verification page, `slow_down` when polled
sooner than `interval`, `expired_token` after `expires_in`. The waits between polls move the
emulator's clock instead of sleeping (except in the one end-to-end CLI run).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import requests

from jupyter_drive_sync.auth.connection import check_connection
from jupyter_drive_sync.auth.credentials import CredentialStore
from jupyter_drive_sync.auth.device_flow import DeviceCode, run_device_auth
from jupyter_drive_sync.auth.flow import OAuthError
from jupyter_drive_sync.core.errors import ConfigError
from jupyter_drive_sync.core.settings import SyncSettings

from tests.support.command_line import check_signed_in, cli_env, read_until, running_cli, user_home

EMAIL = "dana@example.edu"
DRIVE_FILE = "https://www.googleapis.com/auth/drive.file"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return user_home(tmp_path, "dana")


def _settings(home: Path, emulator, secrets: Path) -> SyncSettings:
    return SyncSettings.for_home(home, environ={}, api_root=emulator.url, client_secrets_file=secrets)


def _decide(emulator, user_code: str, decision: str = "allow", email: str = EMAIL) -> str:
    """What the user does on the verification page, on their phone."""
    resp = requests.post(emulator.url + "device", timeout=30,
                         data={"user_code": user_code, "email": email, "decision": decision})
    resp.raise_for_status()
    return resp.text


class _User:
    """Stands in for `time.sleep` between polls: moves the emulator's clock, and acts as the user
    on the verification page before the poll numbered `decide_before_poll` (1-based)."""

    def __init__(self, emulator, decide_before_poll: int | None = None, decision: str = "allow",
                 advance: list[float] | None = None) -> None:
        self.emulator, self.decide_before_poll, self.decision = emulator, decide_before_poll, decision
        self.advance = advance or []  # seconds the clock really moves per wait (default: as asked)
        self.waits: list[float] = []
        self.code: DeviceCode | None = None

    def on_code(self, code: DeviceCode) -> None:
        self.code = code

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        n = len(self.waits)
        self.emulator.advance_clock(self.advance[n - 1] if n <= len(self.advance) else seconds)
        if n == self.decide_before_poll:
            assert self.code is not None
            _decide(self.emulator, self.code.user_code, self.decision)


def test_device_code_answer_has_googles_shape(emulator, secrets_of):
    """`POST /device/code` as Google answers it; a Desktop client is refused with Google's sentence."""
    tv = json.loads(secrets_of("tv").read_text())["installed"]
    resp = requests.post(emulator.url + "device/code", timeout=30,
                         data={"client_id": tv["client_id"], "scope": DRIVE_FILE})
    assert resp.status_code == 200
    body = resp.json()
    assert set(body) == {"device_code", "user_code", "verification_url", "expires_in", "interval"}
    assert body["expires_in"] == 1800 and body["interval"] == 5
    assert body["verification_url"] == emulator.url + "device"

    desktop = json.loads(secrets_of("installed").read_text())["installed"]
    resp = requests.post(emulator.url + "device/code", timeout=30,
                         data={"client_id": desktop["client_id"], "scope": DRIVE_FILE})
    assert resp.status_code == 401 and resp.json()["error"] == "invalid_client"
    assert "TVs and Limited Input devices" in resp.json()["error_description"]

    resp = requests.post(emulator.url + "device/code", timeout=30,
                         data={"client_id": tv["client_id"], "scope": "https://www.googleapis.com/auth/drive"})
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_scope"  # not on the allowed list


def test_token_endpoint_says_pending_then_slow_down_when_polled_too_fast(emulator, secrets_of):
    tv = json.loads(secrets_of("tv").read_text())["installed"]
    code = requests.post(emulator.url + "device/code", timeout=30,
                         data={"client_id": tv["client_id"], "scope": DRIVE_FILE}).json()
    poll = {"client_id": tv["client_id"], "client_secret": tv["client_secret"],
            "device_code": code["device_code"], "grant_type": DEVICE_GRANT}
    first = requests.post(emulator.url + "token", data=poll, timeout=30)
    assert (first.status_code, first.json()["error"]) == (428, "authorization_pending")
    again = requests.post(emulator.url + "token", data=poll, timeout=30)  # no wait at all
    assert (again.status_code, again.json()["error"]) == (403, "slow_down")
    emulator.advance_clock(5)  # the interval is now 10 s (RFC 8628 §3.5): 5 s is still too soon
    assert requests.post(emulator.url + "token", data=poll, timeout=30).json()["error"] == "slow_down"
    emulator.advance_clock(15)
    assert requests.post(emulator.url + "token", data=poll, timeout=30).json()["error"] == "authorization_pending"


def test_device_sign_in_waits_for_the_user_and_stores_the_grant(home, emulator, secrets_of):
    emulator.create_account(EMAIL)
    settings = _settings(home, emulator, secrets_of("tv"))
    user = _User(emulator, decide_before_poll=3)
    out = io.StringIO()
    email = run_device_auth(settings, out=out, sleep=user.sleep, on_code=user.on_code)
    assert email == EMAIL
    assert user.waits == [5.0, 5.0, 5.0]  # polled every `interval`: two pending answers, then the tokens
    assert emulator.stats()["by_route"]["POST /token"] == 3
    assert user.code.verification_url in out.getvalue() and user.code.user_code in out.getvalue()
    creds = CredentialStore(settings.credentials_file).load()
    assert creds.account == EMAIL and creds.refresh_token
    conn = check_connection(settings)  # google-auth refreshes the stored grant at the emulator
    assert conn.connected and not conn.needs_reauth and conn.account == EMAIL


def test_device_sign_in_slows_down_when_told(home, emulator, secrets_of):
    emulator.create_account(EMAIL)
    settings = _settings(home, emulator, secrets_of("tv"))
    # the second wait ends early (a machine that woke too soon): Google answers slow_down
    user = _User(emulator, decide_before_poll=4, advance=[5, 1])
    assert run_device_auth(settings, out=io.StringIO(), sleep=user.sleep, on_code=user.on_code) == EMAIL
    assert user.waits == [5.0, 5.0, 10.0, 10.0]  # 5 s more between polls from then on


def test_device_sign_in_expires(home, emulator, secrets_of):
    settings = _settings(home, emulator, secrets_of("tv"))
    user = _User(emulator, advance=[1000, 1000])  # nobody enters the code; 30 minutes pass
    with pytest.raises(OAuthError) as err:
        run_device_auth(settings, out=io.StringIO(), sleep=user.sleep, on_code=user.on_code)
    assert err.value.kind == "expired" and len(user.waits) == 2
    assert not settings.credentials_file.exists()


def test_device_sign_in_denied(home, emulator, secrets_of):
    emulator.create_account(EMAIL)
    settings = _settings(home, emulator, secrets_of("tv"))
    user = _User(emulator, decide_before_poll=1, decision="deny")
    with pytest.raises(OAuthError) as err:
        run_device_auth(settings, out=io.StringIO(), sleep=user.sleep, on_code=user.on_code)
    assert err.value.kind == "access_denied"
    assert not settings.credentials_file.exists()


def test_device_sign_in_with_a_desktop_client_says_which_client_to_make(home, emulator, secrets_of):
    settings = _settings(home, emulator, secrets_of("installed"))
    with pytest.raises(ConfigError, match="TVs and Limited Input devices"):
        run_device_auth(settings, out=io.StringIO(), sleep=lambda s: None)


def test_auth_device_from_the_command_line(home, emulator, secrets_of):
    """The whole command: it prints the page and the code, the user allows on the page, it ends 0.
    (Polls really wait Google's 5 s here: one wait.)"""
    emulator.create_account(EMAIL)
    with running_cli("auth", "--device", "--home", str(home), "--api-root", emulator.url,
                     "--client-secrets", str(secrets_of("tv")), env=cli_env()) as proc:
        shown = read_until(proc, "enter the code")
        user_code = shown.split("enter the code", 1)[1].split()[0]
        assert emulator.url + "device" in shown
        assert "Access allowed" in _decide(emulator, user_code)
        check_signed_in(proc, home, EMAIL)
