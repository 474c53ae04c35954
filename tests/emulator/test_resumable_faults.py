"""Resumable uploads through the real googleapiclient, interrupted by injected faults.

The client resumes by calling `next_chunk()` again (never `num_retries`: reference, trap 2), which
sends a status query and continues from the server's Range. The file must arrive intact, once,
and without re-sending much more than was lost.
"""

from __future__ import annotations

import hashlib
import io
import os

import google_auth_httplib2
import httplib2
import pytest
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from googleapiclient.http import MediaIoBaseUpload, build_http

CHUNK = 256 * 1024
EMAIL = "res@example.edu"


def _service(emulator):
    acct = emulator.create_account(EMAIL)
    creds = Credentials(acct["access_token"], refresh_token=acct["refresh_token"],
                        token_uri=emulator.url + "token", **emulator.client_ids())
    # build_http(): an httplib2.Http that does not follow 308 (the resumable "resume incomplete")
    http = google_auth_httplib2.AuthorizedHttp(creds, http=build_http())
    return build("drive", "v3", http=http, static_discovery=False, cache_discovery=False,
                 discoveryServiceUrl=emulator.url + "discovery/v1/apis/{api}/{apiVersion}/rest")


def _upload_request(service, data: bytes, name: str):
    media = MediaIoBaseUpload(io.BytesIO(data), mimetype="application/octet-stream", chunksize=CHUNK, resumable=True)
    return service.files().create(body={"name": name}, media_body=media, fields="id,name,md5Checksum,size")


def _finish(request, limit: int = 200) -> tuple[dict, int]:
    """Call next_chunk() until done, counting the failures it had to resume from."""
    failures = 0
    for _ in range(limit):
        try:
            _, response = request.next_chunk(num_retries=0)
        except (HttpError, ConnectionError, httplib2.HttpLib2Error, OSError):
            failures += 1
            continue
        if response is not None:
            return response, failures
    raise AssertionError("upload did not finish")


@pytest.mark.parametrize("kind", ["503", "reset", "lost-after-commit"])
def test_upload_interrupted_mid_way_then_resumed(emulator, kind):
    service = _service(emulator)
    data = os.urandom(10 * CHUNK + 4321)
    request = _upload_request(service, data, f"interrupted-{kind}.bin")
    for _ in range(4):  # 4 chunks go through
        status, response = request.next_chunk(num_retries=0)
        assert response is None
    assert status.resumable_progress == 4 * CHUNK
    emulator.reset_stats()

    emulator.set_faults(rate=1.0, kinds=[kind], seed=1)  # the next chunk fails
    with pytest.raises((HttpError, ConnectionError, httplib2.HttpLib2Error, OSError)):
        request.next_chunk(num_retries=0)
    emulator.set_faults(rate=0)

    response, failures = _finish(request)
    assert failures == 0
    assert response["md5Checksum"] == hashlib.md5(data).hexdigest()
    assert response["size"] == str(len(data))
    remaining = len(data) - 4 * CHUNK
    stats = emulator.stats()
    assert stats["bytes_received"] <= remaining + 2 * CHUNK  # at most the interrupted chunk again
    assert stats["bytes_received"] <= 1.2 * len(data)
    assert [f["name"] for f in emulator.files(EMAIL)].count(f"interrupted-{kind}.bin") == 1
    assert "injected" not in stats  # stats and fault bookkeeping stay separate


def test_upload_completes_through_a_seeded_storm_of_faults(emulator):
    service = _service(emulator)
    data = os.urandom(12 * CHUNK + 99)
    request = _upload_request(service, data, "storm.bin")
    emulator.set_faults(rate=0.3, kinds=["500", "503", "429", "403-rate", "reset"], seed=42)
    response, failures = _finish(request)
    emulator.set_faults(rate=0)
    assert failures > 0  # the storm really hit this upload
    assert response["md5Checksum"] == hashlib.md5(data).hexdigest()
    assert [f["name"] for f in emulator.files(EMAIL)].count("storm.bin") == 1


def test_final_chunk_lost_after_commit_resumes_to_the_same_file(emulator):
    service = _service(emulator)
    data = os.urandom(2 * CHUNK + 10)
    request = _upload_request(service, data, "last.bin")
    for _ in range(2):
        assert request.next_chunk(num_retries=0)[1] is None
    emulator.set_faults(rate=1.0, kinds=["lost-after-commit"], seed=3)
    with pytest.raises((HttpError, ConnectionError, httplib2.HttpLib2Error, OSError)):
        request.next_chunk(num_retries=0)
    emulator.set_faults(rate=0)
    response, _ = _finish(request)  # status query answers with the committed file
    assert response["md5Checksum"] == hashlib.md5(data).hexdigest()
    files = [f for f in emulator.files(EMAIL) if f["name"] == "last.bin"]
    assert len(files) == 1 and files[0]["id"] == response["id"]
