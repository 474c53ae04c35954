"""Several nights of `jupyter-drive-sync hub --homes-root`, at random: a model-based test.

Hypothesis draws what happens between nights to a few students and to the hub (files added,
edited, deleted, renamed, a big batch now and then; a grant revoked, the same account signed in
again, another account; a full Drive and space given back; the hub's encryption key wrong for a
night; a student's own push holding the home's lock), then runs a night through the CLI entry
point against the emulator under a per-account write rate and a project quota, sometimes with a
small `--max-minutes-per-home`. After every night, against the model:

- each student's report line has the status the model expects (ok / partial that continues /
  needs_reconnect / drive_refused / config_error / busy / not_connected) and the run's exit
  status follows report.py's rules (2 if the admin must act, else 1 if anyone must, else 0);
- no Drive path in any account ever holds two live items; after an `ok` night the backup folder
  of the student's CURRENT account holds exactly the home's files (same bytes; secrets and the
  tool's own state never; with `--delete keep`, files the home once had may stay);
- a push that continues never has more left the next night with no other changes, and reaches
  `ok` within as many such nights as it had files left (each night gets ahead by at least one
  file, rename or trash however loaded the machine is; two more for nights whose one step was
  a rename or a trash);
- the admin's overview of all nights so far (hub/overview.py, and `hub report`) puts each student
  in the group of their latest line, with the right last backup, and never prints a secret;
- no refresh or access token, no encryption key and no secret file's bytes appear in any output.

A product defect the model finds and that still stands relaxes only the check it breaks, by a
name in KNOWN_DEFECTS that names its xfail(strict) reproduction in test_found_by_nights_model.py.
Bounded and derandomized for `make test` (a few examples of a few nights, ~30 s);
`HUB_NIGHTS_EXAMPLES=n` raises the examples, `HUB_NIGHTS_RANDOM=1` draws new sequences,
`DRIVE_SYNC_SOAK=1` runs many more and longer random sequences, `-s` prints what was
covered (events, statuses, files done per budget-stopped night). On a failure Hypothesis prints
the steps and a `@reproduce_failure` blob (the sequence as found; `HUB_NIGHTS_SHRINK=1` shrinks
it, which timing may defeat). `HUB_NIGHTS_UNGATE=all` checks known defects too.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.fernet import Fernet
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule, run_state_machine_as_test

from jupyter_drive_sync.cli import main as cli_main
from jupyter_drive_sync.core.settings import KEY_ENV, state_dir
from jupyter_drive_sync.emulator.sample import connect_home
from jupyter_drive_sync.home.lock import HomeLock
from jupyter_drive_sync.hub.overview import build, render_html, render_text

from tests.support import helpers

SOAK = os.environ.get("DRIVE_SYNC_SOAK", "").strip() not in ("", "0")
EXAMPLES = int(os.environ.get("HUB_NIGHTS_EXAMPLES", "60" if SOAK else "8"))
STEPS = 20 if SOAK else 6  # nights per example, after the first
# `make test` draws the same sequences every run (as the other models do), so a red CI run is a
# change's doing, not a new draw's; the soak (and HUB_NIGHTS_RANDOM=1) draws new ones.
DERANDOMIZE = not SOAK and not os.environ.get("HUB_NIGHTS_RANDOM")

USERS = ("ada", "alan", "grace", "linus")  # linus starts never connected
FOLDER_MIME = "application/vnd.google-apps.folder"
# Drive's per-account write limit as the emulator enforces it, and the same rate given to the
# hub (Google's is about 3/s, issue 14; faster here so that a night stays short). The hub paces
# each student at WRITE_RATE and lets out min(3, rate) writes at once (drive/pacing.py).
WRITE_RATE, WRITE_BURST = 8.0, 5
PROJECT_QUOTA = 6000  # units per minute for the whole project, given to the emulator and the hub
WORKERS = 2  # per home: at most this many files are in flight when the budget runs out
BUDGET_MINUTES = 1 / 60  # one second: at most ~3 + 8 + 2 files get done in it
TINY_BUDGET_MINUTES = 0.2 / 60  # often spent before the push reaches its actions
BIG_BATCH = 20  # files a big batch adds: never done within BUDGET_MINUTES at WRITE_RATE
CLOCK0 = 1_700_000_000  # the model's mtimes: every write later than the last


# Product defects this model found that still stand, each reproduced by the named xfail(strict)
# test in test_found_by_nights_model.py; the check they break is relaxed while the name is here.
# Remove a name once its fix lands. HUB_NIGHTS_UNGATE=all (or names, comma-separated) checks anyway.
KNOWN_DEFECTS: set[str] = set()  # fixed since: budget_ok_with_moves_left (test_found_by_nights_model.py)
_UNGATE = os.environ.get("HUB_NIGHTS_UNGATE", "").strip()
KNOWN_DEFECTS -= set(KNOWN_DEFECTS) if _UNGATE == "all" else set(filter(None, _UNGATE.split(",")))


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@dataclass
class Student:
    user: str
    home: Path
    files: dict[str, bytes] = field(default_factory=dict)  # the home as the model wrote it (secrets aside)
    ever: set[str] = field(default_factory=set)  # every path the home ever had
    email: str | None = None  # the account connected now (None: never connected)
    accounts: list[str] = field(default_factory=list)
    revoked: bool = False
    busy: bool = False  # their own push holds the lock during the next night
    continuing: int | None = None  # files left by a budget-stopped push
    last_ok: str | None = None  # the label of the last night with status ok
    last_ok_index: int = -1
    status: str | None = None  # the latest night's line, as its overview group key
    moves_pending: bool = False  # tonight's push has renames (or trashes) to carry out


# The overview group (hub/overview.py) each expected status puts a student in.
GROUP_OF = {"ok": "ok", "continues": "continues", "needs_reconnect": "reconnect", "drive_refused": "limits",
            "config_error": "config", "busy": "busy", "not_connected": "not_connected"}


def status_key(line: dict[str, Any]) -> str:
    """A report line's status as the model names it: a budget-stopped push is `continues`."""
    status = str(line.get("status"))
    return "continues" if status == "partial" and line.get("continues") else status


