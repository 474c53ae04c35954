"""Errors of the environment end a run with one readable line and exit status 2, never a traceback.

Exit 2 ("usage, configuration or environment") is the status of every problem the student or the
admin must fix on the machine before a run can work: a state DB, state dir or lock file the run
may not open (permissions, another owner), a full disk, too few file descriptors, a state DB
written by a newer version. A state DB that is not ours (garbage, another app's database) is
moved aside and the home adopted again: nothing is lost, nothing duplicated.

The runs are subprocesses of the real CLI with the privileges of an ordinary user (uid 65534
when the tests run as root, as in test_push_bad_input.py): root may open anything, so
"permission denied" only exists for a real user.
"""

from __future__ import annotations

import json
import os
import resource
import sqlite3
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from jupyter_drive_sync.core.settings import state_dir
from jupyter_drive_sync.emulator.sample import connect_home
from jupyter_drive_sync.home.lock import LOCK_NAME
from jupyter_drive_sync.home.state_db import DB_NAME, SCHEMA_VERSION

from tests.support import helpers, unprivileged

EMAIL = "env@uni.edu"
USER = "eve"
NOBODY = unprivileged.NOBODY
AS_ROOT = unprivileged.AS_ROOT
FILES = {"a.txt": b"alpha\n", "notes/b.md": b"# beta\n", "notes/deep/c.csv": b"x,y\n1,2\n"}

needs_root = pytest.mark.skipif(not AS_ROOT, reason="needs root to make files of another owner / mount a tmpfs")


@pytest.fixture
def base() -> Iterator[Path]:
    with helpers.traversable_dir("jds-env-") as d:
        yield d


@pytest.fixture
def home(base: Path, emulator) -> Path:
    home = base / USER
    home.mkdir()
    for rel, data in FILES.items():
        helpers.write(home, rel, data)
    connect_home(emulator.url, home, EMAIL)
    if AS_ROOT:
        unprivileged.chown_tree(home, NOBODY)
    return home


def cli(home: Path, emulator, *args: str, as_user: bool = True, nofile: int | None = None,
        command: str = "push") -> tuple[int, str, str]:
    """Run `jupyter-drive-sync COMMAND --home HOME ...` (as uid 65534 when we are root)."""
    cmd = [sys.executable, "-m", "jupyter_drive_sync", command, "--home", str(home), "--user", USER,
           "--api-root", emulator.url, *args]
    env, kw = {**os.environ, "HOME": str(home)}, {}
    if as_user:
        cmd, env, kw = unprivileged.as_nobody(cmd, env)

    def limit() -> None:
        if nofile is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    proc = subprocess.run(cmd, capture_output=True, timeout=180, stdin=subprocess.DEVNULL, cwd="/",
                          env=env, preexec_fn=limit, **kw)
    return proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")


def assert_one_line(err: str, *words: str) -> str:
    """stderr is one line (a progress bar is never drawn: stderr is not a terminal) saying `words`."""
    print(err)  # shown with -s: what the student reads
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    for word in words:
        assert word.lower() in lines[0].lower(), (word, lines[0])
    return lines[0]


def drive_count(emulator) -> int:
    return len([f for f in emulator.files(EMAIL) if not f.get("trashed")])


def first_push(home: Path, emulator) -> int:
    rc, out, err = cli(home, emulator, "--json")
    assert rc == 0, err
    return drive_count(emulator)


# -- permissions and ownership -------------------------------------------------------------------


@needs_root
def test_state_db_owned_by_another_user_is_one_line_exit_2(home, emulator):
    first_push(home, emulator)
    db = state_dir(home) / DB_NAME
    for p in state_dir(home).iterdir():
        if p.name.startswith(DB_NAME):
            os.chown(p, 0, 0)
    os.chmod(db, 0o600)
    rc, out, err = cli(home, emulator, "--json")
    assert rc == 2, err
    line = assert_one_line(err, "state", "permission")
    assert str(db) in line and "uid 0" in line
    assert out == ""


@needs_root
def test_state_dir_owned_by_another_user_is_one_line_exit_2(home, emulator):
    first_push(home, emulator)
    sd = state_dir(home)
    unprivileged.chown_tree(sd, 0)
    os.chmod(sd, 0o700)
    rc, out, err = cli(home, emulator, "--json")
    assert rc == 2, err
    assert_one_line(err, "permission", str(sd))


@needs_root
def test_lock_file_owned_by_another_user_is_one_line_exit_2(home, emulator):
    first_push(home, emulator)
    lock = state_dir(home) / LOCK_NAME
    os.chown(lock, 0, 0)
    os.chmod(lock, 0o600)
    rc, out, err = cli(home, emulator, "--json")
    assert rc == 2, err
    assert_one_line(err, "lock", "permission", "uid 0")


