"""DriveApi semantics, called directly with wire.Request values (no HTTP).

The context is the emulator's real one (context.build_context): real AccountStore, DriveStore
on a temporary data dir, real limiter and stats.
"""

from __future__ import annotations

import hashlib
import json
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from jupyter_drive_sync.emulator.batch import handle_batch
from jupyter_drive_sync.emulator.context import build_context
from jupyter_drive_sync.emulator.drive_api import DriveApi
from jupyter_drive_sync.emulator.drive_v3.access import SCOPE_DRIVE, SCOPE_FILE
from jupyter_drive_sync.emulator.records import FOLDER_MIME
from jupyter_drive_sync.emulator.settings import EmulatorSettings
from jupyter_drive_sync.emulator.store import DriveStore
from jupyter_drive_sync.emulator.wire import Principal, Request, Response

ANN = "ann@example.edu"


class Client:
    """Calls DriveApi as one principal; `call` returns (status, parsed JSON or raw bytes)."""

    def __init__(self, api: DriveApi, email: str = ANN, client_id: str = "client-A",
                 scopes: tuple[str, ...] = (SCOPE_FILE,)) -> None:
        self.api = api
        self.principal = Principal(email, client_id, frozenset(scopes))

    def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
                **query: Any) -> Request:
        q = {k: [str(v).lower() if isinstance(v, bool) else str(v)] for k, v in query.items()}
        raw = json.dumps(body).encode() if body is not None else b""
        return Request(method, "/drive/v3/" + path, q, {k.lower(): v for k, v in (headers or {}).items()},
                       raw, self.principal)

    def raw(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
            **query: Any) -> Response:
        return self.api.handle(self.request(method, path, body, headers, **query))

    def call(self, method: str, path: str, body: Any = None, **query: Any) -> tuple[int, Any]:
        resp = self.raw(method, path, body, **query)
        if resp.headers.get("Content-Type", "").startswith("application/json"):
            return resp.status, json.loads(resp.body)
        return resp.status, resp.body

    def ok(self, method: str, path: str, body: Any = None, **query: Any) -> Any:
        status, out = self.call(method, path, body, **query)
        assert status == 200, out
        return out

    def create(self, name: str, *, parent: str | None = None, media: bytes | None = None,
               folder: bool = False, **extra: Any) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": name, **extra}
        if parent:
            meta["parents"] = [parent]
        if folder:
            meta["mimeType"] = FOLDER_MIME
        query = {"fields": "*"}
        resp = self.api.files_create(self.request("POST", "files", **query), meta, media)
        assert resp.status == 200, resp.body
        return json.loads(resp.body)

    def upload(self, file_id: str, media: bytes, meta: dict | None = None, **query: Any) -> dict[str, Any]:
        query.setdefault("fields", "*")
        resp = self.api.files_update(self.request("PATCH", f"files/{file_id}", **query), file_id, meta or {}, media)
        assert resp.status == 200, resp.body
        return json.loads(resp.body)


def reason(out: Any) -> str:
    return out["error"]["errors"][0]["reason"]


@pytest.fixture
def settings(tmp_path: Path) -> EmulatorSettings:
    return EmulatorSettings(data_dir=tmp_path / "data", persistent=True, seed=7)


@pytest.fixture
def ctx(settings: EmulatorSettings):
    c = build_context(settings)
    c.accounts.create(ANN)
    yield c
    c.files.close()


@pytest.fixture
def api(ctx) -> DriveApi:
    return DriveApi(ctx)


@pytest.fixture
def ann(api: DriveApi) -> Client:
    return Client(api)


# ---------------------------------------------------------------- create / get / defaults


