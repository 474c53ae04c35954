"""Restore (issue 7) end to end against the emulator over real HTTP.

1. push, wipe, restore: byte for byte, mtimes to the ms, the next push makes ≤ 2 requests;
2. overwrite never / older / always on a home with conflicting local edits;
3. a restore killed midway (SIGKILL) leaves no partial file in place, and a rerun completes;
4. hostile names on Drive never write outside the home: each is restored safely or reported.
"""

from __future__ import annotations

import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build_from_document
from googleapiclient.http import MediaIoBaseUpload

from jupyter_drive_sync.cli import main
from jupyter_drive_sync.drive.transport import discovery_document
from jupyter_drive_sync.drive.types import DriveFile, to_rfc3339
from jupyter_drive_sync.emulator.sample import connect_home
from jupyter_drive_sync.core.errors import AlreadyRunning
from jupyter_drive_sync.core.model import FOLDER_MIME
from jupyter_drive_sync.core.options import Overwrite, PushOptions, RestoreOptions
from jupyter_drive_sync.engine.drive_browse import NothingToRestore
from jupyter_drive_sync.engine.push import run_push
from jupyter_drive_sync.engine.restore import run_restore
from jupyter_drive_sync.engine.restore_names import clean_name, safe_names, split_subpath
from jupyter_drive_sync.core.settings import state_dir
from jupyter_drive_sync.home.lock import HomeLock

from tests.support import helpers

EMAIL = "ann@uni.edu"
FULL_DRIVE = "https://www.googleapis.com/auth/drive"
T0 = 1_700_000_000
STATE_REL = ".local/share/jupyter/drive_sync"


# -- helpers -----------------------------------------------------------------------------------


@pytest.fixture
def home(connected_home) -> Path:
    return connected_home("ann", EMAIL)


def service(emulator, scopes: list[str] | None = None) -> Any:
    """Another googleapiclient of the same account: the app's own client (drive.file, so its
    files are visible to the restore) unless `scopes` asks for the full Drive scope."""
    extra = {"scopes": scopes} if scopes else {}
    acct = emulator.create_account(EMAIL, **extra)
    creds = Credentials(acct["access_token"], refresh_token=acct["refresh_token"],
                        token_uri=emulator.url + "token", scopes=scopes, **emulator.client_ids())
    return build_from_document(discovery_document(emulator.url), credentials=creds)


def write(home: Path, rel: str, data: bytes, mtime_ns: int | None = None) -> None:
    p = home / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    if mtime_ns is not None:
        os.utime(p, ns=(mtime_ns, mtime_ns))


def push(home: Path, emulator, **kw: Any):
    s = run_push(PushOptions(home=home, user="ann", api_root=emulator.url, workers=4, **kw))
    assert s.failed == [], s.failed
    return s


def restore(home: Path, emulator, **kw: Any):
    return run_restore(RestoreOptions(home=home, user="ann", api_root=emulator.url, workers=4, **kw))


