"""Issue 4 (4): a grant revoked at Google shows as "reconnect"; disconnect revokes and forgets."""

from __future__ import annotations

import pytest
import requests
from google.auth.exceptions import RefreshError
from google.auth.transport.requests import Request

from jupyter_drive_sync.auth.credentials import CredentialStore


def _revoke_at_google(emulator, credentials_file, key) -> None:
    creds = CredentialStore(credentials_file, key).load()
    resp = requests.post(emulator.url + "revoke", params={"token": creds.refresh_token}, timeout=30)
    assert resp.status_code == 200


async def test_revoked_grant_shows_needs_reauth(api, emulator, h, credentials_file, fernet_key):
    await h.connect(api, emulator)
    code, status = await h.get_json(api, "drive-sync", "status")
    assert status["connected"] is True and status["needs_reauth"] is False
    _revoke_at_google(emulator, credentials_file, fernet_key)
    code, status = await h.get_json(api, "drive-sync", "status")
    assert code == 200
    assert status["connected"] is True and status["needs_reauth"] is True
    assert status["account"] == h.EMAIL


async def test_push_after_revoke_ends_with_reconnect(api, emulator, h, home, credentials_file, fernet_key):
    await h.connect(api, emulator)
    h.make_home_files(home)
    _revoke_at_google(emulator, credentials_file, fernet_key)
    code, body = await h.post_json(api, "drive-sync", "push")
    assert code == 202
    job = await h.wait_job(api, body["job"]["id"])
    assert job["state"] == "failed"
    assert job["error"]["kind"] == "needs_reauth"
    assert "Traceback" not in job["error"]["message"]
    code, status = await h.get_json(api, "drive-sync", "status")
    assert status["needs_reauth"] is True
    assert status["last_push"]["ok"] is False and status["last_push"]["error"]["kind"] == "needs_reauth"


async def test_disconnect_revokes_and_deletes(api, emulator, h, credentials_file, fernet_key):
    await h.connect(api, emulator)
    before = CredentialStore(credentials_file, fernet_key).load()
    code, body = await h.post_json(api, "drive-sync", "disconnect")
    assert code == 200 and body["removed"] is True
    assert not credentials_file.exists()
    with pytest.raises(RefreshError):  # the emulator no longer honours the old refresh token
        before.refresh(Request())
    code, status = await h.get_json(api, "drive-sync", "status")
    assert status["connected"] is False and status["account"] is None
    code, body = await h.post_json(api, "drive-sync", "disconnect")  # idempotent
    assert code == 200 and body["removed"] is False


async def test_reconnect_after_revoke_clears_needs_reauth(api, emulator, h, credentials_file, fernet_key):
    await h.connect(api, emulator)
    _revoke_at_google(emulator, credentials_file, fernet_key)
    code, status = await h.get_json(api, "drive-sync", "status")
    assert status["needs_reauth"] is True
    await h.connect(api, emulator)
    code, status = await h.get_json(api, "drive-sync", "status")
    assert status["connected"] is True and status["needs_reauth"] is False
