"""The student reorganises the backup on Drive (the web UI: another client, full scope).

The rules (docs/RELIABILITY.md, "Drive-side reorganisation"): the backup folder always ends up
holding the home under the home's names, and whatever the student took out of it is theirs and
never touched again.

- a backed-up file or folder moved out of the backup folder: the moved item is left alone for
  good, the backup gets a fresh copy at the home path;
- renamed, or moved to another folder of the backup: put back at its home path by ID (one
  metadata update, no bytes), so no path ever holds two live items;
- trashed or deleted for good: respected and reported (tests/engine/test_push_lww.py);
- the backup folder itself renamed, moved (even out of `home/`) or trashed: still found by ID.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import pytest
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build_from_document
from googleapiclient.http import MediaIoBaseUpload

from jupyter_drive_sync.core.model import FOLDER_MIME, DeletePolicy
from jupyter_drive_sync.core.options import PushOptions
from jupyter_drive_sync.drive.transport import discovery_document
from jupyter_drive_sync.drive.types import from_rfc3339, to_rfc3339
from jupyter_drive_sync.engine.push import run_push

from tests.support import helpers
from tests.support.helpers import write

EMAIL = "reorg@uni.edu"
USER = "rio"
FOLDER = f"home/{USER}"
FULL_DRIVE = "https://www.googleapis.com/auth/drive"
T0 = 1_700_000_000


@pytest.fixture
def home(connected_home) -> Path:
    return connected_home(USER, EMAIL)


@pytest.fixture
def web(emulator) -> Any:
    """The student in Drive's web UI: same account, full `drive` scope, another client."""
    acct = emulator.create_account(EMAIL, scopes=[FULL_DRIVE])
    creds = Credentials(acct["access_token"], refresh_token=acct["refresh_token"],
                        token_uri=emulator.url + "token", scopes=[FULL_DRIVE], **emulator.client_ids())
    return build_from_document(discovery_document(emulator.url), credentials=creds)


def push(home: Path, **kw: Any):
    s = run_push(PushOptions(home=home, user=USER, api_root=kw.pop("api_root"), workers=2, **kw))
    assert s.failed == [], s.failed
    return s


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def everything(emulator) -> dict[str, list[dict]]:
    """Every item of the account by full Drive path (trashed too), duplicates kept."""
    return helpers.drive_paths(emulator.files(EMAIL))


def backup(emulator) -> dict[str, dict]:
    """Live items under the backup folder by home path; fails if a path holds two."""
    return helpers.drive_tree(emulator, EMAIL, FOLDER, trashed=False)


def by_id(emulator, file_id: str) -> dict:
    return next(f for f in emulator.files(EMAIL) if f["id"] == file_id)


def move(web: Any, file_id: str, to: str, name: str | None = None) -> None:
    old = web.files().get(fileId=file_id, fields="parents").execute()["parents"][0]
    web.files().update(fileId=file_id, addParents=to, removeParents=old,
                       body={"name": name} if name else {}).execute()


def assert_backup_is_home(emulator, home: Path) -> None:
    tree = backup(emulator)
    local = {str(p.relative_to(home)): p for p in home.rglob("*") if ".local" not in p.parts}
    assert set(tree) == set(local), (sorted(tree), sorted(local))
    for rel, p in local.items():
        if p.is_dir():
            assert tree[rel]["mimeType"] == FOLDER_MIME
        else:
            assert tree[rel]["md5Checksum"] == md5(p.read_bytes()), rel


@pytest.fixture
def pushed(home, emulator) -> dict[str, dict]:
    write(home, "notes.md", b"notes", T0)
    write(home, "lab/a.py", b"print('a')", T0)
    write(home, "lab/data/x.csv", b"1,2\n", T0)
    write(home, "essays/b.md", b"essay b", T0)
    push(home, api_root=emulator.url)
    return backup(emulator)


# -- moved out of the backup folder -------------------------------------------------------------


