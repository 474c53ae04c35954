"""Writes under Drive's per-account write limit, through the real Google libraries.

Google refuses writes above about 3 per second per account (each call inside a batch counts)
with 403 `userRateLimitExceeded` "User rate limit exceeded." — the very words of the daily
upload cap. The client paces writes per account (a bucket of its own, apart from reads), learns
from those 403s, and tells the cap from the rate by what was refused and by whether the refusal
persists. The emulator's write limit is set per test through its admin API.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from datetime import datetime, timedelta
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from google.oauth2.credentials import Credentials

from jupyter_drive_sync.auth.credentials import DRIVE_FILE_SCOPE
from jupyter_drive_sync.drive.client import DriveClient
from jupyter_drive_sync.drive.errors import DailyCapReached, DriveApiError, DailyCapWatch, error_from_response
from jupyter_drive_sync.drive.pacing import Pacer, WritePacer
from jupyter_drive_sync.drive.retry import RetryPolicy
from jupyter_drive_sync.drive.types import NewFolder

MTIME = 1_704_110_400_123  # 2024-01-01T12:00:00.123Z

TERSE = b'{"error": {"code": 403, "message": "User rate limit exceeded.", "errors": [{"domain": "usageLimits", ' \
        b'"reason": "userRateLimitExceeded", "message": "User rate limit exceeded."}]}}'


class FakeTime:
    """A clock whose sleep advances it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.now += s


def make_credentials(emulator, account) -> Credentials:
    web = emulator.client_secrets()["web"]
    return Credentials(token=account["access_token"], refresh_token=account["refresh_token"],
                       token_uri=web["token_uri"], client_id=web["client_id"], client_secret=web["client_secret"],
                       scopes=[DRIVE_FILE_SCOPE], expiry=datetime.utcnow() + timedelta(hours=1))


