"""The real google-api-python-client against the emulator over HTTP (E2's `emulator` fixture).

Nothing is mocked: the service is built from the emulator's discovery document (both ways of
trap 1), and every call below goes over a socket to the emulator.
"""

from __future__ import annotations

import hashlib
import io
import json
from typing import Any

import google.oauth2.credentials
import httplib2
import pytest
from google_auth_httplib2 import AuthorizedHttp
from googleapiclient.discovery import build, build_from_document
from googleapiclient.errors import HttpError
from googleapiclient.http import MediaIoBaseDownload, MediaIoBaseUpload

FOLDER = "application/vnd.google-apps.folder"
ANN = "ann@example.edu"


def _service(emulator, email: str = ANN, *, from_document: bool = False) -> Any:
    acct = emulator.create_account(email)
    creds = google.oauth2.credentials.Credentials(token=acct["access_token"])
    if from_document:
        doc = json.loads(httplib2.Http().request(emulator.url + "discovery/v1/apis/drive/v3/rest")[1])
        return build_from_document(doc, credentials=creds)
    return build(
        "drive", "v3", credentials=creds, static_discovery=False,
        discoveryServiceUrl=emulator.url + "discovery/v1/apis/{api}/{apiVersion}/rest",
    )


@pytest.fixture
def drive(emulator) -> Any:
    return _service(emulator)


def _reason(err: HttpError) -> str:
    return json.loads(err.content)["error"]["errors"][0]["reason"]


def test_discovery_document_points_at_the_emulator(emulator) -> None:
    resp, body = httplib2.Http().request(emulator.url + "discovery/v1/apis/drive/v3/rest")
    doc = json.loads(body)
    assert resp.status == 200
    assert doc["rootUrl"] == emulator.url and doc["mtlsRootUrl"] == emulator.url
    assert doc["baseUrl"] == emulator.url + "drive/v3/"


@pytest.mark.parametrize("from_document", [False, True])
def test_folders_files_multipart_and_download(emulator, from_document: bool) -> None:
    drive = _service(emulator, from_document=from_document)
    folder = drive.files().create(body={"name": "work", "mimeType": FOLDER}, fields="id,mimeType").execute()
    assert folder["mimeType"] == FOLDER
    data = b"print('hello')\n" * 100
    media = MediaIoBaseUpload(io.BytesIO(data), mimetype="text/x-python", resumable=False)
    f = drive.files().create(
        body={"name": "a.py", "parents": [folder["id"]], "modifiedTime": "2024-01-01T12:00:00.000Z",
              "appProperties": {"path": "work/a.py"}},
        media_body=media, fields="id,md5Checksum,size,modifiedTime,parents,mimeType,appProperties",
    ).execute()
    assert f["md5Checksum"] == hashlib.md5(data).hexdigest() and f["size"] == str(len(data))
    assert f["modifiedTime"] == "2024-01-01T12:00:00.000Z" and f["parents"] == [folder["id"]]
    assert f["mimeType"] == "text/x-python" and f["appProperties"] == {"path": "work/a.py"}
    assert drive.files().get_media(fileId=f["id"]).execute() == data
    # the admin view agrees
    (row,) = [r for r in emulator.files(ANN) if r["id"] == f["id"]]
    assert row["md5Checksum"] == f["md5Checksum"] and row["parents"] == [folder["id"]]


def test_get_media_with_range_via_downloader(drive) -> None:
    data = bytes(range(256)) * 1024  # 256 KiB
    f = drive.files().create(body={"name": "blob"}, fields="id",
                             media_body=MediaIoBaseUpload(io.BytesIO(data), "application/octet-stream")).execute()
    buf = io.BytesIO()
    downloader = MediaIoBaseDownload(buf, drive.files().get_media(fileId=f["id"]), chunksize=100_000)
    done, chunks = False, 0
    while not done:
        _, done = downloader.next_chunk()
        chunks += 1
    assert buf.getvalue() == data and chunks == 3  # three 206 ranged reads
    req = drive.files().get_media(fileId=f["id"])
    req.headers["range"] = "bytes=%d-" % (len(data) + 5)
    with pytest.raises(HttpError) as exc:
        req.execute()
    assert exc.value.resp.status == 416


