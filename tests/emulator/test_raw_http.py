"""Upload wire protocol byte for byte, with raw HTTP only (no googleapiclient).

Each test builds the request as Google documents it, then reads the file back with
`alt=media` and compares md5, so a parser that drops or adds a byte fails.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
from urllib.parse import urlsplit
from pathlib import Path

import pytest
import requests

CHUNK = 256 * 1024
# Content that tries to confuse a multipart parser: line breaks of both kinds, a fake delimiter.
TRICKY = b"line1\r\nline2\n--not-the-boundary\r\n\r\n\x00\xff" + os.urandom(70_000) + b"\r"


@pytest.fixture
def token(emulator) -> str:
    return emulator.create_account("raw@example.edu")["access_token"]


def _auth(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **extra}


def _download_md5(emulator, token: str, file_id: str) -> str:
    resp = requests.get(f"{emulator.url}drive/v3/files/{file_id}", params={"alt": "media"},
                        headers=_auth(token), timeout=30)
    assert resp.status_code == 200, resp.text
    return hashlib.md5(resp.content).hexdigest()


def _multipart_body(boundary: str, metadata: dict, content: bytes, eol: bytes) -> bytes:
    b = boundary.encode()
    return (b"--" + b + eol + b"Content-Type: application/json; charset=UTF-8" + eol + eol
            + json.dumps(metadata).encode() + eol
            + b"--" + b + eol + b"Content-Type: application/octet-stream" + eol
            + b"Content-Transfer-Encoding: binary" + eol + eol
            + content + eol + b"--" + b + b"--" + eol)


@pytest.mark.parametrize("eol", [b"\r\n", b"\n"], ids=["crlf", "bare-lf"])
def test_multipart_upload(emulator, token, eol):
    boundary = "===============7330845974216740156=="
    body = _multipart_body(boundary, {"name": "tricky.bin", "modifiedTime": "2024-01-01T12:00:00.000Z"},
                           TRICKY, eol)
    resp = requests.post(emulator.url + "upload/drive/v3/files",
                         params={"uploadType": "multipart", "fields": "id,name,md5Checksum,size,modifiedTime"},
                         headers=_auth(token, **{"Content-Type": f'multipart/related; boundary="{boundary}"'}),
                         data=body, timeout=30)
    assert resp.status_code == 200, resp.text
    meta = resp.json()
    expected = hashlib.md5(TRICKY).hexdigest()
    assert meta["name"] == "tricky.bin" and meta["size"] == str(len(TRICKY))
    assert meta["md5Checksum"] == expected
    assert meta["modifiedTime"] == "2024-01-01T12:00:00.000Z"
    assert _download_md5(emulator, token, meta["id"]) == expected


def test_multipart_with_empty_media_and_bad_bodies(emulator, token):
    boundary = "b0undary"
    ok = requests.post(emulator.url + "upload/drive/v3/files?uploadType=multipart&fields=id,size",
                       headers=_auth(token, **{"Content-Type": f"multipart/related; boundary={boundary}"}),
                       data=_multipart_body(boundary, {"name": "empty"}, b"", b"\r\n"), timeout=30)
    assert ok.status_code == 200 and ok.json()["size"] == "0"
    truncated = _multipart_body(boundary, {"name": "x"}, b"abc", b"\n")[:-20]
    bad = requests.post(emulator.url + "upload/drive/v3/files?uploadType=multipart",
                        headers=_auth(token, **{"Content-Type": f"multipart/related; boundary={boundary}"}),
                        data=truncated, timeout=30)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == 400


def test_media_upload_then_update_content(emulator, token):
    resp = requests.post(emulator.url + "upload/drive/v3/files?uploadType=media&fields=id,mimeType,md5Checksum",
                         headers=_auth(token, **{"Content-Type": "text/csv"}), data=b"a,b\n1,2\n", timeout=30)
    assert resp.status_code == 200, resp.text
    meta = resp.json()
    assert meta["mimeType"] == "text/csv"
    new = b"a,b\n3,4\n"
    upd = requests.patch(f"{emulator.url}upload/drive/v3/files/{meta['id']}?uploadType=media&fields=md5Checksum",
                         headers=_auth(token, **{"Content-Type": "text/csv"}), data=new, timeout=30)
    assert upd.status_code == 200, upd.text
    assert upd.json()["md5Checksum"] == hashlib.md5(new).hexdigest()
    assert _download_md5(emulator, token, meta["id"]) == hashlib.md5(new).hexdigest()


def _initiate(emulator, token, metadata, length=None, query="fields=id,name,md5Checksum,size", file_id=None):
    headers = _auth(token, **{"Content-Type": "application/json; charset=UTF-8",
                              "X-Upload-Content-Type": "application/octet-stream"})
    if length is not None:
        headers["X-Upload-Content-Length"] = str(length)
    path = "upload/drive/v3/files" + (f"/{file_id}" if file_id else "")
    method = "PATCH" if file_id else "POST"
    resp = requests.request(method, f"{emulator.url}{path}?uploadType=resumable&{query}", headers=headers,
                            data=json.dumps(metadata), timeout=30)
    assert resp.status_code == 200, resp.text  # exactly 200: googleapiclient raises on 201
    location = resp.headers["Location"]
    assert location.startswith(emulator.url + path + "?uploadType=resumable&upload_id=")
    return location


def _chunks(data: bytes, size: int = 8192):
    for i in range(0, len(data), size):
        yield data[i:i + size]


def test_resumable_with_chunked_transfer_encoding_and_status_queries(emulator, token):
    data = os.urandom(2 * CHUNK + 12345)
    total = len(data)
    session = _initiate(emulator, token, {"name": "big.bin"})  # length unknown at start

    # first chunk, sent with Transfer-Encoding: chunked (a generator body), total unknown
    r = requests.put(session, data=_chunks(data[:CHUNK]), timeout=30,
                     headers={"Content-Range": f"bytes 0-{CHUNK - 1}/*"})
    assert r.status_code == 308 and r.headers["Range"] == f"bytes=0-{CHUNK - 1}"

    # status query
    r = requests.put(session, data=b"", timeout=30, headers={"Content-Range": "bytes */*"})
    assert r.status_code == 308 and r.headers["Range"] == f"bytes=0-{CHUNK - 1}"

    # a chunk that does not start at the received offset is not taken: 308 with the real Range
    r = requests.put(session, data=data[2 * CHUNK:], timeout=30,
                     headers={"Content-Range": f"bytes {2 * CHUNK}-{total - 1}/{total}"})
    assert r.status_code == 308 and r.headers["Range"] == f"bytes=0-{CHUNK - 1}"

    r = requests.put(session, data=_chunks(data[CHUNK:2 * CHUNK]), timeout=30,
                     headers={"Content-Range": f"bytes {CHUNK}-{2 * CHUNK - 1}/{total}"})
    assert r.status_code == 308 and r.headers["Range"] == f"bytes=0-{2 * CHUNK - 1}"

    r = requests.put(session, data=_chunks(data[2 * CHUNK:]), timeout=30,
                     headers={"Content-Range": f"bytes {2 * CHUNK}-{total - 1}/{total}"})
    assert r.status_code in (200, 201), r.text
    meta = r.json()
    assert meta["name"] == "big.bin" and meta["size"] == str(total)  # initiation's fields honoured
    assert meta["md5Checksum"] == hashlib.md5(data).hexdigest()
    assert _download_md5(emulator, token, meta["id"]) == hashlib.md5(data).hexdigest()

    # after completion a status query returns the final resource again (lost final response)
    again = requests.put(session, data=b"", timeout=30, headers={"Content-Range": f"bytes */{total}"})
    assert again.status_code in (200, 201) and again.json()["id"] == meta["id"]
    assert len([f for f in emulator.files("raw@example.edu") if f["name"] == "big.bin"]) == 1


def test_resumable_first_status_query_has_no_range(emulator, token):
    session = _initiate(emulator, token, {"name": "n.bin"}, length=10)
    r = requests.put(session, data=b"", timeout=30, headers={"Content-Range": "bytes */10"})
    assert r.status_code == 308 and "Range" not in r.headers


def test_zero_byte_resumable_upload(emulator, token):
    session = _initiate(emulator, token, {"name": "empty.txt"}, length=0)
    r = requests.put(session, data=b"", timeout=30, headers={"Content-Length": "0"})
    assert r.status_code in (200, 201), r.text
    meta = r.json()
    assert meta["size"] == "0" and meta["md5Checksum"] == hashlib.md5(b"").hexdigest()


def test_resumable_update_keeps_id(emulator, token):
    first = requests.post(emulator.url + "upload/drive/v3/files?uploadType=media&fields=id",
                          headers=_auth(token), data=b"v1", timeout=30).json()
    data = os.urandom(CHUNK + 7)
    session = _initiate(emulator, token, {}, length=len(data), file_id=first["id"],
                        query="fields=id,md5Checksum&keepRevisionForever=true")
    r = requests.put(session, data=data, timeout=30, headers={"Content-Range": f"bytes 0-{len(data) - 1}/{len(data)}"})
    assert r.status_code == 200, r.text
    assert r.json() == {"id": first["id"], "md5Checksum": hashlib.md5(data).hexdigest()}
    revs = requests.get(f"{emulator.url}drive/v3/files/{first['id']}/revisions",
                        params={"fields": "revisions(id,keepForever,md5Checksum)"}, headers=_auth(token), timeout=30)
    assert revs.json()["revisions"][-1]["keepForever"] is True


def test_unknown_session_and_bad_ranges(emulator, token):
    r = requests.put(emulator.url + "upload/drive/v3/files?uploadType=resumable&upload_id=nope",
                     data=b"x", headers={"Content-Range": "bytes 0-0/1"}, timeout=30)
    assert r.status_code == 404
    session = _initiate(emulator, token, {"name": "r.bin"}, length=100)
    assert requests.put(session, data=b"x" * 10, headers={"Content-Range": "bytes 0-9/200"}, timeout=30).status_code == 400
    assert requests.put(session, data=b"x" * 10, headers={"Content-Range": "bytes 0-19/100"}, timeout=30).status_code == 400
    assert requests.put(session, data=b"x" * 10, headers={"Content-Range": "garbage"}, timeout=30).status_code == 400


def test_resumable_initiation_refused_when_storage_is_full(emulator, token):
    emulator.update_account("raw@example.edu", storage_quota_bytes=1000)
    resp = requests.post(emulator.url + "upload/drive/v3/files?uploadType=resumable",
                         headers=_auth(token, **{"X-Upload-Content-Length": "5000", "Content-Type": "application/json"}),
                         data=b'{"name": "too-big"}', timeout=30)
    assert resp.status_code == 403
    assert resp.json()["error"]["errors"][0]["reason"] == "storageQuotaExceeded"


def test_short_body_is_answered_not_hung(emulator, token):
    """A body shorter than its Content-Length (an exhausted, replayed chunk: trap 2) gets 400."""
    session = _initiate(emulator, token, {"name": "short.bin"}, length=CHUNK)
    parts = urlsplit(session)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=20)
    conn.putrequest("PUT", f"{parts.path}?{parts.query}")
    conn.putheader("Content-Length", str(CHUNK))
    conn.putheader("Content-Range", f"bytes 0-{CHUNK - 1}/{CHUNK}")
    conn.endheaders()
    conn.send(b"only a few bytes")
    try:
        resp = conn.getresponse()  # a socket.timeout here would mean the server hung
        assert resp.status == 400
        assert resp.getheader("Connection") == "close"
    finally:
        conn.close()
    # the session is intact: nothing was taken from the short body
    r = requests.put(session, data=b"", headers={"Content-Range": f"bytes */{CHUNK}"}, timeout=30)
    assert r.status_code == 308 and "Range" not in r.headers


def test_long_get_as_post_with_method_override(emulator, token):
    made = requests.post(emulator.url + "drive/v3/files?fields=id", headers=_auth(token),
                         json={"name": "needle"}, timeout=30).json()
    q = "name = 'needle' and trashed = false" + " and not name = 'x'" * 150  # > 2048 chars
    resp = requests.post(emulator.url + "drive/v3/files", headers=_auth(token, **{"X-HTTP-Method-Override": "GET"}),
                         data={"q": q, "fields": "files(id,name)", "alt": "json"}, timeout=30)
    assert resp.status_code == 200, resp.text
    assert resp.json()["files"] == [{"id": made["id"], "name": "needle"}]
    assert emulator.stats()["by_route"]["GET /drive/v3/files"] == 1


@pytest.mark.parametrize("upload_type", ["multipart", "media"])
def test_large_single_request_uploads_are_staged_on_disk(emulator, token, upload_type):
    """Bodies beyond the in-memory limit go through a temp file (and its mmap for multipart)."""
    from jupyter_drive_sync.emulator.bodies import MEMORY_LIMIT

    content = os.urandom(MEMORY_LIMIT + 12345)
    if upload_type == "multipart":
        boundary = "big-boundary"
        body = _multipart_body(boundary, {"name": "big-single.bin"}, content, b"\n")
        ctype = f"multipart/related; boundary={boundary}"
    else:
        body, ctype = content, "application/octet-stream"
    resp = requests.post(emulator.url + "upload/drive/v3/files",
                         params={"uploadType": upload_type, "fields": "id,md5Checksum,size"},
                         headers=_auth(token, **{"Content-Type": ctype}), data=body, timeout=60)
    assert resp.status_code == 200, resp.text
    assert resp.json()["md5Checksum"] == hashlib.md5(content).hexdigest()
    assert _download_md5(emulator, token, resp.json()["id"]) == hashlib.md5(content).hexdigest()
    leftovers = list((emulator.ctx.settings.data_dir / "tmp").iterdir())
    assert leftovers == []  # staged bodies are cleaned up


def test_dropped_large_request_leaves_no_staged_file(emulator, token):
    from jupyter_drive_sync.emulator.bodies import MEMORY_LIMIT

    emulator.set_faults(rate=1.0, kinds=["reset"], seed=0)
    parts = urlsplit(emulator.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.request("POST", "/upload/drive/v3/files?uploadType=media", body=b"z" * (MEMORY_LIMIT + 1),
                 headers=_auth(token, **{"Content-Type": "application/octet-stream"}))
    with pytest.raises((http.client.HTTPException, ConnectionError)):
        conn.getresponse()
    conn.close()
    emulator.set_faults(rate=0)
    assert list((emulator.ctx.settings.data_dir / "tmp").iterdir()) == []
    assert [f for f in emulator.files("raw@example.edu") if f["mimeType"] != "application/vnd.google-apps.folder"] == []


def test_staged_multipart_body_is_parsed_whole_whatever_the_chunking(tmp_path):
    """The staged file is flushed before it is mapped: a small last network chunk (still in the
    spool's write buffer) once made a complete body look unterminated."""
    from jupyter_drive_sync.emulator.bodies import BodySpool, read_multipart

    content = os.urandom(300_000)
    boundary = "edge"
    body = _multipart_body(boundary, {"name": "x.bin"}, content, b"\n")
    spool = BodySpool(tmp_path, memory_limit=1024)
    spool.write(body[:-10])  # large: spills to the file, written through
    spool.write(body[-10:])  # small tail: sits in the buffered writer
    try:
        metadata, media, _ = read_multipart(spool, f"multipart/related; boundary={boundary}", tmp_path)
        data = media.read_bytes() if isinstance(media, Path) else media
        assert metadata == {"name": "x.bin"} and hashlib.md5(data).hexdigest() == hashlib.md5(content).hexdigest()
    finally:
        spool.close()