def test_file_moved_out_of_backup_on_drive_gets_a_fresh_copy_and_the_moved_one_is_left_alone(
        home, emulator, web, pushed):
    moved_id = pushed["lab/a.py"]["id"]
    move(web, moved_id, "root")
    moved_before = by_id(emulator, moved_id)

    s = push(home, api_root=emulator.url)
    assert (s.created, s.updated, s.trashed) == (1, 0, 0)
    tree = backup(emulator)
    assert tree["lab/a.py"]["id"] != moved_id and tree["lab/a.py"]["parents"] == [pushed["lab"]["id"]]
    assert_backup_is_home(emulator, home)
    assert by_id(emulator, moved_id) == moved_before  # the student's copy: untouched

    write(home, "lab/a.py", b"print('a, second version')", T0 + 100)
    s = push(home, api_root=emulator.url)
    assert (s.updated, s.created) == (1, 0)
    assert backup(emulator)["lab/a.py"]["md5Checksum"] == md5(b"print('a, second version')")
    assert by_id(emulator, moved_id) == moved_before  # never updated by us

    (home / "lab/a.py").unlink()
    s = push(home, api_root=emulator.url, delete_policy=DeletePolicy.TRASH)
    assert s.trashed == 1
    assert by_id(emulator, moved_id) == moved_before  # never trashed by us either
    assert [f["id"] for f in everything(emulator)["a.py"]] == [moved_id]


def test_folder_moved_out_of_backup_on_drive_gets_fresh_copies_and_the_moved_one_is_left_alone(
        home, emulator, web, pushed):
    lab_id = pushed["lab"]["id"]
    move(web, lab_id, "root", name="lab (mine)")
    before = {f["id"]: f for f in emulator.files(EMAIL)}

    s = push(home, api_root=emulator.url)
    assert (s.folders_created, s.created, s.updated) == (2, 2, 0)
    assert_backup_is_home(emulator, home)
    assert backup(emulator)["lab"]["id"] != lab_id
    after = {f["id"]: f for f in emulator.files(EMAIL)}
    for fid in (lab_id, pushed["lab/a.py"]["id"], pushed["lab/data"]["id"], pushed["lab/data/x.csv"]["id"]):
        assert after[fid] == before[fid]
    assert sorted(p for p in everything(emulator) if p.startswith("lab (mine)")) == [
        "lab (mine)", "lab (mine)/a.py", "lab (mine)/data", "lab (mine)/data/x.csv"]
    assert push(home, api_root=emulator.url).created == 0


def test_file_filed_into_a_subfolder_then_its_folder_moved_out_goes_with_it(home, emulator, web, pushed):
    """notes.md filed into lab/data, then lab moved out of the backup: notes.md left with the
    folder the student took (not pulled back out of it), and the backup gets fresh copies."""
    notes_id, lab_id = pushed["notes.md"]["id"], pushed["lab"]["id"]
    move(web, notes_id, pushed["lab/data"]["id"])
    move(web, lab_id, "root")
    before = by_id(emulator, notes_id)
    s = push(home, api_root=emulator.url)
    assert (s.created, s.folders_created, s.metadata_updated) == (3, 2, 0)
    assert_backup_is_home(emulator, home)
    assert by_id(emulator, notes_id) == before
    assert [f["id"] for f in everything(emulator)["lab/data/notes.md"]] == [notes_id]


def test_file_moved_into_a_folder_the_student_made_in_the_backup_is_theirs(home, emulator, web, pushed):
    """A folder of the student's own inside the backup folder is not part of the home: what
    they file into it is treated as moved out."""
    mine = web.files().create(body={"name": "archive", "mimeType": FOLDER_MIME,
                                    "parents": [pushed["lab"]["parents"][0]]}).execute()["id"]
    moved_id = pushed["notes.md"]["id"]
    move(web, moved_id, mine)
    s = push(home, api_root=emulator.url)
    assert s.created == 1
    assert backup(emulator)["notes.md"]["id"] != moved_id
    assert [f["id"] for f in everything(emulator)[f"{FOLDER}/archive/notes.md"]] == [moved_id]


def test_dry_run_shows_the_fresh_copy_of_a_moved_out_file_and_writes_nothing(home, emulator, web, pushed):
    move(web, pushed["notes.md"]["id"], "root")
    before = emulator.files(EMAIL)
    s = push(home, api_root=emulator.url, dry_run=True)
    assert s.created == 1
    assert emulator.files(EMAIL) == before
    assert push(home, api_root=emulator.url).created == 1