def test_batch_of_folder_creates(drive, emulator) -> None:
    emulator.reset_stats()
    results: dict[str, Any] = {}

    def done(request_id: str, response: Any, exception: Exception | None) -> None:
        results[request_id] = exception or response

    batch = drive.new_batch_http_request(callback=done)
    ids = drive.files().generateIds(count=30, fields="ids").execute()["ids"]
    for i, fid in enumerate(ids):
        batch.add(drive.files().create(body={"id": fid, "name": f"dir{i}", "mimeType": FOLDER}, fields="id,name"))
    batch.add(drive.files().get(fileId="does-not-exist"))
    batch.execute()
    assert len(results) == 31
    assert [results[str(i + 1)]["id"] for i in range(30)] == ids
    assert isinstance(results["31"], HttpError) and results["31"].resp.status == 404
    stats = emulator.stats()
    assert stats["requests"] == 2  # generateIds + one batch
    assert stats["units"] == 32  # one per inner call, plus generateIds
    names = {f["name"] for f in drive.files().list(q=f"mimeType = '{FOLDER}'", pageSize=100).execute()["files"]}
    assert names == {f"dir{i}" for i in range(30)}


def test_generate_ids_create_with_id_and_409_on_reuse(drive) -> None:
    out = drive.files().generateIds(count=5, space="drive", type="files").execute()
    assert out["kind"] == "drive#generatedIds" and len(out["ids"]) == 5
    fid = out["ids"][0]
    created = drive.files().create(body={"id": fid, "name": "once.txt"}, fields="id").execute()
    assert created["id"] == fid
    with pytest.raises(HttpError) as exc:
        drive.files().create(body={"id": fid, "name": "once.txt"}, fields="id").execute()
    assert exc.value.resp.status == 409 and _reason(exc.value) == "fileIdInUse"
    media = MediaIoBaseUpload(io.BytesIO(b"x"), "text/plain")
    with pytest.raises(HttpError) as exc:
        drive.files().create(body={"id": fid, "name": "once.txt"}, media_body=media).execute()
    assert exc.value.resp.status == 409
    assert len(drive.files().list(q="name = 'once.txt'").execute()["files"]) == 1


def test_list_quoted_names_paging_and_fields(drive) -> None:
    parent = drive.files().create(body={"name": "p", "mimeType": FOLDER}, fields="id").execute()["id"]
    tricky = ["it's.txt", "back\\slash.txt", "plain name.txt"]
    for n in tricky + [f"f{i:03d}" for i in range(23)]:
        drive.files().create(body={"name": n, "parents": [parent]}, fields="id").execute()
    for n in tricky:
        escaped = n.replace("\\", "\\\\").replace("'", "\\'")
        got = drive.files().list(q=f"name = '{escaped}' and '{parent}' in parents and trashed = false",
                                 fields="files(name)").execute()
        assert got == {"files": [{"name": n}]}
    names: list[str] = []
    request = drive.files().list(q=f"'{parent}' in parents", pageSize=10, orderBy="name",
                                 fields="nextPageToken,files(id,name)")
    pages = 0
    while request is not None:
        page = request.execute()
        pages += 1
        assert all(set(f) == {"id", "name"} for f in page["files"])
        names += [f["name"] for f in page["files"]]
        request = drive.files().list_next(request, page)
    assert pages == 3 and len(names) == 26 and names == sorted(names, key=str.casefold)
    with pytest.raises(HttpError) as exc:
        drive.files().list(fields="files(id,nosuchfield)").execute()
    assert exc.value.resp.status == 400
    with pytest.raises(HttpError) as exc:
        drive.files().list(q="name = 'unterminated").execute()
    assert exc.value.resp.status == 400 and _reason(exc.value) == "invalid"


def test_changes_paging_with_new_start_page_token(drive) -> None:
    token = drive.changes().getStartPageToken().execute()["startPageToken"]
    ids = [drive.files().create(body={"name": f"c{i}"}, fields="id").execute()["id"] for i in range(7)]
    drive.files().update(fileId=ids[0], body={"trashed": True}).execute()
    seen: list[str] = []
    pages = 0
    while True:
        page = drive.changes().list(pageToken=token, pageSize=3,
                                    fields="nextPageToken,newStartPageToken,changes(fileId,removed,file(trashed))"
                                    ).execute()
        pages += 1
        seen += [c["fileId"] for c in page["changes"]]
        if "newStartPageToken" in page:
            token = page["newStartPageToken"]
            break
        token = page["nextPageToken"]
    assert pages == 3 and seen == ids[1:] + ids[:1]
    assert drive.changes().list(pageToken=token).execute()["changes"] == []