def test_create_folder_and_file_shapes(ann: Client) -> None:
    folder = ann.create("work", folder=True)
    assert folder["kind"] == "drive#file" and folder["mimeType"] == FOLDER_MIME
    assert len(folder["id"]) == 33 and all(c.isalnum() or c in "-_" for c in folder["id"])
    assert "md5Checksum" not in folder and "size" not in folder
    f = ann.create("a.txt", parent=folder["id"], media=b"hello")
    assert f["parents"] == [folder["id"]]
    assert f["md5Checksum"] == hashlib.md5(b"hello").hexdigest()
    assert f["sha256Checksum"] == hashlib.sha256(b"hello").hexdigest()
    assert f["size"] == "5" and f["quotaBytesUsed"] == "5"
    assert f["fileExtension"] == "txt" and f["headRevisionId"]
    # default fields on get
    assert ann.ok("GET", f"files/{f['id']}") == {
        "kind": "drive#file", "id": f["id"], "name": "a.txt", "mimeType": "application/octet-stream"}
    # root alias, and a file without parents lands in root
    root = ann.ok("GET", "files/root", fields="id,name,parents")
    assert root["name"] == "My Drive" and "parents" not in root
    assert ann.ok("GET", f"files/{folder['id']}", fields="parents")["parents"] == [root["id"]]


def test_create_rejects_output_only_and_unknown_fields(ann: Client) -> None:
    status, out = ann.call("POST", "files", {"name": "x", "md5Checksum": "0" * 32})
    assert status == 403 and reason(out) == "fieldNotWritable"
    status, out = ann.call("POST", "files", {"name": "x", "nmae": "y"})
    assert status == 400
    status, out = ann.call("POST", "files", {"name": "x", "parents": ["nope-not-here"]})
    assert status == 404 and out["error"]["message"] == "File not found: nope-not-here."
    status, out = ann.call("POST", "files", {"name": "x"}, fields="id,bogus")
    assert status == 400 and out["error"]["message"] == "Invalid field selection bogus"
    # none of the refused creates left a file behind
    assert ann.ok("GET", "files")["files"] == []


def test_modified_time_writable_on_create_and_update(ann: Client) -> None:
    f = ann.create("t", media=b"x", modifiedTime="2024-01-01T12:00:00.000Z")
    assert f["modifiedTime"] == "2024-01-01T12:00:00.000Z"
    v1 = int(f["version"])
    out = ann.ok("PATCH", f"files/{f['id']}", {"modifiedTime": "2023-05-06T07:08:09.123Z"},
                 fields="modifiedTime,version,headRevisionId")
    assert out["modifiedTime"] == "2023-05-06T07:08:09.123Z"
    assert int(out["version"]) > v1 and out["headRevisionId"] == f["headRevisionId"]  # no new revision
    renamed = ann.ok("PATCH", f"files/{f['id']}", {"name": "t2"}, fields="modifiedTime,name")
    assert renamed["name"] == "t2" and renamed["modifiedTime"] > "2024-01-02"  # now


def test_generate_ids_and_create_with_id_once(ann: Client, api: DriveApi) -> None:
    out = ann.ok("GET", "files/generateIds", count=3)
    assert out["kind"] == "drive#generatedIds" and out["space"] == "drive" and len(out["ids"]) == 3
    assert len(ann.ok("GET", "files/generateIds")["ids"]) == 10
    for bad in (0, 1001, "x"):
        status, body = ann.call("GET", "files/generateIds", count=bad)
        assert status == 400 and body["error"]["errors"][0]["location"] == "count"
    fid = out["ids"][0]
    created = ann.ok("POST", "files", {"id": fid, "name": "once"})
    assert created["id"] == fid
    status, body = ann.call("POST", "files", {"id": fid, "name": "twice"})
    assert status == 409 and reason(body) == "fileIdInUse"
    assert body["error"]["message"] == "A file already exists with the provided ID."
    status, body = ann.call("POST", "files", {"id": "not-a-generated-id-0123456789abcdef", "name": "x"})
    assert status == 400
    status, body = ann.call("POST", "files", {"id": "bad id!", "name": "x"})
    assert status == 400
    # another account cannot use ann's generated id
    api.ctx.accounts.create("bob@example.edu")
    bob = Client(api, "bob@example.edu")
    status, _ = bob.call("POST", "files", {"id": out["ids"][1], "name": "x"})
    assert status == 400
    # a file deleted for good keeps its id taken: Google refuses it (400 not usable), not 409
    assert ann.raw("DELETE", f"files/{fid}").status == 204
    status, body = ann.call("POST", "files", {"id": fid, "name": "again"})
    assert status == 400 and body["error"]["message"] == "The provided file ID is not usable."