_user = st.sampled_from(USERS)
_index = st.integers(0, 1000)
# What can happen between two nights, each as (method of HubNights, its arguments).
EVENTS = (
    st.tuples(st.just("add_files"), _user, st.sampled_from(["", "lab1/", "lab2/"]), st.integers(1, 3)),
    st.tuples(st.just("add_big_batch"), _user),
    st.tuples(st.just("edit_file"), _user, _index),
    st.tuples(st.just("delete_file"), _user, _index),
    st.tuples(st.just("rename_file"), _user, _index, st.sampled_from(["", "lab2/", "old/"])),
    st.tuples(st.just("revoke_grant"), _user),
    st.tuples(st.just("reconnect_same_account"), _user),
    st.tuples(st.just("switch_account"), _user),
    st.tuples(st.just("drive_full_or_space_back"), _user, st.booleans()),
    st.tuples(st.just("wrong_hub_key"), st.sampled_from(["unset", "other", "not-a-key"])),
    st.tuples(st.just("own_push_running"), _user),
)

# The events after which what a budget-stopped push has left is no longer what its line said.
CHANGES = frozenset({"add_files", "add_big_batch", "edit_file", "delete_file", "rename_file", "revoke_grant",
                     "reconnect_same_account", "switch_account", "drive_full_or_space_back"})


