"""DriveClient against the emulator, over real HTTP, through the real Google libraries.

Nothing here mocks googleapiclient, google-auth or httplib2: each test makes its own emulator
account and talks to it the way a push does. The retry policy's `sleep` is the only thing
replaced (by a no-op), so injected faults do not make the suite slow.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import requests
from google.oauth2.credentials import Credentials

from jupyter_drive_sync.auth.credentials import DRIVE_FILE_SCOPE, CredentialStore, revoke
from jupyter_drive_sync.drive.client import DriveClient
from jupyter_drive_sync.drive.errors import DailyCapReached, DriveApiError, NeedsReauth, NotFound, StorageFull
from jupyter_drive_sync.drive.pacing import Pacer
from jupyter_drive_sync.drive.retry import RetryPolicy
from jupyter_drive_sync.drive.types import FOLDER_MIME, NewFolder, from_rfc3339

KIB = 1024
MTIME = 1_704_110_400_123  # 2024-01-01T12:00:00.123Z


# -- fixtures and helpers ----------------------------------------------------------------------


def _url(emulator, path: str) -> str:
    return emulator.url.rstrip("/") + "/" + path.lstrip("/")


@pytest.fixture
def account(emulator):
    acct = emulator.create_account(f"student-{uuid.uuid4().hex[:10]}@example.edu")
    yield acct
    emulator.set_faults(0, [], None)


def make_credentials(emulator, account, *, expired: bool = False) -> Credentials:
    secrets = emulator.client_secrets()
    cfg = secrets.get("web") or secrets.get("installed")
    return Credentials(
        token=account["access_token"],
        refresh_token=account["refresh_token"],
        token_uri=cfg["token_uri"],
        client_id=cfg["client_id"],
        client_secret=cfg["client_secret"],
        scopes=[DRIVE_FILE_SCOPE],
        expiry=datetime.utcnow() + (timedelta(hours=-1) if expired else timedelta(hours=1)),
    )


def make_client(emulator, account, **kwargs) -> DriveClient:
    kwargs.setdefault("retry", RetryPolicy(max_tries=12, sleep=lambda s: None))
    creds = kwargs.pop("credentials", None) or make_credentials(emulator, account)
    return DriveClient(creds, api_root=_url(emulator, "/"), **kwargs)


@pytest.fixture
def client(emulator, account):
    with make_client(emulator, account) as c:
        yield c


def admin_files(emulator, email: str) -> list[dict]:
    r = requests.get(_url(emulator, f"/_emulator/accounts/{email}/files"), timeout=30)
    r.raise_for_status()
    return r.json()["files"]


def admin_patch(emulator, email: str, **fields) -> None:
    r = requests.patch(_url(emulator, f"/_emulator/accounts/{email}"), json=fields, timeout=30)
    r.raise_for_status()


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def blob(n: int, seed: int = 1) -> bytes:
    # incompressible, position-dependent content, so a misplaced chunk changes the md5
    out = bytearray()
    counter = 0
    while len(out) < n:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:n])


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def root_folder(client: DriveClient, name: str = "home") -> str:
    fid = client.generate_ids(1)[0]
    res = client.create_folders([NewFolder(fid, name, "root", MTIME)])
    assert not isinstance(res[fid], DriveApiError), res[fid]
    return fid


def route_count(stats: dict, method: str, needle: str) -> int:
    return sum(n for key, n in stats["by_route"].items() if key.startswith(method + " ") and needle in key)


# -- account, ids, reads -------------------------------------------------------------------------


def test_about_email(client, account):
    assert client.about_email() == account["email"]


def test_generate_ids_in_calls_of_at_most_1000(emulator, client):
    emulator.reset_stats()
    ids = client.generate_ids(1500)
    assert len(ids) == 1500 and len(set(ids)) == 1500
    assert route_count(emulator.stats(), "GET", "generateIds") == 2


def test_get_unknown_is_not_found(client):
    with pytest.raises(NotFound):
        client.get("doesNotExist0123456789abcdefghij")


# -- folders in batches ---------------------------------------------------------------------------


def test_create_folders_batches_parents_first_and_is_idempotent(emulator, client, account):
    root = root_folder(client)
    ids = iter(client.generate_ids(160))
    items: list[NewFolder] = []
    tops = [NewFolder(next(ids), f"course-{i}", root, MTIME + i) for i in range(30)]
    items += tops
    for i in range(130):  # children listed BEFORE nothing in particular: order must not matter
        items.append(NewFolder(next(ids), f"week-{i}", tops[i % 30].id, MTIME))
    items.reverse()  # children first in the input: the client must still create parents first

    emulator.reset_stats()
    res = client.create_folders(items)
    assert all(not isinstance(v, DriveApiError) for v in res.values()), [v for v in res.values()
                                                                        if isinstance(v, DriveApiError)]
    assert set(res) == {f.id for f in items}
    for f in items:
        got = res[f.id]
        assert (got.id, got.name, got.parents, got.mime_type) == (f.id, f.name, (f.parent_id,), FOLDER_MIME)
        assert got.modified_ms == f.modified_ms and got.is_folder
    stats = emulator.stats()
    # 2 layers: 30 tops in one batch, 130 children in two batches of <= 100
    assert route_count(stats, "POST", "/batch/") == 3
    assert stats["requests"] == 3

    # Again, as after a lost answer: 409 fileIdInUse → get → success, and no duplicates.
    again = client.create_folders(items[:5])
    assert {k: v.name for k, v in again.items()} == {f.id: f.name for f in items[:5]}
    files = admin_files(emulator, account["email"])
    assert len([f for f in files if f["mimeType"] == FOLDER_MIME]) == 161


def test_create_folders_under_faults_converges_without_duplicates(emulator, client, account):
    root = root_folder(client)
    ids = client.generate_ids(120)
    items = [NewFolder(ids[i], f"d{i}", root if i < 20 else ids[i % 20], MTIME) for i in range(120)]
    emulator.set_faults(0.3, ["500", "503", "429", "403-rate", "reset", "lost-after-commit"], 21)
    res = client.create_folders(items)
    emulator.set_faults(0, [], None)
    assert {k: (v.name, v.parent_id) for k, v in res.items()} == {f.id: (f.name, f.parent_id) for f in items}
    folders = [f for f in admin_files(emulator, account["email"]) if f["mimeType"] == FOLDER_MIME]
    assert sorted(f["id"] for f in folders) == sorted(ids + [root])


def test_children_of_a_failed_folder_are_not_sent(client):
    ids = client.generate_ids(2)
    res = client.create_folders([NewFolder(ids[0], "a", "no-such-parent-id-000000000000000", MTIME),
                                 NewFolder(ids[1], "b", ids[0], MTIME)])
    assert isinstance(res[ids[0]], DriveApiError) and res[ids[0]].status == 404
    assert isinstance(res[ids[1]], DriveApiError) and res[ids[1]].reason == "parentNotCreated"


# -- uploads -------------------------------------------------------------------------------------------


def test_small_file_is_one_multipart_request_with_mtime(emulator, client, tmp_path):
    root = root_folder(client)
    data = b"print('hello')\n"
    fid = client.generate_ids(1)[0]
    emulator.reset_stats()
    seen = []
    f = client.create_file(file_id=fid, name="hello.py", parent_id=root, local_path=write(tmp_path / "h.py", data),
                           size=len(data), modified_ms=MTIME, progress=seen.append)
    assert (f.id, f.name, f.parents, f.md5, f.size, f.modified_ms) == (fid, "hello.py", (root,), md5(data), len(data), MTIME)
    assert f.head_revision
    stats = emulator.stats()
    assert stats["requests"] == 1 and route_count(stats, "POST", "/upload/") == 1
    assert seen[-1] == len(data)


def test_empty_file(client, tmp_path):
    root = root_folder(client)
    fid = client.generate_ids(1)[0]
    f = client.create_file(file_id=fid, name="empty", parent_id=root, local_path=write(tmp_path / "e", b""),
                           size=0, modified_ms=MTIME)
    assert f.size == 0 and f.md5 == md5(b"")


def test_large_file_is_resumable_in_chunks(emulator, account, tmp_path):
    data = blob(5 * 256 * KIB + 1234)
    with make_client(emulator, account, chunk_size=256 * KIB, multipart_limit=256 * KIB) as client:
        root = root_folder(client)
        fid = client.generate_ids(1)[0]
        emulator.reset_stats()
        seen: list[int] = []
        f = client.create_file(file_id=fid, name="data.bin", parent_id=root, local_path=write(tmp_path / "d", data),
                               size=len(data), modified_ms=MTIME, progress=seen.append)
    assert (f.md5, f.size, f.modified_ms) == (md5(data), len(data), MTIME)
    stats = emulator.stats()
    assert route_count(stats, "PUT", "/upload/") == 6  # 5 full chunks + the tail
    assert route_count(stats, "POST", "/upload/") == 1
    assert len(data) <= stats["bytes_received"] <= len(data) + 1024  # + the JSON metadata
    assert seen == sorted(seen) and seen[-1] == len(data)


def test_resumable_upload_survives_faults_without_resending_much(emulator, account, tmp_path):
    data = blob(16 * 256 * KIB + 77, seed=2)
    path = write(tmp_path / "big.bin", data)
    with make_client(emulator, account, chunk_size=256 * KIB, multipart_limit=256 * KIB) as client:
        root = root_folder(client)
        fid = client.generate_ids(1)[0]
        emulator.reset_stats()
        emulator.set_faults(0.1, ["500", "503", "429", "403-rate", "reset", "lost-after-commit"], 7)
        f = client.create_file(file_id=fid, name="big.bin", parent_id=root, local_path=path,
                               size=len(data), modified_ms=MTIME)
        emulator.set_faults(0, [], None)
        assert (f.id, f.md5, f.size) == (fid, md5(data), len(data))
        stats = emulator.stats()
        assert stats["requests"] > 18  # 1 POST + 17 PUTs without faults: faults happened and were resumed
        assert stats["bytes_received"] <= 1.2 * len(data)  # resumed where it stopped, never restarted
        # the same file, updated under faults: still one file, new content
        data2 = blob(len(data), seed=3)
        write(path, data2)
        emulator.set_faults(0.15, ["500", "503", "reset", "lost-after-commit"], 8)
        g = client.update_content(fid, path, len(data2), MTIME + 1000)
        emulator.set_faults(0, [], None)
        assert (g.id, g.md5, g.modified_ms) == (fid, md5(data2), MTIME + 1000)
    names = [x["name"] for x in admin_files(emulator, account["email"])]
    assert names.count("big.bin") == 1


def test_chunks_the_server_stored_are_not_sent_again(emulator, account, tmp_path):
    """Connection dropped after the server stored a chunk: ask where it stands, never replay the chunk."""
    data = blob(16 * 256 * KIB, seed=4)
    with make_client(emulator, account, chunk_size=256 * KIB, multipart_limit=256 * KIB) as client:
        root = root_folder(client)
        fid = client.generate_ids(1)[0]
        emulator.reset_stats()
        emulator.set_faults(0.3, ["lost-after-commit"], 8)
        f = client.create_file(file_id=fid, name="c.bin", parent_id=root, local_path=write(tmp_path / "c", data),
                               size=len(data), modified_ms=MTIME)
        emulator.set_faults(0, [], None)
    assert f.md5 == md5(data)
    stats = emulator.stats()
    assert stats["requests"] > 20  # lost answers did happen
    assert stats["bytes_received"] <= len(data) + 1024  # ... and cost no chunk twice


def test_create_with_lost_responses_never_duplicates(emulator, client, account, tmp_path):
    root = root_folder(client)
    ids = client.generate_ids(30)
    emulator.set_faults(0.5, ["lost-after-commit"], 11)
    for i, fid in enumerate(ids):
        data = f"file {i}\n".encode() * (i + 1)
        f = client.create_file(file_id=fid, name=f"f{i}.txt", parent_id=root,
                               local_path=write(tmp_path / f"f{i}", data), size=len(data), modified_ms=MTIME + i)
        assert (f.id, f.md5, f.modified_ms) == (fid, md5(data), MTIME + i)
    emulator.set_faults(0, [], None)
    files = [x for x in admin_files(emulator, account["email"]) if x["mimeType"] != FOLDER_MIME]
    assert sorted(x["name"] for x in files) == sorted(f"f{i}.txt" for i in range(30))
    assert sorted(x["id"] for x in files) == sorted(ids)


def test_create_after_an_earlier_attempt_with_other_content_converges(client, tmp_path):
    """A crash after an earlier create, then the file changed: a rerun's 409 must not keep the old content."""
    root = root_folder(client)
    fid = client.generate_ids(1)[0]
    path = write(tmp_path / "n.txt", b"version 1")
    client.create_file(file_id=fid, name="n.txt", parent_id=root, local_path=path, size=9, modified_ms=MTIME)
    write(path, b"version two")
    f = client.create_file(file_id=fid, name="n.txt", parent_id=root, local_path=path, size=11, modified_ms=MTIME + 5)
    assert (f.id, f.md5, f.modified_ms) == (fid, md5(b"version two"), MTIME + 5)