# -- renamed or moved inside the backup folder -----------------------------------------------------


def test_file_renamed_on_drive_inside_backup_is_renamed_back_by_id(home, emulator, web, pushed):
    fid = pushed["notes.md"]["id"]
    web.files().update(fileId=fid, body={"name": "notes (old).md"}).execute()

    emulator.reset_stats()
    s = push(home, api_root=emulator.url)
    assert (s.created, s.updated, s.bytes_uploaded, s.metadata_updated) == (0, 0, 0, 1)
    assert not [r for r in emulator.stats()["by_route"] if "/upload/" in r]
    f = backup(emulator)["notes.md"]
    assert f["id"] == fid and f["md5Checksum"] == md5(b"notes")
    # the rename moved Drive's modifiedTime; putting it back restores ours, so nothing looks edited
    assert from_rfc3339(f["modifiedTime"]) == T0 * 1000
    assert_backup_is_home(emulator, home)
    emulator.reset_stats()
    s = push(home, api_root=emulator.url)
    assert (s.kept_drive_copy, s.metadata_updated, s.created) == (0, 0, 0)
    assert emulator.stats()["requests"] <= 2
    write(home, "notes.md", b"notes, edited after", T0 + 50)  # earlier than the rename: still wins
    s = push(home, api_root=emulator.url)
    assert (s.updated, s.conflicts, s.kept_drive_copy) == (1, 0, 0)


def test_file_moved_between_backup_folders_on_drive_is_moved_back_without_two_items_at_one_path(
        home, emulator, web, pushed):
    write(home, "essays/a.py", b"an essay called a.py", T0)
    push(home, api_root=emulator.url)
    ours = backup(emulator)
    fid = ours["lab/a.py"]["id"]
    move(web, fid, ours["essays"]["id"])  # now two live a.py in essays/
    assert len([f for f in everything(emulator)[f"{FOLDER}/essays/a.py"] if not f["trashed"]]) == 2

    emulator.reset_stats()
    s = push(home, api_root=emulator.url)
    assert (s.created, s.updated, s.bytes_uploaded) == (0, 0, 0)
    tree = backup(emulator)  # fails on two live items at one path
    assert tree["lab/a.py"]["id"] == fid and tree["essays/a.py"]["id"] == ours["essays/a.py"]["id"]
    assert_backup_is_home(emulator, home)


def test_folder_renamed_on_drive_is_renamed_back_in_one_request(home, emulator, web, pushed):
    lab_id = pushed["lab"]["id"]
    web.files().update(fileId=lab_id, body={"name": "Lab work"}).execute()
    emulator.reset_stats()
    s = push(home, api_root=emulator.url)
    assert (s.created, s.folders_created, s.updated, s.metadata_updated) == (0, 0, 0, 1)
    assert emulator.stats()["requests"] <= 3  # the feed, the put-back, (the feed's own echo)
    tree = backup(emulator)
    assert tree["lab"]["id"] == lab_id and tree["lab/data/x.csv"]["id"] == pushed["lab/data/x.csv"]["id"]
    assert_backup_is_home(emulator, home)


def test_file_renamed_and_edited_on_drive_is_put_back_with_drives_edit_kept(home, emulator, web, pushed):
    fid = pushed["essays/b.md"]["id"]
    media = MediaIoBaseUpload(io.BytesIO(b"edited in Drive"), mimetype="text/markdown")
    web.files().update(fileId=fid, media_body=media,
                       body={"name": "b-final.md", "modifiedTime": to_rfc3339((T0 + 500) * 1000)}).execute()
    s = push(home, api_root=emulator.url)
    assert (s.kept_drive_copy, s.updated, s.created) == (1, 0, 0)
    f = backup(emulator)["essays/b.md"]
    assert f["id"] == fid and f["md5Checksum"] == md5(b"edited in Drive")
    assert from_rfc3339(f["modifiedTime"]) == (T0 + 500) * 1000  # Drive's edit keeps its time


