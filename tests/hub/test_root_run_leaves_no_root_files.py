"""A nightly run started as root leaves no root-owned file in a home.

`hub --homes-root` often runs as root on the shared storage. Whatever it creates in a home (the
state folder, the state DB and its -wal/-shm, the lock file, refreshed credentials) must belong
to the home's owner afterwards: a root-owned lock or DB would lock the student's own server out
of its backups ("permission denied" on the next Sync now).
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
from pathlib import Path

import pytest
from google.oauth2.credentials import Credentials

from jupyter_drive_sync.auth.credentials import CredentialStore
from jupyter_drive_sync.cli import main as cli_main
from jupyter_drive_sync.core.settings import default_credentials_path, state_dir
from jupyter_drive_sync.emulator.sample import connect_home
from jupyter_drive_sync.home.lock import LOCK_NAME
from jupyter_drive_sync.home.state_db import DB_NAME

STUDENT = 65534
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the defect only exists for a run as root")


def make_home(root: Path, name: str, emulator, *, stale_token: bool = False) -> Path:
    home = root / name
    (home / "work").mkdir(parents=True)
    (home / "notes.md").write_bytes(b"# notes\n")
    (home / "work" / "a.py").write_bytes(b"print('a')\n")
    acct = connect_home(emulator.url, home, f"{name}@uni.example")
    if stale_token:  # an expired access token: the run refreshes it and saves the credentials again
        web = emulator.client_secrets()["web"]
        CredentialStore(default_credentials_path(home)).save(Credentials(
            "expired", refresh_token=acct["refresh_token"], token_uri=web["token_uri"],
            client_id=web["client_id"], client_secret=web["client_secret"],
            expiry=datetime.datetime(2000, 1, 1)))
    for dirpath, dirnames, filenames in os.walk(home):
        for n in [*dirnames, *filenames, ""]:
            os.lchown(os.path.join(dirpath, n) if n else dirpath, STUDENT, STUDENT)
    return home


def not_the_students(home: Path) -> list[str]:
    out = []
    for dirpath, dirnames, filenames in os.walk(home):
        for n in [*dirnames, *filenames]:
            p = os.path.join(dirpath, n)
            st = os.lstat(p)
            if (st.st_uid, st.st_gid) != (STUDENT, STUDENT):
                out.append(f"{os.path.relpath(p, home)} ({st.st_uid}:{st.st_gid})")
    return out


@pytest.mark.parametrize("before", ["only credentials",
                                    "root-owned lock and DB from an older run"])
def test_root_run_leaves_no_root_files(tmp_path, emulator, capsys, before):
    root = tmp_path / "homes"
    root.mkdir()
    os.chmod(tmp_path, 0o755)
    home = make_home(root, "stu", emulator, stale_token=True)
    sd = state_dir(home)
    if before == "root-owned lock and DB from an older run":
        assert cli_main(["push", "--home", str(home), "--api-root", emulator.url, "--json"]) == 0
        for p in sd.iterdir():
            os.lchown(p, 0, 0)
    capsys.readouterr()

    code = cli_main(["hub", "--homes-root", str(root), "--api-root", emulator.url])
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    (user,) = [ln for ln in lines if ln["type"] == "user"]
    assert code == 0 and user["status"] == "ok", user

    names = {p.name for p in sd.iterdir()}
    assert {DB_NAME, LOCK_NAME} <= names
    assert not_the_students(home) == []
    if before == "only credentials":
        assert default_credentials_path(home).read_bytes()  # refreshed and saved again (a new file)
        creds = CredentialStore(default_credentials_path(home)).load()
        assert creds is not None and creds.token != "expired"


def test_root_run_gives_a_new_state_folder_to_the_home_owner(tmp_path, emulator, capsys):
    """An admin's `push --home` as root into a home whose credentials live elsewhere: the state
    folders it creates (.local/share/jupyter/drive_sync and above) are the student's."""
    home = tmp_path / "stu"
    home.mkdir()
    (home / "a.txt").write_bytes(b"a")
    os.lchown(home, STUDENT, STUDENT)
    os.lchown(home / "a.txt", STUDENT, STUDENT)
    creds = tmp_path / "admin" / "credentials.json"
    connect_home(emulator.url, home, "stu@uni.example")
    creds.parent.mkdir()
    shutil.move(str(default_credentials_path(home)), creds)
    shutil.rmtree(home / ".local")
    code = cli_main(["push", "--home", str(home), "--api-root", emulator.url, "--credentials", str(creds),
                     "--json"])
    assert code == 0, capsys.readouterr()
    assert (state_dir(home) / DB_NAME).is_file()
    assert not_the_students(home) == []


@pytest.mark.parametrize("name", [LOCK_NAME, DB_NAME, DB_NAME + "-wal"])
def test_root_run_never_writes_nor_gives_away_a_hard_linked_file(tmp_path, emulator, capsys, name):
    """Where the kernel lets a student hard-link a file of root's into their state folder
    (fs.protected_hardlinks=0), the nightly run must neither write it nor give it to them."""
    root = tmp_path / "homes"
    root.mkdir()
    home = make_home(root, "stu", emulator)
    victim = tmp_path / "shadow"
    victim.write_bytes(b"root:secret-hash:19000::::::\n")
    os.chmod(victim, 0o640)
    os.link(victim, state_dir(home) / name)
    capsys.readouterr()
    cli_main(["hub", "--homes-root", str(root), "--api-root", emulator.url])
    st = os.stat(victim)
    assert victim.read_bytes() == b"root:secret-hash:19000::::::\n"
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (0, 0, 0o640)