def test_update_content_metadata_trash_untrash_and_pin(client, tmp_path):
    root = root_folder(client)
    fid = client.generate_ids(1)[0]
    path = write(tmp_path / "nb.ipynb", b"{}")
    first = client.create_file(file_id=fid, name="nb.ipynb", parent_id=root, local_path=path, size=2, modified_ms=MTIME)

    client.pin_revision(fid, first.head_revision)  # keep the Drive-side version before overwriting it
    write(path, b'{"cells": []}')
    second = client.update_content(fid, path, 13, MTIME + 2000)
    assert second.md5 == md5(b'{"cells": []}') and second.modified_ms == MTIME + 2000
    assert second.head_revision != first.head_revision

    touched = client.update_metadata(fid, modified_ms=MTIME + 3000)
    assert touched.modified_ms == MTIME + 3000 and touched.md5 == second.md5

    assert client.update_metadata(fid, trashed=True).trashed
    assert fid not in {f.id for f in client.list_children(root)}
    back = client.update_content(fid, path, 13, MTIME + 4000, untrash=True)
    assert not back.trashed and back.modified_ms == MTIME + 4000
    assert client.get(fid).trashed is False


# -- listing and q escaping --------------------------------------------------------------------------


def test_list_children_and_find_folders_with_quotes_and_backslashes(client, tmp_path):
    root = root_folder(client)
    names = ["it's", "back\\slash", "both\\'mixed'", "plain", "it", "s"]
    ids = client.generate_ids(len(names) + 1)
    res = client.create_folders([NewFolder(i, n, root, MTIME) for i, n in zip(ids, names)])
    assert all(not isinstance(v, DriveApiError) for v in res.values())
    client.create_file(file_id=ids[-1], name="it's a file.txt", parent_id=root,
                       local_path=write(tmp_path / "x", b"x"), size=1, modified_ms=MTIME)
    for fid, name in zip(ids, names):
        found = client.find_folders(name, root)
        assert [f.id for f in found] == [fid], name
    assert client.find_folders("it's a file.txt", root) == []  # a file is not a folder
    assert client.find_folders("missing", root) == []
    children = {f.name: f for f in client.list_children(root)}
    assert set(children) == set(names) | {"it's a file.txt"}
    assert children["it's a file.txt"].md5 == md5(b"x")