class HubNights(RuleBasedStateMachine):
    emulator: Any = None  # set by the test function: one emulator for all examples
    workdir: Path = Path()
    examples = 0
    nights_run = 0
    seen: dict[str, int] = {}  # events and statuses over the whole run (printed: what was covered)

    # -- set-up ---------------------------------------------------------------------------------

    @initialize(delete=st.sampled_from(["keep", "trash"]))
    def hub_with_students(self, delete: str) -> None:
        cls = type(self)
        cls.examples += 1
        self.n = cls.examples
        self.root = self.workdir / f"ex{self.n}" / "homes"
        self.night_dir = self.workdir / f"ex{self.n}" / "nights"
        self.night_dir.mkdir(parents=True)
        self.delete = delete
        self.key = Fernet.generate_key().decode()
        self.key_env: str | None = self.key  # what the nightly job gets as KEY_ENV
        self.secrets: set[str] = {self.key}
        self.full: set[str] = set()  # accounts whose Drive is full
        self.counter = 0
        self.nights: list[tuple[str, str]] = []
        self.students: dict[str, Student] = {}
        self.tokens: dict[str, str] = {}  # user → the refresh token stored in their home now
        for user in USERS:
            s = Student(user, self.root / user)
            self.students[user] = s
            secret = f"-----BEGIN OPENSSH PRIVATE KEY----- {user} {self.n} {os.urandom(8).hex()}\n".encode()
            (s.home / ".ssh").mkdir(parents=True)
            (s.home / ".ssh" / "id_rsa").write_bytes(secret)
            self.secrets.add(secret.decode().strip())
            for rel in ("notes.md", "lab1/lab1.ipynb", "lab1/data.csv"):
                self.write(s, rel)
            if user != USERS[-1]:
                self.connect(s, self.new_account(s))
        self.night(budget=None)

    def teardown(self) -> None:
        os.environ.pop(KEY_ENV, None)

    # -- helpers --------------------------------------------------------------------------------

    def count(self, what: str) -> None:
        type(self).seen[what] = type(self).seen.get(what, 0) + 1

    def tick(self) -> int:
        self.counter += 1
        return self.counter

    def write(self, s: Student, rel: str) -> None:
        """New bytes never written before (so md5 names the content), a later mtime than any."""
        n = self.tick()
        data = f"{s.user} {rel} v{n}\n".encode() * (1 + n % 4)
        path = s.home / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, (CLOCK0 + 10 * n, CLOCK0 + 10 * n))
        s.files[rel] = data
        s.ever.add(rel)

    def new_account(self, s: Student) -> str:
        return f"{s.user}.{self.n}.{len(s.accounts) + 1}@uni.example"

    def connect(self, s: Student, email: str) -> None:
        """What the student's server stores when they sign in: tokens encrypted with the hub's key."""
        acct = connect_home(self.emulator.url, s.home, email, key=self.key)
        self.secrets.update({acct["refresh_token"], acct["access_token"]})
        self.tokens[s.user] = acct["refresh_token"]
        if email not in s.accounts:
            s.accounts.append(email)
        s.email = email
        s.revoked = False

    def pick(self, s: Student, index: int) -> str:
        names = sorted(s.files)
        return names[index % len(names)]

    def live(self, email: str) -> dict[str, list[dict[str, Any]]]:
        return {p: items for p, items in
                helpers.drive_paths([f for f in self.emulator.files(email) if not f.get("trashed")]).items()}

    def backup(self, s: Student, email: str) -> dict[str, str]:
        """Path in the backup folder → md5 of its live file (one item each: checked elsewhere)."""
        prefix = f"home/{s.user}/"
        return {p[len(prefix):]: items[0].get("md5Checksum", "") for p, items in self.live(email).items()
                if p.startswith(prefix) and items[0]["mimeType"] != FOLDER_MIME}

    # -- what the model expects of a night ----------------------------------------------------

    def expect(self, s: Student, budget: float | None) -> set[str]:
        """The statuses the student's line may have tonight (before it runs, from the model and
        what Drive holds now: a push cut short earlier left part of the work done)."""
        if s.email is None:
            return {"not_connected"}
        if s.busy:
            return {"busy"}  # the lock is taken before anything else is looked at (engine/push.py)
        if self.key_env != self.key:
            return {"config_error"}  # the stored sign-in cannot be read: the admin's, even if revoked
        if s.revoked:
            return {"needs_reconnect"}
        on_drive = self.backup(s, s.email)
        pending = [rel for rel, data in s.files.items() if on_drive.get(rel) != md5(data)]
        if self.delete == "trash":
            pending += [rel for rel in on_drive if rel not in s.files]
        uploads = [rel for rel in pending if rel in s.files
                   and md5(s.files[rel]) not in set(on_drive.values())]  # not a rename, not a deletion
        s.moves_pending = len(pending) > len(uploads)
        if s.email in self.full and uploads:
            # the first upload is refused and ends the run; under a budget the deadline may come first
            return {"drive_refused", "continues"} if budget is not None else {"drive_refused"}
        if budget is not None and len(pending) >= BIG_BATCH:
            return {"continues"}
        if budget is not None and pending:
            return {"ok", "continues"}  # a small change may or may not fit the budget
        return {"ok"}

    # -- a night --------------------------------------------------------------------------------

    def run_hub(self, budget: float | None) -> tuple[int, str, str]:
        argv = ["hub", "--homes-root", str(self.root), "--api-root", self.emulator.url,
                "--parallel", "4", "--workers", str(WORKERS), "--delete", self.delete,
                "--write-rate", str(WRITE_RATE), "--project-quota-per-minute", str(PROJECT_QUOTA)]
        if budget is not None:
            argv += ["--max-minutes-per-home", repr(budget)]
        if self.key_env is None:
            os.environ.pop(KEY_ENV, None)
        else:
            os.environ[KEY_ENV] = self.key_env
        locks = []
        out, err = io.StringIO(), io.StringIO()
        try:
            for s in self.students.values():
                if s.busy and s.email is not None:  # the student's own server is pushing right now
                    locks.append(HomeLock(state_dir(s.home), kind="push").acquire())
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = cli_main(argv)
        finally:
            for lock in locks:
                lock.release()
            os.environ.pop(KEY_ENV, None)
        return code, out.getvalue(), err.getvalue()

    def night(self, budget: float | None) -> dict[str, dict[str, Any]]:
        """Run one night (`budget`: --max-minutes-per-home) and check everything after it."""
        type(self).nights_run += 1
        expected = {u: self.expect(s, budget) for u, s in self.students.items()}
        code, out, err = self.run_hub(budget)
        label = f"night{len(self.nights) + 1:02d}.jsonl"  # `hub report` names a night by its file
        (self.night_dir / label).write_text(out)
        self.nights.append((label, out))
        where = f"{label} (budget: {budget} min, delete: {self.delete})\nstdout:\n{out}\nstderr:\n{err}"

        lines = [json.loads(x) for x in out.splitlines() if x.strip()]
        users = {ln["user"]: ln for ln in lines if ln.get("type") == "user"}
        summaries = [ln for ln in lines if ln.get("type") == "summary"]
        assert len(summaries) == 1 and set(users) == set(self.students), where
        assert "Traceback" not in err, where
        for secret in self.secrets:
            assert secret not in out and secret not in err, f"a secret is in the night's output\n{where}"

        # each line as the model expects it
        got = {u: status_key(ln) for u, ln in users.items()}
        for user, allowed in expected.items():
            assert got[user] in allowed, f"{user}: {got[user]!r}, expected one of {sorted(allowed)}\n{where}"
            line = users[user]
            if got[user] == "continues":
                done, total = line["files_done"], line["files_total"]
                # done == total: only folders, renames or trashes were left (the run was cut short)
                assert 0 <= done <= total and line["summary"]["failed"] == 0, where
                assert line["reason"] == f"continues next night ({done} of {total} files)", where
            elif got[user] == "ok":
                assert line["summary"]["failed"] == 0 and "continues" not in line, where
        # the run's exit status by report.py's rules, from the model's statuses alone
        want_code = 2 if "config_error" in got.values() else \
            1 if {"needs_reconnect", "drive_refused"} & set(got.values()) else 0
        assert code == want_code, f"exit {code}, expected {want_code}\n{where}"
        summary = summaries[0]
        counts: dict[str, int] = {}
        for ln in users.values():
            counts[ln["status"]] = counts.get(ln["status"], 0) + 1
        assert summary["by_status"] == counts and summary["continues"] == list(got.values()).count("continues"), where
        acting = sum(1 for status in got.values() if status in ("needs_reconnect", "drive_refused", "config_error"))
        assert summary["failed"] == acting and summary["homes"] == len(USERS), where

        # Drive: never two live items at a path; after ok the current account's backup is the home
        for s in self.students.values():
            for email in s.accounts:
                for path, items in self.live(email).items():
                    assert len(items) == 1, f"{len(items)} live items at {path!r} in {email}\n{where}"
            if got[s.user] == "ok":
                assert s.email is not None
                # known defect: out of time before its moves, a push says ok (only files count)
                gated = budget is not None and s.moves_pending and "budget_ok_with_moves_left" in KNOWN_DEFECTS
                self.check_backup(s, where, moves_may_wait=gated)
                s.last_ok, s.last_ok_index, s.continuing = label, len(self.nights) - 1, None
            elif got[s.user] == "continues":
                s.continuing = users[s.user]["files_total"] - users[s.user]["files_done"]
                self.count(f"progress {users[s.user]['files_done']}")
            s.status = got[s.user]
            self.count(f"status {s.status}")
        self.check_overview(where)
        return users

    def check_backup(self, s: Student, where: str, moves_may_wait: bool = False) -> None:
        """The backup folder of the current account holds the home: each file at its path with
        its bytes; `moves_may_wait`: each file's bytes somewhere, old paths of the home still there."""
        assert s.email is not None
        have = self.backup(s, s.email)
        want = {rel: md5(data) for rel, data in s.files.items()}
        for rel, digest in want.items():
            if moves_may_wait:
                assert digest in have.values(), f"{s.user}: {rel!r} ({digest}) is not on Drive\n{where}"
                continue
            assert have.get(rel) == digest, f"{s.user}: {rel!r} on Drive is {have.get(rel)}, home has {digest}\n{where}"
        extra = set(have) - set(want)
        if self.delete == "trash" and not moves_may_wait:
            assert not extra, f"{s.user}: Drive holds files the home does not: {sorted(extra)}\n{where}"
        else:  # --delete keep: what the home deleted stays on Drive, nothing else
            assert extra <= s.ever, f"{s.user}: Drive holds files the home never had: {sorted(extra - s.ever)}\n{where}"

    def check_overview(self, where: str) -> None:
        view = build(self.nights)
        for s in self.students.values():
            student = view.students[s.user]
            assert student.group == GROUP_OF[str(s.status)], f"{s.user}: overview group {student.group}\n{where}"
            assert student.last_backed_up == s.last_ok, f"{s.user}: last backup {student.last_backed_up}\n{where}"
            without = len(self.nights) - 1 - s.last_ok_index if s.last_ok else len(self.nights)
            assert student.nights_without_backup == without, where
        text, page = render_text(view), render_html(view)
        files = [str(self.night_dir / label) for label, _ in self.nights]
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            code = cli_main(["hub", "report", *files])
        assert code == 0 and buf.getvalue() == text, where
        for secret in self.secrets:
            assert secret not in text and secret not in page, f"a secret is in the overview\n{where}"

    # -- what happens between nights (each an event of EVENTS) ----------------------------------

    def add_files(self, user: str, folder: str, n: int) -> None:
        s = self.students[user]
        for _ in range(n):
            self.write(s, f"{folder}f{self.counter + 1}.txt")

    def add_big_batch(self, user: str) -> None:
        """A dataset unpacked at once: more files than a small nightly budget can send."""
        s = self.students[user]
        folder = f"batch{self.counter + 1}"
        for i in range(BIG_BATCH):
            self.write(s, f"{folder}/part{i:02d}.csv")

    def edit_file(self, user: str, index: int) -> None:
        s = self.students[user]
        if s.files:
            self.write(s, self.pick(s, index))

    def delete_file(self, user: str, index: int) -> None:
        s = self.students[user]
        if s.files:
            rel = self.pick(s, index)
            (s.home / rel).unlink()
            del s.files[rel]

    def rename_file(self, user: str, index: int, folder: str) -> None:
        s = self.students[user]
        if s.files:
            rel = self.pick(s, index)
            new = f"{folder}r{self.tick()}-{rel.rpartition('/')[2]}"
            (s.home / new).parent.mkdir(parents=True, exist_ok=True)
            os.rename(s.home / rel, s.home / new)
            s.files[new] = s.files.pop(rel)
            s.ever.add(new)

    def revoke_grant(self, user: str) -> None:
        """The student removes the app at myaccount.google.com (Google revokes the grant)."""
        s = self.students[user]
        if s.email is not None and not s.revoked:
            requests.post(self.emulator.url + "revoke", data={"token": self.tokens[user]}, timeout=10)
            s.revoked = True

    def reconnect_same_account(self, user: str) -> None:
        s = self.students[user]
        self.connect(s, s.email or self.new_account(s))

    def switch_account(self, user: str) -> None:
        s = self.students[user]
        self.connect(s, self.new_account(s))

    def drive_full_or_space_back(self, user: str, full: bool) -> None:
        s = self.students[user]
        if s.email is None:
            return
        # Drive refuses an upload that would pass the quota (emulator/drive_v3/files_write.py)
        self.emulator.update_account(s.email, storage_quota_bytes=1 if full else 15 * 2**30)
        (self.full.add if full else self.full.discard)(s.email)

    def wrong_hub_key(self, mode: str) -> None:
        """For the next night the admin gives the nightly job no key, another key, or a malformed
        one (fixed after that night, once the report said so)."""
        if mode == "other":
            wrong = Fernet.generate_key().decode()
            self.secrets.add(wrong)
            self.key_env = wrong
        else:
            self.key_env = {"unset": None, "not-a-key": "not-a-key"}[mode]

    def own_push_running(self, user: str) -> None:
        self.students[user].busy = True

    # -- rules: a night, after what happened since the last ---------------------------------------

    @rule(events=st.lists(st.one_of(*EVENTS), max_size=4),
          budget=st.sampled_from([None, None, BUDGET_MINUTES, TINY_BUDGET_MINUTES]), catch_up=st.booleans())
    def a_night(self, events: list[tuple[Any, ...]], budget: float | None, catch_up: bool) -> None:
        """Every step is a night: Hypothesis draws what happened during the day before it, and
        whether the nights after it change nothing until every continuing push is done."""
        for name, *args in events:
            getattr(self, name)(*args)
            self.count(name)
            if name in CHANGES and args[0] in self.students:
                # what the last push left to do is no longer known (the next line says)
                self.students[args[0]].continuing = None
        self.count("night" if budget is None else f"night with {budget * 60:g} s per home")
        self.night(budget)
        for s in self.students.values():
            s.busy = False
        self.key_env = self.key  # the admin read the report and fixed the job's key
        if catch_up:
            self.nights_until_caught_up()

    def nights_until_caught_up(self) -> None:
        """Nights with the budget and no other change: a continuing push never has more left
        than the night before and ends ok within as many nights as it had files left (a night
        always gets ahead by one file, rename or trash; two more for renames and trashes)."""
        for s in self.students.values():
            s.busy = False
        self.key_env = self.key
        going = {u: s.continuing for u, s in self.students.items() if s.continuing is not None
                 and s.email is not None and not s.revoked and s.email not in self.full}
        if not going:
            return
        bound = max(going.values()) + 2
        self.count("catching up")
        for _ in range(bound):
            lines = self.night(budget=BUDGET_MINUTES)
            for user, left in list(going.items()):
                s = self.students[user]
                if s.status == "ok":
                    del going[user]
                    continue
                assert s.status == "continues" and s.continuing is not None and s.continuing <= left, \
                    f"{user}: {left} files were left, now {lines[user]}"
                going[user] = s.continuing
            if not going:
                break
        assert not going, f"still continuing after {bound} nights: {going}"


