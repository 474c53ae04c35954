"""A hostile and bad-input corpus (issue 9): names, types, permissions, sizes, mid-run changes,
a home that is a symlink, a tree 100 levels deep, 50,000 files in one folder.

Every case is one row of a table: what to put in the home, and what must come of it —
`synced` (on Drive with the same bytes, checked by the byte-for-byte Mirror), `skipped` (in
the `--json` summary's `skipped` or `failed`, with a reason containing a given word, and NOT
on Drive), or `excluded` (not on Drive, not reported: the secrets and the tool's own files).
tests/engine/test_push_bad_input.py has its own corpus (quotes, backslashes, newlines, emoji,
255-byte names, invalid UTF-8, FIFO, socket, symlink loops, a growing file); the cases here
are different ones. docs/RELIABILITY.md lists them all with a count.

The CLI push runs unprivileged (uid 65534 via setpriv when the tests run as root) so that the
permission cases mean something.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest

from jupyter_drive_sync.emulator.sample import connect_home
from jupyter_drive_sync.core.options import PushOptions
from jupyter_drive_sync.engine.push import run_push

from tests.support import unprivileged
from tests.support.helpers import traversable_dir

from .conftest import CLI, Mirror, drive_paths, md5, trials

EMAIL = "hostile@uni.edu"
USER = "hal"
NOBODY = unprivileged.NOBODY
AS_ROOT = unprivileged.AS_ROOT
MIB = 1024 * 1024


@dataclass
class Case:
    rel: str  # path in the home that the expectation is about
    expect: str  # "synced" | "skipped" | "excluded"
    word: str = ""  # for "skipped": a word the reason must contain
    make: Callable[[Path, Path], None] | None = None  # (home, outside) → creates it; default: small file
    root_only: bool = False  # needs root to set up (device files, foreign owners)


def _file(data: bytes = b"x\n", mode: int | None = None, owner: int | None = None) -> Callable[[Path, Path], None]:
    def make(path: Path, outside: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        if owner is not None:
            os.chown(path, owner, owner)
        if mode is not None:
            os.chmod(path, mode)
    return make


def _sparse(size: int) -> Callable[[Path, Path], None]:
    def make(path: Path, outside: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as fh:
            fh.truncate(size)
    return make


def _symlink(target: str) -> Callable[[Path, Path], None]:
    def make(path: Path, outside: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target.replace("{outside}", str(outside)), path)
    return make


def _dir(mode: int, owner: int = 0) -> Callable[[Path, Path], None]:
    def make(path: Path, outside: Path) -> None:
        path.mkdir(parents=True)
        (path / "inside.txt").write_bytes(b"behind a closed door\n")
        os.chown(path, owner, owner)
        os.chown(path / "inside.txt", owner, owner)
        os.chmod(path, mode)
    return make


def _fifo(path: Path, outside: Path) -> None:
    os.mkfifo(path)


def _socket(path: Path, outside: Path) -> None:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(path))
    s.close()


def _chardev(path: Path, outside: Path) -> None:
    os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 3))  # like /dev/null


def _hardlink_of(other: str) -> Callable[[Path, Path], None]:
    def make(path: Path, outside: Path) -> None:
        os.link(path.parent / other, path)
    return make


NFC = unicodedata.normalize("NFC", "café")
NFD = unicodedata.normalize("NFD", "café")

CASES: list[Case] = [
    # -- names (20)
    Case("  spaces around  .txt", "synced"),
    Case("...", "synced"),
    Case("-rf", "synced"),
    Case("--help", "synced"),
    Case("star*quest?lt<gt>pipe|colon:.txt", "synced"),
    Case("CON", "synced"),
    Case("nul.txt", "synced"),
    Case("%2e%2e%2fescape.txt", "synced"),
    Case("tab\there.txt", "synced"),
    Case("carriage\rreturn.txt", "synced"),
    Case("ctrl\x01\x1fchars.txt", "synced"),
    Case(f"{NFC}.txt", "synced", make=_file(b"composed\n")),
    Case(f"{NFD}.txt", "synced", make=_file(b"decomposed\n")),
    Case("Readme.md", "synced", make=_file(b"mixed case\n")),
    Case("README.md", "synced", make=_file(b"upper case\n")),
    Case("\u202eevil.txt", "synced"),
    Case("zero\u200bwidth.txt", "synced"),
    Case("日" * 85, "synced"),  # 255 bytes of UTF-8, 85 characters
    Case("'; DROP TABLE entries;--.txt", "synced"),
    Case("x' or name contains 'a.txt", "synced"),
    # -- types (9)
    Case("a-fifo", "skipped", "fifo", _fifo),
    Case("a-socket", "skipped", "socket", _socket),
    Case("a-device", "skipped", "device", _chardev, root_only=True),
    Case("link-inside", "skipped", "symbolic link", _symlink("README.md")),
    Case("link-dangling", "skipped", "symbolic link", _symlink("does/not/exist")),
    Case("link-outside-dir", "skipped", "symbolic link", _symlink("{outside}")),
    Case("link-outside-file", "skipped", "symbolic link", _symlink("{outside}/secret.txt")),
    Case("link-abs-root", "skipped", "symbolic link", _symlink("/")),
    Case("hardlink-of-readme", "synced", make=_hardlink_of("README.md")),
    # -- permissions (7)
    Case("root-only-600.txt", "skipped", "permission", _file(b"root only\n", 0o600, 0), root_only=True),
    Case("mode-000.txt", "skipped", "permission", _file(b"no bits\n", 0o000, NOBODY), root_only=True),
    Case("write-only-200.txt", "skipped", "permission", _file(b"write only\n", 0o200, NOBODY), root_only=True),
    Case("foreign-readable-644.txt", "synced", make=_file(b"someone else's, world-readable\n", 0o644, 0),
         root_only=True),
    Case("setuid-4755.sh", "synced", make=_file(b"#!/bin/sh\necho hi\n", 0o4755, NOBODY), root_only=True),
    Case("closed-dir-700", "skipped", "permission", _dir(0o700, 0), root_only=True),
    Case("no-exec-dir-644", "skipped", "permission", _dir(0o644, 0), root_only=True),
    # -- sizes (6)
    Case("empty.bin", "synced", make=_file(b"")),
    Case("one-byte.bin", "synced", make=_file(b"\x00")),
    Case("multipart-limit-exact.bin", "synced", make=_file(os.urandom(5 * MIB))),
    Case("multipart-limit-plus-1.bin", "synced", make=_file(os.urandom(5 * MIB + 1))),
    Case("sparse-9MiB.bin", "synced", make=_sparse(9 * MIB)),
    Case("sparse-over-5TiB.bin", "skipped", "size limit", _sparse(5 * 1024**4 + 1)),
    # -- ignore rules and secrets (4)
    Case(".drivesyncignore", "synced", make=_file(b"*.log\n[unclosed\n\x00\xff binary junk\n")),
    Case("debug.log", "excluded"),
    Case("proj/.aws/credentials", "excluded", make=_file(b"[default]\naws_secret_access_key=abc\n")),
    Case("a/b/.docker/config.json", "excluded", make=_file(b'{"auths": {"x": {"auth": "c2VjcmV0"}}}\n')),
]


@pytest.fixture
def base() -> Path:
    """World-traversable (pytest's tmp dirs are 0700: an unprivileged push could not enter)."""
    with traversable_dir("jds-hostile-") as d:
        yield d


def push_as_user(home: Path, emulator, user: str = USER) -> tuple[int, dict | None, str]:
    cmd, env, kw = unprivileged.as_nobody([*CLI, "push", "--home", str(home), "--user", user, "--api-root",
                                           emulator.url, "--json", "--workers", "3"], {**os.environ, "HOME": str(home)})
    proc = subprocess.run(cmd, capture_output=True, timeout=300, stdin=subprocess.DEVNULL, cwd=str(home.parent),
                          env=env, **kw)
    err = proc.stderr.decode("utf-8", "replace")
    return proc.returncode, (json.loads(proc.stdout) if proc.stdout.strip() else None), err


def test_hostile_corpus_through_the_cli(base, emulator):
    home = base / USER
    home.mkdir()
    outside = base / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"outside the home: never uploaded\n")
    connect_home(emulator.url, home, EMAIL)
    cases = [c for c in CASES if AS_ROOT or not c.root_only]
    # the user's own files first, then the whole home handed to the user; then what only root
    # can set up (foreign owners, devices), which keeps the owners its cases give it
    for c in [c for c in cases if not c.root_only]:
        (c.make or _file(f"content of {c.rel!r}\n".encode()))(home / c.rel, outside)
    if AS_ROOT:
        unprivileged.chown_tree(home, NOBODY)
    for c in [c for c in cases if c.root_only]:
        c.make(home / c.rel, outside)

    code, summary, err = push_as_user(home, emulator)
    assert "Traceback" not in err, err
    assert code in (0, 1) and summary is not None, err
    reported = {s["path"]: s["reason"] for s in summary["skipped"]} | \
               {f["path"]: f["error"] for f in summary["failed"]}
    tree = drive_paths(emulator.files(EMAIL))
    prefix = f"home/{USER}/"
    on_drive = {p[len(prefix):]: fs for p, fs in tree.items() if p.startswith(prefix)}
    dups = {p: len(fs) for p, fs in tree.items() if len(fs) > 1}
    assert not dups, dups

    outcome: dict[str, str] = {}
    for c in cases:
        if c.expect == "synced":
            assert c.rel in on_drive, (c.rel, reported.get(c.rel))
            f = on_drive[c.rel][0]
            data = (home / c.rel).read_bytes() if os.access(home / c.rel, os.R_OK) else None
            assert data is not None and f["md5Checksum"] == md5(data) and int(f["size"]) == len(data), c.rel
            outcome[c.rel] = "synced"
        elif c.expect == "skipped":
            assert c.rel not in on_drive, c.rel
            assert c.rel in reported, (c.rel, sorted(reported))
            assert c.word in reported[c.rel].lower(), (c.rel, reported[c.rel])
            outcome[c.rel] = f"skipped: {reported[c.rel]}"
        else:
            assert c.rel not in on_drive and not any(p.startswith(c.rel + "/") for p in on_drive), c.rel
            outcome[c.rel] = "excluded"
    # nothing from outside the home, nothing from behind the closed doors
    md5s = {f.get("md5Checksum") for f in emulator.files(EMAIL)}
    assert md5(b"outside the home: never uploaded\n") not in md5s
    assert md5(b"behind a closed door\n") not in md5s
    assert "debug.log" not in on_drive and ".drivesyncignore" in reported  # the broken rule is reported
    # the whole synced part is byte for byte, and a second run changes nothing
    rep = Mirror(emulator, EMAIL, USER).compare(home)
    assert not rep.duplicates and not rep.wrong and not rep.extra, rep
    code2, summary2, err2 = push_as_user(home, emulator)
    assert code2 in (0, 1) and (summary2["created"], summary2["updated"]) == (0, 0), summary2
    for rel, what in outcome.items():
        print(f"{rel!r}: {what}")
    print(f"{len(cases)} corpus cases checked")
    assert len(cases) >= (46 if AS_ROOT else 36)


