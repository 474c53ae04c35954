"""The scan on real directory trees: what it lists, what it refuses and why, and that it
never follows a symlink or leaves the home."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from jupyter_drive_sync.home.excludes import IGNORE_FILE_NAME, Excludes
from jupyter_drive_sync.core.model import EntryStatus, Snapshot, StateEntry
from jupyter_drive_sync.home.scan import file_md5, hash_candidates, mode_allows_read, scan

REPO = Path(__file__).resolve().parents[2]
BIG = 10**12


def reasons(snap: Snapshot) -> dict[str, str]:
    return {s.path: s.reason for s in snap.skipped}


def test_lists_files_and_folders_with_stat_data(tmp_path):
    (tmp_path / "work" / "deep").mkdir(parents=True)
    (tmp_path / "work" / "deep" / "a.ipynb").write_bytes(b"x" * 123)
    (tmp_path / "top.txt").write_text("")
    os.utime(tmp_path / "top.txt", ns=(1, 1_700_000_000_123_456_789))
    snap = scan(tmp_path, Excludes(), max_file_size=BIG)
    assert set(snap.entries) == {"work", "work/deep", "work/deep/a.ipynb", "top.txt"}
    a = snap.entries["work/deep/a.ipynb"]
    assert (a.is_dir, a.size) == (False, 123)
    assert snap.entries["work"].is_dir
    assert snap.entries["top.txt"].mtime_ns == 1_700_000_000_123_456_789
    assert snap.skipped == [] and snap.excluded == [] and snap.notes == []


def test_special_files_and_symlinks_are_skipped_and_never_followed(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "stolen.txt").write_text("must not be seen")
    os.mkfifo(home / "pipe")
    monkeypatch.chdir(home)  # AF_UNIX paths are short: bind by relative name
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind("sock")
    try:
        os.symlink("/etc/passwd", home / "passwd-link")
        os.symlink(outside, home / "escape")  # a directory symlink leaving the home
        os.symlink("loop", home / "loop")  # a symlink to itself
        os.symlink(".", home / "self")  # a directory loop
        (home / "real.txt").write_text("ok")
        snap = scan(home, Excludes(), max_file_size=BIG)
    finally:
        sock.close()
    r = reasons(snap)
    assert set(snap.entries) == {"real.txt"}
    assert r["pipe"].startswith("named pipe")
    assert r["sock"].startswith("socket")
    for link in ("passwd-link", "escape", "loop", "self"):
        assert r[link] == "symbolic link (not followed)"
    assert not any("stolen" in p for p in list(snap.entries) + list(r))


def test_device_files_are_skipped(tmp_path):
    try:
        os.mknod(tmp_path / "null", 0o600 | stat.S_IFCHR, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("cannot create a device node here")
    snap = scan(tmp_path, Excludes(), max_file_size=BIG)
    assert reasons(snap) == {"null": "device file (not read)"}


def test_names_that_are_not_utf8_are_skipped_with_a_printable_path(tmp_path):
    base = os.fsencode(tmp_path)
    os.mkdir(base + b"/dir\xff")
    open(base + b"/dir\xff/inner.txt", "wb").close()
    open(base + b"/bad\xe9name.txt", "wb").close()
    open(base + "/ok-é.txt".encode(), "wb").close()
    snap = scan(tmp_path, Excludes(), max_file_size=BIG)
    assert set(snap.entries) == {"ok-é.txt"}
    r = reasons(snap)
    assert set(r) == {"dir\\xff", "bad\\xe9name.txt"}
    assert all("not valid UTF-8" in why for why in r.values())
    json.dumps([s.path for s in snap.skipped], ensure_ascii=False).encode("utf-8")  # printable, serializable


def test_255_byte_names(tmp_path):
    ascii_name = "a" * 255
    multi = "é" * 127 + "x"  # 255 bytes in UTF-8
    assert len(multi.encode()) == 255
    (tmp_path / ascii_name).write_text("1")
    (tmp_path / multi).mkdir()
    (tmp_path / multi / ascii_name).write_text("22")
    snap = scan(tmp_path, Excludes(), max_file_size=BIG)
    assert set(snap.entries) == {ascii_name, multi, f"{multi}/{ascii_name}"}
    assert snap.entries[f"{multi}/{ascii_name}"].size == 2


def test_size_limit(tmp_path):
    (tmp_path / "small").write_bytes(b"x" * 10)
    (tmp_path / "big").write_bytes(b"x" * 11)
    snap = scan(tmp_path, Excludes(), max_file_size=10)
    assert set(snap.entries) == {"small"}
    assert "size limit" in reasons(snap)["big"]


def test_excluded_folders_are_pruned_not_walked(tmp_path):
    for d in (".ssh", ".cache/pip", "proj/node_modules/pkg", "proj/__pycache__", ".local/share/jupyter/drive_sync"):
        (tmp_path / d).mkdir(parents=True)
    (tmp_path / ".ssh" / "id_rsa").write_text("secret")
    # things inside excluded folders that would otherwise be reported: proof they are never looked at
    os.mkfifo(tmp_path / "proj" / "node_modules" / "pkg" / "fifo")
    os.symlink("/etc/passwd", tmp_path / ".cache" / "link")
    open(os.fsencode(tmp_path) + b"/proj/__pycache__/\xff", "wb").close()
    (tmp_path / "proj" / "main.py").write_text("print()")
    (tmp_path / ".netrc").write_text("machine x password y")
    snap = scan(tmp_path, Excludes(), max_file_size=BIG)
    assert set(snap.entries) == {"proj", "proj/main.py"}  # no empty chain around the state dir
    assert snap.skipped == []
    assert sorted(snap.excluded) == sorted(
        [".ssh", ".cache", "proj/node_modules", "proj/__pycache__", ".local/share/jupyter/drive_sync", ".netrc"]
    )


def test_drivesyncignore_rules_apply(tmp_path):
    (tmp_path / IGNORE_FILE_NAME).write_text("*.csv\ndata/\n!data.md\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "x.txt").write_text("1")
    (tmp_path / "a.csv").write_text("1")
    (tmp_path / "data.md").write_text("1")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.csv").write_text("1")
    snap = scan(tmp_path, Excludes.for_home(tmp_path), max_file_size=BIG)
    assert set(snap.entries) == {IGNORE_FILE_NAME, "data.md", "sub"}
    assert sorted(snap.excluded) == ["a.csv", "data", "sub/b.csv"]


def test_symlinked_home_is_resolved_once_and_noted(tmp_path):
    real = tmp_path / "real-home"
    (real / "d").mkdir(parents=True)
    (real / "d" / "f").write_text("1")
    os.symlink(real, tmp_path / "home")
    snap = scan(tmp_path / "home", Excludes(), max_file_size=BIG)
    assert set(snap.entries) == {"d", "d/f"}
    assert len(snap.notes) == 1 and "symbolic link" in snap.notes[0] and str(real) in snap.notes[0]


def test_missing_home_raises(tmp_path):
    with pytest.raises(FileNotFoundError):
        scan(tmp_path / "nope", Excludes(), max_file_size=BIG)
    (tmp_path / "file").write_text("")
    with pytest.raises(NotADirectoryError):
        scan(tmp_path / "file", Excludes(), max_file_size=BIG)


class _Vandal(Excludes):
    """Deletes things while the scan runs, from inside the walk (a real race, made deterministic)."""

    def __init__(self, home: Path) -> None:
        super().__init__()
        self.home = home
        self.done = False

    @property
    def has_user_rules(self) -> bool:  # make the scan consult why() for every entry
        return True

    def why(self, rel: str, is_dir: bool) -> str | None:
        if not self.done:
            self.done = True
            shutil.rmtree(self.home / "victim-dir")
            for name in os.listdir(self.home):
                if name.startswith("victim-file"):
                    os.unlink(self.home / name)
        return None


def test_files_and_folders_vanishing_mid_walk_are_skipped_not_fatal(tmp_path):
    (tmp_path / "victim-dir").mkdir()
    (tmp_path / "victim-dir" / "x").write_text("1")
    for i in range(5):
        (tmp_path / f"victim-file-{i}").write_text("1")
    snap = scan(tmp_path, _Vandal(tmp_path), max_file_size=BIG)
    r = reasons(snap)
    # whatever the directory order, nothing raised and every victim is either gone or reported
    seen = set(snap.entries) | set(r)
    assert not any(p.startswith("victim-dir/") for p in snap.entries)
    assert all(why == "disappeared during the scan" for why in r.values())
    assert len(r) >= 5  # the first entry listed was already stat-ed; every other one is reported
    assert seen >= {"victim-dir", *(f"victim-file-{i}" for i in range(5))}


def test_mode_allows_read_for_each_class():
    g = frozenset({100})
    assert mode_allows_read(0o400, 1, 5, is_dir=False, euid=1, groups=g)
    assert not mode_allows_read(0o044, 1, 100, is_dir=False, euid=1, groups=g)  # owner bits rule for the owner
    assert mode_allows_read(0o040, 2, 100, is_dir=False, euid=1, groups=g)
    assert not mode_allows_read(0o004, 2, 100, is_dir=False, euid=1, groups=g)  # group bits rule for the group
    assert mode_allows_read(0o004, 2, 5, is_dir=False, euid=1, groups=g)
    assert not mode_allows_read(0o600, 1, 5, is_dir=True, euid=1, groups=g)  # a folder needs r and x
    assert mode_allows_read(0o500, 1, 5, is_dir=True, euid=1, groups=g)
    assert mode_allows_read(0o000, 1, 5, is_dir=True, euid=0, groups=g)  # root reads everything


_AS_NOBODY = """
import json, os, sys
from jupyter_drive_sync.home.excludes import Excludes
from jupyter_drive_sync.home.scan import scan
os.setgroups([]); os.setgid(65534); os.setuid(65534)  # after the imports: the stdlib may be root-only
snap = scan(sys.argv[1], Excludes(), max_file_size=10**12)
print(json.dumps({"entries": sorted(snap.entries), "skipped": {s.path: s.reason for s in snap.skipped}}))
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop to another uid")
def test_unreadable_files_and_folders_for_a_non_root_user():
    """Root reads everything, so "unreadable" is tested honestly as uid 65534 in a subprocess."""
    base = Path(tempfile.mkdtemp(prefix="scan-perm-", dir="/tmp"))
    try:
        base.chmod(0o755)
        home = base / "home"
        home.mkdir(mode=0o755)
        home.chmod(0o755)
        (home / "public.txt").write_text("1")
        (home / "public.txt").chmod(0o644)
        (home / "private.txt").write_text("2")
        (home / "private.txt").chmod(0o600)  # owned by root: nobody cannot read it
        (home / "closed").mkdir(mode=0o700)
        (home / "closed" / "inside.txt").write_text("3")
        (home / "listable-only").mkdir()
        (home / "listable-only").chmod(0o744)  # r without x: cannot be entered
        (home / "open").mkdir()
        (home / "open").chmod(0o755)
        (home / "open" / "f.txt").write_text("4")
        (home / "open" / "f.txt").chmod(0o644)
        env = dict(os.environ, PYTHONPATH=str(REPO))
        out = subprocess.run([sys.executable, "-c", _AS_NOBODY, str(home)], capture_output=True, text=True,
                             env=env, cwd="/", timeout=60)
        assert out.returncode == 0, out.stderr
        result = json.loads(out.stdout)
        assert result["entries"] == ["open", "open/f.txt", "public.txt"]
        assert result["skipped"] == {
            "private.txt": "not readable (permission denied)",
            "closed": "folder not readable (permission denied)",
            "listable-only": "folder not readable (permission denied)",
        }
    finally:
        shutil.rmtree(base)


