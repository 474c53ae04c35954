"""Issue 13: another Google account connected to a home, and pre-generated IDs Drive refuses.

A home's state DB holds Drive IDs that mean something to one account only. Connecting another
account must start a fresh state for it (its Drive receives the whole home, into its own
`home/<user>`, adopted if it is there already), and switching back adopts again with nothing
duplicated; restore reads the connected account's backup. A pending ID Drive refuses (its file
deleted for good, or the ID another account's) is replaced within the run.

Everything runs against the emulator over real HTTP, through the CLI where the contract is the
CLI's (exit status, `--json` summary, `status --json`) and through the engine otherwise; the
Drive side is checked in the emulator's admin listing.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import requests

from jupyter_drive_sync.cli import main
from jupyter_drive_sync.core.model import FOLDER_MIME, EntryStatus, StateEntry
from jupyter_drive_sync.core.options import PushOptions
from jupyter_drive_sync.emulator.sample import connect_home
from jupyter_drive_sync.engine.push import run_push
from jupyter_drive_sync.home.state_db import StateDB

from tests.support.helpers import drive_paths, write

A = "ada@uni.edu"
B = "bob@gmail.example"
USER = "ann"
FOLDER = f"home/{USER}"
STATE_REL = ".local/share/jupyter/drive_sync"


# -- helpers ---------------------------------------------------------------------------------------


def cli(capsys, *args: str) -> tuple[int, dict[str, Any], str]:
    """Run the CLI with `--json`: exit status, the JSON it printed, stderr (never a traceback)."""
    rc = main([*args, "--json"])
    out, err = capsys.readouterr()
    assert "Traceback" not in err, err
    return rc, json.loads(out) if out.strip() else {}, err


def push(capsys, home: Path, emulator) -> tuple[int, dict[str, Any]]:
    rc, summary, err = cli(capsys, "push", "--home", str(home), "--user", USER, "--api-root", emulator.url)
    assert summary, err
    return rc, summary


def status(capsys, home: Path, emulator) -> dict[str, Any]:
    rc, st, err = cli(capsys, "status", "--home", str(home), "--user", USER, "--api-root", emulator.url)
    assert rc == 0, (st, err)
    return st


def local_files(home: Path) -> dict[str, str]:
    """Relative path → md5 of each file a push carries (the state dir left out)."""
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(home):
        rel_dir = os.path.relpath(dirpath, home)
        if rel_dir == STATE_REL or rel_dir.startswith(STATE_REL + "/"):
            dirnames[:] = []
            continue
        for name in filenames:
            out[os.path.normpath(os.path.join(rel_dir, name))] = hashlib.md5((Path(dirpath) / name).read_bytes()).hexdigest()
    return out


def backup(emulator, email: str) -> dict[str, list[dict[str, Any]]]:
    """The account's live items under `home/<user>`, by path relative to it (duplicates kept)."""
    live = [f for f in emulator.files(email) if not f.get("trashed")]
    prefix = FOLDER + "/"
    return {p[len(prefix):]: fs for p, fs in drive_paths(live).items() if p.startswith(prefix)}


def is_file(item: dict[str, Any]) -> bool:
    return item["mimeType"] != FOLDER_MIME


def assert_backup_is(emulator, email: str, home: Path) -> None:
    """The account's backup folder holds each local file exactly once, with its content, and
    nothing of the account lies elsewhere (no second `home/<user>`)."""
    tree = backup(emulator, email)
    dups = {p: len(fs) for p, fs in tree.items() if len(fs) > 1}
    assert not dups, f"duplicates in {email}'s Drive: {dups}"
    files = {p: fs[0]["md5Checksum"] for p, fs in tree.items() if is_file(fs[0])}
    assert files == local_files(home)
    tops = [p for p, fs in drive_paths(emulator.files(email)).items() if "/" not in p]
    assert tops == ["home"], tops
    assert len(drive_paths(emulator.files(email))[FOLDER]) == 1


def a_home(tmp_path: Path, emulator, email: str = A) -> Path:
    home = tmp_path / USER
    home.mkdir()
    connect_home(emulator.url, home, email)
    write(home, "notes.md", b"# notes\n")
    write(home, "lab1/lab1.ipynb", b"{}")
    write(home, "lab1/data/table.csv", b"a,b\n1,2\n")
    return home


def token_of(emulator, email: str) -> str:
    return emulator.create_account(email)["access_token"]  # the account exists: its tokens again


