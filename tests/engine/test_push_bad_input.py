"""The bad-input corpus (issue 3, "Must show" 6) through `jupyter-drive-sync push --json`.

Every strange entry is either synced correctly (its content checked on Drive) or listed in
`skipped` with a reason; secrets and the tool's own credentials are excluded (never uploaded;
the "excluded always" rules, which are not reported per run); nothing outside the home is
read; the run exits 0 or 1 and never prints a traceback.

The push runs as a subprocess with the privileges of an ordinary user (uid/gid 65534 when the
tests run as root, on a home chowned to it): root reads everything, so "unreadable" only means
something for a real user. "Nothing outside the home is read" is made observable: the symlinks
leaving the home point at FIFOs, which would block any reader for ever, and at files whose
content is checked to be absent from Drive.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from jupyter_drive_sync.emulator.sample import connect_home
from jupyter_drive_sync.core.model import FOLDER_MIME
from jupyter_drive_sync.core.options import PushOptions
from jupyter_drive_sync.engine.push import run_push
from jupyter_drive_sync.core.settings import state_dir

from tests.support import helpers, unprivileged

EMAIL = "odd@uni.edu"
USER = "nina"
NOBODY = unprivileged.NOBODY
AS_ROOT = unprivileged.AS_ROOT

SYNCED = {
    "it's a \"quoted\" name.txt": b"quotes\n",
    "back\\slash\\name.txt": b"backslashes\n",
    "new\nline.txt": b"a newline in the name\n",
    "📓 notes 🎉.md": "emoji ✓\n".encode(),
    "a" * 251 + ".txt": b"255 bytes of name\n",
    "é" * 125 + ".txt": b"254 bytes of name, 129 characters\n",
    "empty.txt": b"",
    "dir with 'quote'/inner \\ file.txt": b"nested odd names\n",
    "plain.txt": b"plain\n",
}
BAD_UTF8 = b"latin1-caf\xe9-\xff.txt"
SECRET_KEY = b"-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-real-key-but-secret\n-----END OPENSSH PRIVATE KEY-----\n"


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@pytest.fixture
def base() -> Path:
    """A world-traversable directory (pytest's tmp dirs are 0700: an unprivileged push could not enter)."""
    with helpers.traversable_dir("jds-bad-") as d:
        yield d


def drive_files(emulator) -> dict[str, dict]:
    """Relative path under home/nina → file (trashed too); fails on duplicate paths."""
    return helpers.drive_tree(emulator, EMAIL, f"home/{USER}")


def run_cli(home: Path, emulator, timeout: float = 120) -> tuple[int, dict | None, str]:
    cmd, env, kw = unprivileged.as_nobody(
        [sys.executable, "-m", "jupyter_drive_sync", "push", "--home", str(home), "--user", USER,
         "--api-root", emulator.url, "--json", "--workers", "3"], {**os.environ, "HOME": str(home)})
    proc = subprocess.run(cmd, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL,
                          cwd=str(home.parent), env=env, **kw)
    err = proc.stderr.decode("utf-8", "replace")
    out = json.loads(proc.stdout) if proc.stdout.strip() else None
    return proc.returncode, out, err


def build_corpus(base: Path, home: Path) -> dict[str, bytes]:
    """Make the bad-input home; returns outside-the-home contents that must never reach Drive."""
    outside = base / "outside"
    outside.mkdir()
    (outside / "private-notes.txt").write_bytes(b"outside the home: must never be uploaded\n")
    os.mkfifo(outside / "trap-fifo")  # opening it for reading would block the push for ever
    for rel, data in SYNCED.items():
        p = home / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    (home / os.fsdecode(BAD_UTF8)).write_bytes(b"name is not UTF-8\n")
    os.mkfifo(home / "a-fifo")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(home / "a-socket"))
    sock.close()  # the socket file stays
    (home / "unreadable.txt").write_bytes(b"private to root\n")
    os.symlink("/etc/passwd", home / "passwd-link")
    os.symlink(outside / "trap-fifo", home / "fifo-link")
    os.symlink("loop-b", home / "loop-a")
    os.symlink("loop-a", home / "loop-b")
    os.symlink(".", home / "self-loop")
    os.symlink(outside, home / "escape-dir")  # a directory symlink leaving the home
    (home / ".ssh").mkdir(mode=0o700)
    (home / ".ssh" / "id_rsa").write_bytes(SECRET_KEY)
    (home / ".git-credentials").write_bytes(b"https://user:token-secret@github.com\n")
    return {
        "outside": (outside / "private-notes.txt").read_bytes(),
        "passwd": Path("/etc/passwd").read_bytes(),
    }