def test_list_children_pages(client, tmp_path):
    root = root_folder(client)
    ids = client.generate_ids(1005)
    res = client.create_folders([NewFolder(i, f"d{n}", root, MTIME) for n, i in enumerate(ids)])
    assert all(not isinstance(v, DriveApiError) for v in res.values())
    assert sorted(f.id for f in client.list_children(root)) == sorted(ids)


# -- changes ---------------------------------------------------------------------------------------------


def test_changes_feed(client, tmp_path):
    root = root_folder(client)
    token = client.start_page_token()
    fid = client.generate_ids(1)[0]
    path = write(tmp_path / "c.txt", b"one")
    client.create_file(file_id=fid, name="c.txt", parent_id=root, local_path=path, size=3, modified_ms=MTIME)
    write(path, b"two!")
    client.update_content(fid, path, 4, MTIME + 1)
    client.update_metadata(fid, trashed=True)

    changes, new_token = client.list_changes(token)
    mine = [c for c in changes if c.drive_id == fid]
    assert mine, changes
    last = mine[-1]
    assert (last.removed, last.trashed, last.md5, last.size, last.modified_ms, last.name, last.parent_id) == (
        False, True, md5(b"two!"), 4, MTIME + 1, "c.txt", root)
    assert new_token != token
    assert client.list_changes(new_token)[0] == []