def blob(n: int, seed: int) -> bytes:
    return hashlib.sha256(str(seed).encode()).digest() * (n // 32) + b"x" * (n % 32)


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def root_folder(client: DriveClient) -> str:
    fid = client.generate_ids(1)[0]
    res = client.create_folders([NewFolder(fid, "home", "root", MTIME)])
    assert not isinstance(res[fid], DriveApiError), res[fid]
    return fid


def admin_patch(emulator, email: str, **fields) -> None:
    requests.patch(emulator.url + f"_emulator/accounts/{email}", json=fields, timeout=30).raise_for_status()


@pytest.fixture
def account(emulator):
    return emulator.create_account(f"writer-{uuid.uuid4().hex[:8]}@example.edu")


def client_for(emulator, account, **kwargs) -> DriveClient:
    """A client with short real backoffs (the emulator's bucket refills in real time)."""
    kwargs.setdefault("retry", RetryPolicy(max_tries=12, base=0.1, cap=0.5))
    return DriveClient(make_credentials(emulator, account), api_root=emulator.url, **kwargs)


def upload(client: DriveClient, tmp_path: Path, parent: str, n: int, *, threads: int = 6) -> dict[str, bytes]:
    """Upload `n` small files into `parent` from `threads` threads; file ID -> content."""
    ids = client.generate_ids(n)
    contents = {fid: blob(1000 + i, seed=i) for i, fid in enumerate(ids)}

    def one(fid: str) -> None:
        path = write(tmp_path / fid, contents[fid])
        client.create_file(file_id=fid, name=fid, parent_id=parent, local_path=path, size=path.stat().st_size,
                           modified_ms=MTIME)

    with ThreadPoolExecutor(threads) as pool:
        for f in [pool.submit(one, fid) for fid in ids]:
            f.result()
    return contents


# -- the write rate's refusals are not the daily cap ----------------------------------------------


def test_folder_creates_refused_by_the_write_rate_are_retried_not_taken_for_the_daily_cap(emulator, account,
                                                                                         monkeypatch):
    """Regression: a batch of folder creates over the write rate ended the run as "daily upload
    limit reached" (Google words both the same; the cap never refuses a folder)."""
    monkeypatch.setenv("JUPYTER_DRIVE_SYNC_WRITE_RATE", "0")  # unpaced: let Drive refuse
    with client_for(emulator, account) as client:
        root = root_folder(client)
        emulator.settings(write_rate=50, write_burst=5)
        ids = client.generate_ids(30)
        emulator.reset_stats()
        before = client.write_stats
        results = client.create_folders([NewFolder(fid, f"d{i}", root, MTIME) for i, fid in enumerate(ids)])
        stats = emulator.stats()
        assert stats["refused_writes"] > 0  # Drive did refuse some: the test means something
        assert all(not isinstance(r, DriveApiError) for r in results.values()), results
        assert client.write_stats.refused_writes - before.refused_writes == stats["refused_writes"]
        assert client.write_stats.writes - before.writes == stats["writes"] + stats["refused_writes"]


def test_uploads_refused_by_the_write_rate_are_retried_not_taken_for_the_daily_cap(emulator, account, tmp_path,
                                                                                  monkeypatch):
    """Regression: the first upload refused by the write rate raised DailyCapReached (one exact
    message string decided it), ending a push that only had to slow down."""
    monkeypatch.setenv("JUPYTER_DRIVE_SYNC_WRITE_RATE", "0")
    with client_for(emulator, account) as client:
        root = root_folder(client)
        emulator.settings(write_rate=30, write_burst=3)
        emulator.reset_stats()
        contents = upload(client, tmp_path, root, 16)
        assert emulator.stats()["refused_writes"] > 0
        got = {f.id: f.md5 for f in client.get_many(list(contents)).values()}
    assert got == {fid: md5(data) for fid, data in contents.items()}


def test_daily_cap_is_reached_when_upload_refusals_persist_through_backoff(emulator, account, tmp_path):
    """The cap is told from the write rate by persistence: uploads refused again after growing
    pauses (seconds, while a write-rate refusal clears in a fraction of one) end the run with
    DailyCapReached, after a bounded number of attempts; other writes still go through."""
    slept: list[float] = []
    with client_for(emulator, account, retry=RetryPolicy(sleep=slept.append, random=lambda: 1.0)) as client:
        root = root_folder(client)
        admin_patch(emulator, account["email"], daily_upload_cap_bytes=10)
        fid = client.generate_ids(1)[0]
        emulator.reset_stats()
        with pytest.raises(DailyCapReached):
            client.create_file(file_id=fid, name="big", parent_id=root, local_path=write(tmp_path / "b", b"x" * 100),
                               size=100, modified_ms=MTIME)
        assert emulator.stats()["requests"] == 4  # one try, one retry, two probes
        assert sum(slept) >= 4.0  # persisted through seconds of backoff, not a blip
        # the cap refuses content only: a folder is still created (and nothing calls it "cap")
        made = client.create_folders([NewFolder(client.generate_ids(1)[0], "d", root, MTIME)])
        assert not any(isinstance(r, DriveApiError) for r in made.values()), made
        # once decided, further uploads stop at once, without a request
        emulator.reset_stats()
        with pytest.raises(DailyCapReached):
            client.create_file(file_id=client.generate_ids(1)[0], name="c", parent_id=root,
                               local_path=write(tmp_path / "c", b"y" * 50), size=50, modified_ms=MTIME)
        assert emulator.stats()["by_route"].get("POST /upload/drive/v3/files", 0) == 0


# -- pacing -----------------------------------------------------------------------------------------


def test_writes_paced_at_the_write_rate_are_not_refused(emulator, account, tmp_path):
    """Folders in batches and uploads from many threads, at the account's write rate: Drive
    refuses (almost) none, and the client counts exactly what it sent and what was refused."""
    with client_for(emulator, account, write_rate=10) as client:
        root = root_folder(client)
        emulator.settings(write_rate=10, write_burst=10)
        emulator.reset_stats()
        before = client.write_stats
        ids = client.generate_ids(20)
        folders = client.create_folders([NewFolder(fid, f"d{i}", root, MTIME) for i, fid in enumerate(ids)])
        assert all(not isinstance(r, DriveApiError) for r in folders.values())
        upload(client, tmp_path, root, 20, threads=8)
        stats = emulator.stats()
        sent = client.write_stats
    assert stats["writes"] == 40  # 20 folders, 20 files: one write each
    assert stats["refused_writes"] <= 0.02 * (stats["writes"] + stats["refused_writes"]), stats
    assert sent.writes - before.writes == stats["writes"] + stats["refused_writes"]
    assert sent.refused_writes - before.refused_writes == stats["refused_writes"]
    # a batch never holds more writes than the write bucket lets out at once
    assert stats["by_route"].get("POST /batch/drive/v3", 0) >= 20 / WritePacer(10).batch_limit


def test_reads_are_not_held_behind_queued_writes(emulator, account):
    """Writes waiting for the write bucket hold no place in the request pacer: a `get` and the
    changes feed answer while most of the writes are still queued."""
    pacer = Pacer(rate=1000, max_concurrency=2)  # few places: a write waiting in one would block reads
    with client_for(emulator, account, pacer=pacer, write_rate=2, write_burst=1) as client:
        root = root_folder(client)
        token = client.start_page_token()
        done: list[int] = []
        lock = threading.Lock()

        def touch(i: int) -> None:
            client.update_metadata(root, modified_ms=MTIME + i)
            with lock:
                done.append(i)

        writers = [threading.Thread(target=touch, args=(i,)) for i in range(8)]  # ~4 s of writes at 2/s
        for th in writers:
            th.start()
        time.sleep(0.1)  # let them queue
        assert client.get(root).id == root
        client.list_changes(token)
        with lock:
            finished_before_reads = len(done)
        for th in writers:
            th.join(30)
    assert finished_before_reads <= 3, finished_before_reads  # the reads did not wait for the queue
    assert len(done) == 8


# -- the pacer and the cap watch as units ---------------------------------------------------------


def test_write_pacer_spaces_writes_at_the_rate_after_its_burst():
    t = FakeTime()
    pacer = WritePacer(3, burst=3, clock=t.clock, sleep=t.sleep)
    start = t.now
    for _ in range(3 + 9):
        pacer.acquire(1)
        pacer.admitted(1)
    assert t.now - start == pytest.approx(3.0)  # the burst is free, then 3 per second


def test_write_pacer_slows_down_on_refusals_and_recovers():
    t = FakeTime()
    pacer = WritePacer(3, burst=3, clock=t.clock, sleep=t.sleep)
    pacer.acquire(1)
    pacer.refused()
    low = pacer.rate
    assert low < 3 and pacer.snapshot().cuts == 1
    pacer.refused()  # the same overload: counted once (cooldown)
    assert pacer.rate == low
    for _ in range(200):
        pacer.acquire(1)
        pacer.admitted(1)
    assert pacer.rate == 3  # back at the documented rate, never above it


def test_unpaced_write_pacer_neither_waits_nor_limits_batches():
    t = FakeTime()
    pacer = WritePacer(0, clock=t.clock, sleep=t.sleep)
    for _ in range(1000):
        pacer.acquire(100)
    assert t.sleeps == [] and pacer.batch_limit == 100


def test_terse_rate_body_is_a_retryable_rate_limit_that_may_be_the_cap():
    err = error_from_response(403, {}, TERSE)
    assert not isinstance(err, DailyCapReached)
    assert err.retryable and err.rate_limited and err.maybe_daily_cap


def test_cap_watch_resets_on_an_upload_success_and_on_a_refused_non_upload_write():
    t = FakeTime()
    watch = DailyCapWatch(probe_delays=(1.0, 3.0), sleep=t.sleep)
    err = error_from_response(403, {}, TERSE)
    for _ in range(3):
        watch.before_upload()
        assert watch.after_upload(err) is err
    watch.before_upload()
    assert watch.after_upload(None) is None  # an upload taken: the rate cleared, it was never the cap
    for _ in range(3):
        watch.before_upload()
        assert watch.after_upload(err) is err
    watch.write_refused()  # a folder or metadata write refused alike: the write rate is in force
    t.sleeps.clear()
    for _ in range(3):
        watch.before_upload()
        assert watch.after_upload(err) is err
    watch.before_upload()
    assert isinstance(watch.after_upload(err), DailyCapReached)  # 4 in a row, through 4 s of pauses
    assert sum(t.sleeps) == 4.0
    with pytest.raises(DailyCapReached):
        watch.before_upload()
