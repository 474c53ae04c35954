"""Adoption: a lost state DB or a new volume meets a backup folder that already exists.

Adoption decides like every other last-write-wins row (a Drive copy that differs and is newer
is kept, or pinned and reported when overwritten), it is resumable (an interrupted one never
leads to a second copy of the tree), and it matches names exactly (Drive's `name = '...'`
query does not). Everything runs against the emulator: the real engine (`run_push`), the real
CLI as a subprocess where a kill matters, and other clients through googleapiclient.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build_from_document
from googleapiclient.http import MediaIoBaseUpload

from jupyter_drive_sync.core.model import FOLDER_MIME, DeletePolicy, Policy
from jupyter_drive_sync.core.options import PushOptions
from jupyter_drive_sync.core.settings import state_dir
from jupyter_drive_sync.drive.transport import discovery_document
from jupyter_drive_sync.drive.types import from_rfc3339, to_rfc3339
from jupyter_drive_sync.engine.push import run_push
from jupyter_drive_sync.home.state_db import StateDB

from tests.support import helpers
from tests.support.helpers import write

EMAIL = "adopt@uni.edu"
USER = "dana"
FULL_DRIVE = "https://www.googleapis.com/auth/drive"
T0 = 1_700_000_000  # seconds; explicit mtimes make "later" unambiguous
CREATE_ROUTES = ("POST /upload/drive/v3/files", "POST /drive/v3/files", "POST /batch/drive/v3")


@pytest.fixture
def home(connected_home) -> Path:
    return connected_home(USER, EMAIL)


def _service(emulator, scopes: list[str] | None) -> Any:
    acct = emulator.create_account(EMAIL, **({"scopes": scopes} if scopes else {}))
    creds = Credentials(acct["access_token"], refresh_token=acct["refresh_token"],
                        token_uri=emulator.url + "token", scopes=scopes, **emulator.client_ids())
    return build_from_document(discovery_document(emulator.url), credentials=creds)


@pytest.fixture
def other(emulator) -> Any:
    """Another client of the account (Colab, another hub): full `drive` scope."""
    return _service(emulator, [FULL_DRIVE])


@pytest.fixture
def app(emulator) -> Any:
    """This app's own OAuth client (drive.file): what it creates, the push can see."""
    return _service(emulator, None)


def push(home: Path, emulator, **kw: Any):
    s = run_push(PushOptions(home=home, user=kw.pop("user", USER), api_root=emulator.url, workers=3, **kw))
    assert s.failed == [], s.failed
    return s


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def lose_state(home: Path) -> None:
    """What a new volume or a deleted ~/.local does to the state DB (credentials stay)."""
    sdir = state_dir(home)
    for name in os.listdir(sdir):
        if name.startswith("state.sqlite3"):
            os.unlink(sdir / name)


def drive_tree(emulator, folder: str = f"home/{USER}") -> dict[str, dict]:
    """Path below `folder` → live item; fails if two live items share a path."""
    return helpers.drive_tree(emulator, EMAIL, folder, trashed=False)


def live_duplicates(emulator) -> dict[str, int]:
    """Paths (parent + name) holding more than one live item, in the whole account."""
    live = [f for f in emulator.files(EMAIL) if not f.get("trashed")]
    return {p: len(fs) for p, fs in helpers.drive_paths(live).items() if len(fs) > 1}


def content(service: Any, file_id: str) -> bytes:
    return service.files().get_media(fileId=file_id).execute()


def drive_edit(service: Any, file_id: str, data: bytes, mtime_s: float) -> None:
    media = MediaIoBaseUpload(io.BytesIO(data), mimetype="application/octet-stream")
    service.files().update(fileId=file_id, media_body=media,
                           body={"modifiedTime": to_rfc3339(int(mtime_s * 1000))}).execute()


def revisions(service: Any, file_id: str) -> list[dict]:
    res = service.revisions().list(fileId=file_id, fields="revisions(id,md5Checksum,keepForever)").execute()
    return res["revisions"]