# ---------------------------------------------------------------- update, parents, properties


def test_parents_not_writable_on_update_use_add_remove(ann: Client) -> None:
    a = ann.create("A", folder=True)
    b = ann.create("B", folder=True)
    f = ann.create("f", parent=a["id"])
    status, out = ann.call("PATCH", f"files/{f['id']}", {"parents": [b["id"]]})
    assert status == 403 and reason(out) == "fieldNotWritable"
    status, out = ann.call("PATCH", f"files/{f['id']}", {}, addParents=b["id"])
    assert status == 403 and reason(out) == "cannotAddParent"
    moved = ann.ok("PATCH", f"files/{f['id']}", {}, addParents=b["id"], removeParents=a["id"], fields="parents")
    assert moved["parents"] == [b["id"]]
    assert [x["id"] for x in ann.ok("GET", "files", q=f"'{b['id']}' in parents")["files"]] == [f["id"]]
    assert ann.ok("GET", "files", q=f"'{a['id']}' in parents")["files"] == []
    status, out = ann.call("PATCH", f"files/{a['id']}", {}, addParents=a["id"], removeParents="root")
    assert status == 400  # into itself


def test_output_only_fields_on_update_are_403(ann: Client) -> None:
    f = ann.create("f", media=b"1")
    for field in ("size", "md5Checksum", "version", "headRevisionId", "quotaBytesUsed", "id"):
        status, out = ann.call("PATCH", f"files/{f['id']}", {field: "1"})
        assert status == 403 and reason(out) == "fieldNotWritable", field


def test_app_properties_merge_delete_limits_and_privacy(ann: Client, api: DriveApi) -> None:
    f = ann.create("p", appProperties={"a": "1", "b": "2"}, properties={"pub": "x"})
    out = ann.ok("PATCH", f"files/{f['id']}", {"appProperties": {"b": None, "c": "3"}}, fields="appProperties")
    assert out["appProperties"] == {"a": "1", "c": "3"}
    status, body = ann.call("PATCH", f"files/{f['id']}", {"appProperties": {"k": "v" * 124}})
    assert status == 400
    ok_len = "k" * 62
    ann.ok("PATCH", f"files/{f['id']}", {"appProperties": {ok_len: "é" * 31}})  # 62 + 62 bytes
    status, _ = ann.call("PATCH", f"files/{f['id']}", {"appProperties": {ok_len: "é" * 32}})
    assert status == 400
    many = {f"k{i}": "v" for i in range(31)}
    status, _ = ann.call("PATCH", f"files/{f['id']}", {"appProperties": many})
    assert status == 400
    # another OAuth client (full drive scope) sees the file but not ann's app's private properties
    other = Client(api, client_id="client-B", scopes=(SCOPE_DRIVE,))
    seen = other.ok("GET", f"files/{f['id']}", fields="appProperties,properties")
    assert seen == {"properties": {"pub": "x"}}


# ---------------------------------------------------------------- visibility and scopes


