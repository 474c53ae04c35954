"""The credential store: private, atomic, optionally encrypted, token_uri preserved (trap 3)."""

from __future__ import annotations

import json
import os
import stat
from datetime import datetime, timedelta

import pytest
from cryptography.fernet import Fernet
from google.oauth2.credentials import Credentials

from jupyter_drive_sync.auth.credentials import (
    DRIVE_FILE_SCOPE,
    GOOGLE_REVOKE_URI,
    CredentialsError,
    CredentialStore,
    revoke_uri_for,
)

EMU_TOKEN_URI = "http://127.0.0.1:4567/token"


def make_creds(token: str = "access-1") -> Credentials:
    return Credentials(
        token=token,
        refresh_token="refresh-1",
        token_uri=EMU_TOKEN_URI,
        client_id="client-id.apps.example",
        client_secret="s3cret",
        scopes=[DRIVE_FILE_SCOPE],
        expiry=datetime(2030, 1, 2, 3, 4, 5),
    )


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_save_creates_private_file_and_dir(tmp_path):
    path = tmp_path / "home" / ".local" / "share" / "jupyter" / "drive_sync" / "credentials.json"
    old = os.umask(0o022)
    try:
        CredentialStore(path).save(make_creds())
    finally:
        os.umask(old)
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    info = json.loads(path.read_text())
    assert info["refresh_token"] == "refresh-1"
    assert info["token_uri"] == EMU_TOKEN_URI


def test_save_tightens_the_existing_state_dir_but_no_other_dir(tmp_path):
    d = tmp_path / "drive_sync"
    d.mkdir()
    os.chmod(d, 0o755)
    CredentialStore(d / "credentials.json").save(make_creds())
    assert mode(d) == 0o700
    other = tmp_path / "home"  # e.g. --credentials ~/creds.json: the home keeps its mode
    other.mkdir()
    os.chmod(other, 0o755)
    CredentialStore(other / "creds.json").save(make_creds())
    assert mode(other) == 0o755 and mode(other / "creds.json") == 0o600


def test_roundtrip_preserves_token_uri_token_and_expiry(tmp_path):
    store = CredentialStore(tmp_path / "c.json")
    store.save(make_creds())
    # What the library's own loader does with the same file (the trap this store avoids):
    raw = Credentials.from_authorized_user_file(str(tmp_path / "c.json"))
    assert raw.token_uri != EMU_TOKEN_URI
    loaded = store.load()
    assert loaded.token_uri == EMU_TOKEN_URI
    assert loaded.token == "access-1"
    assert loaded.refresh_token == "refresh-1"
    assert loaded.expiry == datetime(2030, 1, 2, 3, 4, 5)
    assert loaded.valid  # usable without a refresh
    assert loaded.scopes == [DRIVE_FILE_SCOPE]
    assert (loaded.client_id, loaded.client_secret) == ("client-id.apps.example", "s3cret")


def test_expired_token_loads_as_expired(tmp_path):
    creds = make_creds()
    creds.expiry = datetime.utcnow() - timedelta(hours=1)
    store = CredentialStore(tmp_path / "c.json")
    store.save(creds)
    loaded = store.load()
    assert loaded.expired and not loaded.valid


def test_load_missing_is_none_and_delete(tmp_path):
    store = CredentialStore(tmp_path / "c.json")
    assert store.load() is None
    assert store.delete() is False
    store.save(make_creds())
    assert store.exists()
    assert store.delete() is True
    assert not (tmp_path / "c.json").exists()
    assert store.load() is None


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path):
    path = tmp_path / "c.json"
    store = CredentialStore(path)
    store.save(make_creds("a"))
    inode_before = os.stat(path).st_ino
    store.save(make_creds("b"))
    assert os.stat(path).st_ino != inode_before  # replaced by rename, not rewritten in place
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.json"]
    assert store.load().token == "b"


def test_failed_save_keeps_the_old_file(tmp_path):
    path = tmp_path / "c.json"
    store = CredentialStore(path)
    store.save(make_creds("old"))

    class Exploding(Credentials):
        def to_json(self, strip=None):
            raise RuntimeError("boom")

    bad = Exploding(token="new", refresh_token="r", token_uri=EMU_TOKEN_URI, client_id="c", client_secret="s")
    with pytest.raises(RuntimeError):
        store.save(bad)
    assert store.load().token == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.json"]


def test_encrypted_file_is_not_json_and_roundtrips(tmp_path):
    key = Fernet.generate_key()
    path = tmp_path / "c.json"
    store = CredentialStore(path, key)
    assert store.encrypted
    store.save(make_creds())
    raw = path.read_bytes()
    with pytest.raises(ValueError):
        json.loads(raw)
    assert b"refresh-1" not in raw and b"s3cret" not in raw
    assert mode(path) == 0o600
    loaded = CredentialStore(path, key.decode()).load()  # str keys work too
    assert loaded.refresh_token == "refresh-1"
    assert loaded.token_uri == EMU_TOKEN_URI


def test_wrong_key_gives_clear_error(tmp_path):
    path = tmp_path / "c.json"
    CredentialStore(path, Fernet.generate_key()).save(make_creds())
    with pytest.raises(CredentialsError, match="wrong encryption key"):
        CredentialStore(path, Fernet.generate_key()).load()


def test_encrypted_file_without_key_gives_clear_error(tmp_path):
    path = tmp_path / "c.json"
    CredentialStore(path, Fernet.generate_key()).save(make_creds())
    with pytest.raises(CredentialsError, match="no encryption key"):
        CredentialStore(path).load()


def test_plain_file_with_key_configured_says_so(tmp_path):
    path = tmp_path / "c.json"
    CredentialStore(path).save(make_creds())
    with pytest.raises(CredentialsError, match="not encrypted"):
        CredentialStore(path, Fernet.generate_key()).load()


def test_malformed_key_is_a_clear_error(tmp_path):
    with pytest.raises(CredentialsError, match="Fernet key"):
        CredentialStore(tmp_path / "c.json", "not-a-key")
    assert not CredentialStore(tmp_path / "c.json", "").encrypted  # empty means no encryption


def test_file_without_refresh_token_is_rejected(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"client_id": "c", "client_secret": "s"}))
    with pytest.raises(CredentialsError, match="refresh token"):
        CredentialStore(path).load()


def test_unwritable_location_raises_oserror_and_leaves_nothing():
    # /proc refuses new files even to root: stands in for a read-only Secret mount
    with pytest.raises(OSError):
        CredentialStore("/proc/self/credentials.json").save(make_creds())


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file modes")
def test_read_only_location_raises_oserror(tmp_path):
    d = tmp_path / "secret"
    d.mkdir()
    store = CredentialStore(d / "c.json")
    store.save(make_creds("a"))
    os.chmod(d, 0o500)
    try:
        with pytest.raises(OSError):
            store.save(make_creds("b"))
        assert store.load().token == "a"
    finally:
        os.chmod(d, 0o700)


def test_revoke_uri():
    assert revoke_uri_for("https://oauth2.googleapis.com/token") == GOOGLE_REVOKE_URI
    assert revoke_uri_for("https://accounts.google.com/o/oauth2/token") == GOOGLE_REVOKE_URI
    assert revoke_uri_for(EMU_TOKEN_URI) == "http://127.0.0.1:4567/revoke"
    assert revoke_uri_for("http://localhost:9/o/oauth2/token?x=1") == "http://localhost:9/revoke"