def test_bad_input_corpus_through_the_cli(base, emulator):
    home = base / USER
    home.mkdir()
    connect_home(emulator.url, home, EMAIL)
    creds_bytes = (state_dir(home) / "credentials.json").read_bytes()
    outside = build_corpus(base, home)
    # a file growing while it is uploaded: resumable (> 5 MiB), appended to during the push
    grow = home / "growing.log"
    grow.write_bytes(os.urandom(12 * 1024 * 1024))
    if AS_ROOT:
        unprivileged.chown_tree(home, NOBODY)
        os.chown(home / "unreadable.txt", 0, 0)
    os.chmod(home / "unreadable.txt", 0o600 if AS_ROOT else 0o000)

    stop = threading.Event()

    def append() -> None:
        with open(grow, "ab") as fh:
            while not stop.wait(0.005):
                fh.write(os.urandom(64 * 1024))
                fh.flush()

    t = threading.Thread(target=append, daemon=True)
    t.start()
    try:
        rc, summary, err = run_cli(home, emulator)
    finally:
        stop.set()
        t.join()

    assert "Traceback" not in err, err
    assert rc in (0, 1), err
    assert summary is not None
    if AS_ROOT:  # the push really ran unprivileged: the state DB it made belongs to 65534
        assert os.stat(state_dir(home) / "state.sqlite3").st_uid == NOBODY
    skipped = {s["path"]: s["reason"] for s in summary["skipped"]}
    failed = {f["path"]: f["error"] for f in summary["failed"]}
    assert all(skipped.values()) and all(failed.values())  # every one says why

    tree = drive_files(emulator)
    # 1. odd but valid names: synced, content equal
    for rel, data in SYNCED.items():
        assert rel in tree, (rel, skipped.get(rel), failed.get(rel))
        f = tree[rel]
        assert f["name"] == rel.rpartition("/")[2] and not f["trashed"]
        assert int(f["size"]) == len(data) and f["md5Checksum"] == md5(data), rel
    assert tree["dir with 'quote'"]["mimeType"] == FOLDER_MIME

    # 2. what cannot be synced is skipped, with a reason that says why
    bad_name = os.fsdecode(BAD_UTF8).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    expected_skips = {
        bad_name: "UTF-8",
        "a-fifo": "FIFO",
        "a-socket": "socket",
        "unreadable.txt": "permission",
        "passwd-link": "symbolic link",
        "fifo-link": "symbolic link",
        "loop-a": "symbolic link",
        "loop-b": "symbolic link",
        "self-loop": "symbolic link",
        "escape-dir": "symbolic link",
    }
    for rel, word in expected_skips.items():
        assert rel in skipped, (rel, sorted(skipped))
        assert word.lower() in skipped[rel].lower(), (rel, skipped[rel])
    synced_names = {p.rpartition("/")[2] for p in tree}
    for name in ("a-fifo", "a-socket", "unreadable.txt", "passwd-link", "fifo-link", "loop-a", "loop-b",
                 "self-loop", "escape-dir", "private-notes.txt", "trap-fifo", "passwd"):
        assert name not in synced_names, name
    assert not [p for p in tree if "latin1" in p]

    # 3. no secret and nothing from outside the home on Drive (by name and by content)
    assert not [p for p in tree if p.startswith((".ssh", ".git-credentials", ".local/share/jupyter/drive_sync"))]
    drive_md5s = {f.get("md5Checksum") for f in emulator.files(EMAIL)}
    for forbidden in (SECRET_KEY, creds_bytes, outside["outside"], outside["passwd"],
                      b"https://user:token-secret@github.com\n"):
        assert md5(forbidden) not in drive_md5s

    # 4. the growing file: Drive holds a consistent prefix (what was there when the upload
    #    started) and the run says the file moved on meanwhile; whole after the next push
    final = grow.read_bytes()
    assert len(final) > 12 * 1024 * 1024
    assert "changed while" in skipped["growing.log"]
    if "growing.log" in tree:
        size = int(tree["growing.log"]["size"])
        assert size >= 12 * 1024 * 1024
        assert tree["growing.log"]["md5Checksum"] == md5(final[:size])

    rc, summary, err = run_cli(home, emulator)
    assert rc in (0, 1) and "Traceback" not in err, err
    assert summary["failed"] == []
    tree2 = drive_files(emulator)
    assert tree2["growing.log"]["md5Checksum"] == md5(final)
    assert int(tree2["growing.log"]["size"]) == len(final)
    assert {p: f["id"] for p, f in tree2.items() if p in tree} == {p: f["id"] for p, f in tree.items()}
    # and the skipped ones are skipped again, the same way (the growing file is done now)
    assert {s["path"] for s in summary["skipped"]} == set(skipped) - {"growing.log"}