# -- changing and vanishing mid-run ---------------------------------------------------------------


def test_files_changing_or_vanishing_mid_run(tmp_path, emulator):
    home = tmp_path / USER
    home.mkdir()
    connect_home(emulator.url, home, EMAIL)
    names = ["vanish.txt", "becomes-dir.txt", "shrinks.bin", "touched.txt", "gone-dir/a.txt", "gone-dir/b.txt",
             "replaced-by-link.txt", "steady.txt"]
    for n in names:
        (home / n).parent.mkdir(parents=True, exist_ok=True)
        (home / n).write_bytes(os.urandom(3 * MIB if n == "shrinks.bin" else 100))
    (tmp_path / "target.txt").write_bytes(b"outside target\n")
    done = []

    def meddle(ev: Any) -> None:
        if ev.phase != "uploading" or done:
            return
        done.append(1)
        (home / "vanish.txt").unlink()
        (home / "becomes-dir.txt").unlink()
        (home / "becomes-dir.txt").mkdir()
        with open(home / "shrinks.bin", "r+b") as fh:
            fh.truncate(10)
        os.utime(home / "touched.txt", (1_600_000_000, 1_600_000_000))
        shutil.rmtree(home / "gone-dir")
        (home / "replaced-by-link.txt").unlink()
        os.symlink(tmp_path / "target.txt", home / "replaced-by-link.txt")

    s = run_push(PushOptions(home=home, user=USER, api_root=emulator.url, workers=1), meddle)
    assert done
    reported = {x["path"]: x["reason"] for x in s.skipped} | {x["path"]: x["error"] for x in s.failed}
    for rel in ("vanish.txt", "becomes-dir.txt", "gone-dir/a.txt", "gone-dir/b.txt", "replaced-by-link.txt"):
        assert rel in reported, (rel, reported)
    md5s = {f.get("md5Checksum") for f in emulator.files(EMAIL)}
    assert md5(b"outside target\n") not in md5s
    # the next push settles everything: Drive equals the home (keep policy: gone files stay on Drive)
    s2 = run_push(PushOptions(home=home, user=USER, api_root=emulator.url, workers=2))
    assert s2.failed == [], s2.failed
    rep = Mirror(emulator, EMAIL, USER).compare(home)
    assert not rep.duplicates and not rep.lost and not rep.wrong, rep
    assert set(rep.extra) <= {"vanish.txt", "gone-dir", "gone-dir/a.txt", "gone-dir/b.txt", "replaced-by-link.txt"}


