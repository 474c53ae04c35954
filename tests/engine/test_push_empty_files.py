"""Empty files are created in batch requests (≤ 100 metadata-only creates each), like folders.

A 0-byte file needs no media, so its `files.create` is a metadata-only call, and those fit in a
batch: a folder of thousands of empty files (`__init__.py`, `.gitkeep`, lock files, markers)
costs one request per hundred files instead of one upload each. Against the emulator over real
HTTP: request counts from its stats, the Drive side from its admin view.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
import requests

from jupyter_drive_sync.drive.errors import DriveApiError
from jupyter_drive_sync.drive.types import NewEmptyFile, NewFolder, from_rfc3339, mime_type_for
from jupyter_drive_sync.core.model import FOLDER_MIME, StateEntry
from jupyter_drive_sync.core.options import PushOptions
from jupyter_drive_sync.engine.push import run_push
from jupyter_drive_sync.auth.session import connect
from jupyter_drive_sync.home.state_db import StateDB

from tests.support import helpers

EMAIL = "empty@uni.edu"
USER = "erin"
FOLDERS = ("a", "a/x", "b", "c", "c/y")
BASE_NS = 1_700_000_000_123_456_789  # sub-millisecond digits too: Drive keeps milliseconds
EMPTY_MD5 = hashlib.md5(b"").hexdigest()
EXTENSIONS = (".py", ".txt", ".ipynb", "", ".csv")


@pytest.fixture
def home(connected_home) -> Path:
    return connected_home(USER, EMAIL)


def options(home: Path, emulator, **kw) -> PushOptions:
    return PushOptions(home=home, user=USER, api_root=emulator.url, **kw)


def make_empty(home: Path, rel: str, mtime_ns: int) -> None:
    p = home / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(b"")
    os.utime(p, ns=(mtime_ns, mtime_ns))


def fill_empty(home: Path, n: int, tag: str = "e") -> dict[str, int]:
    """`n` empty files spread over FOLDERS, each with its own mtime: path → mtime_ns."""
    out = {}
    for i in range(n):
        rel = f"{FOLDERS[i % len(FOLDERS)]}/{tag}{i:04d}{EXTENSIONS[i % len(EXTENSIONS)]}"
        out[rel] = BASE_NS + i * 1_001_000_007
        make_empty(home, rel, out[rel])
    return out


def drive_files(emulator) -> dict[str, dict]:
    """Home-relative path → Drive file (not folders); fails on any duplicate path."""
    tree = helpers.drive_tree(emulator, EMAIL, f"home/{USER}")
    return {p: f for p, f in tree.items() if f["mimeType"] != FOLDER_MIME}


def assert_empty_on_drive(emulator, want: dict[str, int]) -> None:
    """Every path once, 0 bytes, not trashed, with the local mtime (to the ms) as modifiedTime."""
    files = drive_files(emulator)
    assert set(files) >= set(want)
    for rel, mtime_ns in want.items():
        f = files[rel]
        assert (f["size"], f["md5Checksum"], f["trashed"]) == ("0", EMPTY_MD5, False), rel
        assert from_rfc3339(f["modifiedTime"]) == mtime_ns // 1_000_000, rel


def uploads(stats: dict) -> int:
    return sum(n for route, n in stats["by_route"].items() if " /upload/" in route)


# -- the push ------------------------------------------------------------------------------------


def test_1000_empty_files_take_a_request_per_hundred(home, emulator):
    want = fill_empty(home, 1000)
    helpers.write(home, "a/notes.txt", b"not empty\n")  # uploaded the normal way, beside them
    emulator.reset_stats()
    s = run_push(options(home, emulator))
    stats = emulator.stats()
    assert s.failed == [] and s.created == 1001 and s.folders_created == len(FOLDERS)
    assert s.bytes_uploaded == len(b"not empty\n")
    print(f"1000 empty files in {len(FOLDERS)} folders: {stats['requests']} requests {stats['by_route']}")
    assert stats["requests"] <= 1000 // 100 + len(FOLDERS) // 50 + 10 + 1  # + notes.txt's upload
    assert uploads(stats) == 1  # notes.txt only
    assert stats["by_route"]["POST /batch/drive/v3"] >= 10  # ≤ 100 per batch
    assert_empty_on_drive(emulator, want)

    # the same MIME type an upload of the file would carry
    files = drive_files(emulator)
    for rel in list(want)[:len(EXTENSIONS)]:
        assert files[rel]["mimeType"] == mime_type_for(home / rel)

    # recorded as synced: nothing left to do
    emulator.reset_stats()
    s = run_push(options(home, emulator))
    assert (s.created, s.updated, s.metadata_updated, s.unchanged) == (0, 0, 0, 1001)
    assert emulator.stats()["requests"] <= 2


def test_empty_and_uploaded_files_of_a_type_get_the_same_mime_type(home, emulator):
    for ext in (".txt", ".py", ".json", ".weird-ext", ""):
        make_empty(home, f"empty{ext}", BASE_NS)
        helpers.write(home, f"full{ext}", b"content\n")
    s = run_push(options(home, emulator))
    assert s.failed == [] and s.created == 10
    files = drive_files(emulator)
    for ext in (".txt", ".py", ".json", ".weird-ext", ""):
        assert files[f"empty{ext}"]["mimeType"] == files[f"full{ext}"]["mimeType"] == mime_type_for(f"x{ext}")


@pytest.mark.timeout(300)  # whole-batch retries back off at random: bound the worst case
@pytest.mark.parametrize("seed", [5, 6])
def test_lost_after_commit_never_duplicates_empty_files(home, emulator, seed):
    want = fill_empty(home, 600)
    emulator.set_faults(0.3, kinds=["lost-after-commit"], seed=seed)
    injected, stats = helpers.push_under_faults(emulator, options(home, emulator, workers=4))
    assert injected.get("lost-after-commit", 0) >= 3
    assert stats["by_route"]["POST /batch/drive/v3"] > 600 // 100 + 1  # batches were sent again

    s = run_push(options(home, emulator))
    assert s.failed == []
    assert set(drive_files(emulator)) == set(want)  # exactly once each (drive_tree checks)
    assert_empty_on_drive(emulator, want)
    emulator.reset_stats()
    s = run_push(options(home, emulator))
    assert (s.created, s.updated, s.metadata_updated, s.failed) == (0, 0, 0, [])
    assert emulator.stats()["requests"] <= 2


def test_files_changed_between_scan_and_batch(home, emulator):
    """Re-stat before batching: a file that is no longer empty is uploaded (the normal way),
    one that vanished is reported, one replaced by a symlink is not followed."""
    want = fill_empty(home, 30)
    outside = home.parent / "outside-secret"
    outside.write_bytes(b"must never reach Drive\n")
    grown, gone, linked = "a/e0000.py", "b/e0002.ipynb", "c/e0003"

    def meddle(ev) -> None:
        if ev.phase == "planning":  # after the scan, before any create
            (home / grown).write_bytes(b"print('hello')\n")
            (home / gone).unlink()
            (home / linked).unlink()
            (home / linked).symlink_to(outside)

    s = run_push(options(home, emulator), meddle)
    assert s.failed == []
    skipped = {d["path"]: d["reason"] for d in s.skipped}
    assert "disappeared" in skipped[gone]
    assert "symbolic link" in skipped[linked]
    files = drive_files(emulator)
    assert gone not in files and linked not in files
    assert files[grown]["md5Checksum"] == hashlib.md5(b"print('hello')\n").hexdigest()
    assert files[grown]["size"] == str(len(b"print('hello')\n"))
    assert_empty_on_drive(emulator, {p: m for p, m in want.items() if p not in (grown, gone, linked)})

    # converges: the grown file's new version is on Drive; then nothing is left to do
    run_push(options(home, emulator))
    emulator.reset_stats()
    s = run_push(options(home, emulator))
    assert (s.created, s.updated, s.metadata_updated) == (0, 0, 0)
    assert emulator.stats()["requests"] <= 2
    assert drive_files(emulator)[grown]["md5Checksum"] == hashlib.md5(b"print('hello')\n").hexdigest()


def test_pending_recreates_settle_what_an_earlier_attempt_left(home, emulator):
    """Pending rows (ID recorded, create not confirmed) of files that are empty now. An earlier
    attempt may have created the ID, too late for the feed to show it (409 → get): as wanted (accepted), with an older non-empty
    version (emptied), or empty with another time and trashed (time set, untrashed)."""
    helpers.write(home, "keep.txt", b"first push\n")
    assert run_push(options(home, emulator)).failed == []
    db = StateDB.for_home(home)
    root = db.root_folder_id
    client = connect(home, None, None, emulator.url)
    try:
        same, older, trashed, never = client.generate_ids(4)
        mt = {"same.txt": BASE_NS, "older.txt": BASE_NS + 7_000_000_000, "trashed.txt": BASE_NS + 9_000_000_000,
              "never.txt": BASE_NS + 11_000_000_000}
        ids = {"same.txt": same, "older.txt": older, "trashed.txt": trashed, "never.txt": never}
        # what the earlier attempts got onto Drive before their answers were lost
        earlier = home.parent / "earlier"
        earlier.mkdir()
        for rel, fid, data, ms in (("same.txt", same, b"", mt["same.txt"] // 1_000_000),
                                   ("older.txt", older, b"an older, longer version\n", 1_600_000_000_000),
                                   ("trashed.txt", trashed, b"", 1_500_000_000_000)):
            (earlier / rel).write_bytes(data)
            client.create_file(file_id=fid, name=rel, parent_id=root, local_path=earlier / rel, size=len(data),
                               modified_ms=ms)
        client.update_metadata(trashed, trashed=True)
        # those creates reached Drive after the next push read the changes feed (requests still
        # in flight when the earlier run died); creates the feed shows are confirmed from it
        # instead (engine/confirmed_creates.py, tests/engine/test_confirmed_creates.py)
        db.page_token = client.start_page_token()
    finally:
        client.close()
    for rel, ns in mt.items():
        make_empty(home, rel, ns)
    db.record_pending(StateEntry(path=rel, drive_id=ids[rel], is_dir=False, local_size=0, local_mtime_ns=mt[rel])
                      for rel in mt)
    db.close()

    emulator.reset_stats()
    s = run_push(options(home, emulator))
    stats = emulator.stats()
    assert s.failed == [] and s.created == 4
    # one batch of creates, one batch of gets for the three 409s, one upload (older.txt's empty
    # content) and one metadata update (trashed.txt), plus the changes feed
    assert stats["by_route"]["POST /batch/drive/v3"] == 2
    assert uploads(stats) == 1
    assert_empty_on_drive(emulator, mt)
    files = drive_files(emulator)
    assert {rel: files[rel]["id"] for rel in mt} == ids  # the recorded IDs, no second copies
    emulator.reset_stats()
    s = run_push(options(home, emulator))
    assert (s.created, s.updated, s.metadata_updated, s.failed) == (0, 0, 0, [])
    assert emulator.stats()["requests"] <= 2


def test_a_part_that_fails_is_reported_for_that_file_only(home, emulator):
    """The Drive folder of some empty files is deleted on Drive between planning and the
    batch: those parts fail (404) and are reported per file; the others are created."""
    fill_empty(home, 4)  # the folders exist locally and on Drive after this push
    assert run_push(options(home, emulator)).failed == []
    db = StateDB.for_home(home)
    b_id = db.get("b").drive_id
    db.close()
    for i in range(10):
        make_empty(home, f"b/late{i}.txt", BASE_NS)
        make_empty(home, f"a/late{i}.txt", BASE_NS)

    token = connect(home, None, None, emulator.url).credentials.token
    done = []

    def delete_b(ev) -> None:
        if ev.phase == "uploading" and not done:  # planned already: the push still counts on "b"
            done.append(1)
            r = requests.delete(f"{emulator.url}drive/v3/files/{b_id}", headers={"Authorization": f"Bearer {token}"},
                                timeout=30)
            assert r.status_code == 204

    s = run_push(options(home, emulator), delete_b)
    failed = {d["path"] for d in s.failed}
    assert failed == {f"b/late{i}.txt" for i in range(10)}
    assert s.created == 10
    assert {f"a/late{i}.txt" for i in range(10)} <= set(drive_files(emulator))


# -- the client ----------------------------------------------------------------------------------


def test_client_batches_creates_and_the_gets_that_settle_409s(home, emulator):
    client = connect(home, None, None, emulator.url)
    try:
        root = client.generate_ids(1)[0]
        client.create_folders([NewFolder(root, "t", "root", BASE_NS // 1_000_000)])
        ids = client.generate_ids(250)
        items = [NewEmptyFile(fid, f"f{i}.txt", root, 1_700_000_000_000 + i, "text/plain") for i, fid in enumerate(ids)]
        bad = NewEmptyFile(client.generate_ids(1)[0], "orphan.txt", "noSuchFolder000000000000000000000", 1, "text/plain")
        emulator.reset_stats()
        res = client.create_empty_files(items + [bad])
        assert emulator.stats()["requests"] == 3  # 251 parts: 100 + 100 + 51
        assert isinstance(res[bad.id], DriveApiError) and res[bad.id].status == 404
        for f in items:
            got = res[f.id]
            assert (got.id, got.name, got.parent_id, got.size, got.md5, got.modified_ms, got.mime_type) == \
                (f.id, f.name, root, 0, EMPTY_MD5, f.modified_ms, "text/plain")

        # all again, as after lost answers: 409 fileIdInUse for each, settled by batched gets
        emulator.reset_stats()
        again = client.create_empty_files(items)
        assert emulator.stats()["requests"] == 6
        assert {k: (v.name, v.size) for k, v in again.items()} == {f.id: (f.name, 0) for f in items}
    finally:
        client.close()
    names = [f["name"] for f in emulator.files(EMAIL) if f["parents"] == [root]]
    assert sorted(names) == sorted(f.name for f in items)


def test_push_state_rows_of_batched_files_are_synced(home, emulator):
    want = fill_empty(home, 120)
    assert run_push(options(home, emulator)).failed == []
    db = StateDB.for_home(home)
    try:
        rows = db.load()
    finally:
        db.close()
    for rel, ns in want.items():
        r = rows[rel]
        assert (r.status.value, r.local_size, r.local_mtime_ns, r.md5, r.drive_md5) == ("synced", 0, ns, EMPTY_MD5,
                                                                                      EMPTY_MD5)
        assert r.drive_modified_ms == ns // 1_000_000
