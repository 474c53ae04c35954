"""the tool's own folder in a hostile home. Every component from the home down to
`.local/share/jupyter/drive_sync` is the student's; a symlink, a FIFO or a huge file there
must neither steer a run out of the home nor hang it."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from jupyter_drive_sync.core.settings import default_credentials_path, state_dir
from jupyter_drive_sync.auth import credentials
from jupyter_drive_sync.auth.credentials import CredentialsError, CredentialStore
from jupyter_drive_sync.core.errors import ConfigError
from jupyter_drive_sync.home.lock import LOCK_NAME, HomeLock
from jupyter_drive_sync.home.state_db import DB_NAME, StateDB

from google.oauth2.credentials import Credentials

REPO = Path(__file__).resolve().parents[2]
HANG_GUARD = pytest.mark.timeout(60)  # a FIFO that is opened for reading would block forever


def make_creds() -> Credentials:
    return Credentials("a", refresh_token="r", token_uri="http://127.0.0.1:9/token", client_id="c",
                       client_secret="s")


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    d = tmp_path / "outside"
    (d / "share/jupyter/drive_sync").mkdir(parents=True)
    return d


@pytest.mark.parametrize("link", [".local", ".local/share", ".local/share/jupyter"])
def test_a_symlink_above_the_state_dir_is_refused_and_nothing_is_written_through_it(tmp_path, outside, link):
    home = tmp_path / "home"
    target = {".local": outside, ".local/share": outside / "share",
              ".local/share/jupyter": outside / "share/jupyter"}[link]
    (home / link).parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, home / link)
    before = sorted(p.name for p in (outside / "share/jupyter/drive_sync").iterdir())
    with pytest.raises(OSError) as info:  # callers that caught OSError still do
        StateDB.for_home(home)
    assert isinstance(info.value, ConfigError)  # ... and it is a configuration problem, said in words
    with pytest.raises(OSError):
        HomeLock(state_dir(home)).try_acquire()
    with pytest.raises(OSError):
        CredentialStore(default_credentials_path(home)).save(make_creds())
    with pytest.raises(CredentialsError, match="symbolic link"):
        CredentialStore(default_credentials_path(home)).load()
    assert sorted(p.name for p in (outside / "share/jupyter/drive_sync").iterdir()) == before == []


def test_credentials_symlink_is_not_read_and_a_save_replaces_the_link_not_its_target(tmp_path):
    home = tmp_path / "home"
    victim = tmp_path / "victim.json"
    CredentialStore(victim).save(make_creds())
    original = victim.read_bytes()
    path = default_credentials_path(home)
    path.parent.mkdir(parents=True)
    os.symlink(victim, path)
    with pytest.raises(CredentialsError, match="symbolic link"):
        CredentialStore(path).load()
    CredentialStore(path).save(make_creds())
    assert not path.is_symlink() and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert victim.read_bytes() == original
    assert CredentialStore(path).delete() and not path.exists()


def test_an_admin_credentials_path_may_still_be_a_symlink(tmp_path):
    """A Kubernetes Secret mount is made of symlinks (`credentials.json -> ..data/...`)."""
    real = tmp_path / "secret" / "..data" / "credentials.json"
    real.parent.mkdir(parents=True)
    CredentialStore(real).save(make_creds())
    os.symlink("..data/credentials.json", tmp_path / "secret" / "credentials.json")
    assert CredentialStore(tmp_path / "secret" / "credentials.json").load().refresh_token == "r"


@HANG_GUARD
def test_a_fifo_as_credentials_file_fails_at_once(tmp_path):
    path = default_credentials_path(tmp_path)
    path.parent.mkdir(parents=True)
    os.mkfifo(path)
    with pytest.raises(CredentialsError, match="not a regular file"):
        CredentialStore(path).load()


def test_a_huge_credentials_file_is_not_read_into_memory(tmp_path):
    path = default_credentials_path(tmp_path)
    path.parent.mkdir(parents=True)
    with open(path, "wb") as fh:
        fh.truncate(8 * 1024**3)  # sparse: 8 GiB that a plain read_bytes() would allocate
    with pytest.raises(CredentialsError, match="too large"):
        CredentialStore(path).load()
    assert credentials.MAX_CREDENTIALS_BYTES < 1024**2


@HANG_GUARD
@pytest.mark.parametrize("kind", ["symlink", "fifo"])
def test_a_state_db_that_is_not_a_regular_file_is_moved_aside(tmp_path, kind):
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    sd = state_dir(tmp_path / "home")
    sd.mkdir(parents=True)
    if kind == "symlink":
        os.symlink(victim, sd / DB_NAME)
    else:
        os.mkfifo(sd / DB_NAME)
    with StateDB(sd / DB_NAME) as db:
        assert db.recovered_from is not None
        assert db.count() == 0
    assert stat.S_ISREG(os.lstat(sd / DB_NAME).st_mode)
    assert victim.read_bytes() == b"precious" and stat.S_IMODE(victim.stat().st_mode) != 0o600


@HANG_GUARD
@pytest.mark.parametrize("kind", ["symlink", "fifo"])
def test_a_lock_file_that_is_not_a_regular_file_is_replaced_and_probing_it_never_hangs(tmp_path, kind):
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    sd = state_dir(tmp_path / "home")
    sd.mkdir(parents=True, mode=0o700)
    if kind == "symlink":
        os.symlink(victim, sd / LOCK_NAME)
    else:
        os.mkfifo(sd / LOCK_NAME)
    assert HomeLock(sd).holder() is None
    lock = HomeLock(sd, kind="push")
    assert lock.try_acquire()
    try:
        assert stat.S_ISREG(os.lstat(sd / LOCK_NAME).st_mode)
        assert HomeLock(sd).holder()["kind"] == "push"
    finally:
        lock.release()
    assert victim.read_bytes() == b"precious"


def test_cli_push_into_a_home_with_a_symlinked_state_dir_is_one_line_exit_2(tmp_path, outside):
    home = tmp_path / "home"
    home.mkdir()
    (home / "a.txt").write_text("a")
    os.symlink(outside, home / ".local")
    proc = subprocess.run([sys.executable, "-m", "jupyter_drive_sync", "push", "--home", str(home), "--json",
                           "--api-root", "http://127.0.0.1:9/"], cwd=REPO, capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "symbolic link" in proc.stderr
    assert list((outside / "share/jupyter/drive_sync").iterdir()) == []


def test_symlinks_planted_as_the_db_journal_files_are_never_written_through(tmp_path):
    """SQLite opens its -wal/-shm/-journal files beside the DB; links planted there must not
    lead its writes to another file (checked for the SQLite we ship with; the run recovers)."""
    victims = {}
    sd = state_dir(tmp_path / "home")
    sd.mkdir(parents=True, mode=0o700)
    for suffix in ("-wal", "-shm", "-journal"):
        victim = tmp_path / f"victim{suffix}"
        victim.write_bytes(b"precious" * 100)
        victims[victim] = victim.read_bytes()
        os.symlink(victim, sd / (DB_NAME + suffix))
    with StateDB(sd / DB_NAME) as db:
        db.set_meta("k", "v")
        assert db.get_meta("k") == "v"
    for victim, data in victims.items():
        assert victim.read_bytes() == data
