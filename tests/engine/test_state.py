"""The state DB on real SQLite files, and the per-home lock across real processes."""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from jupyter_drive_sync.core.errors import AlreadyRunning
from jupyter_drive_sync.core.model import EntryStatus, RemoteChange, StateEntry
from jupyter_drive_sync.core.settings import state_dir
from jupyter_drive_sync.home.lock import LOCK_NAME, HomeLock
from jupyter_drive_sync.home.private_dir import ensure_private_dir
from jupyter_drive_sync.home.state_db import DB_NAME, StateDB
from jupyter_drive_sync.home.state_read import read_state_meta

REPO = Path(__file__).resolve().parents[2]


def entry(path: str, drive_id: str | None = None, **kw) -> StateEntry:
    return StateEntry(path=path, drive_id=drive_id or "id-" + path, is_dir=kw.pop("is_dir", False), **kw)


def full_entry() -> StateEntry:
    return StateEntry(
        path="work/ä b%_.ipynb", drive_id="1AbC-_xyz", is_dir=False, status=EntryStatus.SYNCED, local_size=12345,
        local_mtime_ns=1_700_000_000_123_456_789, md5="d41d8cd98f00b204e9800998ecf8427e", drive_md5="0" * 32,
        drive_modified_ms=1_700_000_000_123, drive_head_revision="rev-9", drive_trashed=True, drive_removed=False,
        local_deleted=True,
    )


@pytest.fixture
def db(tmp_path):
    d = StateDB.for_home(tmp_path)
    yield d
    d.close()


def test_rows_round_trip_through_a_reopen(tmp_path):
    e = full_entry()
    with StateDB.for_home(tmp_path) as d:
        d.record_synced(e)
        d.record_synced(entry("dir", is_dir=True))
    with StateDB.for_home(tmp_path) as d:
        rows = d.load()
    assert rows[e.path] == e
    assert rows["dir"].is_dir is True and rows["dir"].status is EntryStatus.SYNCED
    assert isinstance(rows[e.path].drive_trashed, bool)


def test_files_are_private(tmp_path):
    with StateDB.for_home(tmp_path) as d:
        d.record_synced(entry("a"))
        sd = state_dir(tmp_path)
        assert stat.S_IMODE(os.stat(sd).st_mode) == 0o700
        assert stat.S_IMODE(os.stat(sd / DB_NAME).st_mode) == 0o600
        assert d.path == sd / DB_NAME
    assert (tmp_path / ".local/share/jupyter/drive_sync/state.sqlite3").exists()


def test_wal_mode(db):
    assert db._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db._conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL


def test_pending_then_synced(db):
    db.record_pending([entry("a", "ID1"), entry("d", "ID2", is_dir=True)])
    rows = db.load()
    assert {p: r.status for p, r in rows.items()} == {"a": EntryStatus.PENDING, "d": EntryStatus.PENDING}
    db.record_synced(entry("a", "ID1", md5="m"))
    assert db.get("a").status is EntryStatus.SYNCED and db.get("a").md5 == "m"
    assert db.get("d").status is EntryStatus.PENDING


def test_a_path_belongs_to_one_id_and_an_id_to_one_path(db):
    db.record_synced(entry("a", "OLD"))
    db.record_pending([entry("a", "NEW")])  # recreated on Drive under a new ID
    assert db.by_drive_id("OLD") is None and db.get("a").drive_id == "NEW"
    db.record_synced(entry("b", "NEW"))  # the same Drive file now at another path
    assert db.get("a") is None and db.get("b").drive_id == "NEW"
    assert db.count() == 1


def test_apply_remote_changes(db):
    db.record_synced_many([
        entry("f", "F", md5="m1", drive_md5="m1"),
        entry("g", "G"),
        entry("d", "D", is_dir=True),
        entry("d/x", "X"),
        entry("d/e", "E", is_dir=True),
        entry("d/e/y", "Y"),
        entry("dd/z", "Z"),  # shares a prefix with "d" but is not below it
    ])
    changed = db.apply_remote_changes(
        [
            RemoteChange("F", removed=False, md5="m2", modified_ms=42, head_revision="r2"),
            RemoteChange("G", removed=False, trashed=True, md5=None, modified_ms=7),
            RemoteChange("D", removed=True),
            RemoteChange("UNKNOWN", removed=False, md5="zz"),
            RemoteChange("UNKNOWN2", removed=True),
        ],
        "token-2",
    )
    rows = db.load()
    assert (rows["f"].drive_md5, rows["f"].drive_modified_ms, rows["f"].drive_head_revision) == ("m2", 42, "r2")
    assert rows["f"].md5 == "m1"  # what we pushed is not what Drive holds now
    assert rows["g"].drive_trashed and not rows["g"].drive_removed
    assert all(rows[p].drive_removed for p in ("d", "d/x", "d/e", "d/e/y"))
    assert not rows["dd/z"].drive_removed
    assert changed == 6
    assert db.page_token == "token-2"
    # an untrash arrives later: the row comes back to life
    db.apply_remote_changes([RemoteChange("G", removed=False, trashed=False, modified_ms=8)], "token-3")
    assert not db.get("g").drive_trashed and db.page_token == "token-3"