def user_files(home: Path) -> dict[str, bytes]:
    """Every regular file of the home outside the tool's own folder, by relative path."""
    out: dict[str, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(home):
        rel_dir = os.path.relpath(dirpath, home)
        if rel_dir == STATE_REL or rel_dir.startswith(STATE_REL + "/"):
            continue
        for name in filenames:
            p = Path(dirpath) / name
            if p.is_symlink():
                continue
            out[os.path.normpath(os.path.join(rel_dir, name))] = p.read_bytes()
    return out


def wipe(home: Path, *, keep_state: bool) -> None:
    for entry in home.iterdir():
        if keep_state and entry.name == ".local":  # holds only the tool's own folder
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def drive_tree(emulator) -> dict[str, dict]:
    """Path under home/ann → file (untrashed), failing on duplicates."""
    return helpers.drive_tree(emulator, EMAIL, "home/ann", trashed=False)


def sample_home(home: Path) -> dict[str, tuple[bytes, int]]:
    """Files with odd sizes and sub-millisecond mtimes: {rel: (content, mtime_ns)}."""
    rng = random.Random(7)
    files = {
        "README.md": b"# term work\n",
        "empty.txt": b"",
        "lab01/lab01.ipynb": json.dumps({"cells": [], "nbformat": 4}).encode(),
        "lab01/data/blob.bin": rng.randbytes(300_000),
        "lab02/deep/er/x.py": b"print('x')\n",
        "caf\u00e9/na\u00efve r\u00e9sum\u00e9.txt": "unicode names".encode(),
        "spaces in name/a b.csv": b"a,b\n1,2\n",
    }
    out = {}
    for i, (rel, data) in enumerate(sorted(files.items())):
        mtime_ns = (T0 + 100 * i) * 1_000_000_000 + 123_456_789
        write(home, rel, data, mtime_ns)
        out[rel] = (data, mtime_ns)
    (home / "empty folder").mkdir()
    return out


# -- pure parts --------------------------------------------------------------------------------


def test_sub_paths_that_could_leave_the_home_are_refused():
    assert split_subpath("") == [] and split_subpath("a/./b/") == ["a", "b"]
    for bad in ("..", "a/../..", "/etc", "a/\x00b"):
        with pytest.raises(ValueError):
            split_subpath(bad)


def _df(fid: str, name: str, mime: str = "text/plain", modified_ms: int = 0) -> DriveFile:
    return DriveFile(id=fid, name=name, mime_type=mime, parents=("p",), md5="0" * 32, size=1,
                     modified_ms=modified_ms, trashed=False, head_revision=None)


def test_safe_names_are_distinct_single_components_within_255_bytes():
    long_name = "n" * 300 + ".ipynb"
    kids = [
        _df("1", ".."), _df("2", "."), _df("3", "a/b"), _df("4", "../../etc/passwd"), _df("5", ""),
        _df("6", "caf\u00e9.txt", modified_ms=5), _df("7", "cafe\u0301.txt", modified_ms=1),
        _df("8", long_name), _df("9", "dup"), _df("10", "dup", mime=FOLDER_MIME),
        _df("11", "doc", mime="application/vnd.google-apps.document"), _df("12", "nul\x00x"),
        _df("13", ".x.drive-sync-part"),
    ]
    named = {n.file.id: n for n in safe_names(kids)}
    locals_ = [n.local for n in named.values() if n.local is not None]
    assert len(locals_) == len(set(locals_)) == len(kids) - 1
    for name in locals_:
        assert name not in ("", ".", "..") and "/" not in name and "\x00" not in name
        assert len(name.encode()) <= 255 and unicodedata.normalize("NFC", name) == name
    assert named["11"].local is None and "Google Docs" in named["11"].skipped
    # the already-normalised name keeps the plain name; the NFD twin is tagged and reported
    assert named["6"].local == "caf\u00e9.txt" and named["6"].renamed is None
    assert named["7"].local.startswith("caf\u00e9~") and named["7"].local.endswith(".txt")
    assert "normalisation" in named["7"].renamed
    assert named["8"].local.endswith(".ipynb") and named["8"].renamed
    assert clean_name(long_name, "8") == clean_name(long_name, "8")  # stable across runs
    assert named["13"].local != ".x.drive-sync-part"


# -- 1. push, wipe, restore --------------------------------------------------------------------


@pytest.mark.parametrize("keep_state", [False, True], ids=["new-volume", "files-deleted"])
def test_push_wipe_restore_is_byte_for_byte_and_the_next_push_is_free(home, emulator, capsys, keep_state):
    files = sample_home(home)
    push(home, emulator)

    wipe(home, keep_state=keep_state)
    if not keep_state:  # a new volume: sign in again, no state DB at all
        connect_home(emulator.url, home, EMAIL)
    assert user_files(home) == {}

    code = main(["restore", "--home", str(home), "--user", "ann", "--api-root", emulator.url, "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert code == 0, summary
    assert (summary["restored"], summary["failed"], summary["skipped"]) == (len(files), [], [])
    assert summary["bytes_downloaded"] == sum(len(d) for d, _ in files.values())

    assert user_files(home) == {rel: data for rel, (data, _) in files.items()}
    for rel, (_, mtime_ns) in files.items():
        assert os.stat(home / rel).st_mtime_ns // 1_000_000 == mtime_ns // 1_000_000, rel  # Drive keeps ms
    assert (home / "empty folder").is_dir()
    assert not list(home.rglob("*.drive-sync-part"))

    emulator.reset_stats()
    again = push(home, emulator)
    assert (again.created, again.updated, again.metadata_updated, again.folders_created) == (0, 0, 0, 0)
    assert emulator.stats()["requests"] <= 2

    # and a second restore finds everything in place without downloading
    s = restore(home, emulator)
    assert (s.unchanged, s.restored, s.replaced, s.bytes_downloaded, s.failed) == (len(files), 0, 0, 0, [])


def test_dry_run_changes_nothing_and_a_sub_path_restores_only_that(home, emulator):
    files = sample_home(home)
    push(home, emulator)
    wipe(home, keep_state=True)

    s = restore(home, emulator, dry_run=True)
    assert s.restored == len(files) and s.bytes_downloaded > 0
    assert user_files(home) == {}

    s = restore(home, emulator, path="lab01")
    assert s.restored == 2 and s.failed == []
    assert set(user_files(home)) == {"lab01/lab01.ipynb", "lab01/data/blob.bin"}
    s = restore(home, emulator, path="lab02/deep/er/x.py")
    assert s.restored == 1 and (home / "lab02/deep/er/x.py").read_bytes() == files["lab02/deep/er/x.py"][0]

    with pytest.raises(NothingToRestore):
        restore(home, emulator, path="no/such/folder")
    emulator.reset_stats()
    assert push(home, emulator).created == 0


def test_restore_and_push_share_the_home_lock(home, emulator):
    sample_home(home)
    push(home, emulator)
    lock = HomeLock(state_dir(home), kind="push")
    lock.acquire()
    try:
        with pytest.raises(AlreadyRunning):
            restore(home, emulator)
    finally:
        lock.release()


def test_a_sub_path_restore_into_a_new_volume_lets_push_adopt_the_rest(home, emulator):
    files = sample_home(home)
    push(home, emulator)
    before = {p: f["id"] for p, f in drive_tree(emulator).items()}
    wipe(home, keep_state=False)
    connect_home(emulator.url, home, EMAIL)
    for rel, (data, mtime_ns) in files.items():  # the student re-created the other files by hand
        if not rel.startswith("lab01/"):
            write(home, rel, data, mtime_ns)

    assert restore(home, emulator, path="lab01").restored == 2
    s = push(home, emulator)
    assert (s.created, s.updated) == (0, 0)
    assert {p: f["id"] for p, f in drive_tree(emulator).items()} == before


# -- 2. overwrite policies ---------------------------------------------------------------------


def _drive_edit(other: Any, file_id: str, data: bytes, mtime_s: int) -> None:
    media = MediaIoBaseUpload(io.BytesIO(data), mimetype="application/octet-stream")
    other.files().update(fileId=file_id, media_body=media,
                         body={"modifiedTime": to_rfc3339(mtime_s * 1000)}).execute()


def _conflicted_home(home: Path, emulator) -> None:
    """Drive newer for `drive_newer.txt`, local newer for `local_newer.txt`."""
    write(home, "drive_newer.txt", b"v1", (T0) * 10**9)
    write(home, "local_newer.txt", b"v1", (T0) * 10**9)
    write(home, "same.txt", b"same", (T0) * 10**9)
    write(home, "gone.txt", b"gone", (T0) * 10**9)
    push(home, emulator)
    other = service(emulator, [FULL_DRIVE])
    tree = drive_tree(emulator)
    _drive_edit(other, tree["drive_newer.txt"]["id"], b"drive edit (later)", T0 + 200)
    _drive_edit(other, tree["local_newer.txt"]["id"], b"drive edit (earlier)", T0 + 100)
    write(home, "drive_newer.txt", b"local edit (earlier)", (T0 + 100) * 10**9)
    write(home, "local_newer.txt", b"local edit (later)", (T0 + 200) * 10**9)
    (home / "gone.txt").unlink()


@pytest.mark.parametrize("overwrite,expect", [
    ("never", {"drive_newer.txt": b"local edit (earlier)", "local_newer.txt": b"local edit (later)"}),
    ("older", {"drive_newer.txt": b"drive edit (later)", "local_newer.txt": b"local edit (later)"}),
    ("always", {"drive_newer.txt": b"drive edit (later)", "local_newer.txt": b"drive edit (earlier)"}),
])
def test_overwrite_policies_on_conflicting_local_edits(home, emulator, overwrite, expect):
    _conflicted_home(home, emulator)
    s = restore(home, emulator, overwrite=Overwrite(overwrite))
    assert s.failed == []
    got = user_files(home)
    assert got == {**expect, "same.txt": b"same", "gone.txt": b"gone"}
    replaced = sum(got[p] != local for p, local in
                   (("drive_newer.txt", b"local edit (earlier)"), ("local_newer.txt", b"local edit (later)")))
    assert (s.restored, s.unchanged, s.replaced, s.skipped_existing) == (1, 1, replaced, 2 - replaced)
    if overwrite != "always":  # nothing newer than Drive's copy was lost
        assert got["local_newer.txt"] == b"local edit (later)"

    # the next push settles what the restore kept by last-write-wins, by ID, never a second copy
    ids = {p: f["id"] for p, f in drive_tree(emulator).items()}
    after = push(home, emulator)
    assert after.created == 0
    tree = drive_tree(emulator)
    assert {p: f["id"] for p, f in tree.items()} == ids
    other = service(emulator, [FULL_DRIVE])
    on_drive = {p: other.files().get_media(fileId=tree[p]["id"]).execute() for p in expect}
    assert on_drive["drive_newer.txt"] == b"drive edit (later)"
    assert on_drive["local_newer.txt"] == got["local_newer.txt"]


def test_never_on_a_new_volume_with_local_edits_makes_no_duplicates(home, emulator):
    _conflicted_home(home, emulator)
    for name in os.listdir(state_dir(home)):
        if name.startswith("state.sqlite3"):
            os.unlink(state_dir(home) / name)
    s = restore(home, emulator)
    assert (s.skipped_existing, s.restored) == (2, 1)
    assert user_files(home)["local_newer.txt"] == b"local edit (later)"
    assert push(home, emulator).created == 0
    assert len(drive_tree(emulator)) == 4  # the files, nothing else (no .local chain either)


# -- 3. killed midway --------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_restore_killed_midway_never_leaves_a_partial_file_and_a_rerun_completes(home, emulator, seed):
    rng = random.Random(seed)
    files = {f"d{i % 4}/f{i:02d}.bin": rng.randbytes(rng.choice([0, 10, 5000, 200_000, 600_000]))
             for i in range(40)}
    for rel, data in files.items():
        write(home, rel, data, (T0 + rng.randrange(10**6)) * 10**9)
    push(home, emulator)
    wipe(home, keep_state=True)
    emulator.settings(latency_ms=60)

    wrong: list[str] = []

    def check_every_file_is_absent_or_whole() -> None:
        for rel, data in files.items():
            try:
                got = (home / rel).read_bytes()
            except FileNotFoundError:
                continue
            if got != data:
                wrong.append(rel)

    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter_drive_sync", "restore", "--home", str(home), "--user", "ann",
         "--api-root", emulator.url, "--workers", "3", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            check_every_file_is_absent_or_whole()
            time.sleep(0.005)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        deadline = time.monotonic() + 60
        while not any((home / rel).exists() for rel in files) and proc.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.3))  # a seeded moment while files are landing
        killed_midway = proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    finally:
        stop.set()
        watcher.join()
    assert killed_midway, "the restore finished before it could be killed: make it slower"
    check_every_file_is_absent_or_whole()
    assert wrong == []
    present = [rel for rel in files if (home / rel).exists()]
    assert 0 < len(present) < len(files)

    emulator.settings(latency_ms=0)
    s = restore(home, emulator)
    assert s.failed == [] and s.unchanged == len(present) and s.restored == len(files) - len(present)
    assert user_files(home) == files
    assert not list(home.rglob("*.drive-sync-part"))
    emulator.reset_stats()
    again = push(home, emulator)
    assert (again.created, again.updated) == (0, 0) and emulator.stats()["requests"] <= 2


# -- 4. hostile names ----------------------------------------------------------------------------


def _create(svc: Any, name: str, parent: str, data: bytes | None = None, mime: str | None = None) -> str:
    body: dict[str, Any] = {"name": name, "parents": [parent]}
    if mime:
        body["mimeType"] = mime
    if data is None:
        return svc.files().create(body=body, fields="id").execute()["id"]
    media = MediaIoBaseUpload(io.BytesIO(data), mimetype="application/octet-stream")
    return svc.files().create(body=body, media_body=media, fields="id").execute()["id"]


def _snapshot(root: Path) -> dict[str, bytes | str]:
    """Every path under `root` (links not followed) with its content or kind."""
    out: dict[str, bytes | str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            out[rel] = "link" if p.is_symlink() else ("dir" if p.is_dir() else p.read_bytes())
    return out


def test_hostile_names_from_drive_never_write_outside_the_home(home, emulator, tmp_path):
    write(home, "ok.txt", b"fine", T0 * 10**9)
    root_id = push(home, emulator).root_folder_id
    outside = tmp_path / "outside"
    (outside / "target").mkdir(parents=True)
    (outside / "secret.txt").write_bytes(b"outside, untouched")
    os.symlink(outside / "target", home / "linkdir")
    os.symlink(outside / "secret.txt", home / "linkfile")
    creds_before = (home / STATE_REL / "credentials.json").read_bytes()
    around = {p.name for p in tmp_path.iterdir()}
    outside_before = _snapshot(outside)

    svc = service(emulator)  # the app's own client: the restore sees what it creates
    long_name = "\u00e9" * 150 + ".ipynb"  # 300 bytes + extension
    hostile = {
        "..": b"dotdot", ".": b"dot", "a/b": b"slash", "../../escape.txt": b"escape",
        "caf\u00e9.txt": b"nfc", "cafe\u0301.txt": b"nfd", long_name: b"long",
        "dup.txt": b"first", "nul\x00.txt": b"nul",
    }
    ids = {name: _create(svc, name, root_id, data) for name, data in hostile.items()}
    ids["dup.txt (2)"] = _create(svc, "dup.txt", root_id, b"second")
    up = _create(svc, "..", root_id, mime=FOLDER_MIME)
    _create(svc, "x.txt", up, b"in a folder called ..")
    link_folder = _create(svc, "linkdir", root_id, mime=FOLDER_MIME)
    _create(svc, "planted.txt", link_folder, b"through the link")
    _create(svc, "linkfile", root_id, b"over the link")
    _create(svc, "Notes", root_id, mime="application/vnd.google-apps.document")
    # our own state folder and credentials, planted on Drive: never restored
    parent = root_id
    for part in STATE_REL.split("/"):
        found = [f for f in emulator.files(EMAIL) if f["name"] == part and parent in (f.get("parents") or [])]
        parent = found[0]["id"] if found else _create(svc, part, parent, mime=FOLDER_MIME)
    _create(svc, "credentials.json", parent, b'{"token": "planted"}')
    _create(svc, ".ssh", root_id, mime=FOLDER_MIME)

    s = restore(home, emulator, overwrite=Overwrite.ALWAYS)
    assert s.failed == [], s.failed

    # nothing outside the home changed, nothing appeared beside it
    assert _snapshot(outside) == outside_before
    assert {p.name for p in tmp_path.iterdir()} == around
    assert (home / STATE_REL / "credentials.json").read_bytes() == creds_before
    assert (home / "linkdir").is_symlink() and (home / "linkfile").is_symlink()
    for dirpath, dirnames, filenames in os.walk(home):
        for name in dirnames + filenames:
            assert len(name.encode()) <= 255
            p = Path(dirpath) / name
            if not p.is_symlink():
                assert os.path.realpath(p).startswith(os.path.realpath(home) + os.sep)

    # every hostile item is either restored under a safe name (reported when renamed) or reported
    got = user_files(home)
    where: dict[bytes, list[str]] = {}
    for path, data in got.items():
        where.setdefault(data, []).append(path)
    for name, data in hostile.items():
        assert len(where.get(data, [])) == 1, (name, where.get(data))
    assert len(where[b"second"]) == 1 and where[b"second"] != where[b"first"]
    renamed = {r["path"]: r for r in s.renamed}
    for path, data in got.items():
        if path in ("ok.txt", "caf\u00e9.txt") or data in (b"first", b"second") or "/" in path:
            continue
        assert path in renamed and renamed[path]["reason"], path  # every other name had to change
    assert where[b"slash"] == ["a_b"] and where[b"escape"] == [".._.._escape.txt"]
    assert where[b"nfc"] == ["caf\u00e9.txt"]
    assert where[b"nfd"][0].startswith("caf\u00e9~") and "normalisation" in renamed[where[b"nfd"][0]]["reason"]
    assert where[b"long"][0].endswith(".ipynb") and len(where[b"long"][0].encode()) <= 255
    assert where[b"dot"] == ["_."] and where[b"nul"] == ["nul_.txt"]
    (inside,) = where[b"in a folder called .."]
    assert inside.startswith("_..") and inside.endswith("/x.txt")
    skipped = {k["path"]: k["reason"] for k in s.skipped}
    assert "symbolic link" in skipped["linkdir"] and "symbolic link" in skipped["linkfile"]
    assert b"through the link" not in where and b"over the link" not in where
    assert "Google Docs" in skipped["Notes"]
    assert any(p.startswith(".local") and "never restored" in r for p, r in skipped.items())
    assert "never restored" in skipped[".ssh"]

    # and the next push adds nothing to Drive: every restored name is linked to its Drive ID
    count = len(emulator.files(EMAIL))
    after = push(home, emulator)
    assert after.created == 0 and len(emulator.files(EMAIL)) == count


def test_leftover_temp_files_are_never_pushed_and_a_restore_removes_them(home, emulator):
    write(home, "d/a.txt", b"alpha", T0 * 10**9)
    push(home, emulator)
    write(home, "d/.a.txt.drive-sync-part", b"half of alph")  # what a killed restore leaves
    write(home, ".b.drive-sync-part", b"half")
    s = push(home, emulator)
    assert s.created == 0 and not any("drive-sync-part" in p for p in drive_tree(emulator))

    s = restore(home, emulator)
    assert s.unchanged == 1 and s.failed == []
    assert not list(home.rglob("*.drive-sync-part"))
    assert (home / "d/a.txt").read_bytes() == b"alpha"