def drive_call(emulator, email: str, method: str, path: str, **kw: Any) -> requests.Response:
    """A call to the Drive API as `email` (another client of the student's Drive)."""
    return requests.request(method, emulator.url + "drive/v3/" + path, timeout=30,
                            headers={"Authorization": f"Bearer {token_of(emulator, email)}"}, **kw)


def ids_generated_for(emulator, email: str, n: int) -> list[str]:
    resp = drive_call(emulator, email, "GET", "files/generateIds", params={"count": n})
    assert resp.status_code == 200, resp.text
    return resp.json()["ids"]


# -- defect 1: switching accounts ------------------------------------------------------------------


def test_switching_google_accounts_backs_the_whole_home_up_to_the_new_drive(tmp_path, emulator, capsys):
    """Before: every changed file failed with `404 File not found`, B's Drive stayed empty."""
    home = a_home(tmp_path, emulator)
    rc, s = push(capsys, home, emulator)
    assert rc == 0 and s["failed"] == []
    a_before = emulator.files(A)

    connect_home(emulator.url, home, B)  # disconnect, connect another account: same home
    st = status(capsys, home, emulator)
    assert st["account"] == B and st["backup_account"] == A and st["account_changed"] is True
    write(home, "notes.md", b"# notes, edited under B\n")
    write(home, "lab2/new.py", b"print(2)\n")
    rc, s = push(capsys, home, emulator)

    assert rc == 0 and s["failed"] == [], s
    assert s["created"] == 4 and s["folders_created"] == 3, s  # the whole home, not just what changed
    note = [x for x in s["skipped"] if x["path"] == "."]
    assert note and B in note[0]["reason"] and A in note[0]["reason"], s["skipped"]
    assert_backup_is(emulator, B, home)
    assert emulator.files(A) == a_before  # A's Drive untouched
    st = status(capsys, home, emulator)
    assert st["account"] == B and st["backup_account"] == B and st["account_changed"] is False
    rc, s = push(capsys, home, emulator)  # and from now on, an ordinary no-op
    assert rc == 0 and (s["created"], s["updated"], s["unchanged"], s["skipped"]) == (0, 0, 4, [])


def test_switching_back_adopts_the_first_accounts_backup_without_duplicates(tmp_path, emulator, capsys):
    """Before: back on A, every run failed with `400 The provided file ID is not usable`."""
    home = a_home(tmp_path, emulator)
    assert push(capsys, home, emulator)[0] == 0
    connect_home(emulator.url, home, B)
    write(home, "under-b.txt", b"written while B was connected\n")
    assert push(capsys, home, emulator)[0] == 0
    b_before = emulator.files(B)

    connect_home(emulator.url, home, A)
    write(home, "back-on-a.txt", b"and back\n")
    rc, s = push(capsys, home, emulator)

    assert rc == 0 and s["failed"] == [], s
    assert s["created"] == 2 and s["folders_created"] == 0, s  # only the two files A's Drive lacks
    assert_backup_is(emulator, A, home)
    assert emulator.files(B) == b_before
    rc, s = push(capsys, home, emulator)
    assert rc == 0 and (s["created"], s["updated"], s["failed"]) == (0, 0, [])


def test_switch_to_an_account_that_already_holds_this_homes_backup_adopts_it(tmp_path, emulator, capsys):
    """B already backed up this user from another hub: its folder is adopted, not doubled."""
    other = tmp_path / "elsewhere"
    other.mkdir()
    connect_home(emulator.url, other, B)
    write(other, "notes.md", b"# notes\n", 1_700_000_000)
    write(other, "old-only-on-b.txt", b"kept on Drive\n")
    assert push(capsys, other, emulator)[0] == 0

    home = a_home(tmp_path, emulator)
    os.utime(home / "notes.md", (1_700_000_000, 1_700_000_000))
    assert push(capsys, home, emulator)[0] == 0
    connect_home(emulator.url, home, B)
    rc, s = push(capsys, home, emulator)

    assert rc == 0 and s["failed"] == [], s
    tree = backup(emulator, B)
    assert all(len(fs) == 1 for fs in tree.values()), tree
    assert len(drive_paths(emulator.files(B))[FOLDER]) == 1
    assert set(local_files(home)) | {"old-only-on-b.txt"} == {p for p, fs in tree.items() if is_file(fs[0])}


