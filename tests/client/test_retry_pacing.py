"""The retry policy and the pacer as pure units: injected sleep, random and clock, no network."""

from __future__ import annotations

import json
import socket
import threading
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone

import pytest

from jupyter_drive_sync.core.errors import DriveRefused, NotConnected
from jupyter_drive_sync.drive.pacing import Pacer
from jupyter_drive_sync.drive.errors import (
    DailyCapReached,
    DriveApiError,
    NeedsReauth,
    NotFound,
    StorageFull,
    error_from_refresh,
    error_from_response,
    is_retryable,
    parse_retry_after,
)
from jupyter_drive_sync.drive.retry import RetryPolicy


def envelope(code: int, reason: str, message: str = "msg", domain: str = "global") -> bytes:
    return json.dumps({"error": {"code": code, "message": message,
                                 "errors": [{"domain": domain, "reason": reason, "message": message}]}}).encode()


class FakeTime:
    """A clock whose sleep advances it, recording every sleep."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.now += s


# -- error translation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "status,reason,message,cls,retryable",
    [
        (500, "backendError", "Backend Error", DriveApiError, True),
        (503, "backendError", "Backend Error", DriveApiError, True),
        (429, "rateLimitExceeded", "Rate Limit Exceeded", DriveApiError, True),
        (403, "userRateLimitExceeded",
         "User Rate Limit Exceeded. Rate of requests for user exceed configured project quota.", DriveApiError, True),
        (403, "rateLimitExceeded", "Rate Limit Exceeded", DriveApiError, True),
        # Google's words for both the daily upload cap and the per-account write rate: retried as
        # a rate limit; the cap is told by persistence (DailyCapWatch, tests/client/test_write_pacing.py)
        (403, "userRateLimitExceeded", "User rate limit exceeded.", DriveApiError, True),
        (403, "dailyLimitExceeded", "Daily Limit Exceeded", DailyCapReached, False),
        (403, "storageQuotaExceeded", "The user's Drive storage quota has been exceeded.", StorageFull, False),
        (403, "insufficientFilePermissions", "no", DriveApiError, False),
        (404, "notFound", "File not found: x.", NotFound, False),
        (400, "invalid", "Invalid Value", DriveApiError, False),
        (409, "fileIdInUse", "A file already exists with the provided ID.", DriveApiError, False),
        (401, "authError", "Invalid Credentials", NeedsReauth, False),
    ],
)
def test_error_translation(status, reason, message, cls, retryable):
    err = error_from_response(status, {}, envelope(status, reason, message))
    assert type(err) is cls
    assert (err.status, err.reason, err.message) == (status, reason, message)
    assert err.retryable is retryable
    assert is_retryable(err) is retryable


def test_run_ending_errors_map_to_exit_statuses():
    assert isinstance(error_from_response(403, {}, envelope(403, "storageQuotaExceeded")), DriveRefused)
    terse = error_from_response(403, {}, envelope(403, "userRateLimitExceeded", "User rate limit exceeded."))
    assert not isinstance(terse, DriveRefused) and terse.maybe_daily_cap  # the write rate's words too
    assert isinstance(DailyCapReached.from_error(terse), DriveRefused)  # once it persisted
    assert DailyCapReached.from_error(terse).exit_code == 4
    reauth = error_from_response(400, {}, json.dumps({"error": "invalid_grant",
                                                      "error_description": "Token has been expired or revoked."}))
    assert isinstance(reauth, NeedsReauth) and isinstance(reauth, NotConnected)
    assert reauth.exit_code == 3


def test_non_json_error_body_still_gives_status():
    err = error_from_response(502, {}, b"<html>bad gateway</html>")
    assert err.status == 502 and err.retryable


def test_refresh_errors():
    class RefreshError(Exception):
        def __init__(self, msg, retryable=False):
            super().__init__(msg)
            self.retryable = retryable

    assert isinstance(error_from_refresh(RefreshError("invalid_grant: Token has been expired or revoked.")), NeedsReauth)
    transient = error_from_refresh(RefreshError("server error", retryable=True))
    assert not isinstance(transient, NeedsReauth) and transient.retryable


def test_transport_errors_are_retryable():
    assert is_retryable(ConnectionResetError())
    assert is_retryable(socket.timeout())
    import http.client

    assert is_retryable(http.client.RemoteDisconnected("closed"))
    assert not is_retryable(ValueError("bug"))
    assert not is_retryable(PermissionError(13, "denied"))


# -- Retry-After ----------------------------------------------------------------------------


def test_parse_retry_after_seconds_and_date():
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    now = datetime(2024, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
    later = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(later, now=lambda: now.timestamp()) == pytest.approx(30.0)
    past = format_datetime(now - timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(past, now=lambda: now.timestamp()) == 0.0


def test_retry_after_header_is_read_from_error():
    err = error_from_response(429, {"retry-after": "12"}, envelope(429, "rateLimitExceeded"))
    assert err.retry_after == 12.0


# -- backoff ---------------------------------------------------------------------------------


def test_backoff_bounds_full_jitter_and_cap():
    top = RetryPolicy(base=1.0, cap=32.0, random=lambda: 0.999999)
    assert [round(top.delay(n)) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 32, 32]
    bottom = RetryPolicy(random=lambda: 0.0)
    assert all(bottom.delay(n) == 0.0 for n in range(1, 9))


def test_retry_after_is_a_floor_and_bounded():
    policy = RetryPolicy(random=lambda: 0.0, max_retry_after=60)
    assert policy.delay(1, DriveApiError(429, "rateLimitExceeded", "x", retry_after=9)) == 9
    assert policy.delay(1, DriveApiError(429, "rateLimitExceeded", "x", retry_after=9999)) == 60
    policy = RetryPolicy(random=lambda: 0.999999)
    assert policy.delay(5, DriveApiError(429, "r", "x", retry_after=1)) == pytest.approx(16, rel=1e-3)


def test_call_retries_until_success_with_sleeps_from_policy():
    t = FakeTime()
    policy = RetryPolicy(sleep=t.sleep, random=lambda: 0.5)
    outcomes = [DriveApiError(503, "backendError", "x"), ConnectionResetError(),
                DriveApiError(429, "rateLimitExceeded", "x", retry_after=3), "ok"]

    def fn():
        o = outcomes.pop(0)
        if isinstance(o, BaseException):
            raise o
        return o

    assert policy.call(fn) == "ok"
    assert t.sleeps == [0.5, 1.0, 3.0]  # 0.5*1, 0.5*2, max(0.5*4=2, Retry-After 3)


def test_call_gives_up_after_max_tries():
    t = FakeTime()
    policy = RetryPolicy(max_tries=4, sleep=t.sleep, random=lambda: 1.0)
    calls = []

    def fn():
        calls.append(1)
        raise DriveApiError(500, "backendError", "x")

    with pytest.raises(DriveApiError) as info:
        policy.call(fn)
    assert info.value.status == 500
    assert len(calls) == 4 and len(t.sleeps) == 3


@pytest.mark.parametrize("exc", [
    StorageFull(403, "storageQuotaExceeded", "full"),
    DailyCapReached(403, "userRateLimitExceeded", "User rate limit exceeded."),
    NeedsReauth(0, "invalid_grant", "revoked"),
    NotFound(404, "notFound", "gone"),
    DriveApiError(400, "invalid", "bad"),
])
def test_call_does_not_retry_final_errors(exc):
    t = FakeTime()
    calls = []

    def fn():
        calls.append(1)
        raise exc

    with pytest.raises(type(exc)):
        RetryPolicy(sleep=t.sleep).call(fn)
    assert len(calls) == 1 and t.sleeps == []


def test_call_translates_and_chains():
    class LibraryError(Exception):
        pass

    def translate(e):
        return DriveApiError(503, "backendError", "x") if isinstance(e, LibraryError) else e

    t = FakeTime()
    seq = [LibraryError(), "done"]

    def fn():
        o = seq.pop(0)
        if isinstance(o, BaseException):
            raise o
        return o

    assert RetryPolicy(sleep=t.sleep).call(fn, translate=translate) == "done"
    assert len(t.sleeps) == 1


def test_call_reports_to_pacer():
    t = FakeTime()
    pacer = Pacer(rate=100, max_concurrency=8, clock=t.clock, sleep=t.sleep)
    seq = [DriveApiError(403, "userRateLimitExceeded", "User Rate Limit Exceeded. Rate of requests..."), "ok"]

    def fn():
        o = seq.pop(0)
        if isinstance(o, BaseException):
            raise o
        return o

    RetryPolicy(sleep=t.sleep, random=lambda: 0.0).call(fn, pacer=pacer)
    snap = pacer.snapshot()
    assert snap.cuts == 1 and snap.rate < 100 and snap.in_flight == 0


# -- pacer: token bucket -----------------------------------------------------------------------


def test_token_bucket_spaces_requests_at_the_rate():
    t = FakeTime()
    pacer = Pacer(rate=10, burst=1, clock=t.clock, sleep=t.sleep)
    start = t.now
    for _ in range(11):
        pacer.acquire()
        pacer.report(ok=True)
    # first is free (burst 1), the next ten are 0.1 s apart
    assert t.now - start == pytest.approx(1.0)


def test_burst_is_free_then_rate_applies():
    t = FakeTime()
    pacer = Pacer(rate=10, burst=5, clock=t.clock, sleep=t.sleep)
    for _ in range(5):
        pacer.acquire()
        pacer.report(ok=True)
    assert t.sleeps == []
    pacer.acquire()
    assert t.sleeps == [pytest.approx(0.1)]


def test_cost_is_charged_in_tokens():
    t = FakeTime()
    pacer = Pacer(rate=100, burst=100, clock=t.clock, sleep=t.sleep)
    pacer.acquire(cost=100)  # a full batch: uses the whole burst
    pacer.report(ok=True)
    pacer.acquire(cost=50)
    assert sum(t.sleeps) == pytest.approx(0.5)


# -- pacer: AIMD -------------------------------------------------------------------------------


def test_rate_limit_cuts_rate_and_concurrency_once_per_cooldown():
    t = FakeTime()
    pacer = Pacer(rate=200, max_concurrency=16, cooldown=1.0, clock=t.clock, sleep=t.sleep)
    for _ in range(8):
        pacer.acquire()
    pacer.report(ok=False, rate_limited=True)
    after_first = pacer.snapshot()
    assert after_first.rate == pytest.approx(100)
    assert after_first.concurrency_limit == 4  # half of the 8 in use, not of the idle ceiling
    for _ in range(7):  # the same overload answering the other in-flight requests
        pacer.report(ok=False, rate_limited=True)
    assert pacer.snapshot().cuts == 1
    t.now += 1.5
    pacer.acquire()
    pacer.report(ok=False, rate_limited=True)
    assert pacer.snapshot().cuts == 2 and pacer.rate == pytest.approx(50)


def test_rate_never_below_minimum_and_concurrency_never_below_one():
    t = FakeTime()
    pacer = Pacer(rate=10, min_rate=2, max_concurrency=4, cooldown=0, clock=t.clock, sleep=t.sleep)
    for _ in range(20):
        pacer.acquire()
        pacer.report(ok=False, rate_limited=True)
        t.now += 1
    assert pacer.rate == 2
    assert pacer.concurrency_limit == 1


def test_successes_raise_rate_and_concurrency_back_to_the_ceiling():
    t = FakeTime()
    pacer = Pacer(rate=100, max_concurrency=8, rate_increase=10, clock=t.clock, sleep=t.sleep)
    for _ in range(8):
        pacer.acquire()
    pacer.report(ok=False, rate_limited=True)
    for _ in range(7):
        pacer.report(ok=True)
    low = pacer.rate
    assert low < 60
    rates = []
    for _ in range(3000):
        pacer.acquire()
        pacer.report(ok=True)
        rates.append(pacer.rate)
    assert all(b >= a for a, b in zip(rates, rates[1:]))  # additive increase: never down on success
    assert rates[0] < 100 and rates[-1] == 100  # ... and capped at the ceiling
    assert pacer.concurrency_limit == 8
    # recovery is gradual: ~rate_increase (10/s) per second of successes, not a jump;
    # 100 successes at ~50-70/s take under 2 s
    assert 5 < rates[100] - low < 25


def test_failure_without_rate_limit_does_not_cut():
    t = FakeTime()
    pacer = Pacer(rate=50, clock=t.clock, sleep=t.sleep)
    pacer.acquire()
    pacer.report(ok=False, rate_limited=False)
    assert pacer.rate == 50 and pacer.snapshot().cuts == 0


def test_concurrency_limit_blocks_threads_until_report():
    pacer = Pacer(rate=1e6, max_concurrency=2)
    pacer.acquire()
    pacer.acquire()
    entered = threading.Event()

    def third():
        pacer.acquire()
        entered.set()
        pacer.report(ok=True)

    th = threading.Thread(target=third)
    th.start()
    assert not entered.wait(0.2)  # blocked: two permits in use
    pacer.report(ok=True)
    assert entered.wait(5)
    th.join(5)
    pacer.report(ok=True)
    assert pacer.snapshot().in_flight == 0


def test_pacer_is_thread_safe_under_load():
    pacer = Pacer(rate=1e6, max_concurrency=3)
    peak = []
    lock = threading.Lock()
    inside = [0]

    def worker():
        for i in range(200):
            pacer.acquire()
            with lock:
                inside[0] += 1
                peak.append(inside[0])
            with lock:
                inside[0] -= 1
            pacer.report(ok=True, rate_limited=False)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    assert max(peak) <= 3
    assert pacer.snapshot().in_flight == 0
