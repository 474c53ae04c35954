"""Google's limits on calls, through the real google-api-python-client: the per-account write
rate (each call inside a batch counts), the per-user and the per-project quota, and the stats
that count refused writes. Nothing is mocked; every call goes over a socket to the emulator.
"""

from __future__ import annotations

import io
import json
import time
from typing import Any

import google.oauth2.credentials
import pytest
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from googleapiclient.http import MediaIoBaseUpload

# Google's body for a write over the account's sustained write rate (the terse text of the
# handle-errors guide, which the daily upload cap shares).
WRITE_RATE_ERROR = {"domain": "usageLimits", "reason": "userRateLimitExceeded", "message": "User rate limit exceeded."}
PROJECT_QUOTA_ERROR = {"domain": "usageLimits", "reason": "rateLimitExceeded", "message": "Rate Limit Exceeded"}


def _drive(emulator: Any, email: str) -> Any:
    acct = emulator.create_account(email)
    creds = google.oauth2.credentials.Credentials(  # refreshes itself when the clock moves past the token
        token=acct["access_token"], refresh_token=acct["refresh_token"], token_uri=acct["token_uri"],
        **emulator.client_ids())
    return build("drive", "v3", credentials=creds, static_discovery=False,
                 discoveryServiceUrl=emulator.url + "discovery/v1/apis/{api}/{apiVersion}/rest")


def _error(err: HttpError) -> dict[str, Any]:
    return json.loads(err.content)["error"]


def _assert_google_error(err: HttpError, code: int, item: dict[str, str]) -> None:
    """The envelope Google sends: code, message and exactly one `errors` item with these three keys."""
    assert err.resp.status == code
    body = _error(err)
    assert body["code"] == code and body["message"] == item["message"]
    assert body["errors"] == [item]


def test_write_rate_refuses_writes_beyond_the_burst_with_googles_body(emulator) -> None:
    drive = _drive(emulator, "ann@example.edu")
    emulator.settings(write_rate=3, write_burst=10)
    emulator.reset_stats()
    created, refused = 0, []
    started = time.monotonic()
    for i in range(30):
        try:
            drive.files().create(body={"name": f"f{i}.txt"}, fields="id").execute()
            created += 1
        except HttpError as err:
            refused.append(err)
    elapsed = time.monotonic() - started
    # the burst, plus what 3/s refilled while the 30 calls ran
    assert 10 <= created <= 10 + int(elapsed * 3) + 1
    assert refused and len(refused) == 30 - created
    for err in refused:
        _assert_google_error(err, 403, WRITE_RATE_ERROR)
    # reads are not writes: listing and reserving IDs go on while writes are refused
    assert len(drive.files().list(fields="files(id)").execute()["files"]) == created
    assert len(drive.files().generateIds(count=5).execute()["ids"]) == 5
    stats = emulator.stats()
    assert stats["writes"] == created
    assert stats["refused_writes"] == len(refused) and stats["refused"] == {"write_rate": len(refused)}
    assert stats["requests"] == 32 and stats["units"] == created + 2  # existing keys unchanged


def test_write_rate_is_per_account(emulator) -> None:
    ann, bob = _drive(emulator, "ann@example.edu"), _drive(emulator, "bob@example.edu")
    emulator.settings(write_rate=0.01, write_burst=2)
    for i in range(2):
        ann.files().create(body={"name": f"a{i}"}, fields="id").execute()
    with pytest.raises(HttpError) as refused:
        ann.files().create(body={"name": "a2"}, fields="id").execute()
    _assert_google_error(refused.value, 403, WRITE_RATE_ERROR)
    for i in range(2):  # another account has its own bucket
        bob.files().create(body={"name": f"b{i}"}, fields="id").execute()


def test_write_bucket_refills_with_time_up_to_the_burst(emulator) -> None:
    drive = _drive(emulator, "ann@example.edu")
    emulator.settings(write_rate=0.5, write_burst=2)
    drive.files().create(body={"name": "a"}, fields="id").execute()
    drive.files().create(body={"name": "b"}, fields="id").execute()
    with pytest.raises(HttpError):
        drive.files().create(body={"name": "c"}, fields="id").execute()
    emulator.advance_clock(3600)  # an hour later the account has its burst again, and no more
    drive.files().create(body={"name": "c"}, fields="id").execute()
    drive.files().create(body={"name": "d"}, fields="id").execute()
    with pytest.raises(HttpError) as refused:
        drive.files().create(body={"name": "e"}, fields="id").execute()
    _assert_google_error(refused.value, 403, WRITE_RATE_ERROR)