# -- download ------------------------------------------------------------------------------------------


def test_download_in_chunks_under_faults(emulator, account, tmp_path):
    data = blob(3 * 256 * KIB + 5, seed=9)
    with make_client(emulator, account, chunk_size=256 * KIB, multipart_limit=256 * KIB) as client:
        root = root_folder(client)
        fid = client.generate_ids(1)[0]
        client.create_file(file_id=fid, name="d.bin", parent_id=root, local_path=write(tmp_path / "d", data),
                           size=len(data), modified_ms=MTIME)
        emulator.set_faults(0.2, ["500", "503", "reset"], 5)
        out = io.BytesIO()
        seen: list[int] = []
        client.download(fid, out, progress=seen.append)
        emulator.set_faults(0, [], None)
        assert out.getvalue() == data
        assert seen[-1] == len(data)
        empty = client.generate_ids(1)[0]
        client.create_file(file_id=empty, name="e", parent_id=root, local_path=write(tmp_path / "e", b""),
                           size=0, modified_ms=MTIME)
        out = io.BytesIO()
        client.download(empty, out)
        assert out.getvalue() == b""


# -- threads ----------------------------------------------------------------------------------------------


def test_one_client_shared_by_worker_threads(emulator, client, account, tmp_path):
    root = root_folder(client)
    ids = client.generate_ids(24)
    pacer = Pacer(rate=500, max_concurrency=4)
    client.pacer = pacer
    thread_names: set[str] = set()

    def upload(i: int):
        thread_names.add(threading.current_thread().name)
        data = os.urandom(100 + i)
        p = write(tmp_path / f"t{i}", data)
        f = client.create_file(file_id=ids[i], name=f"t{i}", parent_id=root, local_path=p, size=len(data),
                               modified_ms=MTIME)
        return f.md5 == md5(data)

    with ThreadPoolExecutor(6) as pool:
        assert all(pool.map(upload, range(24)))
    assert len(thread_names) > 1
    assert pacer.snapshot().in_flight == 0
    assert len(admin_files(emulator, account["email"])) == 25