def test_drive_file_scope_sees_only_its_clients_files(ann: Client, api: DriveApi) -> None:
    mine = ann.create("mine")
    other = Client(api, client_id="client-B")
    theirs = other.create("theirs")
    status, out = ann.call("GET", f"files/{theirs['id']}")
    assert status == 404 and out["error"]["message"] == f"File not found: {theirs['id']}."
    assert [x["name"] for x in ann.ok("GET", "files")["files"]] == ["mine"]
    full = Client(api, client_id="client-C", scopes=(SCOPE_DRIVE,))
    assert sorted(x["name"] for x in full.ok("GET", "files")["files"]) == ["mine", "theirs"]
    readonly = Client(api, client_id="client-D", scopes=("https://www.googleapis.com/auth/drive.readonly",))
    assert readonly.ok("GET", f"files/{mine['id']}")["id"] == mine["id"]
    status, out = readonly.call("PATCH", f"files/{mine['id']}", {"name": "x"})
    assert status == 403 and reason(out) == "insufficientPermissions"
    nothing = Client(api, client_id="client-E", scopes=("openid",))
    status, out = nothing.call("GET", "files")
    assert status == 403 and reason(out) == "insufficientPermissions"
    bob = Client(api, email="bob@example.edu", scopes=(SCOPE_DRIVE,))
    assert bob.call("GET", f"files/{mine['id']}")[0] == 404  # other account


# ---------------------------------------------------------------- list

def test_list_q_paging_order_and_limits(ann: Client) -> None:
    d = ann.create("d", folder=True)
    names = [f"n{i:02d}" for i in range(25)] + ["it's", "back\\slash"]
    for n in names:
        ann.create(n, parent=d["id"])
    ann.create("outside")
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        query: dict[str, Any] = {"q": f"'{d['id']}' in parents and trashed = false", "pageSize": 10,
                                 "orderBy": "name", "fields": "nextPageToken,files(name)"}
        if token:
            query["pageToken"] = token
        out = ann.ok("GET", "files", **query)
        seen += [f["name"] for f in out["files"]]
        pages += 1
        token = out.get("nextPageToken")
        if not token:
            break
    assert pages == 3 and sorted(seen) == sorted(names) and seen == sorted(names, key=str.casefold)
    assert ann.ok("GET", "files", q="name = 'it\\'s'")["files"][0]["name"] == "it's"
    assert ann.ok("GET", "files", q="name = 'back\\\\slash'")["files"][0]["name"] == "back\\slash"
    desc = ann.ok("GET", "files", q=f"'{d['id']}' in parents", orderBy="name desc", pageSize=1)
    assert desc["files"][0]["name"] == "n24"
    for bad in ({"pageSize": 1001}, {"pageSize": 0}, {"q": "name = "}, {"orderBy": "size"},
                {"pageToken": "garbage!"}):
        status, out = ann.call("GET", "files", **bad)
        assert status == 400, bad
    status, out = ann.call("GET", "files", q="name = ")
    assert out["error"]["errors"][0]["location"] == "q"
    assert "nextPageToken" not in ann.ok("GET", "files", pageSize=1000)


def test_list_returns_trashed_unless_excluded(ann: Client) -> None:
    f = ann.create("t")
    ann.ok("PATCH", f"files/{f['id']}", {"trashed": True})
    assert [x["name"] for x in ann.ok("GET", "files")["files"]] == ["t"]
    assert ann.ok("GET", "files", q="trashed = false")["files"] == []


# ---------------------------------------------------------------- trash / delete

def test_trash_cascades_and_untrash_restores(ann: Client) -> None:
    top = ann.create("top", folder=True)
    sub = ann.create("sub", folder=True, parent=top["id"])
    leaf = ann.create("leaf", parent=sub["id"], media=b"abc")
    own = ann.create("own", parent=sub["id"])
    ann.ok("PATCH", f"files/{own['id']}", {"trashed": True})
    out = ann.ok("PATCH", f"files/{top['id']}", {"trashed": True}, fields="trashed,explicitlyTrashed")
    assert out == {"trashed": True, "explicitlyTrashed": True}
    leaf_now = ann.ok("GET", f"files/{leaf['id']}", fields="trashed,explicitlyTrashed,modifiedTime")
    assert leaf_now["trashed"] and not leaf_now["explicitlyTrashed"]
    assert leaf_now["modifiedTime"] == leaf["modifiedTime"]  # trashing is not a content change
    ann.ok("PATCH", f"files/{top['id']}", {"trashed": False})
    assert ann.ok("GET", f"files/{leaf['id']}", fields="trashed")["trashed"] is False
    assert ann.ok("GET", f"files/{own['id']}", fields="trashed")["trashed"] is True  # explicitly trashed