def test_updates_deletes_and_copies_are_writes(emulator) -> None:
    drive = _drive(emulator, "ann@example.edu")
    emulator.settings(write_rate=0.01, write_burst=5)
    emulator.reset_stats()
    f = drive.files().create(body={"name": "a.txt"}, fields="id").execute()
    drive.files().update(fileId=f["id"], body={"name": "b.txt"}).execute()
    drive.files().update(fileId=f["id"], media_body=MediaIoBaseUpload(io.BytesIO(b"new"), "text/plain")).execute()
    copy = drive.files().copy(fileId=f["id"], body={"name": "c.txt"}, fields="id").execute()
    drive.files().delete(fileId=copy["id"]).execute()
    drive.files().get(fileId=f["id"]).execute()  # a read, not a write
    with pytest.raises(HttpError) as refused:
        drive.files().update(fileId=f["id"], body={"trashed": True}).execute()
    _assert_google_error(refused.value, 403, WRITE_RATE_ERROR)
    stats = emulator.stats()
    assert (stats["writes"], stats["refused_writes"]) == (5, 1)


def test_resumable_upload_is_one_write_however_many_chunks(emulator) -> None:
    drive = _drive(emulator, "ann@example.edu")
    emulator.settings(write_rate=0.01, write_burst=2)
    emulator.reset_stats()
    data = b"x" * (4 * 256 * 1024)
    media = MediaIoBaseUpload(io.BytesIO(data), "application/octet-stream", chunksize=256 * 1024, resumable=True)
    f = drive.files().create(body={"name": "big.bin"}, media_body=media, fields="id,size").execute()
    assert f["size"] == str(len(data))
    stats = emulator.stats()
    assert stats["by_route"]["PUT /upload/drive/v3/files"] == 4  # four chunks ...
    assert stats["writes"] == 1  # ... one write: the call that opened the session
    drive.files().create(body={"name": "second"}, fields="id").execute()
    with pytest.raises(HttpError):
        drive.files().create(body={"name": "third"}, fields="id").execute()


def test_each_call_inside_a_batch_counts_as_a_write(emulator) -> None:
    drive = _drive(emulator, "ann@example.edu")
    emulator.settings(write_rate=0.01, write_burst=5)
    emulator.reset_stats()
    results: dict[str, Any] = {}

    def collect(request_id: str, response: Any, exception: HttpError | None) -> None:
        results[request_id] = exception if exception is not None else response

    batch = drive.new_batch_http_request(callback=collect)
    for i in range(8):
        batch.add(drive.files().create(body={"name": f"folder{i}", "mimeType": "application/vnd.google-apps.folder"},
                                       fields="id"), request_id=str(i))
    batch.execute()
    refused = [r for r in results.values() if isinstance(r, HttpError)]
    assert len(results) == 8 and len(refused) == 3  # one batch request, eight writes: five fit the burst
    for err in refused:
        _assert_google_error(err, 403, WRITE_RATE_ERROR)
    assert [results[str(i)]["id"] for i in range(5)]  # in order: the first five went through
    stats = emulator.stats()
    assert stats["requests"] == 1 and stats["writes"] == 5 and stats["refused_writes"] == 3
    # reads inside a batch are not writes: they still go through
    reads = drive.new_batch_http_request(callback=collect)
    for i in range(5):
        reads.add(drive.files().get(fileId=results[str(i)]["id"], fields="id"), request_id=f"get{i}")
    reads.execute()
    assert not any(isinstance(results[f"get{i}"], HttpError) for i in range(5))


def test_project_quota_is_shared_by_all_accounts(emulator) -> None:
    ann, bob = _drive(emulator, "ann@example.edu"), _drive(emulator, "bob@example.edu")
    emulator.settings(project_quota_per_minute=60)  # one call per second for the whole project
    emulator.reset_stats()
    ann.files().list().execute()
    with pytest.raises(HttpError) as refused:  # bob has made no call, the project has no unit left
        bob.files().list().execute()
    _assert_google_error(refused.value, 403, PROJECT_QUOTA_ERROR)
    emulator.advance_clock(1)
    bob.files().list().execute()
    stats = emulator.stats()
    assert stats["refused"] == {"project_quota": 1} and stats["refused_writes"] == 0


def test_project_quota_counts_each_call_inside_a_batch(emulator) -> None:
    ann, bob = _drive(emulator, "ann@example.edu"), _drive(emulator, "bob@example.edu")
    emulator.settings(project_quota_per_minute=180)  # three calls per second, three at once
    outcomes: list[bool] = []
    batch = ann.new_batch_http_request(callback=lambda rid, resp, exc: outcomes.append(exc is None))
    for _ in range(3):
        batch.add(ann.files().list(pageSize=1))
    batch.execute()
    assert outcomes == [True, True, True]
    with pytest.raises(HttpError) as refused:
        bob.files().list().execute()
    _assert_google_error(refused.value, 403, PROJECT_QUOTA_ERROR)


def test_user_quota_and_write_rate_from_the_settings_route(emulator) -> None:
    answer = emulator.settings(write_rate=3, write_burst=10, quota_per_minute=12000, project_quota_per_minute=24000)
    assert answer["write_rate"] == 3 and answer["write_burst"] == 10
    assert answer["quota_per_minute"] == 12000 and answer["project_quota_per_minute"] == 24000
    assert answer["profile"] == "fast"
    with pytest.raises(Exception):  # all or nothing: a bad value changes nothing
        emulator.settings(write_rate=-1, write_burst=1)
    assert emulator.settings()["write_burst"] == 10
