"""The changes feed pages over the account's whole change log and filters after, like Google.

Under drive.file Google cuts each page from the user's whole change log and only then drops
what the caller may not see, so a page comes back short, or empty, and still carries a
`nextPageToken` (reference/drive-api-v3.md, "changes feed under drive.file"; the discovery
document's `pageSize`: "The service may return fewer than this value"). A client must read on
until `newStartPageToken`. Driven through google-api-python-client, two OAuth clients of one account.
"""

from __future__ import annotations

from typing import Any

from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build

EMAIL = "feed@uni.edu"
FULL_DRIVE = "https://www.googleapis.com/auth/drive"


def _drive(emulator, *, client: dict[str, Any] | None = None, scopes: list[str] | None = None) -> Any:
    """The account's Drive for an OAuth client (default: the built-in one) and scope."""
    extra: dict[str, Any] = {}
    if client is not None:
        extra["client_id"] = client["client_id"]
    if scopes:
        extra["scopes"] = scopes
    acct = emulator.create_account(EMAIL, **extra)
    return build("drive", "v3", credentials=Credentials(acct["access_token"]), static_discovery=False,
                 discoveryServiceUrl=emulator.url + "discovery/v1/apis/{api}/{apiVersion}/rest")


def _create(drive: Any, name: str) -> str:
    return drive.files().create(body={"name": name}, fields="id").execute()["id"]


def _pages(drive: Any, token: str, page_size: int) -> tuple[list[dict[str, Any]], str]:
    """Every page from `token` to the end, as Drive answered them, and the new start token."""
    pages: list[dict[str, Any]] = []
    while True:
        page = drive.changes().list(pageToken=token, pageSize=page_size,
                                    fields="nextPageToken,newStartPageToken,changes(fileId,removed)").execute()
        pages.append(page)
        if "newStartPageToken" in page:
            assert "nextPageToken" not in page
            return pages, page["newStartPageToken"]
        token = page["nextPageToken"]


def test_changes_pages_are_cut_from_the_whole_log_then_filtered(emulator) -> None:
    ours = _drive(emulator)
    theirs = _drive(emulator, client=emulator.create_client(client_type="installed"))
    start = ours.changes().getStartPageToken().execute()["startPageToken"]
    a = _create(ours, "a")
    foreign = [_create(theirs, f"t{i}") for i in range(5)]
    b = _create(ours, "b")
    foreign += [_create(theirs, f"t{i}") for i in range(5, 10)]
    theirs.files().delete(fileId=foreign[-1]).execute()  # a removal the feed must not leak either

    pages, new_token = _pages(ours, start, 3)
    # the log, 3 entries a page: a t0 t1 | t2 t3 t4 | b t5 t6 | t7 t8 t9(removed), then filtered
    assert [[c["fileId"] for c in p["changes"]] for p in pages] == [[a], [], [b], []]
    assert "nextPageToken" in pages[1] and pages[1]["changes"] == []  # empty, and not the end
    assert ours.changes().list(pageToken=new_token).execute()["changes"] == []

    # a caller who may see everything gets the same pages, full
    everything = _drive(emulator, scopes=[FULL_DRIVE])
    full, _ = _pages(everything, start, 3)
    assert [len(p["changes"]) for p in full] == [3, 3, 3, 3]
    assert full[-1]["changes"][-1] == {"fileId": foreign[-1], "removed": True}


def test_changes_page_size_above_1000_is_coerced_not_refused(emulator) -> None:
    """The discovery document (changes.list `pageSize`): "values above 1000 will be coerced to 1000"."""
    drive = _drive(emulator)
    token = drive.changes().getStartPageToken().execute()["startPageToken"]
    made = _create(drive, "x")
    page = drive.changes().list(pageToken=token, pageSize=5000, fields="newStartPageToken,changes(fileId)").execute()
    assert [c["fileId"] for c in page["changes"]] == [made] and "newStartPageToken" in page