def test_file_md5_streams_and_refuses_symlinks(tmp_path):
    data = os.urandom(3 * 1024 * 1024 + 17)
    (tmp_path / "f").write_bytes(data)
    assert file_md5(tmp_path / "f") == hashlib.md5(data).hexdigest()
    (tmp_path / "empty").write_bytes(b"")
    assert file_md5(tmp_path / "empty") == hashlib.md5(b"").hexdigest()
    os.symlink(tmp_path / "f", tmp_path / "link")
    with pytest.raises(OSError):
        file_md5(tmp_path / "link")


def test_hash_candidates_only_for_possible_touches(tmp_path):
    for name, content in [("touched", b"same"), ("edited", b"diff"), ("unchanged", b"same"), ("grown", b"longer"),
                          ("pending", b"same"), ("new", b"same"), ("back", b"same")]:
        (tmp_path / name).write_bytes(content)
    snap = scan(tmp_path, Excludes(), max_file_size=BIG)
    md5_same = hashlib.md5(b"same").hexdigest()

    def row(name: str, **kw) -> StateEntry:
        e = snap.entries[name]
        base = dict(local_size=e.size, local_mtime_ns=e.mtime_ns - 10**9, md5=md5_same)
        base.update(kw)
        return StateEntry(path=name, drive_id="id-" + name, is_dir=False, **base)

    state = {
        "touched": row("touched"),
        "edited": row("edited"),
        "unchanged": row("unchanged", local_mtime_ns=snap.entries["unchanged"].mtime_ns),
        "grown": row("grown", local_size=4),
        "pending": row("pending", status=EntryStatus.PENDING),
        "back": row("back", local_mtime_ns=snap.entries["back"].mtime_ns, local_deleted=True),
    }
    hashes = hash_candidates(tmp_path, snap, state)
    assert hashes == {
        "touched": md5_same,
        "edited": hashlib.md5(b"diff").hexdigest(),
        "back": md5_same,
    }


def test_the_tools_own_state_dir_adds_no_empty_folders_to_the_backup(tmp_path):
    """`.local/share/jupyter` holding only drive-sync's state (and Jupyter's runtime secrets)
    is not backed up as a chain of empty folders; with content of the student's, it is."""
    home = tmp_path / "home"
    (home / ".local/share/jupyter/drive_sync").mkdir(parents=True)
    (home / ".local/share/jupyter/drive_sync/credentials.json").write_text("{}")
    (home / ".local/share/jupyter/runtime").mkdir()
    (home / ".local/share/jupyter/runtime/jpserver-1.json").write_text('{"token": "t"}')
    (home / "work.ipynb").write_text("{}")
    snap = scan(home, Excludes(), max_file_size=1 << 30)
    assert sorted(snap.entries) == ["work.ipynb"]

    (home / ".local/share/jupyter/lab").mkdir()
    (home / ".local/share/jupyter/lab/workspace.json").write_text("{}")
    snap = scan(home, Excludes(), max_file_size=1 << 30)
    assert sorted(snap.entries) == [".local", ".local/share", ".local/share/jupyter",
                                    ".local/share/jupyter/lab", ".local/share/jupyter/lab/workspace.json",
                                    "work.ipynb"]
