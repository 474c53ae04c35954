""""Sync now", the CLI and the nightly hub run on ONE home at once (one push per home).

Three real entry points race for the same home while the emulator is slow enough for a push to
take a while: the server extension's JobManager (what `POST drive-sync/push` drives; a refusal
there is the 409), a `jupyter-drive-sync push` process, and a `jupyter-drive-sync hub
--homes-root` process. Exactly one pushes; each other one says so in its own way (the CLI: exit
1 and "already running" on stderr; the hub: a `busy` report line; Sync now: 409 or a job that
ended with `already_running`). Nothing is duplicated and the home converges.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from pathlib import Path

import pytest

from jupyter_drive_sync.core.options import push_options
from jupyter_drive_sync.core.settings import SyncSettings, state_dir
from jupyter_drive_sync.emulator.sample import connect_home
from jupyter_drive_sync.core.errors import AlreadyRunning
from jupyter_drive_sync.engine.status import DONE, FAILED, probe_home_lock
from jupyter_drive_sync.server.jobs import JobConflict, JobManager
from jupyter_drive_sync.home.lock import HomeLock

from .conftest import Mirror, cli, lock_holder, trials, wait_for

EMAIL = "race@uni.edu"
USER = "rae"
ORDERS = [("server", "cli", "hub"), ("cli", "hub", "server"), ("hub", "server", "cli"), ("all", "at", "once")]


@pytest.fixture
def setup(tmp_path: Path, emulator):
    root = tmp_path / "homes"
    home = root / USER
    home.mkdir(parents=True)
    connect_home(emulator.url, home, EMAIL)
    settings = SyncSettings.for_home(home, username=USER, api_root=emulator.url, workers=2)
    jobs = JobManager(settings.state_dir, lambda: push_options(settings),
                      lock_holder=lambda: probe_home_lock(settings.state_dir))
    yield root, home, jobs
    jobs.shutdown()


def add_files(home: Path, tag: str, rng: random.Random, n: int = 30) -> None:
    for i in range(n):
        p = home / tag / f"d{i % 3}" / f"f{i}.txt"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(rng.randbytes(rng.randrange(10, 2000)))


def test_sync_now_cli_and_hub_on_one_home(setup, emulator):
    root, home, jobs = setup
    rng = random.Random(77)
    mirror = Mirror(emulator, EMAIL, USER)
    rounds = trials(len(ORDERS), 3 * len(ORDERS))
    table = []
    for r in range(rounds):
        order = ORDERS[r % len(ORDERS)]
        add_files(home, f"round{r}", rng)
        # "All at once": the in-process server push starts last but holds the lock at once; the CLI
        # and hub processes need their start-up (imports) before they reach the lock. A slow Drive
        # keeps the first push running until the others have met the lock and ended (they make no
        # Drive request before it), so the three really overlap however slow the start-ups; then
        # Drive is fast again and the first push finishes.
        emulator.settings(latency_ms=1000)
        procs: dict[str, object] = {}
        job = None
        refused_409 = None

        def start(who: str) -> None:
            nonlocal job, refused_409
            if who == "server":
                try:
                    job = jobs.start_push()
                except JobConflict as exc:  # what the handler answers with 409
                    refused_409 = exc.job
            elif who == "cli":
                procs["cli"] = cli("push", "--home", str(home), "--user", USER, "--api-root", emulator.url,
                                   "--json", "--workers", "2")
            else:
                procs["hub"] = cli("hub", "--homes-root", str(root), "--api-root", emulator.url, "--workers", "2")

        if order[0] == "all":
            for who in ("cli", "hub", "server"):
                start(who)
        else:
            first, *rest = order
            start(first)
            me = os.getpid()
            assert wait_for(lambda: lock_holder(home).get("pid") in
                            ({me} if first == "server" else {procs[first].pid}), procs.get(first))
            for who in rest:
                start(who)

        holder = "server" if order[0] == "all" else order[0]
        for who, proc in procs.items():
            if who != holder:
                proc.wait(timeout=120)  # type: ignore[attr-defined]
        emulator.settings(latency_ms=40)
        outcome: dict[str, str] = {}
        cli_out, cli_err = procs["cli"].communicate(timeout=120)
        hub_out, hub_err = procs["hub"].communicate(timeout=120)
        if job is not None:
            deadline = time.monotonic() + 120
            while jobs.get(job.id).active and time.monotonic() < deadline:
                time.sleep(0.02)
            final = jobs.get(job.id)
            if final.state == DONE:
                outcome["server"] = "pushed"
            else:
                assert final.state == FAILED and final.error["kind"] == "already_running", final
                outcome["server"] = "job said already_running"
        else:
            assert refused_409 is not None and refused_409.state == "running"
            outcome["server"] = "409"

        if procs["cli"].returncode == 0:
            json.loads(cli_out)
            outcome["cli"] = "pushed"
        else:
            assert procs["cli"].returncode == 1 and b"already running" in cli_err, cli_err
            assert cli_out == b"" and b"Traceback" not in cli_err
            outcome["cli"] = "exit 1, already running"

        hub_lines = [json.loads(x) for x in hub_out.splitlines()]
        status = next(x for x in hub_lines if x["type"] == "user")["status"]
        assert procs["hub"].returncode == 0, hub_err
        assert status in ("ok", "busy"), hub_lines
        outcome["hub"] = "pushed" if status == "ok" else "busy line"

        pushed = [who for who, what in outcome.items() if what == "pushed"]
        table.append((r, "+".join(order), outcome))
        assert len(pushed) == 1, outcome  # one runs, the others say so
        report = mirror.compare(home, download=False)
        assert not report.duplicates, report
        assert report.ok, report  # the one that ran pushed everything
    for row in table:
        print(row)
    emulator.settings(latency_ms=0)
    mirror.assert_equal(home)


def test_status_probes_never_make_a_push_think_the_home_is_busy(tmp_path):
    """Regression: `HomeLock.holder()` (the server's status probe, polled by every open
    browser tab) takes a shared flock for an instant. A push starting in that instant used to
    fail with "already running" while nothing ran: a nightly run marked `busy` for nothing."""
    sdir = state_dir(tmp_path)
    HomeLock(sdir).acquire().release()  # the lock file exists, as after any push
    stop = threading.Event()

    def probe() -> None:
        while not stop.is_set():
            assert HomeLock(sdir).holder() is None or True

    probers = [threading.Thread(target=probe, daemon=True) for _ in range(2)]
    for t in probers:
        t.start()
    refused = 0
    try:
        for _ in range(trials(300, 3000)):
            lock = HomeLock(sdir, kind="push")
            try:
                lock.acquire(timeout=0)
            except AlreadyRunning:
                refused += 1
            else:
                lock.release()
    finally:
        stop.set()
        for t in probers:
            t.join()
    assert refused == 0