def creates_in(stats: dict) -> int:
    return sum(n for route, n in stats["by_route"].items() if route in CREATE_ROUTES)


# -- defect 1: adoption compares like every other last-write-wins row -------------------------


def test_lost_state_db_never_overwrites_a_newer_drive_edit(home, emulator, other):
    write(home, "essay.md", b"draft 1", T0)
    push(home, emulator)
    fid = drive_tree(emulator)["essay.md"]["id"]
    drive_edit(other, fid, b"draft 1, finished in Colab", T0 + 300)
    lose_state(home)

    s = push(home, emulator)
    assert (s.updated, s.kept_drive_copy, s.conflicts, s.created, s.bytes_uploaded) == (0, 1, 1, 0, 0)
    assert content(other, fid) == b"draft 1, finished in Colab"
    assert (home / "essay.md").read_bytes() == b"draft 1"
    assert drive_tree(emulator)["essay.md"]["id"] == fid

    s = push(home, emulator)  # the next push decides the same, and still sends nothing
    assert (s.updated, s.created, s.bytes_uploaded) == (0, 0, 0)
    assert content(other, fid) == b"draft 1, finished in Colab"


def test_new_volume_with_older_starter_files_keeps_the_newer_drive_work(connected_home, emulator):
    first = connected_home(USER, EMAIL)
    write(first, "lab1/lab1.ipynb", b'{"cells": ["the student\'s answers"]}', T0 + 500)
    push(first, emulator)
    fid = drive_tree(emulator)["lab1/lab1.ipynb"]["id"]

    # a fresh volume for the same student: the course's starter file, same name, older
    fresh = connected_home("dana-new-volume", EMAIL)
    write(fresh, "lab1/lab1.ipynb", b'{"cells": []}', T0)
    s = push(fresh, emulator)
    assert (s.updated, s.kept_drive_copy, s.conflicts, s.created, s.folders_created) == (0, 1, 1, 0, 0)
    f = drive_tree(emulator)["lab1/lab1.ipynb"]
    assert f["id"] == fid and f["md5Checksum"] == md5(b'{"cells": ["the student\'s answers"]}')


def test_lost_state_db_newer_local_edit_overwrites_and_pins_the_drive_revision(home, emulator, other):
    write(home, "essay.md", b"draft 1", T0)
    push(home, emulator)
    fid = drive_tree(emulator)["essay.md"]["id"]
    drive_edit(other, fid, b"comments added on Drive", T0 + 100)
    write(home, "essay.md", b"draft 2, written here later", T0 + 200)
    lose_state(home)

    s = push(home, emulator)
    assert (s.updated, s.conflicts, s.kept_drive_copy, s.created) == (1, 1, 0, 0)
    assert content(other, fid) == b"draft 2, written here later"
    pinned = [r for r in revisions(other, fid) if r["md5Checksum"] == md5(b"comments added on Drive")]
    assert len(pinned) == 1 and pinned[0]["keepForever"] is True  # nothing lost


def test_lost_state_db_local_wins_overwrites_but_pins_the_drive_revision(home, emulator, other):
    write(home, "essay.md", b"draft 1", T0)
    push(home, emulator)
    fid = drive_tree(emulator)["essay.md"]["id"]
    drive_edit(other, fid, b"the later Drive edit", T0 + 300)
    lose_state(home)

    s = push(home, emulator, policy=Policy.LOCAL_WINS)
    assert (s.updated, s.conflicts, s.created) == (1, 1, 0)
    assert content(other, fid) == b"draft 1"
    pinned = [r for r in revisions(other, fid) if r["md5Checksum"] == md5(b"the later Drive edit")]
    assert len(pinned) == 1 and pinned[0]["keepForever"] is True


