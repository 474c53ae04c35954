"""a run writes its refreshed token back only while the credentials file still holds
the grant the run started with. Before, a long push that refreshed after the student had
disconnected (or reconnected another account) brought the old grant back over the new one."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from jupyter_drive_sync.core.settings import default_credentials_path
from jupyter_drive_sync.auth.credentials import CredentialStore
from jupyter_drive_sync.emulator.sample import connect_home
from jupyter_drive_sync.auth.session import connect


def expire_stored_token(home) -> str:
    """Mark the stored access token expired, so the next Drive call refreshes it."""
    store = CredentialStore(default_credentials_path(home))
    creds = store.load()
    creds.expiry = datetime.utcnow() - timedelta(minutes=5)
    store.save(creds)
    return creds.token


@pytest.fixture
def home(tmp_path, emulator):
    h = tmp_path / "ann"
    h.mkdir()
    connect_home(emulator.url, h, "ann@uni.example")
    return h


def test_a_refresh_is_saved_while_the_grant_is_unchanged(home, emulator):
    old_token = expire_stored_token(home)
    client = connect(home, None, None, emulator.url)
    try:
        assert client.about_email() == "ann@uni.example"
    finally:
        client.close()
    stored = CredentialStore(default_credentials_path(home)).load()
    assert stored.token != old_token and stored.expiry > datetime.utcnow()


def test_a_refresh_after_a_reconnect_does_not_bring_the_old_account_back(home, emulator):
    expire_stored_token(home)
    client = connect(home, None, None, emulator.url)
    new = connect_home(emulator.url, home, "bo@uni.example")  # the student reconnects meanwhile
    try:
        assert client.about_email() == "ann@uni.example"  # the run goes on with its own grant
    finally:
        client.close()
    stored = CredentialStore(default_credentials_path(home)).load()
    assert stored.refresh_token == new["refresh_token"]


def test_a_refresh_after_a_disconnect_does_not_recreate_the_file(home, emulator):
    expire_stored_token(home)
    client = connect(home, None, None, emulator.url)
    assert CredentialStore(default_credentials_path(home)).delete()
    try:
        client.about_email()
    finally:
        client.close()
    assert not default_credentials_path(home).exists()