def test_delete_and_empty_trash(ann: Client, api: DriveApi) -> None:
    top = ann.create("top", folder=True)
    leaf = ann.create("leaf", parent=top["id"], media=b"abc")
    assert ann.raw("DELETE", f"files/{top['id']}").status == 204
    assert ann.call("GET", f"files/{leaf['id']}")[0] == 404
    assert ann.raw("DELETE", f"files/{top['id']}").status == 404
    a = ann.create("a", media=b"1")
    b = ann.create("b", media=b"22")
    ann.ok("PATCH", f"files/{a['id']}", {"trashed": True})
    assert api.store.usage(ANN) == (3, 1)
    resp = ann.raw("DELETE", "files/trash")
    assert resp.status == 204 and resp.body == b""
    assert [x["id"] for x in ann.ok("GET", "files")["files"]] == [b["id"]]
    assert api.store.usage(ANN) == (2, 0)


# ---------------------------------------------------------------- media and revisions

def test_download_and_ranges(ann: Client) -> None:
    data = bytes(range(256)) * 4
    f = ann.create("bin", media=data, mimeType="application/x-test")
    resp = ann.raw("GET", f"files/{f['id']}", alt="media")
    assert resp.status == 200 and resp.body == data and resp.headers["Content-Type"] == "application/x-test"
    resp = ann.raw("GET", f"files/{f['id']}", headers={"Range": "bytes=10-19"}, alt="media")
    assert resp.status == 206 and resp.body == data[10:20] and resp.headers["Content-Range"] == "bytes 10-19/1024"
    resp = ann.raw("GET", f"files/{f['id']}", headers={"Range": "bytes=1000-"}, alt="media")
    assert resp.body == data[1000:] and resp.headers["Content-Range"] == "bytes 1000-1023/1024"
    resp = ann.raw("GET", f"files/{f['id']}", headers={"Range": "bytes=-4"}, alt="media")
    assert resp.body == data[-4:]
    resp = ann.raw("GET", f"files/{f['id']}", headers={"Range": "bytes=1024-2000"}, alt="media")
    assert resp.status == 416 and resp.headers["Content-Range"] == "bytes */1024"
    folder = ann.create("d", folder=True)
    assert ann.raw("GET", f"files/{folder['id']}", alt="media").status == 403


def test_revisions_pin_list_get_media(ann: Client) -> None:
    f = ann.create("r.txt", media=b"v1")
    f2 = ann.upload(f["id"], b"v2-longer", keepRevisionForever="true")
    assert f2["headRevisionId"] != f["headRevisionId"] and f2["md5Checksum"] == hashlib.md5(b"v2-longer").hexdigest()
    assert int(f2["version"]) > int(f["version"])
    revs = ann.ok("GET", f"files/{f['id']}/revisions", fields="*")["revisions"]
    assert [r["id"] for r in revs] == [f["headRevisionId"], f2["headRevisionId"]]
    assert [r["keepForever"] for r in revs] == [False, True]
    assert revs[0]["md5Checksum"] == hashlib.md5(b"v1").hexdigest() and revs[0]["size"] == "2"
    pinned = ann.ok("PATCH", f"files/{f['id']}/revisions/{revs[0]['id']}", {"keepForever": True}, fields="keepForever")
    assert pinned == {"keepForever": True}
    old = ann.raw("GET", f"files/{f['id']}/revisions/{revs[0]['id']}", alt="media")
    assert old.status == 200 and old.body == b"v1"
    assert ann.call("GET", f"files/{f['id']}/revisions/nope")[0] == 404
    status, out = ann.call("PATCH", f"files/{f['id']}/revisions/{revs[0]['id']}", {"md5Checksum": "x"})
    assert status == 403
    assert ann.ok("GET", f"files/{f['id']}/revisions/{revs[1]['id']}") == {
        "kind": "drive#revision", "id": revs[1]["id"], "mimeType": "application/octet-stream",
        "modifiedTime": revs[1]["modifiedTime"]}