def test_worker_threads_under_faults_converge(emulator, account, tmp_path):
    """Small and chunked uploads from several threads while a fifth of requests fail."""
    with make_client(emulator, account, chunk_size=256 * KIB, multipart_limit=256 * KIB) as client:
        root = root_folder(client)
        ids = client.generate_ids(16)
        contents = {fid: blob(1000 + i * 90_000, seed=100 + i) for i, fid in enumerate(ids)}
        emulator.set_faults(0.2, ["500", "503", "429", "403-rate", "reset", "lost-after-commit"], 13)

        def upload(fid: str) -> str:
            p = write(tmp_path / fid, contents[fid])
            return client.create_file(file_id=fid, name=fid, parent_id=root, local_path=p,
                                      size=len(contents[fid]), modified_ms=MTIME).md5

        with ThreadPoolExecutor(4) as pool:
            got = dict(zip(ids, pool.map(upload, ids)))
        emulator.set_faults(0, [], None)
    assert got == {fid: md5(data) for fid, data in contents.items()}
    files = [f for f in admin_files(emulator, account["email"]) if f["mimeType"] != FOLDER_MIME]
    assert sorted(f["id"] for f in files) == sorted(ids)
    assert {f["id"]: f["md5Checksum"] for f in files} == got


def test_pacer_slows_down_on_rate_limits(emulator, account):
    pacer = Pacer(rate=1000, max_concurrency=8, cooldown=0)
    with make_client(emulator, account, pacer=pacer) as client:
        emulator.set_faults(0.5, ["429", "403-rate"], 3)
        assert len(client.generate_ids(5)) == 5
        emulator.set_faults(0, [], None)
    assert pacer.snapshot().cuts >= 1 and pacer.rate < 1000


