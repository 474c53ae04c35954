"""Every row of the last-write-wins table, end to end against the emulator.

Drive-side edits are made the way another client would make them: a second token for the same
account with the full `drive` scope, driving the real googleapiclient over HTTP. The push side
is the real engine (`run_push`) with the drive.file token stored by `connect_home`.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import Any

import pytest
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build_from_document
from googleapiclient.http import MediaIoBaseUpload

from jupyter_drive_sync.drive.transport import discovery_document
from jupyter_drive_sync.drive.types import from_rfc3339, to_rfc3339
from jupyter_drive_sync.core.model import FOLDER_MIME, DeletePolicy, Policy
from jupyter_drive_sync.core.options import PushOptions
from jupyter_drive_sync.engine.push import run_push

from tests.support import helpers
from tests.support.helpers import write

EMAIL = "lww@uni.edu"
FULL_DRIVE = "https://www.googleapis.com/auth/drive"
T0 = 1_700_000_000  # seconds; every test writes explicit mtimes so "later" is unambiguous


@pytest.fixture
def home(connected_home) -> Path:
    return connected_home("lee", EMAIL)


@pytest.fixture
def other(emulator) -> Any:
    """Another client of the same account (full `drive` scope): edits, trashes, deletes on Drive."""
    acct = emulator.create_account(EMAIL, scopes=[FULL_DRIVE])
    creds = Credentials(acct["access_token"], refresh_token=acct["refresh_token"],
                        token_uri=emulator.url + "token", scopes=[FULL_DRIVE], **emulator.client_ids())
    return build_from_document(discovery_document(emulator.url), credentials=creds)


def push(home: Path, emulator, **kw: Any):
    s = run_push(PushOptions(home=home, user="lee", api_root=emulator.url, workers=3, **kw))
    assert s.failed == [], s.failed
    return s


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def drive_tree(emulator) -> dict[str, dict]:
    """Relative path under home/lee → file (admin view, trashed included); fails on duplicates."""
    return helpers.drive_tree(emulator, EMAIL, "home/lee")


def content(other: Any, file_id: str) -> bytes:
    return other.files().get_media(fileId=file_id).execute()


def drive_edit(other: Any, file_id: str, data: bytes, mtime_s: float) -> None:
    media = MediaIoBaseUpload(io.BytesIO(data), mimetype="application/octet-stream")
    other.files().update(fileId=file_id, media_body=media,
                         body={"modifiedTime": to_rfc3339(int(mtime_s * 1000))}).execute()


def revisions(other: Any, file_id: str) -> list[dict]:
    res = other.revisions().list(fileId=file_id, fields="revisions(id,md5Checksum,keepForever)").execute()
    return res["revisions"]


# -- rows 1-4: first push mirrors, no-op, content change, touch --------------------------------


def test_first_push_mirrors_name_parent_chain_size_md5_and_mtime(home, emulator):
    files = {
        "README.md": b"hello\n",
        "lab1/lab1.ipynb": b'{"cells": []}',
        "lab1/data/points.csv": b"x,y\n1,2\n" * 50,
        "project/src/pkg/mod.py": os.urandom(4096),
        "empty.txt": b"",
    }
    for i, (rel, data) in enumerate(sorted(files.items())):
        # odd millisecond values: Drive must keep them exactly (modifiedTime has ms precision)
        write(home, rel, data, T0 + i * 1000 + 0.123 + i / 1000)
    s = push(home, emulator)
    assert s.created == len(files)

    tree = drive_tree(emulator)
    by_id = {f["id"]: f for f in emulator.files(EMAIL)}
    root = by_id[s.root_folder_id]
    assert root["name"] == "lee" and by_id[root["parents"][0]]["name"] == "home"
    for rel, data in files.items():
        f = tree[rel]
        st = os.stat(home / rel)
        assert f["mimeType"] != FOLDER_MIME and not f["trashed"]
        assert f["name"] == rel.rpartition("/")[2]
        assert int(f["size"]) == len(data) == st.st_size
        assert f["md5Checksum"] == md5(data)
        assert from_rfc3339(f["modifiedTime"]) == st.st_mtime_ns // 1_000_000
        # parent chain: each ancestor is the folder of the same name, up to the home's folder
        parent_rel = rel.rpartition("/")[0]
        pid = f["parents"][0]
        while parent_rel:
            folder = by_id[pid]
            assert folder["mimeType"] == FOLDER_MIME and folder["name"] == parent_rel.rpartition("/")[2]
            assert tree[parent_rel]["id"] == pid
            parent_rel = parent_rel.rpartition("/")[0]
            pid = folder["parents"][0]
        assert pid == s.root_folder_id


def test_touch_is_metadata_only_and_content_change_keeps_the_id(home, emulator):
    write(home, "a.txt", b"alpha", T0)
    write(home, "b.txt", b"beta", T0)
    push(home, emulator)
    before = drive_tree(emulator)

    os.utime(home / "a.txt", (T0 + 50, T0 + 50))  # touch only
    emulator.reset_stats()
    s = push(home, emulator)
    assert (s.metadata_updated, s.updated, s.created, s.bytes_uploaded) == (1, 0, 0, 0)
    routes = emulator.stats()["by_route"]
    assert not [r for r in routes if "/upload/" in r], routes
    after = drive_tree(emulator)
    assert after["a.txt"]["id"] == before["a.txt"]["id"]
    assert after["a.txt"]["md5Checksum"] == before["a.txt"]["md5Checksum"]
    assert from_rfc3339(after["a.txt"]["modifiedTime"]) == (T0 + 50) * 1000

    write(home, "b.txt", b"beta, second version", T0 + 100)
    s = push(home, emulator)
    assert (s.updated, s.created, s.metadata_updated) == (1, 0, 0)
    after = drive_tree(emulator)
    assert after["b.txt"]["id"] == before["b.txt"]["id"]
    assert after["b.txt"]["md5Checksum"] == md5(b"beta, second version") != before["b.txt"]["md5Checksum"]
    assert from_rfc3339(after["b.txt"]["modifiedTime"]) == (T0 + 100) * 1000


# -- row 5: unchanged locally, edited on Drive → keep the Drive copy --------------------------


def test_drive_side_edit_is_kept_when_local_is_unchanged(home, emulator, other):
    write(home, "notes.md", b"local v1", T0)
    push(home, emulator)
    fid = drive_tree(emulator)["notes.md"]["id"]
    drive_edit(other, fid, b"edited in the Drive web UI", T0 + 500)

    s = push(home, emulator)
    assert (s.kept_drive_copy, s.updated, s.created, s.conflicts) == (1, 0, 0, 0)
    assert content(other, fid) == b"edited in the Drive web UI"
    assert (home / "notes.md").read_bytes() == b"local v1"  # a push never writes the home
    # a local *touch* is not a later write either: Drive's edit still stands
    os.utime(home / "notes.md", (T0 + 900, T0 + 900))
    s = push(home, emulator)
    assert s.updated == 0 and content(other, fid) == b"edited in the Drive web UI"


# -- row 6: both changed → the later timestamp wins; Drive's revision pinned when overwritten ---


def test_newer_local_edit_overwrites_drive_edit_and_pins_its_revision(home, emulator, other):
    write(home, "essay.md", b"draft 1", T0)
    push(home, emulator)
    fid = drive_tree(emulator)["essay.md"]["id"]
    drive_edit(other, fid, b"draft 1 + comments from Drive", T0 + 100)
    drive_rev = [r for r in revisions(other, fid) if r["md5Checksum"] == md5(b"draft 1 + comments from Drive")]
    assert len(drive_rev) == 1 and not drive_rev[0]["keepForever"]

    write(home, "essay.md", b"draft 2 (local, later)", T0 + 200)
    s = push(home, emulator)
    assert (s.updated, s.conflicts, s.kept_drive_copy, s.created) == (1, 1, 0, 0)
    f = drive_tree(emulator)["essay.md"]
    assert f["id"] == fid and f["md5Checksum"] == md5(b"draft 2 (local, later)")
    assert content(other, fid) == b"draft 2 (local, later)"
    revs = {r["id"]: r for r in revisions(other, fid)}
    assert revs[drive_rev[0]["id"]]["keepForever"] is True  # nothing lost
    assert revs[drive_rev[0]["id"]]["md5Checksum"] == md5(b"draft 1 + comments from Drive")


def test_later_drive_edit_beats_an_older_local_edit(home, emulator, other):
    write(home, "essay.md", b"draft 1", T0)
    push(home, emulator)
    fid = drive_tree(emulator)["essay.md"]["id"]
    write(home, "essay.md", b"local edit, earlier", T0 + 100)
    drive_edit(other, fid, b"Drive edit, later", T0 + 300)

    s = push(home, emulator)
    assert (s.kept_drive_copy, s.conflicts, s.updated) == (1, 1, 0)
    assert content(other, fid) == b"Drive edit, later"
    assert (home / "essay.md").read_bytes() == b"local edit, earlier"


def test_after_drive_wins_a_conflict_it_is_not_reported_again_and_a_later_local_edit_pins_it(home, emulator, other):
    """Found by the lifecycle model (move_after_adoption_kept_drive): once Drive's later copy won,
    the local file is the one the row knows — the next push reports no conflict again — but its
    content was never merged, so a later local edit still keeps Drive's version forever first."""
    write(home, "essay.md", b"draft 1", T0)
    push(home, emulator)
    fid = drive_tree(emulator)["essay.md"]["id"]
    write(home, "essay.md", b"local edit, earlier", T0 + 100)
    drive_edit(other, fid, b"Drive edit, later", T0 + 300)
    assert push(home, emulator).conflicts == 1

    again = push(home, emulator)
    assert (again.conflicts, again.updated, again.created) == (0, 0, 0)
    write(home, "essay.md", b"local edit, latest", T0 + 600)
    s = push(home, emulator)
    assert (s.updated, s.conflicts) == (1, 1)
    assert content(other, fid) == b"local edit, latest"
    assert any(r["md5Checksum"] == md5(b"Drive edit, later") and r.get("keepForever") for r in revisions(other, fid))