@needs_root
def test_status_and_restore_with_a_foreign_state_dir_print_no_traceback(home, emulator):
    first_push(home, emulator)
    unprivileged.chown_tree(state_dir(home), 0)
    os.chmod(state_dir(home), 0o700)
    rc, out, err = cli(home, emulator, "--offline", command="status")
    assert "Traceback" not in err and rc in (2, 3), (rc, out, err)
    rc, out, err = cli(home, emulator, "--json", command="restore")
    assert rc in (2, 3), err
    assert_one_line(err)


# -- a full disk ---------------------------------------------------------------------------------


@contextmanager
def small_tmpfs(where: Path, size: str) -> Iterator[Path]:
    where.mkdir()
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(where)], check=True,
                       capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot mount a tmpfs here: {exc}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(disk: Path, leave: int = 0) -> None:
    """Fill the file system but `leave` bytes (files at its top; delete them to free the space)."""
    st = os.statvfs(disk)
    filler = disk / "filler.bin"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        os.posix_fallocate(fd, 0, max(4096, st.f_bavail * st.f_frsize - leave))
    except OSError:
        pass
    finally:
        os.close(fd)
    if not leave:  # to the last block and the last inode
        for i in range(10_000):
            try:
                (disk / f"f{i}").write_bytes(b"x" * 4096)
            except OSError:
                break


@needs_root
@pytest.mark.parametrize("when", ["first push", "later push", "during the push"])
def test_a_full_disk_is_one_line_exit_2(base, emulator, when):
    with small_tmpfs(base / "disk", "16m") as disk:  # room for the state DB's write-ahead log once freed
        home = disk / USER
        home.mkdir()
        for rel, data in FILES.items():
            helpers.write(home, rel, data)
        connect_home(emulator.url, home, EMAIL)
        unprivileged.chown_tree(home, NOBODY)
        if when != "first push":
            first_push(home, emulator)
            helpers.write(home, "a.txt", b"alpha, edited\n" * 100)
            for i in range(300 if when == "during the push" else 1):
                helpers.write(home, f"new/{i}.txt", str(i).encode() * 50)
            unprivileged.chown_tree(home, NOBODY)
        fill(disk, leave=200 * 1024 if when == "during the push" else 0)
        rc, out, err = cli(home, emulator, "--json")
        assert rc == 2, (rc, out, err)
        assert_one_line(err, "no space left")
        for p in disk.iterdir():  # space again: the next run converges, nothing lost or duplicated
            if p.is_file():
                p.unlink()
        rc, out, err = cli(home, emulator, "--json")
        assert rc == 0, err
        tree = helpers.drive_tree(emulator, EMAIL, f"home/{USER}", trashed=False)
        for p in home.rglob("*"):
            rel = p.relative_to(home).as_posix()
            if p.is_file() and not rel.startswith(".local"):
                assert int(tree[rel]["size"]) == p.stat().st_size, rel


# -- too many open files -------------------------------------------------------------------------


@pytest.mark.parametrize("nofile", [5, 6, 7, 12, 16])
def test_too_few_file_descriptors_is_one_line_not_a_traceback(home, emulator, nofile):
    for i in range(40):
        helpers.write(home, f"many/{i}.txt", f"{i}\n".encode())
    if AS_ROOT:
        unprivileged.chown_tree(home, NOBODY)
    rc, out, err = cli(home, emulator, "--json", "--workers", "4", nofile=nofile)
    assert "Traceback" not in err, err
    assert rc in (0, 1, 2), (rc, err)
    if rc == 2:
        assert_one_line(err, "open files")
    # whatever happened, a run with enough descriptors converges with no duplicate
    rc, out, err = cli(home, emulator, "--json")
    assert rc == 0, err
    helpers.drive_tree(emulator, EMAIL, f"home/{USER}", trashed=False)


# -- a state DB that is not ours -----------------------------------------------------------------


def make_foreign_db(path: Path, kind: str) -> None:
    if kind == "garbage":
        path.write_bytes(os.urandom(8192))
    elif kind == "truncated":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 3])
    elif kind == "another app's database":
        path.unlink()
        conn = sqlite3.connect(path)
        conn.executescript("CREATE TABLE entries (id INTEGER PRIMARY KEY, title TEXT);"
                           "INSERT INTO entries (title) VALUES ('not ours');")
        conn.close()
    elif kind == "another app's database, other tables":
        path.unlink()
        conn = sqlite3.connect(path)
        conn.executescript("CREATE TABLE users (name TEXT); INSERT INTO users VALUES ('not ours');")
        conn.close()