# -- run-ending errors and credentials ----------------------------------------------------------------


@pytest.mark.parametrize("limit, error", [("storage_quota_bytes", StorageFull),
                                          ("daily_upload_cap_bytes", DailyCapReached)],
                         ids=["storage_full", "daily_cap"])
def test_drive_refusal_is_raised_not_retried(emulator, client, account, tmp_path, limit, error):
    root = root_folder(client)
    admin_patch(emulator, account["email"], **{limit: 10})
    fid = client.generate_ids(1)[0]
    emulator.reset_stats()
    with pytest.raises(error):
        client.create_file(file_id=fid, name="big", parent_id=root, local_path=write(tmp_path / "b", b"x" * 100),
                           size=100, modified_ms=MTIME)
    # Drive full: at once. The cap's words are also the write rate's: one retry and two probes
    # after pauses tell them apart (see DailyCapWatch), never a retry storm.
    assert emulator.stats()["requests"] == (1 if error is StorageFull else 4)


def test_revoked_grant_needs_reauth(emulator, account):
    creds = make_credentials(emulator, account, expired=True)
    assert revoke(creds) is True
    with make_client(emulator, account, credentials=creds) as client:
        with pytest.raises(NeedsReauth) as info:
            client.about_email()
    assert info.value.exit_code == 3  # the CLI's "not connected / reconnect" status


def test_revoked_while_running_needs_reauth(emulator, account):
    """The access token still looks valid locally; Drive says 401, the refresh says invalid_grant."""
    creds = make_credentials(emulator, account)
    with make_client(emulator, account, credentials=creds) as client:
        assert client.about_email() == account["email"]
        r = requests.post(_url(emulator, "/revoke"), params={"token": account["refresh_token"]}, timeout=30)
        assert r.status_code == 200
        with pytest.raises(NeedsReauth):
            client.about_email()


def test_refreshed_token_is_written_back(emulator, account, tmp_path):
    store = CredentialStore(tmp_path / "state" / "credentials.json")
    creds = make_credentials(emulator, account, expired=True)
    store.save(creds)
    old = creds.token
    with make_client(emulator, account, credentials=store.load(), on_credentials_refreshed=store.save) as client:
        assert client.about_email() == account["email"]
        assert client.credentials.token != old
        saved = store.load()
        assert saved.token == client.credentials.token
        assert saved.token_uri == creds.token_uri
        assert saved.valid


def test_unsavable_refreshed_token_warns_once_and_continues(emulator, account, caplog):
    calls = []

    def read_only_secret(creds):
        calls.append(creds.token)
        raise OSError(30, "Read-only file system")

    creds = make_credentials(emulator, account, expired=True)
    with caplog.at_level(logging.WARNING, logger="jupyter_drive_sync.drive.calls"):
        with make_client(emulator, account, credentials=creds, on_credentials_refreshed=read_only_secret) as client:
            assert client.about_email() == account["email"]
            creds.expiry = datetime.utcnow() - timedelta(hours=1)  # force a second refresh
            assert client.about_email() == account["email"]
    assert len(calls) == 2
    warnings = [r for r in caplog.records if "refreshed Google token" in r.getMessage()]
    assert len(warnings) == 1
    assert all(tok not in r.getMessage() for r in caplog.records for tok in calls)