@pytest.mark.timeout(0 if SOAK or "HUB_NIGHTS_EXAMPLES" in os.environ else 300)
def test_hub_nights_model(emulator: Any, tmp_path: Path) -> None:
    """Random sequences of nights over four students at one emulator, a new homes root per example."""
    emulator.settings(write_rate=WRITE_RATE, write_burst=WRITE_BURST, project_quota_per_minute=PROJECT_QUOTA)
    HubNights.emulator = emulator
    HubNights.workdir = tmp_path
    HubNights.examples = HubNights.nights_run = 0
    HubNights.seen = {}
    # A night's outcome depends on timing (the budget), so a replay while shrinking may end
    # otherwise and Hypothesis reports that instead: by default the failing sequence is printed as
    # found; HUB_NIGHTS_SHRINK=1 shrinks it.
    phases = list(Phase) if os.environ.get("HUB_NIGHTS_SHRINK") else [Phase.explicit, Phase.generate]
    started = time.monotonic()
    try:
        run_state_machine_as_test(HubNights, settings=settings(
            max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None, print_blob=True, database=None,
            phases=phases, suppress_health_check=list(HealthCheck), derandomize=DERANDOMIZE))
    finally:
        os.environ.pop(KEY_ENV, None)
        print(f"\nhub nights model: {HubNights.examples} examples, {HubNights.nights_run} nights "
              f"in {time.monotonic() - started:.0f}s")
        print("  " + ", ".join(f"{k}: {v}" for k, v in sorted(HubNights.seen.items())))