@pytest.mark.parametrize("kind", ["garbage", "truncated", "another app's database",
                                  "another app's database, other tables"])
def test_a_state_db_that_is_not_ours_is_moved_aside_and_nothing_is_duplicated(home, emulator, kind):
    before = first_push(home, emulator)
    sd = state_dir(home)
    db = sd / DB_NAME
    for suffix in ("-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    make_foreign_db(db, kind)
    foreign = db.read_bytes()
    if AS_ROOT:
        os.chown(db, NOBODY, NOBODY)
    rc, out, err = cli(home, emulator, "--json")
    assert rc == 0, err
    assert "Traceback" not in err
    summary = json.loads(out)
    assert summary["created"] == 0 and summary["folders_created"] == 0, summary
    assert drive_count(emulator) == before
    helpers.drive_tree(emulator, EMAIL, f"home/{USER}", trashed=False)  # no duplicate path
    aside = [p for p in sd.iterdir() if p.name.startswith(DB_NAME + ".corrupt-")]
    assert len(aside) == 1 and aside[0].read_bytes() == foreign  # kept, unchanged, for a human to look at
    rc, out, err = cli(home, emulator, "--json")  # and the next run is an ordinary one
    assert rc == 0 and json.loads(out)["created"] == 0, err


def test_a_state_db_from_a_newer_version_is_left_alone_and_one_line_exit_2(home, emulator):
    first_push(home, emulator)
    db = state_dir(home) / DB_NAME
    conn = sqlite3.connect(db)
    conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    conn.commit()
    conn.close()
    for suffix in ("-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    before = db.read_bytes()
    rc, out, err = cli(home, emulator, "--json")
    assert rc == 2, err
    assert_one_line(err, "newer")
    assert db.read_bytes() == before


# -- a pathological ~/.drivesyncignore -----------------------------------------------------------


def deep_tree(home: Path, depth: int) -> None:
    """a/a/a/.../a, `depth` folders deep, a file at the bottom (what `**/a/**/a/**` backtracks on)."""
    p = home.joinpath(*["a"] * depth)
    p.mkdir(parents=True)
    (p / "bottom.txt").write_bytes(b"deep\n")


def test_a_pathological_ignore_file_cannot_stall_a_push(home, emulator):
    deep_tree(home, 200)
    helpers.write(home, "debug.log", b"ignored by a sane rule\n")
    helpers.write(home, "n" * 200 + ".txt", b"a long name\n")
    evil = [
        "*.log",  # a sane rule: still applied
        "**/a/**/a/**/a/**/a/**/a/**/b",  # exponential backtracking on a deep a/a/a... path
        "*a*a*a*a*a*a*a*a*a*a*b",  # the same inside one long name
        "*n*n*n*n*n*n*n*n*n*n*m",
        "x" * 5000,  # a rule longer than any path
        *[f"generated-rule-{i}/*.tmp" for i in range(100_000)],  # a huge file of rules
    ]
    helpers.write(home, ".drivesyncignore", "\n".join(evil).encode())
    if AS_ROOT:
        unprivileged.chown_tree(home, NOBODY)
    started = time.monotonic()
    rc, out, err = cli(home, emulator, "--json")
    assert time.monotonic() - started < 90, "the push stalled on the rules"
    assert rc == 0 and "Traceback" not in err, err
    summary = json.loads(out)
    problems = [s["reason"] for s in summary["skipped"] if s["path"] == ".drivesyncignore"]
    assert any("**/a/**/a" in p for p in problems), problems  # each ignored rule is named...
    assert any("*a*a*a" in p for p in problems), problems
    assert any("rules" in p and "ignored" in p for p in problems), problems  # ...and the cut-off
    assert len(problems) < 20, problems  # in a few lines, not one per ignored line
    tree = helpers.drive_tree(emulator, EMAIL, f"home/{USER}")
    assert "debug.log" not in tree  # the sane rule still applies
    assert "/".join(["a"] * 200) + "/bottom.txt" in tree


def test_rules_that_take_too_long_end_the_run_in_one_line(home, emulator, monkeypatch, capsys):
    """Allowed rules, but so many that matching them against a huge home takes longer than the
    budget: the run ends (exit 2), instead of holding a hub slot for hours."""
    from jupyter_drive_sync.cli import main as cli_main
    from jupyter_drive_sync.home import excludes

    monkeypatch.setattr(excludes, "USER_RULES_BUDGET_S", 0.05)
    deep_tree(home, 150)
    helpers.write(home, ".drivesyncignore", "\n".join(f"**/a/**/x{i}" for i in range(50)).encode())
    rc = cli_main(["push", "--home", str(home), "--user", USER, "--api-root", emulator.url, "--json"])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert_one_line(err, ".drivesyncignore", "simplify")
