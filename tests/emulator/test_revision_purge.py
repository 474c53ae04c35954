"""Old revisions go as on Google, and pinned ones cost storage, through google-api-python-client.

Google ("Manage file revisions"; the discovery document, Revision.keepForever and
File.quotaBytesUsed): a revision that is neither the head nor kept forever is purged 30 days
after newer content is uploaded, or earlier once a file has 100 such revisions and more content
arrives; at most 200 revisions of a file may be kept forever, and those count against the
owner's storage quota. The emulator's clock (`POST /_emulator/clock`) stands in for the month.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from googleapiclient.http import MediaIoBaseUpload

EMAIL = "rev@uni.edu"
DAY_S = 24 * 3600


def _drive(emulator, **account: Any) -> Any:
    """The account's Drive through the real client; refreshes its token itself, so the clock
    may jump a month between calls."""
    acct = emulator.create_account(EMAIL, **account)
    creds = Credentials(acct["access_token"], refresh_token=acct["refresh_token"],
                        token_uri=emulator.url + "token", **emulator.client_ids())
    return build("drive", "v3", credentials=creds, static_discovery=False,
                 discoveryServiceUrl=emulator.url + "discovery/v1/apis/{api}/{apiVersion}/rest")


def _media(data: bytes) -> MediaIoBaseUpload:
    return MediaIoBaseUpload(io.BytesIO(data), mimetype="application/octet-stream")


def _create(drive: Any, data: bytes, **kw: Any) -> dict[str, Any]:
    return drive.files().create(body={"name": "f.bin"}, media_body=_media(data), fields="id,headRevisionId",
                                **kw).execute()


def _upload(drive: Any, file_id: str, data: bytes, **kw: Any) -> dict[str, Any]:
    return drive.files().update(fileId=file_id, media_body=_media(data), fields="id,headRevisionId",
                                **kw).execute()


def _revisions(drive: Any, file_id: str) -> list[dict[str, Any]]:
    """Every revision of the file, oldest first (all pages)."""
    out: list[dict[str, Any]] = []
    token = None
    while True:
        page = drive.revisions().list(fileId=file_id, pageToken=token,
                                      fields="nextPageToken,revisions(id,keepForever,size)").execute()
        out += page["revisions"]
        token = page.get("nextPageToken")
        if not token:
            return out


def _usage(drive: Any) -> int:
    return int(drive.about().get(fields="storageQuota(usage)").execute()["storageQuota"]["usage"])


def _reason(err: HttpError) -> str:
    return json.loads(err.content)["error"]["errors"][0]["reason"]


def test_unpinned_revision_is_purged_30_days_after_newer_content(emulator) -> None:
    drive = _drive(emulator)
    plain = _create(drive, b"v1")
    pinned = _create(drive, b"p1", keepRevisionForever=True)
    emulator.advance_clock(10 * DAY_S)  # the old content's own age does not count...
    old_rev = plain["headRevisionId"]
    _upload(drive, plain["id"], b"v2")
    _upload(drive, pinned["id"], b"p2")

    emulator.advance_clock(30 * DAY_S - 60)  # ...only the time since newer content arrived
    assert [r["id"] for r in _revisions(drive, plain["id"])][0] == old_rev
    emulator.advance_clock(120)
    revs = _revisions(drive, plain["id"])
    assert len(revs) == 1 and revs[0]["id"] != old_rev  # the head is never purged
    with pytest.raises(HttpError) as exc:
        drive.revisions().get_media(fileId=plain["id"], revisionId=old_rev).execute()
    assert exc.value.resp.status == 404 and _reason(exc.value) == "notFound"
    kept = _revisions(drive, pinned["id"])
    assert [(r["id"], r["keepForever"]) for r in kept][0] == (pinned["headRevisionId"], True)
    assert drive.revisions().get_media(fileId=pinned["id"], revisionId=pinned["headRevisionId"]).execute() == b"p1"


def test_beyond_100_unpinned_revisions_the_oldest_are_purged(emulator) -> None:
    drive = _drive(emulator)
    f = _create(drive, b"0")
    first = f["headRevisionId"]
    second = _upload(drive, f["id"], b"1")["headRevisionId"]
    drive.revisions().update(fileId=f["id"], revisionId=second, body={"keepForever": True}).execute()
    heads = [_upload(drive, f["id"], str(i).encode())["headRevisionId"] for i in range(2, 103)]

    revs = _revisions(drive, f["id"])
    ids = [r["id"] for r in revs]
    # 103 contents: the pinned one stays; of the 102 others the oldest two go, 100 remain
    assert len(ids) == 101 and first not in ids and heads[0] not in ids
    assert ids == [second] + heads[1:]
    assert [r["keepForever"] for r in revs].count(True) == 1


def test_pinned_revisions_count_against_the_storage_quota(emulator) -> None:
    drive = _drive(emulator, storage_quota_bytes=1000)
    f = _create(drive, b"a" * 400, keepRevisionForever=True)
    _upload(drive, f["id"], b"b" * 400)  # the pinned old content still costs its 400 bytes
    assert _usage(drive) == 800
    got = drive.files().get(fileId=f["id"], fields="quotaBytesUsed").execute()
    assert got["quotaBytesUsed"] == "800"

    with pytest.raises(HttpError) as exc:  # 800 + 300 > 1000: Drive is full
        _create(drive, b"c" * 300)
    assert exc.value.resp.status == 403 and _reason(exc.value) == "storageQuotaExceeded"

    drive.revisions().update(fileId=f["id"], revisionId=f["headRevisionId"], body={"keepForever": False}).execute()
    assert _usage(drive) == 400  # unpinned: only the head counts
    assert _create(drive, b"c" * 300)["id"]
    assert _usage(drive) == 700


def test_pinned_revisions_are_never_purged_and_at_most_200_per_file(emulator) -> None:
    drive = _drive(emulator)
    f = _create(drive, b"0", keepRevisionForever=True)
    for i in range(1, 200):
        _upload(drive, f["id"], str(i).encode(), keepRevisionForever=True)
    head = _upload(drive, f["id"], b"unpinned")["headRevisionId"]
    with pytest.raises(HttpError) as exc:  # a 201st pin is refused
        drive.revisions().update(fileId=f["id"], revisionId=head, body={"keepForever": True}).execute()
    assert exc.value.resp.status == 403 and _reason(exc.value) == "cannotKeepRevisionForever"

    emulator.advance_clock(60 * DAY_S)
    revs = _revisions(drive, f["id"])
    assert len(revs) == 201 and [r["keepForever"] for r in revs] == [True] * 200 + [False]