def test_lost_state_db_identical_content_costs_no_upload(home, emulator):
    write(home, "same.txt", b"same bytes", T0)
    write(home, "touched.txt", b"touched only", T0)
    push(home, emulator)
    before = drive_tree(emulator)
    os.utime(home / "touched.txt", (T0 + 50, T0 + 50))  # same content, another mtime
    lose_state(home)

    emulator.reset_stats()
    s = push(home, emulator)
    assert (s.created, s.updated, s.conflicts, s.kept_drive_copy, s.bytes_uploaded) == (0, 0, 0, 0, 0)
    assert s.metadata_updated == 1 and s.unchanged == 1
    assert not [r for r in emulator.stats()["by_route"] if "/upload/" in r]
    after = drive_tree(emulator)
    assert after["touched.txt"]["id"] == before["touched.txt"]["id"]
    assert from_rfc3339(after["touched.txt"]["modifiedTime"]) == (T0 + 50) * 1000


def test_adoption_on_a_new_volume_never_trashes_what_the_volume_lacks(connected_home, emulator):
    first = connected_home(USER, EMAIL)
    write(first, "thesis/chapter1.md", b"chapter one", T0)
    write(first, "notes.txt", b"notes", T0)
    push(first, emulator)

    fresh = connected_home("dana-new-volume", EMAIL)  # holds only a starter file
    write(fresh, "README.md", b"welcome", T0)
    s = push(fresh, emulator, delete_policy=DeletePolicy.TRASH)
    assert (s.trashed, s.created) == (0, 1)
    tree = drive_tree(emulator)
    assert {"thesis", "thesis/chapter1.md", "notes.txt", "README.md"} <= set(tree)

    # a file that really is deleted here later is trashed as the policy says
    (fresh / "README.md").unlink()
    s = push(fresh, emulator, delete_policy=DeletePolicy.TRASH)
    assert s.trashed == 1 and "README.md" not in drive_tree(emulator)


# -- defect 2: an interrupted adoption never duplicates the tree -------------------------------


def fill(home: Path, folders: int) -> None:
    for i in range(folders):
        write(home, f"course{i:02d}/week/notes.txt", f"notes {i}\n".encode(), T0 + i)


def test_adoption_cut_short_after_the_root_was_recorded_adopts_again(home, emulator):
    fill(home, 6)
    push(home, emulator)
    lose_state(home)
    # what a run killed during adoption left behind: the root folder (and the changes feed's
    # start) recorded, not one adopted row
    root = drive_tree(emulator, "home")[USER]["id"]
    with StateDB.for_home(home) as db:
        db.account_email = EMAIL
        db.root_folder_id = root
        db.page_token = _start_token(emulator)

    emulator.reset_stats()
    s = push(home, emulator)
    assert creates_in(emulator.stats()) == 0
    assert (s.created, s.folders_created, s.updated) == (0, 0, 0)
    assert live_duplicates(emulator) == {}


def _start_token(emulator) -> str:
    svc = _service(emulator, None)
    return svc.changes().getStartPageToken().execute()["startPageToken"]


def _cli_push(home: Path, emulator) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "jupyter_drive_sync", "push", "--home", str(home), "--user", USER,
           "--api-root", emulator.url, "--json", "--workers", "2"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)


def _list_calls(emulator) -> int:
    return emulator.stats()["by_route"].get("GET /drive/v3/files", 0)


@pytest.mark.timeout(180)
def test_adoption_killed_midway_never_duplicates_the_tree(home, emulator):
    fill(home, 30)
    push(home, emulator)
    lose_state(home)

    killed_while_adopting = 0
    for attempt in range(3):  # kill it during adoption, more than once
        emulator.reset_stats()
        emulator.settings(latency_ms=60)  # one listing per folder: adoption takes seconds
        proc = _cli_push(home, emulator)
        deadline = time.monotonic() + 60
        # the root chain is found by two name queries; more listings mean adoption is under way
        while proc.poll() is None and time.monotonic() < deadline and _list_calls(emulator) < 8 + 3 * attempt:
            time.sleep(0.005)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed_while_adopting += creates_in(emulator.stats()) == 0
        proc.communicate(timeout=60)

    emulator.settings(latency_ms=0)
    proc = _cli_push(home, emulator)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()
    summary = json.loads(out)
    assert (summary["created"], summary["folders_created"], summary["updated"]) == (0, 0, 0)
    assert live_duplicates(emulator) == {}
    assert len([p for p in drive_tree(emulator) if p.endswith("notes.txt")]) == 30
    assert killed_while_adopting >= 2  # the test is about adoptions cut short


