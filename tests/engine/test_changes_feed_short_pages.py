"""The push reads the changes feed to its end when other apps' changes make its pages short or empty.

Under drive.file Google cuts each page of changes.list from the account's whole change log and
drops what the app may not see afterwards (reference/drive-api-v3.md, "changes feed under
drive.file"; the emulator does the same, tests/emulator/test_changes_short_pages.py): another
app busy in the same Drive (Colab, a second tool) gives our push empty pages that still carry a
`nextPageToken`. The push must read on until `newStartPageToken`, and it pays one request per
1,000 entries of the account's log, whoever made them. Against the emulator over real HTTP.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build_from_document

from jupyter_drive_sync.core.options import PushOptions
from jupyter_drive_sync.drive.transport import discovery_document
from jupyter_drive_sync.engine.push import run_push

from tests.support import helpers
from tests.support.helpers import write

EMAIL = "busy@uni.edu"
USER = "bo"
FULL_DRIVE = "https://www.googleapis.com/auth/drive"
T0 = 1_700_000_000
FEED_PAGE = 1000  # the page size the Drive client asks for (the most Google gives)
FEED_ROUTE = "GET /drive/v3/changes"


def _service(emulator, *, client_id: str | None = None, scopes: list[str] | None = None) -> Any:
    extra: dict[str, Any] = {}
    if client_id:
        extra["client_id"] = client_id
    if scopes:
        extra["scopes"] = scopes
    acct = emulator.create_account(EMAIL, **extra)
    return build_from_document(discovery_document(emulator.url), credentials=Credentials(acct["access_token"]))


@pytest.fixture
def other_app(emulator) -> Any:
    """Another app of the same student (its own OAuth client, drive.file): its files and their
    changes are invisible to our push, but they are in the account's change log."""
    return _service(emulator, client_id=emulator.create_client(client_type="installed")["client_id"])


@pytest.fixture
def web(emulator) -> Any:
    """The student in Drive's web UI: full scope, so it may rename what our push made."""
    return _service(emulator, scopes=[FULL_DRIVE])


def busy(app: Any, count: int, tag: str) -> None:
    """`count` new files from `app`, in batches of 100 (each file one entry of the change log)."""
    for start in range(0, count, 100):
        batch = app.new_batch_http_request()
        for i in range(start, min(count, start + 100)):
            batch.add(app.files().create(body={"name": f"scratch-{tag}-{i}.txt"}, fields="id"))
        batch.execute()


def push(home: Path, emulator):
    s = run_push(PushOptions(home=home, user=USER, api_root=emulator.url, workers=2))
    assert s.failed == [], s.failed
    return s


def feed_reads(emulator) -> int:
    return int(emulator.stats()["by_route"].get(FEED_ROUTE, 0))


def test_push_reads_past_empty_feed_pages_to_a_change_of_its_own(connected_home, emulator, other_app, web):
    home = connected_home(USER, EMAIL)
    write(home, "notes.md", b"notes", T0)
    push(home, emulator)
    fid = helpers.drive_tree(emulator, EMAIL, f"home/{USER}")["notes.md"]["id"]

    busy(other_app, 1500, "a")  # the first page of the feed holds none of ours: empty, with a nextPageToken
    web.files().update(fileId=fid, body={"name": "notes (old).md"}).execute()
    busy(other_app, 700, "b")

    emulator.reset_stats()
    s = push(home, emulator)
    assert s.metadata_updated == 1  # the rename was found on the feed's second page and put back
    assert helpers.drive_tree(emulator, EMAIL, f"home/{USER}", trashed=False)["notes.md"]["id"] == fid
    assert feed_reads(emulator) == 3  # 2,201 log entries: 3 pages, 2 of them empty for us

    # a push with nothing to do pays for the other app's entries too: one request per 1,000
    busy(other_app, 1200, "c")
    emulator.reset_stats()
    s = push(home, emulator)
    assert (s.created, s.updated, s.metadata_updated) == (0, 0, 0)
    stats = emulator.stats()
    assert feed_reads(emulator) == 2 and stats["requests"] == 2, stats["by_route"]

    # with only our own entries in the log, the no-op budget holds
    emulator.reset_stats()
    push(home, emulator)
    assert emulator.stats()["requests"] <= 2