def test_apply_remote_changes_is_one_transaction(db):
    db.record_synced(entry("f", "F"))
    db.page_token = "t1"

    def changes():
        yield RemoteChange("F", removed=False, md5="new", modified_ms=1)
        raise RuntimeError("feed broke mid-way")

    with pytest.raises(RuntimeError):
        db.apply_remote_changes(changes(), "t2")
    assert db.get("f").drive_md5 is None and db.page_token == "t1"


def test_mark_local_deleted_and_forget_respect_path_boundaries(db):
    db.record_synced_many([entry(p) for p in ("d", "d/a", "d/b/c", "d_x", "d%", "dx/y", "e")])
    db.mark_local_deleted(["d"], recursive=True)
    deleted = {p for p, r in db.load().items() if r.local_deleted}
    assert deleted == {"d", "d/a", "d/b/c"}
    db.mark_local_deleted(["e"])
    assert db.get("e").local_deleted
    db.forget(["d"], recursive=True)
    assert set(db.load()) == {"d_x", "d%", "dx/y", "e"}
    db.forget(["d%"])
    assert set(db.load()) == {"d_x", "dx/y", "e"}


def test_mark_drive_trashed(db):
    db.record_synced(entry("a", "A"))
    db.mark_drive_trashed("A", local_deleted=True)
    r = db.get("a")
    assert r.drive_trashed and r.local_deleted


def test_meta_and_last_push(tmp_path):
    with StateDB.for_home(tmp_path) as d:
        assert d.root_folder_id is None and d.last_push() is None
        d.root_folder_id = "ROOT"
        d.account_email = "s@uni.edu"
        d.set_last_push({"created": 3, "failed": []}, when=1234.5)
    with StateDB.for_home(tmp_path) as d:
        assert (d.root_folder_id, d.account_email) == ("ROOT", "s@uni.edu")
        assert d.last_push() == ({"created": 3, "failed": []}, 1234.5)
        assert d.get_meta("schema_version") == "1"
        d.root_folder_id = None
        assert d.root_folder_id is None


def test_read_state_meta_reads_without_creating_or_writing(tmp_path):
    sd = state_dir(tmp_path)
    assert read_state_meta(sd, ("root_folder_id",)) == {} and not sd.exists()  # no DB: nothing made
    with StateDB.for_home(tmp_path) as d:
        d.root_folder_id = "ROOT"
        d.set_last_push({"created": 1}, when=12.5)
    before = os.stat(sd / DB_NAME).st_mtime_ns
    meta = read_state_meta(sd, ("root_folder_id", "last_push_time", "no_such_key"))
    assert meta == {"root_folder_id": "ROOT", "last_push_time": "12.5"}
    assert os.stat(sd / DB_NAME).st_mtime_ns == before


def test_only_the_tools_own_folder_is_made_private(tmp_path):
    """One rule for the state DB, the lock, the credentials and the server's records: the
    folders above drive_sync get the usual mode, drive_sync itself 0700 (tightened if it was
    looser); a folder of another name that already exists keeps its mode."""
    old = os.umask(0o022)
    try:
        sd = ensure_private_dir(state_dir(tmp_path / "home"))
        elsewhere = tmp_path / "admin" / "creds"
        ensure_private_dir(elsewhere)
        existing = tmp_path / "shared"
        existing.mkdir(mode=0o755)
        ensure_private_dir(existing)
    finally:
        os.umask(old)
    mode = lambda p: stat.S_IMODE(os.stat(p).st_mode)  # noqa: E731
    assert mode(sd) == 0o700
    assert [mode(p) for p in (sd.parent, sd.parent.parent, sd.parent.parent.parent)] == [0o755] * 3
    assert (mode(elsewhere), mode(elsewhere.parent)) == (0o700, 0o755)
    assert mode(existing) == 0o755
    os.chmod(sd, 0o755)
    with StateDB(sd / DB_NAME):
        assert mode(sd) == 0o700


def test_lost_db_is_simply_empty(tmp_path):
    with StateDB.for_home(tmp_path) as d:
        d.record_synced(entry("a"))
    for suffix in ("", "-wal", "-shm"):
        p = state_dir(tmp_path) / (DB_NAME + suffix)
        if p.exists():
            p.unlink()
    with StateDB.for_home(tmp_path) as d:
        assert d.load() == {} and d.recovered_from is None


