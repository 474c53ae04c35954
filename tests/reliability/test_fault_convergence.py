"""Faults: 20 % of Drive requests fail, every kind mixed, many seeds.

Each seed builds a fresh home (nested folders, ~40 small files, two multi-chunk files pushed
through resumable sessions of 256 KiB chunks) and pushes it up to three times with the faults
ON the whole time (500, 503, 429, 403 userRateLimitExceeded, connection reset, change applied
then the answer lost, slow answers). After at most three pushes the Drive folder must equal the
home byte for byte: every path once, same bytes, nothing extra, nothing lost. Between pushes
the home also changes (edits, touches, new files), so the later pushes do updates under faults
too, not just retries of the first one's creates.
"""

from __future__ import annotations

import os
import random
from collections import Counter
from pathlib import Path

import pytest

from jupyter_drive_sync.emulator.sample import connect_home
from jupyter_drive_sync.core.errors import SyncError
from jupyter_drive_sync.core.options import PushOptions
from jupyter_drive_sync.engine.push import run_push

from .conftest import CREATE_ROUTES, Mirror, route_count, trials

EMAIL = "faults@uni.edu"
USER = "fay"
RATE = 0.20
CHUNK = 256 * 1024
MAX_PUSHES = 3
SEEDS = list(range(1, trials(10, 50) + 1))
RESULTS: list[dict] = []  # per seed, printed at the end for docs/RELIABILITY.md


def build_home(home: Path, rng: random.Random) -> None:
    """~40 small files in nested folders, an empty file, two multi-chunk files."""
    dirs = ["", "lab1", "lab1/data", "lab2", "project/src/pkg", "project/notes", "a/b/c/d"]
    for i in range(40):
        d = dirs[i % len(dirs)]
        p = home / d / f"f{i:02d}-{rng.randrange(10**6)}.txt"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(rng.randbytes(rng.randrange(1, 6000)))
    (home / "lab2" / "empty.txt").write_bytes(b"")
    (home / "project" / "empty-dir").mkdir(parents=True)
    big = home / "data"
    big.mkdir()
    # > multipart limit: resumable, 3 and 5 chunks, last chunk partial
    (big / "big1.bin").write_bytes(rng.randbytes(2 * CHUNK + 12345))
    (big / "big2.bin").write_bytes(rng.randbytes(4 * CHUNK + 1))


def change_home(home: Path, rng: random.Random, round_no: int) -> None:
    """Edits between pushes: content changes (incl. a big file), a touch, new files."""
    files = sorted(p for p in home.rglob("*.txt") if ".local" not in p.parts)
    for p in rng.sample(files, 4):
        p.write_bytes(p.read_bytes() + f"edit {round_no}\n".encode())
    t = rng.choice(files)
    os.utime(t, (1_700_000_000 + round_no, 1_700_000_000 + round_no))
    (home / "lab1" / f"new-{round_no}.txt").write_bytes(rng.randbytes(300))
    big = home / "data" / "big1.bin"
    data = bytearray(big.read_bytes())
    data[CHUNK + 7] ^= 0xFF  # a change inside the second chunk
    big.write_bytes(bytes(data))


def push(home: Path, emulator) -> object:
    return run_push(PushOptions(home=home, user=USER, api_root=emulator.url, workers=4,
                                chunk_size=CHUNK, multipart_limit=CHUNK))


def converge(home: Path, emulator, mirror: Mirror, seed: int, label: str, injected: Counter) -> int:
    """Push with faults on until Drive equals the home; returns the pushes it took (≤ 3)."""
    for n in range(1, MAX_PUSHES + 1):
        emulator.set_faults(RATE, seed=seed * 1000 + n + (500 if label == "changes" else 0), slow_ms=100)
        try:
            push(home, emulator)
        except SyncError as exc:  # a run may end early under faults; the next run picks it up
            print(f"seed {seed} {label} push {n}: ended early: {exc}")
        finally:
            injected.update(emulator.http.get(emulator.url + "_emulator/faults").json()["injected"])
            emulator.set_faults(0)
        report = mirror.compare(home)
        assert not report.duplicates, f"seed {seed} {label}: duplicates after push {n}: {report}"
        if report.ok:
            return n
    raise AssertionError(f"seed {seed} {label}: not converged after {MAX_PUSHES} pushes: {report}")


@pytest.mark.timeout(600)
@pytest.mark.parametrize("seed", SEEDS)
def test_random_fault_mix_converges_in_three_pushes(tmp_path, emulator, seed):
    rng = random.Random(seed)
    home = tmp_path / USER
    home.mkdir()
    connect_home(emulator.url, home, EMAIL)
    build_home(home, rng)
    mirror = Mirror(emulator, EMAIL, USER)

    injected: Counter = Counter()
    first = converge(home, emulator, mirror, seed, "first", injected)
    change_home(home, rng, 1)
    second = converge(home, emulator, mirror, seed, "changes", injected)
    creates = route_count(emulator, *CREATE_ROUTES)

    report = mirror.assert_equal(home)
    assert report.files >= 43 and report.folders >= 10
    # nothing left to do: a clean push without faults changes nothing on Drive
    emulator.reset_stats()
    s = push(home, emulator)
    assert (s.created, s.updated, s.folders_created, s.failed) == (0, 0, 0, []), s
    assert emulator.stats()["requests"] <= 2
    mirror.assert_equal(home, download=False)
    RESULTS.append({"seed": seed, "pushes_first": first, "pushes_changes": second, "creates": creates,
                    "files": report.files, "folders": report.folders, "injected": dict(injected)})
    print(f"seed {seed}: first upload converged after {first} push(es), changes after {second}; "
          f"{report.files} files, {report.folders} folders, 0 duplicates, 0 lost; faults {dict(injected)}")
    assert sum(injected.values()) >= 10  # the faults really hit