# -- the home itself ------------------------------------------------------------------------------


def test_home_that_is_a_symlink(tmp_path, emulator):
    real = tmp_path / "volumes" / "pvc-123"
    real.mkdir(parents=True)
    (real / "work.ipynb").write_bytes(b"{}")
    link = tmp_path / USER
    os.symlink(real, link)
    connect_home(emulator.url, link, EMAIL)
    code, out, err = _run([*CLI, "push", "--home", str(link), "--user", USER, "--api-root", emulator.url, "--json"])
    assert code == 0, err
    summary = json.loads(out)
    assert summary["created"] == 1
    Mirror(emulator, EMAIL, USER).assert_equal(real)
    code, out, err = _run([*CLI, "push", "--home", str(real), "--user", USER, "--api-root", emulator.url, "--json"])
    assert code == 0 and json.loads(out)["created"] == 0  # same state either way in


def _deep_tree(home: Path, depth: int, name: str, every: int = 10) -> None:
    """`depth` nested folders called `name`, a small file every `every` levels (built with
    openat, so paths longer than PATH_MAX can be made)."""
    fd = os.open(home, os.O_RDONLY)
    try:
        for i in range(depth):
            os.mkdir(name, dir_fd=fd)
            new = os.open(name, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = new
            if i % every == every - 1:
                wfd = os.open(f"file-{i}.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
                os.write(wfd, f"at depth {i + 1}\n".encode())
                os.close(wfd)
    finally:
        os.close(fd)


def test_tree_100_levels_deep(tmp_path, emulator):
    home = tmp_path / USER
    home.mkdir()
    connect_home(emulator.url, home, EMAIL)
    depth, name = 100, "level-" + "d" * 24  # 31 bytes a level: ~3,100-byte paths
    _deep_tree(home, depth, name)
    s = run_push(PushOptions(home=home, user=USER, api_root=emulator.url))
    assert s.failed == [] and s.skipped == [], (s.failed, s.skipped)
    assert s.folders_created == depth and s.created == 10  # no empty .local chain around the state dir
    tree = drive_paths(emulator.files(EMAIL))
    assert f"home/{USER}/" + "/".join([name] * depth) + f"/file-{depth - 1}.txt" in tree
    Mirror(emulator, EMAIL, USER).assert_equal(home)
    emulator.reset_stats()
    s = run_push(PushOptions(home=home, user=USER, api_root=emulator.url))
    assert (s.created, s.folders_created) == (0, 0) and emulator.stats()["requests"] <= 2


def test_paths_longer_than_path_max_are_reported_not_fatal(tmp_path, emulator):
    """Known limit (docs/RELIABILITY.md): the scan walks by path, so folders whose full path
    passes PATH_MAX (4,096 bytes) are reported ("File name too long"), never a crash; all
    above them is backed up."""
    home = tmp_path / USER
    home.mkdir()
    connect_home(emulator.url, home, EMAIL)
    name = "level-" + "d" * 44  # 51 bytes a level: past 4,096 bytes at about level 80
    _deep_tree(home, 100, name)
    s = run_push(PushOptions(home=home, user=USER, api_root=emulator.url))
    assert s.failed == []
    assert len(s.skipped) == 1 and "too long" in s.skipped[0]["reason"].lower(), s.skipped
    cut = s.skipped[0]["path"].count("/") + 1  # the first level that could not be listed
    tree = drive_paths(emulator.files(EMAIL))
    assert f"home/{USER}/" + "/".join([name] * (cut - 1)) in tree
    assert not {p for p, fs in tree.items() if len(fs) > 1}
    s = run_push(PushOptions(home=home, user=USER, api_root=emulator.url))
    assert (s.created, s.folders_created, s.failed) == (0, 0, []) and len(s.skipped) == 1


@pytest.mark.timeout(900)
def test_50000_files_in_one_folder(tmp_path, emulator):
    """Empty files, to keep it quick; the measure is requests, not time. Empty files need no
    media, so they are created in batches of 100 (metadata only); the rest scales with the
    IDs generated and the changes feed read back, 1,000 a call each. CI runs 5,000 and
    `make soak` 50,000."""
    n = trials(5_000, 50_000)
    home = tmp_path / USER
    (home / "flat").mkdir(parents=True)
    connect_home(emulator.url, home, EMAIL)
    fd = os.open(home / "flat", os.O_RDONLY)
    try:
        for i in range(n):
            os.close(os.open(f"f{i:05d}", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd))
    finally:
        os.close(fd)
    emulator.reset_stats()
    s = run_push(PushOptions(home=home, user=USER, api_root=emulator.url, workers=8))
    assert s.failed == [] and s.created == n
    requests_first = emulator.stats()["requests"]
    print(f"{n} empty files in one folder: {requests_first} requests on the first push", emulator.stats()["by_route"])
    assert requests_first <= n // 100 + 2 * (n // 1000) + 20
    flat = [p for p in drive_paths(emulator.files(EMAIL)) if p.startswith(f"home/{USER}/flat/")]
    assert len(flat) == n
    emulator.reset_stats()
    s = run_push(PushOptions(home=home, user=USER, api_root=emulator.url))
    assert s.created == 0 and s.unchanged == n
    print(f"then a no-op push: {emulator.stats()['requests']} requests")
    assert emulator.stats()["requests"] <= 2


def _run(cmd: list[str]) -> tuple[int, str, str]:
    p = subprocess.run(cmd, capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout.decode(), p.stderr.decode()