def test_about(drive) -> None:
    about = drive.about().get(fields="user(emailAddress,me),storageQuota").execute()
    assert about["user"] == {"emailAddress": ANN, "me": True}
    assert set(about["storageQuota"]) == {"limit", "usage", "usageInDrive", "usageInDriveTrash"}
    with pytest.raises(HttpError) as exc:
        drive.about().get().execute()
    assert exc.value.resp.status == 400


def test_revisions_pin_and_fetch_old_content(drive) -> None:
    f = drive.files().create(body={"name": "r.txt"}, fields="id,headRevisionId",
                             media_body=MediaIoBaseUpload(io.BytesIO(b"old"), "text/plain")).execute()
    upd = drive.files().update(fileId=f["id"], keepRevisionForever=True, fields="headRevisionId,md5Checksum",
                               media_body=MediaIoBaseUpload(io.BytesIO(b"new!"), "text/plain")).execute()
    assert upd["headRevisionId"] != f["headRevisionId"]
    drive.revisions().update(fileId=f["id"], revisionId=f["headRevisionId"], body={"keepForever": True}).execute()
    revs = drive.revisions().list(fileId=f["id"], fields="revisions(id,keepForever,md5Checksum)").execute()
    assert [(r["id"], r["keepForever"]) for r in revs["revisions"]] == [
        (f["headRevisionId"], True), (upd["headRevisionId"], True)]
    assert drive.revisions().get_media(fileId=f["id"], revisionId=f["headRevisionId"]).execute() == b"old"
    assert drive.files().get_media(fileId=f["id"]).execute() == b"new!"


def test_trash_delete_empty_trash(drive, emulator) -> None:
    d = drive.files().create(body={"name": "d", "mimeType": FOLDER}, fields="id").execute()["id"]
    inner = drive.files().create(body={"name": "in", "parents": [d]}, fields="id").execute()["id"]
    keep = drive.files().create(body={"name": "keep"}, fields="id").execute()["id"]
    drive.files().update(fileId=d, body={"trashed": True}).execute()
    assert drive.files().get(fileId=inner, fields="trashed").execute() == {"trashed": True}
    listed = drive.files().list(q="trashed = true", fields="files(id)").execute()["files"]
    assert {f["id"] for f in listed} == {d, inner}
    assert drive.files().emptyTrash().execute() == ""
    assert [r["id"] for r in emulator.files(ANN)] == [keep]
    drive.files().delete(fileId=keep).execute()
    with pytest.raises(HttpError) as exc:
        drive.files().get(fileId=keep).execute()
    assert exc.value.resp.status == 404 and _reason(exc.value) == "notFound"


def test_drive_file_scope_hides_other_clients_files(emulator, drive) -> None:
    other_client = emulator.create_client()
    tokens = emulator.create_account(ANN, client_id=other_client["client_id"])
    other = build_from_document(
        json.loads(httplib2.Http().request(emulator.url + "discovery/v1/apis/drive/v3/rest")[1]),
        http=AuthorizedHttp(google.oauth2.credentials.Credentials(token=tokens["access_token"]), http=httplib2.Http()),
    )
    theirs = other.files().create(body={"name": "theirs"}, fields="id").execute()["id"]
    drive.files().create(body={"name": "mine"}).execute()
    assert [f["name"] for f in drive.files().list().execute()["files"]] == ["mine"]
    with pytest.raises(HttpError) as exc:
        drive.files().get(fileId=theirs).execute()
    assert exc.value.resp.status == 404


def test_batch_with_long_request_ids_round_trips(drive) -> None:
    """googleapiclient folds a long Content-ID onto a continuation line; the reply must still match."""
    ids = drive.files().generateIds(count=3, fields="ids").execute()["ids"]
    results: dict[str, Any] = {}
    batch = drive.new_batch_http_request(callback=lambda rid, resp, exc: results.__setitem__(rid, exc or resp))
    for fid in ids:  # request ids as long as Drive IDs (33 characters)
        batch.add(drive.files().create(body={"id": fid, "name": fid, "mimeType": FOLDER}, fields="id"),
                  request_id=f"create-folder-{fid}")
    batch.execute()
    assert {rid: r["id"] for rid, r in results.items()} == {f"create-folder-{fid}": fid for fid in ids}