@pytest.mark.parametrize("how", ["trashed", "deleted"])
def test_file_moved_out_of_its_folder_then_the_folder_removed_on_drive_is_never_written_again(
        home, emulator, web, pushed, how):
    """The folder's trash or deletion is respected (nothing recreated for unchanged files), and
    what the student rescued from it first is not pulled back, nor updated when the home's file
    changes: that change makes a fresh copy in the (revived) folder."""
    fid = pushed["essays/b.md"]["id"]
    essays = pushed["essays"]["id"]
    move(web, fid, pushed["lab"]["id"])
    if how == "trashed":
        web.files().update(fileId=essays, body={"trashed": True}).execute()
    else:
        web.files().delete(fileId=essays).execute()
    before = by_id(emulator, fid)
    s = push(home, api_root=emulator.url)
    assert (s.created, s.folders_created, s.updated, s.metadata_updated) == (0, 0, 0, 0)
    assert by_id(emulator, fid) == before
    write(home, "essays/b.md", b"essay b, edited", T0 + 100)  # a later local change: a fresh copy
    s = push(home, api_root=emulator.url)
    assert (s.created, s.updated, s.folders_created) == (1, 0, 1 if how == "deleted" else 0)
    tree = backup(emulator)
    assert tree["essays/b.md"]["id"] != fid and tree["essays/b.md"]["md5Checksum"] == md5(b"essay b, edited")
    assert by_id(emulator, fid) == before
    assert push(home, api_root=emulator.url).created == 0


def test_leftover_of_a_local_deletion_renamed_on_drive_is_left_alone(home, emulator, web, pushed):
    """Under `keep`, Drive's copy of a file deleted locally stays; once the student renames it
    on Drive it is theirs: not renamed back, and not reused if the path comes back."""
    fid = pushed["notes.md"]["id"]
    (home / "notes.md").unlink()
    push(home, api_root=emulator.url)
    web.files().update(fileId=fid, body={"name": "old notes.md"}).execute()
    before = by_id(emulator, fid)
    s = push(home, api_root=emulator.url)
    assert (s.metadata_updated, s.created) == (0, 0)
    assert by_id(emulator, fid) == before
    write(home, "notes.md", b"new notes", T0 + 100)
    s = push(home, api_root=emulator.url)
    assert s.created == 1 and backup(emulator)["notes.md"]["id"] != fid
    assert by_id(emulator, fid) == before


# -- the backup folder itself -----------------------------------------------------------------------


def test_backup_folder_moved_out_of_home_renamed_then_trashed_is_still_used_by_id(home, emulator, web, pushed):
    root_id = pushed["notes.md"]["parents"][0]
    move(web, root_id, "root", name="rio's backup")
    write(home, "lab/a.py", b"print('a, later')", T0 + 100)
    s = push(home, api_root=emulator.url)
    assert s.root_folder_id == root_id and (s.updated, s.created, s.folders_created) == (1, 0, 0)
    tree = helpers.drive_tree(emulator, EMAIL, "rio's backup")
    assert tree["lab/a.py"]["md5Checksum"] == md5(b"print('a, later')")
    assert not [p for p in everything(emulator) if p.startswith(FOLDER)]  # no second backup folder

    web.files().update(fileId=root_id, body={"trashed": True}).execute()
    s = push(home, api_root=emulator.url)
    assert s.root_folder_id == root_id and (s.created, s.folders_created) == (0, 0)
    assert by_id(emulator, root_id)["trashed"] is False
    assert not [p for p in everything(emulator) if p.startswith(FOLDER)]


def test_file_renamed_in_a_folder_untrashed_since_the_last_push_is_put_back(home, emulator, web, pushed):
    essays, fid = pushed["essays"]["id"], pushed["essays/b.md"]["id"]
    web.files().update(fileId=essays, body={"trashed": True}).execute()
    assert push(home, api_root=emulator.url).created == 0  # respected
    web.files().update(fileId=essays, body={"trashed": False}).execute()
    web.files().update(fileId=fid, body={"name": "b (draft).md"}).execute()
    s = push(home, api_root=emulator.url)
    assert (s.metadata_updated, s.created, s.kept_drive_copy) == (1, 0, 0)
    assert backup(emulator)["essays/b.md"]["id"] == fid
    assert_backup_is_home(emulator, home)