def test_corrupt_db_is_moved_aside(tmp_path):
    sd = state_dir(tmp_path)
    sd.mkdir(parents=True)
    (sd / DB_NAME).write_bytes(b"this is not a database" * 100)
    with StateDB.for_home(tmp_path) as d:
        assert d.load() == {}
        assert d.recovered_from is not None and d.recovered_from.read_bytes().startswith(b"this is not")
        d.record_synced(entry("a"))
        assert d.count() == 1


def test_symlinked_state_dir_is_refused(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    home = tmp_path / "home"
    (home / ".local/share/jupyter").mkdir(parents=True)
    os.symlink(elsewhere, home / ".local/share/jupyter/drive_sync")
    with pytest.raises(OSError):
        StateDB.for_home(home)
    with pytest.raises(OSError):
        HomeLock(state_dir(home)).try_acquire()
    assert list(elsewhere.iterdir()) == []


_WRITE_THEN_DIE = """
import os, signal, sys
from jupyter_drive_sync.core.model import StateEntry
from jupyter_drive_sync.home.state_db import StateDB
d = StateDB.for_home(sys.argv[1])
d.record_pending([StateEntry(path=f"p{i}", drive_id=f"P{i}", is_dir=False) for i in range(50)])
for i in range(200):
    d.record_synced(StateEntry(path=f"f{i}", drive_id=f"F{i}", is_dir=False, md5=str(i)))
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_every_confirmed_write_survives_kill_9(tmp_path):
    proc = subprocess.run([sys.executable, "-c", _WRITE_THEN_DIE, str(tmp_path)], cwd=REPO, timeout=120)
    assert proc.returncode == -signal.SIGKILL
    with StateDB.for_home(tmp_path) as d:
        rows = d.load()
    assert len(rows) == 250
    assert rows["f199"].md5 == "199" and rows["p49"].status is EntryStatus.PENDING


# -- the lock --------------------------------------------------------------------------------

_HOLD = """
import sys
from jupyter_drive_sync.home.lock import HomeLock
lock = HomeLock(sys.argv[1], kind="nightly")
lock.acquire(timeout=30)
print("locked", flush=True)
sys.stdin.readline()  # hold until told (or killed)
lock.release()
print("released", flush=True)
sys.stdin.readline()
"""


def _holder(state_dir: Path) -> subprocess.Popen:
    p = subprocess.Popen([sys.executable, "-c", _HOLD, str(state_dir)], cwd=REPO, text=True,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert p.stdout.readline().strip() == "locked"
    return p


def test_lock_contention_across_processes(tmp_path):
    sd = state_dir(tmp_path)
    p = _holder(sd)
    try:
        mine = HomeLock(sd, kind="push")
        assert mine.try_acquire() is False
        with pytest.raises(AlreadyRunning) as info:
            mine.acquire()
        assert info.value.holder["pid"] == p.pid
        assert info.value.holder["kind"] == "nightly"
        assert isinstance(info.value.holder["started"], float)
        assert "nightly" in str(info.value) and str(p.pid) in str(info.value)
        assert mine.holder()["pid"] == p.pid
        # blocking variant: wait while the other side lets go
        p.stdin.write("go\n")
        p.stdin.flush()
        mine.acquire(timeout=60, poll=0.02)
        assert mine.held
        assert p.stdout.readline().strip() == "released"
        mine.release()
    finally:
        p.kill()
        p.wait()


def test_a_killed_holder_never_leaves_the_home_locked(tmp_path):
    sd = state_dir(tmp_path)
    p = _holder(sd)
    p.send_signal(signal.SIGKILL)
    p.wait()
    lock = HomeLock(sd)
    assert lock.try_acquire() is True
    assert lock.holder()["pid"] == os.getpid()  # our own info replaced the dead holder's
    lock.release()
    assert HomeLock(sd).holder() is None


def test_lock_is_exclusive_inside_one_process_too(tmp_path):
    sd = state_dir(tmp_path)
    with HomeLock(sd, kind="server") as first:
        second = HomeLock(sd)
        assert second.try_acquire() is False
        with pytest.raises(AlreadyRunning):
            second.acquire(timeout=0.05, poll=0.01)
        assert first.held
    assert HomeLock(sd).try_acquire() is True
    assert stat.S_IMODE(os.stat(sd / LOCK_NAME).st_mode) == 0o600


def test_state_db_and_lock_share_the_directory(tmp_path):
    sd = state_dir(tmp_path)
    with HomeLock(sd), StateDB.for_home(tmp_path) as d:
        d.record_synced(entry("a"))
    assert {p.name for p in sd.iterdir()} >= {DB_NAME, LOCK_NAME}
    with sqlite3.connect(sd / DB_NAME) as raw:
        assert raw.execute("SELECT count(*) FROM entries").fetchone()[0] == 1
