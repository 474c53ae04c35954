"""The nightly report tells the admin's configuration problems (`config_error`) apart from the
student's (`needs_reconnect`): a missing, wrong or malformed encryption key, an OAuth client Google
no longer accepts, unreadable client secrets; only a revoked grant or a corrupt file is the student's."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import requests
from cryptography.fernet import Fernet
from google.oauth2.credentials import Credentials

from jupyter_drive_sync.auth.credentials import DRIVE_FILE_SCOPE, CredentialStore
from jupyter_drive_sync.cli import main as cli_main
from jupyter_drive_sync.core.settings import KEY_ENV, default_credentials_path
from jupyter_drive_sync.emulator.sample import connect_home


def make_home(root: Path, name: str) -> Path:
    home = root / name
    home.mkdir(parents=True)
    (home / "notes.md").write_text(f"notes of {name}\n")
    return home


def run_hub(capsys, *args: str) -> tuple[int, dict[str, dict], dict, str]:
    code = cli_main(["hub", *args])
    captured = capsys.readouterr()
    lines = [json.loads(x) for x in captured.out.splitlines()]
    users = {ln["user"]: ln for ln in lines if ln["type"] == "user"}
    (summary,) = [ln for ln in lines if ln["type"] == "summary"]
    return code, users, summary, captured.err


def test_encryption_key_problems_are_the_admins(emulator, tmp_path, capsys, monkeypatch):
    root = tmp_path / "homes"
    key, other_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    for name in ("ana", "ben"):
        connect_home(emulator.url, make_home(root, name), f"{name}@uni.example", key=key)
    revoked = connect_home(emulator.url, make_home(root, "cem"), "cem@uni.example", key=key)
    requests.post(emulator.url + "revoke", data={"token": revoked["refresh_token"]}, timeout=10)
    corrupt = default_credentials_path(make_home(root, "dee"))
    corrupt.parent.mkdir(parents=True)
    corrupt.write_text("{ half a JSON file")
    base = ("--homes-root", str(root), "--api-root", emulator.url)

    # The job was given no key: every encrypted sign-in is the admin's to fix, not the students'.
    monkeypatch.delenv(KEY_ENV, raising=False)
    code, users, summary, _ = run_hub(capsys, *base)
    for name in ("ana", "ben", "cem"):
        assert users[name]["status"] == "config_error", users[name]
        assert "encrypted and no encryption key is configured" in users[name]["reason"]
        assert KEY_ENV in users[name]["reason"] and "does not need to reconnect" in users[name]["reason"]
    assert users["dee"]["status"] == "needs_reconnect"  # a corrupt file: the student connects again
    assert summary["by_status"] == {"config_error": 3, "needs_reconnect": 1}
    assert code == 2  # the admin must act first

    # A wrong key: the same, told as a wrong key.
    monkeypatch.setenv(KEY_ENV, other_key)
    code, users, _, _ = run_hub(capsys, *base)
    assert users["ana"]["status"] == "config_error" and "wrong encryption key" in users["ana"]["reason"]
    assert code == 2

    # Not a Fernet key at all: said once per home, with how to make one.
    monkeypatch.setenv(KEY_ENV, "not-a-key")
    code, users, _, _ = run_hub(capsys, *base)
    assert users["ana"]["status"] == "config_error" and "must be a Fernet key" in users["ana"]["reason"]

    # The right key: backups run; only the revoked grant and the corrupt file are the students'.
    monkeypatch.setenv(KEY_ENV, key)
    code, users, summary, _ = run_hub(capsys, *base)
    assert users["ana"]["status"] == users["ben"]["status"] == "ok"
    assert users["cem"]["status"] == "needs_reconnect" and users["dee"]["status"] == "needs_reconnect"
    assert summary["by_status"] == {"ok": 2, "needs_reconnect": 2}
    assert code == 1


def test_refused_oauth_client_is_the_admins(emulator, tmp_path, capsys):
    """The client secret stored with the sign-in no longer works (reset in the Cloud console):
    Google's token endpoint answers invalid_client, and no student can fix that by reconnecting."""
    root = tmp_path / "homes"
    acct = connect_home(emulator.url, make_home(root, "ana"), "ana@uni.example")
    web = emulator.client_secrets()["web"]
    stale = Credentials("ya29.expired", refresh_token=acct["refresh_token"], token_uri=web["token_uri"],
                        client_id=web["client_id"], client_secret="reset-in-the-console", scopes=[DRIVE_FILE_SCOPE],
                        expiry=dt.datetime(2020, 1, 1))  # expired: the push must refresh first
    CredentialStore(default_credentials_path(root / "ana")).save(stale)
    code, users, _, _ = run_hub(capsys, "--homes-root", str(root), "--api-root", emulator.url)
    assert users["ana"]["status"] == "config_error", users["ana"]
    assert "invalid_client" in users["ana"]["reason"] and "Cloud console" in users["ana"]["reason"]
    assert code == 2


def test_single_home_config_error_exits_2_which_the_job_does_not_retry(emulator, tmp_path, capsys, monkeypatch):
    from jupyter_drive_sync.hub.manifest import FINAL_EXIT_CODES

    home = make_home(tmp_path, "jovyan")
    connect_home(emulator.url, home, "ana@uni.example", key=Fernet.generate_key().decode())
    monkeypatch.delenv(KEY_ENV, raising=False)
    log = tmp_path / "termination-log"
    code = cli_main(["hub", "--home", str(home), "--user", "ana", "--api-root", emulator.url,
                     "--termination-log", str(log)])
    assert code == 2 and code in FINAL_EXIT_CODES
    assert json.loads(log.read_text())["status"] == "config_error"
    capsys.readouterr()


def test_unreadable_client_secrets_reported_once_and_backups_still_run(emulator, tmp_path, capsys):
    root = tmp_path / "homes"
    email = connect_home(emulator.url, make_home(root, "ana"), "ana@uni.example")["email"]
    code, users, summary, err = run_hub(capsys, "--homes-root", str(root), "--api-root", emulator.url,
                                       "--client-secrets", str(tmp_path / "missing" / "client_secrets.json"))
    assert users["ana"]["status"] == "ok"  # a push needs no client secrets: the backup is made
    assert any(f["name"] == "notes.md" for f in emulator.files(email))
    (problem,) = summary["config_problems"]
    assert "client_secrets.json" in problem and "students cannot connect" in problem
    assert err.count("client_secrets.json") == 1 and "Traceback" not in err
    assert code == 2


@pytest.mark.parametrize("flag,value", [("--max-minutes-per-home", "0"), ("--project-quota-per-minute", "-5"),
                                        ("--write-rate", "-1"), ("--user-quota-per-minute", "nan")])
def test_bad_limit_flags_are_one_line_and_exit_2(tmp_path, capsys, flag, value):
    code = cli_main(["hub", "--homes-root", str(tmp_path), flag, value])
    err = capsys.readouterr().err
    assert code == 2 and flag in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