# -- row 7: trashed or deleted on Drive → respected; a later local change recreates it ---------


def test_drive_side_trash_is_respected_then_a_local_change_untrashes(home, emulator, other):
    write(home, "old.txt", b"v1", T0)
    write(home, "keep.txt", b"k", T0)
    push(home, emulator)
    fid = drive_tree(emulator)["old.txt"]["id"]
    other.files().update(fileId=fid, body={"trashed": True}).execute()

    s = push(home, emulator)
    assert (s.kept_drive_copy, s.updated, s.metadata_updated, s.created) == (1, 0, 0, 0)
    assert drive_tree(emulator)["old.txt"]["trashed"] is True
    assert (home / "old.txt").read_bytes() == b"v1"
    s = push(home, emulator)  # still respected on the next run, still no upload
    assert s.updated == s.created == 0 and drive_tree(emulator)["old.txt"]["trashed"] is True

    write(home, "old.txt", b"v2, written after the trash", T0 + 1000)
    s = push(home, emulator)
    assert (s.updated, s.created) == (1, 0)
    f = drive_tree(emulator)["old.txt"]
    assert f["id"] == fid and f["trashed"] is False
    assert f["md5Checksum"] == md5(b"v2, written after the trash")


def test_drive_side_delete_is_respected_then_a_local_change_recreates(home, emulator, other):
    write(home, "d/gone.txt", b"v1", T0)
    push(home, emulator)
    fid = drive_tree(emulator)["d/gone.txt"]["id"]
    other.files().delete(fileId=fid).execute()

    s = push(home, emulator)
    assert (s.kept_drive_copy, s.created, s.updated) == (1, 0, 0)
    assert "d/gone.txt" not in drive_tree(emulator)

    write(home, "d/gone.txt", b"v2", T0 + 1000)
    s = push(home, emulator)
    assert s.created == 1
    f = drive_tree(emulator)["d/gone.txt"]
    assert f["id"] != fid and f["md5Checksum"] == md5(b"v2") and not f["trashed"]
    assert push(home, emulator).created == 0  # and it stays one file


