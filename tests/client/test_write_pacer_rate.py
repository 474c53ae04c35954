"""The write pacer's current rate, which a push's ETA divides the writes left by."""

from __future__ import annotations

from google.oauth2.credentials import Credentials

from jupyter_drive_sync.drive.client import DriveClient
from jupyter_drive_sync.drive.pacing import DEFAULT_WRITE_RATE, WritePacer


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_sustained_rate_follows_the_cuts_and_recovers():
    clock = Clock()
    p = WritePacer(3.0, decrease=0.5, recovery=5.0, clock=clock, sleep=lambda s: None)
    assert p.sustained_rate == 3.0
    p.refused()
    assert p.sustained_rate == 1.5  # the ETA lengthens when Drive pushes back
    for _ in range(100):
        clock.now += 0.5
        p.admitted()
    assert p.sustained_rate == 3.0  # and never exceeds the account's limit


def test_an_unpaced_pacer_has_no_rate_to_count_on():
    assert WritePacer(0).sustained_rate is None


def test_the_client_exposes_its_accounts_write_pacer():
    creds = Credentials("token")
    assert DriveClient(creds, write_rate=2.0).write_pacer.sustained_rate == 2.0
    assert DriveClient(creds, write_rate=0).write_pacer.sustained_rate is None
    assert DEFAULT_WRITE_RATE == 3.0  # Google's documented sustained writes per account
