"""Local renames and moves are done on Drive by ID: one metadata update, no bytes, no second copy.

End to end: the real CLI (`push --json`) or the engine against the emulator; Drive is looked at
through the emulator's admin listing (every file, trashed ones too) and its request stats.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build_from_document
from googleapiclient.http import MediaIoBaseUpload

from jupyter_drive_sync.cli import main
from jupyter_drive_sync.core.model import FOLDER_MIME
from jupyter_drive_sync.core.options import PushOptions
from jupyter_drive_sync.core.settings import state_dir
from jupyter_drive_sync.drive.transport import discovery_document
from jupyter_drive_sync.drive.types import to_rfc3339
from jupyter_drive_sync.home.state_db import DB_NAME, StateDB

from tests.support import helpers
from tests.support.helpers import write

EMAIL = "mover@uni.edu"
T0 = 1_700_000_000  # seconds: explicit mtimes, so that "later" is unambiguous
MiB = 1024 * 1024


@pytest.fixture
def home(connected_home) -> Path:
    return connected_home("mo", EMAIL)


def push(home: Path, emulator: Any, capsys: Any, *extra: str) -> dict[str, Any]:
    """`jupyter-drive-sync push --json`; the summary, after checking the exit status is 0."""
    capsys.readouterr()
    rc = main(["push", "--home", str(home), "--user", "mo", "--api-root", emulator.url, "--json", *extra])
    summary = json.loads(capsys.readouterr().out)
    assert rc == 0 and summary["failed"] == [], summary
    return summary


def tree(emulator: Any, *, trashed: bool = False) -> dict[str, dict]:
    """The backup folder by relative path (live items only unless `trashed`); fails on duplicates."""
    return helpers.drive_tree(emulator, EMAIL, "home/mo", trashed=trashed)


def file_count(emulator: Any) -> int:
    return sum(1 for f in emulator.files(EMAIL) if f["mimeType"] != FOLDER_MIME)


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def requests_made(emulator: Any) -> int:
    return emulator.stats()["requests"]


def assert_backup_equals_home(home: Path, emulator: Any) -> None:
    """Every local file has its bytes at its path on Drive (one live item, see `tree`)."""
    live = tree(emulator)
    for p in home.rglob("*"):
        rel = p.relative_to(home).as_posix()
        if rel.startswith(".local") or not p.is_file():
            continue
        assert live[rel]["md5Checksum"] == md5(p.read_bytes()), rel


# -- the defect: a rename was a delete plus a create ---------------------------------------------


def test_folder_rename_of_100_files_is_one_request_and_no_bytes(home, emulator, capsys):
    for n in range(100):
        write(home, f"proj/f{n:03d}.bin", os.urandom(100 * 1024), T0)  # 10 MiB in all
    push(home, emulator, capsys)
    before, count = tree(emulator), file_count(emulator)
    emulator.reset_stats()
    os.rename(home / "proj", home / "project-final")
    s = push(home, emulator, capsys)
    stats = emulator.stats()
    assert (s["moved"], s["created"], s["updated"], s["folders_created"], s["bytes_uploaded"]) == (1, 0, 0, 0, 0), s
    assert stats["requests"] <= 3, stats["by_route"]
    after = tree(emulator)
    assert file_count(emulator) == count
    assert after["project-final"]["id"] == before["proj"]["id"]
    assert {p: f["id"] for p, f in after.items() if p.startswith("project-final/")} == \
        {"project-final" + p[4:]: f["id"] for p, f in before.items() if p.startswith("proj/")}
    assert not any(p == "proj" or p.startswith("proj/") for p in after)
    assert push(home, emulator, capsys)["moved"] == 0  # settled: the next push finds nothing to do
    assert_backup_equals_home(home, emulator)


def test_moved_20_MiB_file_sends_no_bytes(home, emulator, capsys):
    write(home, "data/big.bin", os.urandom(20 * MiB), T0)
    write(home, "archive/readme.txt", b"old runs", T0)
    push(home, emulator, capsys)
    big_id, count = tree(emulator)["data/big.bin"]["id"], file_count(emulator)
    emulator.reset_stats()
    os.rename(home / "data/big.bin", home / "archive/big-2024.bin")
    s = push(home, emulator, capsys)
    assert (s["moved"], s["bytes_uploaded"], s["created"]) == (1, 0, 0), s
    assert requests_made(emulator) <= 3, emulator.stats()["by_route"]
    after = tree(emulator)
    assert after["archive/big-2024.bin"]["id"] == big_id and "data/big.bin" not in after
    assert file_count(emulator) == count


def test_move_into_a_new_folder_creates_the_parent_first(home, emulator, capsys):
    write(home, "notes.md", b"# notes", T0)
    push(home, emulator, capsys)
    note_id = tree(emulator)["notes.md"]["id"]
    (home / "2024/spring").mkdir(parents=True)
    os.rename(home / "notes.md", home / "2024/spring/notes.md")
    s = push(home, emulator, capsys)
    assert (s["moved"], s["folders_created"], s["created"], s["bytes_uploaded"]) == (1, 2, 0, 0), s
    after = tree(emulator)
    assert after["2024/spring/notes.md"]["id"] == note_id and "notes.md" not in after


# -- the cases to get right -----------------------------------------------------------------------


def test_rename_and_edit_in_one_go_keeps_one_id(home, emulator, capsys):
    write(home, "draft.txt", b"version one", T0)
    push(home, emulator, capsys)
    draft_id, count = tree(emulator)["draft.txt"]["id"], file_count(emulator)
    os.rename(home / "draft.txt", home / "final.txt")
    with open(home / "final.txt", "r+b") as fh:  # an edit in place keeps the inode (and here the size)
        fh.write(b"VERSION TWO")
    os.utime(home / "final.txt", (T0 + 60, T0 + 60))
    s = push(home, emulator, capsys)
    assert (s["moved"], s["updated"], s["created"]) == (1, 1, 0), s
    after = tree(emulator)
    assert after["final.txt"]["id"] == draft_id and after["final.txt"]["md5Checksum"] == md5(b"VERSION TWO")
    assert "draft.txt" not in after and file_count(emulator) == count


def test_case_only_rename(home, emulator, capsys):
    write(home, "a.txt", b"alpha", T0)
    push(home, emulator, capsys)
    a_id = tree(emulator)["a.txt"]["id"]
    os.rename(home / "a.txt", home / "A.txt")
    s = push(home, emulator, capsys)
    assert (s["moved"], s["created"], s["bytes_uploaded"]) == (1, 0, 0), s
    after = tree(emulator)
    assert after["A.txt"]["id"] == a_id and "a.txt" not in after


def test_swap_of_two_names_with_the_same_size_and_mtime(home, emulator, capsys):
    """Both paths keep their rows and IDs, so the swap is two content updates; with the size and
    mtime unchanged only the inodes tell the files apart (they used to be taken as unchanged)."""
    write(home, "left.csv", b"1,2,3\n", T0)
    write(home, "right.csv", b"4,5,6\n", T0)
    push(home, emulator, capsys)
    os.rename(home / "left.csv", home / "tmp.csv")
    os.rename(home / "right.csv", home / "left.csv")
    os.rename(home / "tmp.csv", home / "right.csv")
    s = push(home, emulator, capsys)
    assert (s["updated"], s["created"], s["moved"]) == (2, 0, 0), s
    after = tree(emulator)
    assert after["left.csv"]["md5Checksum"] == md5(b"4,5,6\n")
    assert after["right.csv"]["md5Checksum"] == md5(b"1,2,3\n")


def test_file_moved_into_a_folder_of_its_own_name_leaves_one_live_item(home, emulator, capsys):
    write(home, "results", b"run one", T0)
    push(home, emulator, capsys)
    os.rename(home / "results", home / "results.tmp")
    (home / "results").mkdir()
    os.rename(home / "results.tmp", home / "results/run1.csv")
    push(home, emulator, capsys, "--delete", "trash")
    after = tree(emulator)  # fails on two live items at one path
    assert after["results"]["mimeType"] == FOLDER_MIME
    assert after["results/run1.csv"]["md5Checksum"] == md5(b"run one")


def test_two_gone_files_with_the_same_content_one_moves_and_the_other_is_kept(home, emulator, capsys):
    write(home, "a1.txt", b"same bytes", T0)
    write(home, "a2.txt", b"same bytes", T0)
    push(home, emulator, capsys)
    before, count = tree(emulator), file_count(emulator)
    shutil.copy2(home / "a1.txt", home / "b.txt")  # a new inode: identity by size and md5
    (home / "a1.txt").unlink()
    (home / "a2.txt").unlink()
    s = push(home, emulator, capsys)
    assert (s["moved"], s["created"], s["bytes_uploaded"]) == (1, 0, 0), s
    after = tree(emulator)
    assert after["b.txt"]["id"] == before["a1.txt"]["id"]  # the first by path
    assert after["a2.txt"]["id"] == before["a2.txt"]["id"]  # --delete keep: Drive's copy stays
    assert file_count(emulator) == count


def test_one_gone_file_and_two_copies_of_it_move_once_and_create_once(home, emulator, capsys):
    write(home, "a.txt", b"copied twice", T0)
    push(home, emulator, capsys)
    a_id = tree(emulator)["a.txt"]["id"]
    shutil.copy2(home / "a.txt", home / "b.txt")
    shutil.copy2(home / "a.txt", home / "c.txt")
    (home / "a.txt").unlink()
    s = push(home, emulator, capsys)
    assert (s["moved"], s["created"]) == (1, 1), s
    after = tree(emulator)
    assert after["b.txt"]["id"] == a_id and after["c.txt"]["id"] != a_id and "a.txt" not in after
    assert_backup_equals_home(home, emulator)


def test_moved_file_edited_on_drive_meanwhile_keeps_drive_edit(home, emulator, capsys):
    write(home, "essay.md", b"local draft", T0)
    push(home, emulator, capsys)
    essay_id = tree(emulator)["essay.md"]["id"]
    other = other_client(emulator)
    media = MediaIoBaseUpload(io.BytesIO(b"edited in Colab"), mimetype="text/markdown")
    other.files().update(fileId=essay_id, media_body=media,
                         body={"modifiedTime": to_rfc3339((T0 + 100) * 1000)}).execute()
    os.rename(home / "essay.md", home / "essay-final.md")
    s = push(home, emulator, capsys)
    assert (s["moved"], s["kept_drive_copy"], s["updated"], s["bytes_uploaded"]) == (1, 1, 0, 0), s
    after = tree(emulator)
    assert after["essay-final.md"]["id"] == essay_id
    assert after["essay-final.md"]["md5Checksum"] == md5(b"edited in Colab")  # the later write stays
    # then a local edit later than Drive's wins, with Drive's revision pinned
    write(home, "essay-final.md", b"local draft, finished", T0 + 200)
    s = push(home, emulator, capsys)
    assert (s["updated"], s["conflicts"]) == (1, 1), s
    revs = other.revisions().list(fileId=essay_id, fields="revisions(md5Checksum,keepForever)").execute()
    assert any(r["md5Checksum"] == md5(b"edited in Colab") and r["keepForever"] for r in revs["revisions"])


def test_delete_policy_trash_does_not_trash_a_moved_item(home, emulator, capsys):
    write(home, "src/main.py", b"print('hi')", T0)
    write(home, "src/util.py", b"X = 1", T0)
    write(home, "todo.txt", b"nothing", T0)
    push(home, emulator, capsys, "--delete", "trash")
    os.rename(home / "src", home / "app")
    os.rename(home / "todo.txt", home / "app/todo.txt")
    (home / "app/util.py").unlink()
    s = push(home, emulator, capsys, "--delete", "trash")
    assert (s["moved"], s["trashed"], s["created"]) == (2, 1, 0), s
    everything = tree(emulator, trashed=True)
    assert not everything["app"]["trashed"] and not everything["app/main.py"]["trashed"]
    assert not everything["app/todo.txt"]["trashed"]
    assert everything["app/util.py"]["trashed"]  # deleted locally: trashed where it now is
    assert_backup_equals_home(home, emulator)


def test_folder_rename_with_changes_inside(home, emulator, capsys):
    write(home, "lab/a.txt", b"alpha", T0)
    write(home, "lab/b.txt", b"beta", T0)
    write(home, "lab/sub/c.txt", b"gamma", T0)
    push(home, emulator, capsys)
    before = tree(emulator)
    os.rename(home / "lab", home / "lab-2")
    write(home, "lab-2/a.txt", b"alpha, longer now", T0 + 50)  # edited
    write(home, "lab-2/sub/new.txt", b"new", T0 + 50)  # added
    os.utime(home / "lab-2/b.txt", (T0 + 50, T0 + 50))  # touched only
    s = push(home, emulator, capsys)
    assert (s["moved"], s["updated"], s["created"], s["metadata_updated"]) == (1, 1, 1, 1), s
    after = tree(emulator)
    assert after["lab-2/a.txt"]["id"] == before["lab/a.txt"]["id"]
    assert after["lab-2/sub/c.txt"]["id"] == before["lab/sub/c.txt"]["id"]
    assert_backup_equals_home(home, emulator)


def test_a_move_lost_from_the_state_db_converges(home, emulator, capsys):
    """Drive confirmed the move but the run died before the state DB kept it: the next push puts
    the item back by ID (the changes feed shows it moved) and moves it again; never a copy."""
    write(home, "a/x.txt", b"x", T0)
    push(home, emulator, capsys)
    db_path = state_dir(home) / DB_NAME
    with StateDB(db_path) as db:  # fold the WAL in, so a byte copy is the whole DB
        db._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    saved = db_path.read_bytes()
    count = file_count(emulator)
    os.rename(home / "a", home / "b")
    push(home, emulator, capsys)
    for suffix in ("-wal", "-shm"):
        Path(str(db_path) + suffix).unlink(missing_ok=True)
    db_path.write_bytes(saved)  # the state DB as before that push
    push(home, emulator, capsys)
    assert file_count(emulator) == count
    assert_backup_equals_home(home, emulator)
    assert "a" not in tree(emulator)


def test_a_state_db_without_inodes_is_migrated_and_then_finds_moves(home, emulator, capsys):
    write(home, "d/one.txt", b"one", T0)
    push(home, emulator, capsys)
    db_path = state_dir(home) / DB_NAME
    conn = sqlite3.connect(db_path)
    conn.execute("ALTER TABLE entries DROP COLUMN local_ino")  # as an earlier version wrote it
    conn.commit()
    conn.close()
    emulator.reset_stats()
    s = push(home, emulator, capsys)  # inodes noted: no Drive write
    assert (s["unchanged"], s["updated"], s["metadata_updated"]) == (1, 0, 0), s
    assert emulator.stats()["requests"] <= 1, emulator.stats()["by_route"]
    os.rename(home / "d", home / "e")
    s = push(home, emulator, capsys)
    assert (s["moved"], s["created"], s["bytes_uploaded"]) == (1, 0, 0), s


def other_client(emulator: Any) -> Any:
    """Another client of the same account (full `drive` scope), as Colab or the web UI would be."""
    scope = "https://www.googleapis.com/auth/drive"
    acct = emulator.create_account(EMAIL, scopes=[scope])
    creds = Credentials(acct["access_token"], refresh_token=acct["refresh_token"],
                        token_uri=emulator.url + "token", scopes=[scope], **emulator.client_ids())
    return build_from_document(discovery_document(emulator.url), credentials=creds)


@pytest.mark.parametrize("seed", [7, 8, 9])
def test_moves_under_faults_converge_without_a_copy(home, emulator, capsys, seed):
    """A move's PATCH lost after Drive applied it is retried as it is (the same name and parents
    again); a run cut short is finished by the next one: never a second copy."""
    for n in range(5):
        write(home, f"proj/f{n}.txt", f"file {n}".encode(), T0)
    write(home, "loose.txt", b"loose", T0)
    push(home, emulator, capsys)
    ids, count = {p: f["id"] for p, f in tree(emulator).items()}, file_count(emulator)
    os.rename(home / "proj", home / "project")
    (home / "done").mkdir()
    os.rename(home / "loose.txt", home / "done/loose.txt")
    emulator.set_faults(0.3, kinds=["500", "503", "reset", "lost-after-commit"], seed=seed)
    helpers.push_under_faults(emulator, PushOptions(home=home, user="mo", api_root=emulator.url))
    push(home, emulator, capsys)
    after = tree(emulator)
    assert file_count(emulator) == count
    assert after["project"]["id"] == ids["proj"] and after["done/loose.txt"]["id"] == ids["loose.txt"]
    assert_backup_equals_home(home, emulator)


def test_folder_emptied_then_renamed_is_moved_not_recreated(home, emulator, capsys):
    """Found by the lifecycle model: a folder whose only file was deleted, then renamed before
    the next push, was created anew (its inode matched, but no child was left to confirm it)."""
    write(home, "d/b.ipynb", b"{}", T0)
    write(home, "top.txt", b"top", T0)
    push(home, emulator, capsys)
    d_id, count = tree(emulator)["d"]["id"], len(emulator.files(EMAIL))
    (home / "d/b.ipynb").unlink()
    os.rename(home / "d", home / "moved-1")
    s = push(home, emulator, capsys)
    assert (s["moved"], s["folders_created"]) == (1, 0), s
    assert tree(emulator)["moved-1"]["id"] == d_id and len(emulator.files(EMAIL)) == count
