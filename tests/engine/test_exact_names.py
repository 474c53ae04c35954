"""Drive's `name = '...'` ignores case; the push and the restore find the backup by exact names.

Drive (and the emulator, as strict) answers a name query for `home` with `Home` too
(reference/drive-api-v3.md, "Google's limits and rules"), so every lookup by name must re-check
the exact name of each hit (docs/ARCHITECTURE.md, `engine/remote_root.py`; the Drive client's
`find_folders`). Against the emulator over real HTTP; nothing mocked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build_from_document

from jupyter_drive_sync.core.model import FOLDER_MIME
from jupyter_drive_sync.core.options import PushOptions, RestoreOptions
from jupyter_drive_sync.drive.transport import discovery_document
from jupyter_drive_sync.drive.types import to_rfc3339
from jupyter_drive_sync.engine.push import run_push
from jupyter_drive_sync.engine.restore import run_restore

from tests.support import helpers
from tests.support.helpers import write

EMAIL = "exact@uni.edu"
T0 = 1_700_000_000


@pytest.fixture
def app(emulator) -> Any:
    """This app's own OAuth client (drive.file): the folders it makes, the push can see."""
    acct = emulator.create_account(EMAIL)
    creds = Credentials(acct["access_token"], refresh_token=acct["refresh_token"],
                        token_uri=emulator.url + "token", **emulator.client_ids())
    return build_from_document(discovery_document(emulator.url), credentials=creds)


def push(home: Path, emulator, user: str):
    s = run_push(PushOptions(home=home, user=user, api_root=emulator.url, workers=3))
    assert s.failed == [], s.failed
    return s


def test_push_uses_the_home_folder_not_one_called_Home(connected_home, emulator, app):
    # an older `Home` at the top of My Drive, made by this app (an older template, a typo):
    # Drive's query for `home` finds it, and it sorts first
    old = app.files().create(body={"name": "Home", "mimeType": FOLDER_MIME,
                                   "modifiedTime": to_rfc3339((T0 - 86400) * 1000)}, fields="id").execute()
    home = connected_home("ann", EMAIL)
    write(home, "nb.ipynb", b"{}", T0)
    push(home, emulator, "ann")

    paths = helpers.drive_paths([f for f in emulator.files(EMAIL) if not f["trashed"]])
    assert "home/ann/nb.ipynb" in paths and "Home/ann/nb.ipynb" not in paths
    assert [f["id"] for f in paths["Home"]] == [old["id"]]
    assert not [p for p in paths if p.startswith("Home/")]  # left alone, still empty


def test_restore_reads_its_own_user_folder_not_one_differing_in_case(connected_home, emulator):
    other = connected_home("Ann", EMAIL)  # an older `home/Ann` in the same Drive
    write(other, "theirs.txt", b"Ann's", T0)
    push(other, emulator, "Ann")
    mine = connected_home("ann", EMAIL)
    write(mine, "mine.txt", b"ann's", T0)
    push(mine, emulator, "ann")

    target = connected_home("fresh", EMAIL)  # no state: the backup is found by its path
    s = run_restore(RestoreOptions(home=target, user="ann", api_root=emulator.url, workers=2))
    assert not s.failed, s.failed
    assert (target / "mine.txt").read_bytes() == b"ann's"
    assert not (target / "theirs.txt").exists()