def test_drive_side_trashed_folder_is_respected_then_revived_for_new_content(home, emulator, other):
    write(home, "proj/a.py", b"a", T0)
    push(home, emulator)
    tree = drive_tree(emulator)
    other.files().update(fileId=tree["proj"]["id"], body={"trashed": True}).execute()
    s = push(home, emulator)
    assert s.created == s.updated == s.metadata_updated == 0
    assert drive_tree(emulator)["proj"]["trashed"] is True

    write(home, "proj/b.py", b"b", T0 + 1000)
    s = push(home, emulator)
    assert s.created == 1
    after = drive_tree(emulator)
    assert after["proj"]["id"] == tree["proj"]["id"] and after["proj"]["trashed"] is False
    assert after["proj/b.py"]["parents"] == [tree["proj"]["id"]]


# -- row 8: deleted locally → keep (default) or trash ------------------------------------------


def test_local_deletion_under_keep_leaves_the_drive_copy(home, emulator):
    write(home, "tmp/scratch.txt", b"scratch", T0)
    write(home, "stay.txt", b"stay", T0)
    push(home, emulator)
    fid = drive_tree(emulator)["tmp/scratch.txt"]["id"]
    (home / "tmp/scratch.txt").unlink()

    s = push(home, emulator, delete_policy=DeletePolicy.KEEP)
    assert (s.trashed, s.created, s.updated) == (0, 0, 0)
    f = drive_tree(emulator)["tmp/scratch.txt"]
    assert f["id"] == fid and f["trashed"] is False
    emulator.reset_stats()
    assert push(home, emulator).trashed == 0  # and later runs leave it alone too
    assert emulator.stats()["requests"] <= 2