def test_a_folder_swapped_for_a_symlink_mid_push_is_not_followed(tmp_path, emulator):
    """The scan saw a real folder; before its files go up, the folder becomes a symlink to a
    place outside the home holding a file of the same name (what a user racing a privileged
    nightly job would try). The upload must not read through it."""
    home = tmp_path / USER
    home.mkdir()
    connect_home(emulator.url, home, EMAIL)
    (home / "work").mkdir()
    (home / "work" / "notes.txt").write_bytes(b"the student's notes\n")
    (home / "work" / "other.txt").write_bytes(b"other\n")
    (home / "top.txt").write_bytes(b"top\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "notes.txt").write_bytes(b"root-only secret outside the home\n")
    (outside / "other.txt").write_bytes(b"another outside file\n")

    def swap(ev) -> None:
        if ev.phase == "uploading" and not (home / "work").is_symlink():
            os.rename(home / "work", tmp_path / "work-moved")
            os.symlink(outside, home / "work")

    s = run_push(PushOptions(home=home, user=USER, api_root=emulator.url, workers=2), swap)
    drive_md5s = {f.get("md5Checksum") for f in emulator.files(EMAIL)}
    assert md5(b"root-only secret outside the home\n") not in drive_md5s
    assert md5(b"another outside file\n") not in drive_md5s
    reported = {x["path"]: x["reason"] for x in s.skipped} | {x["path"]: x["error"] for x in s.failed}
    assert {"work/notes.txt", "work/other.txt"} <= set(reported)
    assert "symbolic link" in reported["work/notes.txt"]
    assert md5(b"top\n") in drive_md5s  # the rest of the push went on


def test_drive_refusing_every_call_ends_with_a_clear_line_not_a_traceback(tmp_path, emulator):
    """A run that cannot go on because of Drive itself (here: a wrong API path, every call a
    404) exits 1 with one line on stderr, like any other run-ending error (the CLI's exit-status contract)."""
    home = tmp_path / USER
    home.mkdir()
    connect_home(emulator.url, home, EMAIL)
    (home / "a.txt").write_bytes(b"a")
    proc = subprocess.run(
        [sys.executable, "-m", "jupyter_drive_sync", "push", "--home", str(home), "--user", USER,
         "--api-root", emulator.url + "not-drive/", "--json"],
        capture_output=True, timeout=60, stdin=subprocess.DEVNULL,
    )
    err = proc.stderr.decode()
    assert proc.returncode == 1, err
    assert "Traceback" not in err and err.startswith("jupyter-drive-sync push: 404")
    assert proc.stdout == b""
    assert all(f["name"] != "a.txt" for f in emulator.files(EMAIL))


def test_network_gone_after_every_retry_is_a_sync_error():
    """Out of tries on a dropped network: a DriveApiError (a SyncError, exit 1) naming the
    cause, so the CLI, the server and the hub report it like any run-ending error."""
    from jupyter_drive_sync.core.errors import SyncError
    from jupyter_drive_sync.drive.errors import DriveApiError
    from jupyter_drive_sync.drive.retry import RetryPolicy

    sleeps: list[float] = []
    calls = []

    def unreachable() -> None:
        calls.append(1)
        raise ConnectionRefusedError(111, "Connection refused")

    with pytest.raises(DriveApiError) as info:
        RetryPolicy(max_tries=3, sleep=sleeps.append).call(unreachable)
    assert len(calls) == 3 and len(sleeps) == 2
    assert isinstance(info.value, SyncError) and info.value.exit_code == 1
    assert "could not be reached" in str(info.value) and "ConnectionRefusedError" in str(info.value)
    assert isinstance(info.value.__cause__, ConnectionRefusedError)
