"""`name = '...'` in files.list ignores case, as on Drive, through google-api-python-client.

Drive's name search is case-insensitive (reference/drive-api-v3.md, "Google's limits and rules";
rclone's Drive backend re-checks the exact name of every hit "since the `=` operator is case
insensitive"), so a client that takes the first hit for an exact match picks the wrong folder.
The emulator is as loose as Drive here, so such a client fails its tests.
"""

from __future__ import annotations

from typing import Any

import pytest
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build

EMAIL = "names@uni.edu"
FOLDER = "application/vnd.google-apps.folder"


@pytest.fixture
def drive(emulator) -> Any:
    acct = emulator.create_account(EMAIL)
    return build("drive", "v3", credentials=Credentials(acct["access_token"]), static_discovery=False,
                 discoveryServiceUrl=emulator.url + "discovery/v1/apis/{api}/{apiVersion}/rest")


def _names(drive: Any, q: str) -> list[str]:
    files = drive.files().list(q=q, fields="files(name)", pageSize=1000).execute()["files"]
    return sorted(f["name"] for f in files)


def test_name_equals_ignores_case(drive) -> None:
    parent = drive.files().create(body={"name": "p", "mimeType": FOLDER}, fields="id").execute()["id"]
    for name in ("home", "Home", "HOME", "homework", "other"):
        drive.files().create(body={"name": name, "mimeType": FOLDER, "parents": [parent]}).execute()
    inside = f"'{parent}' in parents"

    assert _names(drive, f"name = 'home' and {inside}") == ["HOME", "Home", "home"]
    assert _names(drive, f"name = 'hOmE' and {inside}") == ["HOME", "Home", "home"]
    assert _names(drive, f"name != 'HOME' and {inside}") == ["homework", "other"]
    assert _names(drive, f"not name = 'Home' and {inside}") == ["homework", "other"]


def test_name_contains_ignores_case(drive) -> None:
    for name in ("Notes.txt", "notes-2.txt", "NOTES.md", "todo.txt"):
        drive.files().create(body={"name": name}).execute()
    assert _names(drive, "name contains 'NOTES'") == ["NOTES.md", "Notes.txt", "notes-2.txt"]
    assert _names(drive, "name contains 'notes' and name = 'notes.TXT'") == ["Notes.txt"]