def test_storage_quota_and_daily_cap(ann: Client, api: DriveApi) -> None:
    api.ctx.accounts.update(ANN, storage_quota_bytes=10, daily_upload_cap_bytes=15)
    ann.create("a", media=b"12345")
    resp = api.files_create(ann.request("POST", "files"), {"name": "b"}, b"123456")
    out = json.loads(resp.body)
    assert resp.status == 403 and reason(out) == "storageQuotaExceeded"
    assert out["error"]["errors"][0]["domain"] == "usageLimits"
    about = ann.ok("GET", "about", fields="storageQuota,user")
    assert about["storageQuota"] == {"limit": "10", "usage": "5", "usageInDrive": "5", "usageInDriveTrash": "0"}
    assert about["user"]["emailAddress"] == ANN and about["user"]["me"] is True
    api.ctx.accounts.update(ANN, storage_quota_bytes=1000)
    ann.create("b", media=b"1234567890")  # 15 bytes uploaded today
    from jupyter_drive_sync.emulator.wire import DriveError

    with pytest.raises(DriveError) as exc:
        api.check_upload_allowed(ann.principal, 1)
    assert exc.value.reason == "userRateLimitExceeded" and exc.value.message == "User rate limit exceeded."
    status, out = ann.call("GET", "about")
    assert status == 400 and reason(out) == "required"


# ---------------------------------------------------------------- changes

def test_changes_feed_paging_and_visibility(ann: Client, api: DriveApi) -> None:
    start = ann.ok("GET", "changes/startPageToken")
    assert start["kind"] == "drive#startPageToken"
    token = start["startPageToken"]
    ids = [ann.create(f"c{i}")["id"] for i in range(5)]
    ann.ok("PATCH", f"files/{ids[0]}", {"name": "renamed"})  # same file again: one entry, latest state
    ann.ok("PATCH", f"files/{ids[1]}", {"trashed": True})
    assert ann.raw("DELETE", f"files/{ids[2]}").status == 204
    Client(api, client_id="client-B").create("invisible")
    got: list[dict[str, Any]] = []
    pages = 0
    while True:
        out = ann.ok("GET", "changes", pageToken=token, pageSize=2, fields="*")
        pages += 1
        got += out["changes"]
        if "newStartPageToken" in out:
            assert "nextPageToken" not in out
            new_token = out["newStartPageToken"]
            break
        assert "newStartPageToken" not in out
        token = out["nextPageToken"]
    assert pages == 3
    by_id = {c["fileId"]: c for c in got}
    assert [c["fileId"] for c in got] == [ids[3], ids[4], ids[0], ids[1], ids[2]]
    assert by_id[ids[0]]["file"]["name"] == "renamed"
    assert by_id[ids[1]]["file"]["trashed"] is True and by_id[ids[1]]["removed"] is False
    assert by_id[ids[2]]["removed"] is True and "file" not in by_id[ids[2]]
    assert all(c["kind"] == "drive#change" and c["changeType"] == "file" for c in got)
    quiet = ann.ok("GET", "changes", pageToken=new_token)
    assert quiet["changes"] == [] and quiet["newStartPageToken"] == new_token
    no_removed = ann.ok("GET", "changes", pageToken=start["startPageToken"], includeRemoved="false",
                        fields="changes/fileId")
    assert ids[2] not in [c["fileId"] for c in no_removed["changes"]]
    status, out = ann.call("GET", "changes")
    assert status == 400 and out["error"]["errors"][0]["location"] == "pageToken"