def test_switch_drops_the_old_accounts_pending_ids_and_upload_sessions(tmp_path, emulator, capsys):
    """A run under A killed after recording its pending IDs and a resumable session: none of it
    may be tried against B (before: `400 The provided file ID is not usable` / `404`)."""
    home = a_home(tmp_path, emulator)
    assert push(capsys, home, emulator)[0] == 0
    write(home, "pending.txt", b"created under A, answer lost\n")
    write(home, "big.bin", b"x" * 300_000)
    pending_id, session_id = ids_generated_for(emulator, A, 2)
    with StateDB.for_home(home) as db:
        st = (home / "pending.txt").stat()
        db.record_pending([StateEntry(path="pending.txt", drive_id=pending_id, is_dir=False,
                                      local_size=st.st_size, local_mtime_ns=st.st_mtime_ns)])
        big = (home / "big.bin").stat()
        db.save_upload_session("big.bin", session_id, big.st_size, big.st_mtime_ns,
                               emulator.url + "upload/drive/v3/files?uploadType=resumable&upload_id=gone")

    connect_home(emulator.url, home, B)
    rc, s = push(capsys, home, emulator)

    assert rc == 0 and s["failed"] == [], s
    assert_backup_is(emulator, B, home)
    ids_on_b = {f["id"] for f in emulator.files(B)}
    assert pending_id not in ids_on_b
    with StateDB.for_home(home) as db:
        assert db.upload_session_paths() == []
        assert {r.status for r in db.load().values()} == {EntryStatus.SYNCED}


def test_dry_run_after_a_switch_plans_the_whole_home_and_changes_nothing(tmp_path, emulator, capsys):
    home = a_home(tmp_path, emulator)
    assert push(capsys, home, emulator)[0] == 0
    connect_home(emulator.url, home, B)
    rc, s, _ = cli(capsys, "push", "--home", str(home), "--user", USER, "--api-root", emulator.url, "--dry-run")
    assert rc == 0 and s["failed"] == [] and s["created"] == 3, s
    assert emulator.files(B) == []
    assert status(capsys, home, emulator)["backup_account"] == A  # nothing was reset by looking


# -- defect 3: restore under another account -------------------------------------------------------


def test_restore_after_an_account_switch_reads_the_connected_accounts_backup(tmp_path, emulator, capsys):
    """Before: restore used A's stored folder and rows under B."""
    other = tmp_path / "elsewhere"
    other.mkdir()
    connect_home(emulator.url, other, B)
    write(other, "notes.md", b"B's notes\n")
    write(other, "only-b/b.txt", b"only in B's backup\n")
    assert push(capsys, other, emulator)[0] == 0

    home = a_home(tmp_path, emulator)
    assert push(capsys, home, emulator)[0] == 0
    connect_home(emulator.url, home, B)
    (home / "notes.md").unlink()
    rc, s, err = cli(capsys, "restore", "--home", str(home), "--user", USER, "--api-root", emulator.url)

    assert rc == 0 and s["failed"] == [], (s, err)
    note = [x for x in s["skipped"] if x["path"] == "."]
    assert note and B in note[0]["reason"], s["skipped"]
    assert status(capsys, home, emulator)["backup_account"] == B  # the home's state is B's now
    assert (home / "notes.md").read_bytes() == b"B's notes\n"
    assert (home / "only-b/b.txt").read_bytes() == b"only in B's backup\n"
    b_root = drive_paths(emulator.files(B))[FOLDER][0]["id"]
    assert s["root_folder_id"] == b_root
    # the state now belongs to B: the next push sends B's Drive only what it lacks, nothing twice
    rc, s = push(capsys, home, emulator)
    assert rc == 0 and s["failed"] == [], s
    assert all(len(fs) == 1 for fs in backup(emulator, B).values())
    assert {p for p, fs in backup(emulator, B).items() if is_file(fs[0])} == set(local_files(home))


def test_restore_dialog_lists_the_connected_accounts_backup_after_a_switch(tmp_path, emulator, capsys):
    """A guard: the dialog (which reads only) never lists the other account's stored folder."""
    from jupyter_drive_sync.core.options import RestoreOptions
    from jupyter_drive_sync.engine.drive_browse import list_remote

    other = tmp_path / "elsewhere"
    other.mkdir()
    connect_home(emulator.url, other, B)
    write(other, "only-b.txt", b"b\n")
    assert push(capsys, other, emulator)[0] == 0
    home = a_home(tmp_path, emulator)
    assert push(capsys, home, emulator)[0] == 0
    connect_home(emulator.url, home, B)
    listing = list_remote(RestoreOptions(home=home, user=USER, api_root=emulator.url))
    assert [e["name"] for e in listing["entries"]] == ["only-b.txt"]


# -- defect 2: pre-generated IDs Drive refuses -----------------------------------------------------


