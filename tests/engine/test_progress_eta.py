"""The rates and the ETA a push's progress events carry (engine/progress.py, pure parts)."""

from __future__ import annotations

import pytest

from jupyter_drive_sync.engine.progress import RateMeter, eta_seconds


def test_many_small_files_are_bound_by_the_write_rate():
    # 900 files left at 3 writes/s: 300 s, although their 9 MB would take 0.9 s at 10 MB/s
    assert eta_seconds(900, 9_000_000, write_rate=3.0, bytes_per_second=10_000_000) == 300.0


def test_a_few_large_files_are_bound_by_the_byte_rate():
    # 2 files of 1 GB at 10 MB/s: 200 s, although 2 writes take under a second
    assert eta_seconds(2, 2 * 10**9, write_rate=3.0, bytes_per_second=10**7) == 200.0


def test_a_slower_pacer_after_refusals_lengthens_the_eta():
    assert eta_seconds(30, 0, write_rate=1.5, bytes_per_second=None) == 20.0
    assert eta_seconds(30, 0, write_rate=3.0, bytes_per_second=None) == 10.0


def test_a_byte_rate_measured_while_the_writes_bind_does_not_bound_the_data_to_come():
    # small files going out at the full write rate: their 30 kB/s says nothing of the network
    assert eta_seconds(10, 10**9, write_rate=3.0, bytes_per_second=30_000, files_per_second=2.9) == 3.3
    # large files holding the writes back: the bytes are the bound
    assert eta_seconds(10, 10**9, write_rate=3.0, bytes_per_second=10**7, files_per_second=1.0) == 100.0


def test_nothing_left_is_zero_and_an_unmeasured_bound_is_unknown():
    assert eta_seconds(0, 0, write_rate=None, bytes_per_second=None) == 0.0
    assert eta_seconds(10, 0, write_rate=None, bytes_per_second=5.0) is None
    assert eta_seconds(10, 100, write_rate=2.0, bytes_per_second=0.0) is None  # bytes not yet moving
    assert eta_seconds(-1, -5, write_rate=2.0, bytes_per_second=1.0) == 0.0


def test_rate_meter_measures_over_its_window():
    m = RateMeter(window=10.0, min_span=1.0)
    assert m.add(100.0, 0, 0) == (None, None)
    assert m.add(100.5, 1, 500) == (None, None)  # under a second measured: no rate yet
    assert m.add(102.0, 6, 2000) == (3.0, 1000.0)
    for t in range(103, 131):  # a steady 1 file and 100 bytes per second from here
        fps, bps = m.add(float(t), 6 + (t - 102), 2000 + 100 * (t - 102))
    # the early burst has left the window
    assert fps == pytest.approx(1.0, abs=0.11) and bps == pytest.approx(100.0, abs=11)