@pytest.mark.timeout(240)
def test_adoption_under_faults_never_duplicates_the_tree(home, emulator):
    fill(home, 12)
    push(home, emulator)
    lose_state(home)
    for seed in (1, 2, 3):
        emulator.set_faults(0.3, kinds=["503", "reset", "lost-after-commit"], seed=seed)
        helpers.push_under_faults(emulator, PushOptions(home=home, user=USER, api_root=emulator.url,
                                                        workers=2), tries=2)
        assert live_duplicates(emulator) == {}
        lose_state(home)
    s = push(home, emulator)
    assert (s.created, s.folders_created) == (0, 0)
    assert live_duplicates(emulator) == {}


# -- defect 3: exact names; same-name duplicates reported, never added to ---------------------


def test_root_folder_chain_matches_exact_names_not_drive_case_folding(connected_home, emulator):
    lower = connected_home("dana", EMAIL)
    write(lower, "mine.txt", b"dana's", T0)
    push(lower, emulator, user="dana")
    upper = connected_home("Dana", EMAIL)
    write(upper, "theirs.txt", b"Dana's", T0)
    s = push(upper, emulator, user="Dana")
    assert s.created == 1

    assert set(drive_tree(emulator, "home/dana")) == {"mine.txt"}
    assert set(drive_tree(emulator, "home/Dana")) == {"theirs.txt"}
    assert live_duplicates(emulator) == {}


def test_same_name_items_on_drive_are_reported_and_never_added_to(home, emulator, app):
    write(home, "data/points.csv", b"x,y\n1,2\n", T0)
    write(home, "report.md", b"report", T0)
    s = push(home, emulator)
    root = s.root_folder_id
    tree = drive_tree(emulator)
    # the same app (another hub, an old bug) left a file called "data" and a second report.md
    # in the backup folder, older than ours
    for name in ("data", "report.md"):
        app.files().create(body={"name": name, "parents": [root], "modifiedTime": to_rfc3339((T0 - 900) * 1000)},
                           media_body=MediaIoBaseUpload(io.BytesIO(b"older"), mimetype="text/plain")).execute()
    lose_state(home)

    emulator.reset_stats()
    s = push(home, emulator)
    assert creates_in(emulator.stats()) == 0
    assert (s.created, s.folders_created, s.updated, s.conflicts) == (0, 0, 0, 0)
    reported = {k["path"] for k in s.skipped}
    assert {"data", "report.md"} <= reported
    live = [f for f in emulator.files(EMAIL) if not f.get("trashed")]
    paths = helpers.drive_paths(live)
    assert len(paths[f"home/{USER}/data"]) == 2 and len(paths[f"home/{USER}/report.md"]) == 2
    assert len(paths[f"home/{USER}/data/points.csv"]) == 1
    folder = [f for f in paths[f"home/{USER}/data"] if f["mimeType"] == FOLDER_MIME]
    assert [f["id"] for f in folder] == [tree["data"]["id"]]
    assert sorted(f["md5Checksum"] for f in paths[f"home/{USER}/report.md"]) == sorted([md5(b"report"), md5(b"older")])


def test_emulator_name_query_ignores_case_like_drive(home, emulator, app):
    # what the fix above relies on the emulator to model: Drive's `name = '...'` folds case
    write(home, "x.txt", b"x", T0)
    root = push(home, emulator).root_folder_id
    for name in ("Notes", "notes"):
        app.files().create(body={"name": name, "parents": [root], "mimeType": FOLDER_MIME}).execute()
    hits = app.files().list(q=f"name = 'NOTES' and '{root}' in parents", fields="files(name)").execute()["files"]
    assert sorted(f["name"] for f in hits) == ["Notes", "notes"]
    misses = app.files().list(q=f"name != 'notes' and '{root}' in parents", fields="files(name)").execute()["files"]
    assert [f["name"] for f in misses] == ["x.txt"]