def _pending(db: StateDB, home: Path, rel: str, drive_id: str, is_dir: bool = False) -> None:
    st = (home / rel).stat()
    db.record_pending([StateEntry(path=rel, drive_id=drive_id, is_dir=is_dir,
                                  local_size=0 if is_dir else st.st_size, local_mtime_ns=st.st_mtime_ns)])


def test_refused_pending_id_of_a_file_deleted_for_good_is_replaced(tmp_path, emulator, capsys):
    """A create whose answer was lost leaves its ID pending; the student then deletes that file
    for good on Drive. Before: every later run retried the same ID and failed, so the path was
    never backed up again."""
    home = a_home(tmp_path, emulator)
    assert push(capsys, home, emulator)[0] == 0
    first_id = backup(emulator, A)["notes.md"][0]["id"]
    with StateDB.for_home(home) as db:
        _pending(db, home, "notes.md", first_id)  # as if the create's answer never came
    assert drive_call(emulator, A, "DELETE", f"files/{first_id}").status_code == 204  # deleted for good

    rc, s = push(capsys, home, emulator)

    assert rc == 0 and s["failed"] == [] and s["created"] == 1, s
    assert_backup_is(emulator, A, home)
    new_id = backup(emulator, A)["notes.md"][0]["id"]
    assert new_id != first_id
    with StateDB.for_home(home) as db:
        row = db.get("notes.md")
        assert row is not None and row.drive_id == new_id and row.status is EntryStatus.SYNCED
    rc, s = push(capsys, home, emulator)
    assert rc == 0 and (s["created"], s["failed"]) == (0, []), s


def test_refused_pending_ids_of_folders_empty_and_large_files_are_replaced_in_the_same_run(tmp_path, emulator):
    """Pending IDs that Drive refuses (generated for another account): a folder with a file in
    it, an empty file (batched creates) and a file big enough for a resumable upload."""
    home = a_home(tmp_path, emulator)
    run_push(PushOptions(home=home, user=USER, api_root=emulator.url))
    write(home, "newdir/inside.txt", b"in a folder whose ID is refused\n")
    write(home, "newdir/deeper/leaf.txt", b"leaf\n")
    write(home, "empty.txt", b"")
    write(home, "big.bin", os.urandom(600_000))
    write(home, "small.txt", b"small\n")
    foreign = ids_generated_for(emulator, B, 5)
    with StateDB.for_home(home) as db:
        _pending(db, home, "newdir", foreign[0], is_dir=True)
        _pending(db, home, "newdir/inside.txt", foreign[1])
        _pending(db, home, "empty.txt", foreign[2])
        _pending(db, home, "big.bin", foreign[3])
        _pending(db, home, "small.txt", foreign[4])

    s = run_push(PushOptions(home=home, user=USER, api_root=emulator.url, multipart_limit=256 * 1024,
                             chunk_size=256 * 1024))

    assert s.failed == [], s.failed
    assert (s.created, s.folders_created) == (5, 2), s
    assert_backup_is(emulator, A, home)
    assert not {f["id"] for f in emulator.files(A)} & set(foreign)
    assert emulator.files(B) == []
    with StateDB.for_home(home) as db:
        rows = db.load()
        assert {r.status for r in rows.values()} == {EntryStatus.SYNCED}
        assert not {r.drive_id for r in rows.values()} & set(foreign)
    again = run_push(PushOptions(home=home, user=USER, api_root=emulator.url))
    assert (again.created, again.folders_created, again.failed) == (0, 0, [])


def test_emulator_refuses_ids_as_google_does(emulator):
    """Drive's rules for create-with-ID (reference/drive-api-v3.md, "pre-generated IDs"): 409 for
    an ID whose file exists (same account); 400 "not usable" for another account's ID, used or
    not, and for an ID whose file was deleted for good."""
    emulator.create_account(A)
    emulator.create_account(B)
    a_ids = ids_generated_for(emulator, A, 3)

    def create(email: str, file_id: str) -> requests.Response:
        return drive_call(emulator, email, "POST", "files", json={"id": file_id, "name": "x"})

    assert create(A, a_ids[0]).status_code == 200
    again = create(A, a_ids[0])
    assert again.status_code == 409 and again.json()["error"]["errors"][0]["reason"] == "fileIdInUse"
    for file_id in a_ids[:2]:  # A's file, and an ID generated for A: both refused to B
        refused = create(B, file_id)
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"]["message"] == "The provided file ID is not usable."
    assert drive_call(emulator, A, "DELETE", f"files/{a_ids[0]}").status_code == 204
    gone = create(A, a_ids[0])
    assert gone.status_code == 400 and gone.json()["error"]["message"] == "The provided file ID is not usable."