# ---------------------------------------------------------------- persistence

def test_store_survives_restart(settings: EmulatorSettings) -> None:
    ctx = build_context(settings)
    ctx.accounts.create(ANN)
    api = DriveApi(ctx)
    ann = Client(api)
    d = ann.create("d", folder=True)
    f = ann.create("f", parent=d["id"], media=b"persist me", appProperties={"k": "v"})
    f2 = ann.upload(f["id"], b"second", keepRevisionForever="true")
    gen = ann.ok("GET", "files/generateIds", count=2)["ids"]
    token = ann.ok("GET", "changes/startPageToken")["startPageToken"]
    ctx.files.close()

    ctx2 = build_context(settings)
    api2 = DriveApi(ctx2)
    ann2 = Client(api2)
    again = ann2.ok("GET", f"files/{f['id']}", fields="*")
    assert again["md5Checksum"] == f2["md5Checksum"] and again["appProperties"] == {"k": "v"}
    assert again["version"] == f2["version"] and again["parents"] == [d["id"]]
    assert ann2.raw("GET", f"files/{f['id']}", alt="media").body == b"second"
    revs = ann2.ok("GET", f"files/{f['id']}/revisions", fields="revisions(id,keepForever)")["revisions"]
    assert [r["keepForever"] for r in revs] == [False, True]
    assert ann2.ok("GET", "files/root", fields="id")["id"] == ann.ok("GET", "files/root", fields="id")["id"]
    assert ann2.ok("GET", "changes/startPageToken")["startPageToken"] == token
    assert ann2.ok("POST", "files", {"id": gen[0], "name": "late"})["id"] == gen[0]
    assert [c["fileId"] for c in ann2.ok("GET", "changes", pageToken=token)["changes"]] == [gen[0]]
    ctx2.files.close()


def test_store_all_files_admin_view(ann: Client, api: DriveApi) -> None:
    f = ann.create("x", media=b"abc", appProperties={"k": "v"})
    ann.ok("PATCH", f"files/{f['id']}", {"trashed": True})
    (row,) = api.store.all_files(ANN)
    assert row["id"] == f["id"] and row["trashed"] is True and row["size"] == "3"
    assert row["md5Checksum"] == hashlib.md5(b"abc").hexdigest() and row["appProperties"] == {"k": "v"}
    assert set(row) == {"id", "name", "mimeType", "parents", "md5Checksum", "size", "modifiedTime", "trashed",
                        "appProperties"}
    assert api.store.usage_bytes(ANN) == 3


def test_blobs_are_shared_and_collected(ann: Client, api: DriveApi, tmp_path: Path) -> None:
    store: DriveStore = api.store
    src = tmp_path / "media.bin"
    src.write_bytes(b"same content")
    a = api.files_create(ann.request("POST", "files", fields="id,sha256Checksum"), {"name": "a"}, src)
    a = json.loads(a.body)
    b = ann.create("b", media=b"same content")
    path = store.blobs.path(a["sha256Checksum"])
    assert path.read_bytes() == b"same content"
    ann.raw("DELETE", f"files/{a['id']}")
    assert path.exists()  # b still refers to it
    ann.raw("DELETE", f"files/{b['id']}")
    assert not path.exists()


# ---------------------------------------------------------------- batch (framework-free)