def test_local_deletion_under_trash_moves_the_drive_copy_to_trash(home, emulator):
    write(home, "tmp/scratch.txt", b"scratch", T0)
    write(home, "stay.txt", b"stay", T0)
    push(home, emulator)
    (home / "tmp/scratch.txt").unlink()

    s = push(home, emulator, delete_policy=DeletePolicy.TRASH)
    assert (s.trashed, s.created, s.updated) == (1, 0, 0)
    tree = drive_tree(emulator)
    assert tree["tmp/scratch.txt"]["trashed"] is True
    assert tree["tmp"]["trashed"] is False and tree["stay.txt"]["trashed"] is False


# -- policy local-wins: Drive becomes a strict mirror ------------------------------------------


def test_local_wins_overwrites_untrashes_and_recreates(home, emulator, other):
    write(home, "edited.txt", b"local", T0)
    write(home, "trashed.txt", b"local t", T0)
    write(home, "deleted.txt", b"local d", T0)
    push(home, emulator)
    tree = drive_tree(emulator)
    drive_edit(other, tree["edited.txt"]["id"], b"Drive edit, later", T0 + 900)
    other.files().update(fileId=tree["trashed.txt"]["id"], body={"trashed": True}).execute()
    other.files().delete(fileId=tree["deleted.txt"]["id"]).execute()

    s = push(home, emulator, policy=Policy.LOCAL_WINS)
    assert s.kept_drive_copy == 0
    after = drive_tree(emulator)
    assert after["edited.txt"]["id"] == tree["edited.txt"]["id"]
    assert content(other, tree["edited.txt"]["id"]) == b"local"
    assert from_rfc3339(after["edited.txt"]["modifiedTime"]) == T0 * 1000
    edit_rev = [r for r in revisions(other, tree["edited.txt"]["id"]) if r["md5Checksum"] == md5(b"Drive edit, later")]
    assert edit_rev and edit_rev[0]["keepForever"] is True  # overwritten, but not lost
    assert after["trashed.txt"]["id"] == tree["trashed.txt"]["id"] and after["trashed.txt"]["trashed"] is False
    assert after["deleted.txt"]["md5Checksum"] == md5(b"local d") and not after["deleted.txt"]["trashed"]
    for rel, data in (("edited.txt", b"local"), ("trashed.txt", b"local t"), ("deleted.txt", b"local d")):
        assert content(other, after[rel]["id"]) == data

    emulator.reset_stats()
    s = push(home, emulator, policy=Policy.LOCAL_WINS)  # a mirror now: nothing left to do
    assert (s.created, s.updated, s.metadata_updated, s.unchanged) == (0, 0, 0, 3)
    assert emulator.stats()["requests"] <= 2
