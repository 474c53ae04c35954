"""Issue 4 (1): the whole OAuth round trip through the server, and what the callback refuses."""

from __future__ import annotations

import json
import stat
from urllib.parse import parse_qs, urlsplit

import pytest

from jupyter_drive_sync.auth.credentials import DRIVE_FILE_SCOPE, CredentialStore


async def test_status_before_connecting(api, h):
    code, status = await h.get_json(api, "drive-sync", "status")
    assert code == 200
    assert {"configured", "connected", "account", "needs_reauth", "prompt",
            "root_folder_url", "last_push", "job"} <= set(status)  # the contract's keys
    assert status["configured"] is True
    assert status["connected"] is False
    assert status["prompt"] is True
    assert status["job"] is None


async def test_round_trip_connects_and_stores_encrypted(api, emulator, h, credentials_file, fernet_key):
    start = await api("drive-sync", "auth", "start", follow_redirects=False, raise_error=False)
    assert start.code == 302
    query = parse_qs(urlsplit(start.headers["Location"]).query)
    assert query["scope"] == [DRIVE_FILE_SCOPE]  # least privilege: nothing else is asked for
    assert query["access_type"] == ["offline"] and query["prompt"] == ["consent"]
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) >= 43
    assert query["redirect_uri"][0].endswith("/a%40b/drive-sync/oauth2callback")

    page = await h.connect(api, emulator)
    text = page.body.decode()
    assert "postMessage" in text and "window.location.origin" in text  # same origin only
    assert '"type": "drive-sync:connected"' in text  # what the frontend listens for
    assert h.EMAIL in text
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "nonce-" in csp

    code, status = await h.get_json(api, "drive-sync", "status")
    assert status["connected"] is True and status["needs_reauth"] is False
    assert status["account"] == h.EMAIL
    assert status["prompt"] is False

    assert stat.S_IMODE(credentials_file.stat().st_mode) == 0o600
    raw = credentials_file.read_bytes()
    with pytest.raises(ValueError):
        json.loads(raw)  # encrypted with the configured key: not JSON on disk
    creds = CredentialStore(credentials_file, fernet_key).load()
    assert creds.refresh_token and creds.token_uri.startswith(emulator.url)
    assert creds.account == h.EMAIL


async def test_wrong_state_is_refused_and_stores_nothing(api, emulator, h, credentials_file):
    params = await h.consent(api, emulator)
    bad = dict(params, state="not-the-state")
    resp = await api("drive-sync", "oauth2callback", params=bad, raise_error=False)
    assert resp.code == 400
    assert b"not connected" in resp.body.lower() or b"unknown" in resp.body.lower()
    assert not credentials_file.exists()
    code, status = await h.get_json(api, "drive-sync", "status")
    assert status["connected"] is False


async def test_missing_state_is_refused(api, emulator, h, credentials_file):
    params = await h.consent(api, emulator)
    params.pop("state")
    resp = await api("drive-sync", "oauth2callback", params=params, raise_error=False)
    assert resp.code == 400
    assert not credentials_file.exists()


async def test_reused_state_is_refused(api, emulator, h, credentials_file):
    params = await h.consent(api, emulator)
    first = await api("drive-sync", "oauth2callback", params=params, raise_error=False)
    assert first.code == 200
    before = credentials_file.read_bytes()
    again = await api("drive-sync", "oauth2callback", params=params, raise_error=False)
    assert again.code == 400
    assert credentials_file.read_bytes() == before


async def test_state_of_another_sign_in_cannot_finish_this_one(api, emulator, h, credentials_file):
    """A state is single use even when the code is fresh: mixing two sign-ins fails."""
    one = await h.consent(api, emulator)
    two = await h.consent(api, emulator)
    mixed = dict(two, state=one["state"])  # the PKCE verifier kept for `one` does not fit `two`'s code
    resp = await api("drive-sync", "oauth2callback", params=mixed, raise_error=False)
    assert resp.code == 400
    assert not credentials_file.exists()


async def test_state_is_bound_to_the_jupyter_user(api, jp_fetch, emulator, h, credentials_file):
    """Another Jupyter user (a fresh session: no login cookie) cannot finish this user's sign-in."""
    params = await h.consent(api, emulator)
    resp = await jp_fetch("drive-sync", "oauth2callback", params=params, raise_error=False)
    assert resp.code == 400
    assert not credentials_file.exists()


async def test_access_denied_page(api, emulator, h, credentials_file):
    start = await api("drive-sync", "auth", "start", follow_redirects=False, raise_error=False)
    state = parse_qs(urlsplit(start.headers["Location"]).query)["state"][0]
    resp = await api("drive-sync", "oauth2callback", params={"error": "access_denied", "state": state},
                          raise_error=False)
    assert resp.code == 400
    assert b"not granted" in resp.body
    assert not credentials_file.exists()


async def test_prompt_choices(api, h):
    code, body = await h.post_json(api, "drive-sync", "prompt", body={"choice": "sometimes"})
    assert code == 400
    code, body = await h.post_json(api, "drive-sync", "prompt", body={"choice": "not-now"})
    assert code == 200
    code, status = await h.get_json(api, "drive-sync", "status")
    assert status["prompt"] is False


async def test_never_survives_a_new_server_session(api, h, service, state_dir):
    from jupyter_drive_sync.server.prompt import PromptState

    await h.post_json(api, "drive-sync", "prompt", body={"choice": "not-now"})
    assert PromptState(state_dir).should_prompt(connected=False) is True  # another session asks again
    await h.post_json(api, "drive-sync", "prompt", body={"choice": "never"})
    assert PromptState(state_dir).should_prompt(connected=False) is False