def test_batch_parts_round_trip(ann: Client, api: DriveApi) -> None:
    boundary = "===============123=="
    parts = []
    for i in range(3):
        body = json.dumps({"name": f"b{i}", "mimeType": FOLDER_MIME})
        parts.append(
            f"--{boundary}\nContent-Type: application/http\nMIME-Version: 1.0\nContent-Transfer-Encoding: binary\n"
            f"Content-ID: <base + {i + 1}>\n\nPOST /drive/v3/files?alt=json&fields=id%2Cname HTTP/1.1\n"
            f"Content-Type: application/json\nMIME-Version: 1.0\ncontent-length: {len(body)}\n\n{body}\n"
        )
    parts.append(
        f"--{boundary}\nContent-Type: application/http\nContent-ID: <base + 4>\n\n"
        "GET /drive/v3/files/nope?alt=json HTTP/1.1\n\n\n"
    )
    raw = ("".join(parts) + f"--{boundary}--\n").encode()
    req = Request("POST", "/batch/drive/v3", {}, {"content-type": f'multipart/mixed; boundary="{boundary}"'},
                  raw, ann.principal)
    resp = handle_batch(req, api, api.ctx)
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("multipart/mixed; boundary=batch_")
    text = resp.body.decode()
    assert text.count("Content-ID: <response-base + ") == 4
    assert text.count("HTTP/1.1 200 OK\r\n") == 3 and "HTTP/1.1 404 Not Found\r\n" in text
    assert sorted(f["name"] for f in ann.ok("GET", "files")["files"]) == ["b0", "b1", "b2"]
    too_many = ("".join(
        f"--x\nContent-Type: application/http\n\nGET /drive/v3/about?fields=kind HTTP/1.1\n\n\n" for _ in range(101)
    ) + "--x--\n").encode()
    req = Request("POST", "/batch/drive/v3", {}, {"content-type": "multipart/mixed; boundary=x"}, too_many,
                  ann.principal)
    assert handle_batch(req, api, api.ctx).status == 400


def test_long_get_as_form_post(ann: Client) -> None:
    ann.create("needle")
    q = " or ".join(["name = 'needle'"] * 200)
    req = Request("GET", "/drive/v3/files", {}, {"content-type": "application/x-www-form-urlencoded"},
                  urllib.parse.urlencode({"q": q, "fields": "files(name)"}).encode(), ann.principal)
    resp = ann.api.handle(req)
    assert resp.status == 200 and json.loads(resp.body) == {"files": [{"name": "needle"}]}


def test_batch_part_with_bad_token_fails_alone(ann: Client, api: DriveApi) -> None:
    raw = (
        "--b\r\nContent-Type: application/http\r\nContent-ID: <x + 1>\r\n\r\n"
        "GET /drive/v3/files/root?fields=id HTTP/1.1\r\nAuthorization: Bearer not-a-token\r\n\r\n\r\n"
        "--b\r\nContent-Type: application/http\r\nContent-ID: <x + 2>\r\n\r\n"
        "GET /drive/v3/files/root?fields=id HTTP/1.1\r\n\r\n\r\n"
        "--b\r\nContent-Type: application/http\r\nContent-ID: <x + 3>\r\n\r\n"
        "POST /upload/drive/v3/files?uploadType=media HTTP/1.1\r\n\r\nabc\r\n"
        "--b--\r\n"
    ).encode()
    req = Request("POST", "/batch/drive/v3", {}, {"content-type": "multipart/mixed; boundary=b"}, raw, ann.principal)
    text = handle_batch(req, api, api.ctx).body.decode()
    first, second, third = text.split("--batch_")[1:4]
    assert "<response-x + 1>" in first and "HTTP/1.1 401 Unauthorized" in first
    assert "<response-x + 2>" in second and "HTTP/1.1 200 OK" in second
    assert "HTTP/1.1 400 Bad Request" in third  # no media in a batch


def test_copy_makes_an_independent_file(ann: Client) -> None:
    d = ann.create("d", folder=True)
    src = ann.create("src.txt", parent=d["id"], media=b"copy me")
    out = ann.ok("POST", f"files/{src['id']}/copy", {}, fields="id,name,parents,md5Checksum")
    assert out["id"] != src["id"] and out["name"] == "Copy of src.txt" and out["parents"] == [d["id"]]
    assert out["md5Checksum"] == src["md5Checksum"]
    ann.raw("DELETE", f"files/{src['id']}")
    assert ann.raw("GET", f"files/{out['id']}", alt="media").body == b"copy me"
