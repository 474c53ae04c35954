"""A home's whole life, at random: a stateful, model-based test of push and restore (issue 13).

Hypothesis draws sequences of steps a student, another Drive client and the hub can take
(local edits, renames, special files, odd mtimes; edits, moves, trashes and same-name files on
Drive; a lost or corrupt state DB, a new volume, an account switch, a push killed or faulted
mid-way, two pushes at once; push, restore, restore into an empty home) and checks after every
step, against the reference model in `model.py`:

(a) after a push that exits 0, each local file has exactly one live Drive item at its path in
    the backup folder, holding the local bytes unless Drive's copy was the later write;
(b) Drive content newer than the local copy is never replaced unless its revision is pinned
    and the summary reports a conflict;
(c) no path ever has two live items (items placed there by other clients aside);
(d) a restore into an empty home reproduces the backup byte for byte (secrets aside);
(e) nothing outside the home is read or written, no secret or own-state file is uploaded or
    restored, by any route;
(f) exit statuses are 0-4 and nothing prints a traceback; a push with nothing hostile in the
    home and no injected faults exits 0.

A product defect the model finds would keep this red until it is fixed, so the steps and
checks that reach it are gated by a name in `KNOWN_DEFECTS`, which says
which xfail(strict) regression test (test_lifecycle_regressions.py, test_found_by_model.py)
reproduces it. Fixing one: remove its name here and its xfail mark there. Runs bounded in
`make test`; `DRIVE_SYNC_SOAK=1` (`make soak`) runs thousands of sequences; `-s` prints the
examples, steps, operations by family and wall time. On a failure Hypothesis prints the
failing sequence and a `@reproduce_failure` blob. Exploring: `LIFECYCLE_EXAMPLES=n`,
`LIFECYCLE_NO_SHRINK=1` (the first failure as found; the soak's default, `LIFECYCLE_SHRINK=1`
shrinks there), `LIFECYCLE_REPRODUCE=<version>:<blob>`
(replay a reported failure; `LIFECYCLE_TRACE=1` prints the model's records after each step),
`LIFECYCLE_UNGATE=all|name,...`, `LIFECYCLE_FAILURE_LOG=file`
(each failing example's steps and traceback, written as it fails: before Hypothesis replays it,
since a replay against the emulator's changed state can draw otherwise and lose it, soak run K).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sys
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, Verbosity, note, reproduce_failure, settings
from hypothesis.reporting import with_reporter
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule, run_state_machine_as_test

from .harness import (
    FOLDER_MIME,
    STATE_REL,
    USER,
    CliRun,
    DriveView,
    OtherClient,
    connect,
    finish,
    is_secret,
    local_files,
    local_kind,
    md5,
    push_argv,
    restore_argv,
    run_cli,
    spawn_cli,
    tree_digest,
)
from .model import GONE_MOVED, GONE_RESPECTED, DriveEdit, Expectation, Model

# Product defects the model found and that still stand, each reproduced by the named test
# (xfail there). Remove a name once its fix lands. Found earlier
# and fixed since (their regressions are plain tests now, their steps run ungated):
# adoption_overwrites_newer_drive, interrupted_adoption_duplicates, local_mtime_after_2262,
# drive_time_after_2262, account_switch, restore_path_secrets, rename_is_delete_plus_create,
# drive_move_leaves_backup_incomplete, kind_swap_two_live_items, returning_file_stays_trashed,
# move_after_adoption_kept_drive (test_found_by_model.py).
# ... and move_onto_kept_leftover, kind_swap_onto_kept_leftover (test_found_by_model.py).
KNOWN_DEFECTS: set[str] = set()
# Re-enable gated steps without editing this file: LIFECYCLE_UNGATE=all, or names separated by commas.
_UNGATE = os.environ.get("LIFECYCLE_UNGATE", "").strip()
KNOWN_DEFECTS -= set(KNOWN_DEFECTS) if _UNGATE == "all" else set(filter(None, _UNGATE.split(",")))

SOAK = os.environ.get("DRIVE_SYNC_SOAK", "").strip() not in ("", "0")
PROFILES = {
    # `make test`: bounded (a few minutes on a loaded 2-core machine) and derandomized (the same
    # sequences every run, so CI says the same thing twice); new sequences: the soak, or
    # LIFECYCLE_RANDOM=1 here
    "default": dict(max_examples=int(os.environ.get("LIFECYCLE_EXAMPLES", "100")), stateful_step_count=15,
                    derandomize=not os.environ.get("LIFECYCLE_RANDOM")),
    # `make soak`
    "soak": dict(max_examples=int(os.environ.get("LIFECYCLE_EXAMPLES", "3000")), stateful_step_count=30),
}


def lifecycle_settings() -> settings:
    name = os.environ.get("HYPOTHESIS_PROFILE", "")
    profile = PROFILES.get(name) or PROFILES["soak" if SOAK else "default"]
    # Exploring, and the soak by default: report the first failure as found. The draws depend on
    # what the emulator holds (IDs, times), so replaying a case to shrink it can draw otherwise:
    # Hypothesis then raises FlakyStrategyDefinition and the failure itself is lost (soak run I).
    # LIFECYCLE_SHRINK=1 shrinks anyway.
    no_shrink = os.environ.get("LIFECYCLE_NO_SHRINK") or (SOAK and not os.environ.get("LIFECYCLE_SHRINK"))
    if no_shrink:
        profile = {**profile, "phases": [Phase.explicit, Phase.generate]}
    if FAILURE_LOG:  # every step and draw is then reported (to StepLog, not the terminal)
        profile = {**profile, "verbosity": Verbosity.debug}
    return settings(deadline=None, print_blob=True, database=None,
                    suppress_health_check=list(HealthCheck), **profile)


FAILURE_LOG = os.environ.get("LIFECYCLE_FAILURE_LOG", "")
TRACE = bool(os.environ.get("LIFECYCLE_TRACE"))


class StepLog:
    """The steps and draws of the example running now, as Hypothesis reports them at debug
    verbosity, so that a failing example can be written down the moment it fails."""

    lines: list[str] = []

    def __call__(self, value: object) -> None:
        text = str(value)
        if text.startswith("state = "):
            type(self).lines = []
        if text.startswith(("state", "Draw ")) and text not in self.invariant_calls():
            type(self).lines.append(text)
        elif "reproduce_failure" in text:  # the blob that replays a reported failure, as without the log
            print(text)

    @staticmethod
    def invariant_calls() -> set[str]:
        """The invariants' lines ("state.count_step()"), reported after every step: left out."""
        return {f"state.{name}()" for name, f in vars(LifecycleMachine).items()
                if getattr(f, "hypothesis_stateful_invariant", None)}

    @classmethod
    def write_failure(cls, where: Path, exc: BaseException) -> None:
        with open(FAILURE_LOG, "a", encoding="utf-8") as log:
            log.write(f"=== failing example at {where} ({datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S} UTC)\n")
            log.write("\n".join(cls.lines) + "\n")
            log.write("".join(traceback.format_exception(exc)) + "\n")


class Picks:
    """The indexes a step picks its items with, drawn with the step's other arguments before it
    runs. Which items there are, and whether a step needs a pick at all, depends on what the
    emulator holds (how far a killed push got). Drawn inside the step, one prefix of choices
    could then draw a value of another range or kind than before, and Hypothesis stops the run
    with FlakyStrategyDefinition (soak runs O and R); drawn before, every step draws alike."""

    def __init__(self, indexes: list[int]) -> None:
        self.indexes = list(indexes)

    def take(self) -> int:
        return self.indexes.pop(0) if self.indexes else 0

    def __repr__(self) -> str:
        return f"Picks({self.indexes})"


PICKS = st.lists(st.integers(0, 2**16 - 1), min_size=6, max_size=6).map(Picks)


def pick(data: Picks, items: Any, label: str = "") -> Any:
    """One of `items` (not empty), the next index modulo their count."""
    items = list(items)
    chosen = items[data.take() % len(items)]
    note(f"  picked {label or 'item'}: {chosen!r}")
    if FAILURE_LOG:
        StepLog.lines.append(f"  picked {label or 'item'}: {chosen!r}")
    return chosen


def pick_some(data: Picks, items: Any, max_size: int) -> list:
    """Up to `max_size` distinct items, in pick order (see `pick`)."""
    items = list(items)
    count = data.take() % (max_size + 1)
    return list(dict.fromkeys(items[data.take() % len(items)] for _ in range(count)))


# Faults per request while a push runs: high rates make the product's retries back off for long.
FAULT_RATES = (0.1, 0.3, 0.6) if SOAK else (0.1, 0.3)
CLOCK0 = 1_700_000_000  # the model's clock (seconds): every local write and Drive edit is later than the last
OLD = 1_600_000_000  # an mtime older than anything the model wrote
PRE_1970 = -315_619_200  # 1960-01-01
POST_2262 = 10_413_792_000  # 2300-01-01: past the int64 nanosecond range
NAMES = ("a.txt", "b.ipynb", "A.txt", "c")
DIRS = ("d", "e")
CANDIDATES = (*NAMES, *(f"{d}/{n}" for d in DIRS for n in NAMES), "d/e/a.txt", "d/e/c")
SECRET_FILES = (".ssh/id_rsa", ".netrc")
PLANTED_KEY = ".ssh/authorized_keys"
PLANTED_CREDS = f"{STATE_REL}/credentials.json"


def rfc3339(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def parse_ms(text: str) -> int:
    dt = datetime.strptime(text.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z")
    return int(dt.timestamp() * 1000)


def parent(path: str) -> str:
    return path.rpartition("/")[0]


class LifecycleMachine(RuleBasedStateMachine):
    emulator: Any = None  # set by the test function: one emulator for all examples
    workdir: Path = Path()
    examples = 0
    steps = 0  # rules run over the whole run, each example's set-up included
    ops: dict[str, int] = {}  # operations by name over the whole run (printed for docs/RELIABILITY.md)

    # -- set-up ---------------------------------------------------------------------------------

    @initialize()
    def new_home(self) -> None:
        cls = type(self)
        cls.examples += 1
        n = cls.examples
        self.url: str = self.emulator.url
        self.base = self.workdir / f"ex{n}"
        self.home = self.base / USER
        self.home.mkdir(parents=True)
        self.outside = self.base / "outside"
        (self.outside / "dir").mkdir(parents=True)
        (self.outside / "secret.txt").write_bytes(b"outside the home %d" % n)
        self.outside_digest = tree_digest(self.outside)
        self.accounts = [f"s{n}@lifecycle.test"]
        self.email = self.accounts[0]
        self.used_accounts = {self.email}
        self.drive_history: dict[str, tuple[dict, dict]] = {}  # per account, while another is connected
        # per account, when another was connected: the local files Drive agreed with (md5, mtime ms)
        self.clean_at_leave: dict[str, dict[str, tuple[str, int]]] = {}
        self.clients: dict[tuple[str, bool], OtherClient] = {}
        self.clock = CLOCK0
        self.counter = 0
        self.model = Model()
        self.special: set[str] = set()  # symlinks, FIFOs
        self.unreadable: set[str] = set()
        self.aliases: set[str] = set()  # local files a restore wrote under another name
        self.alias_targets: set[str] = set()  # the Drive paths of those renamed files
        self.moved_from: dict[str, str] = {}  # Drive ID → its path before another client moved it
        self.moved_ours: set[str] = set()  # of those, the items this home's pushes had made
        self.kept_by_adoption: set[str] = set()  # local files whose adoption kept Drive's differing copy
        self.renamed_to: dict[str, str] = {}  # local renames no push has carried to Drive yet
        # files moved here one by one (not with their folder) since the last push, unchanged when
        # moved: local path → (size then, whether a push without a verdict ran since) (model bug 40)
        self.file_moves: dict[str, tuple[int, bool]] = {}
        self.ever_backed_up: dict[str, set[str]] = {}  # path → contents a push left on Drive there
        self.visible_twins: set[str] = set()  # same-name files this app made elsewhere (the app sees them)
        self.adopted_twins: set[str] = set()  # paths where an adoption met such a twin beside ours
        # another client's same-name file edited beside ours: Drive ID → its content then
        self.twin_edits: dict[str, str] = {}
        # files deleted locally since the last push that exited 0: True once a push without a
        # verdict ran since (it may or may not have noted the deletion in the state DB)
        self.deleted_since_push: dict[str, bool] = {}
        # paths the state DB has a file row for: True since a push that exited 0 (or a restore
        # wrote them), False when only a push without a verdict may have made the row
        self.known_rows: dict[str, bool] = {}
        self.unjudgeable: set[str] = set()  # paths the next push may settle either of two ways
        self.secrets: dict[str, bytes] = {}
        self.planted = False
        self.forbidden_md5: set[str] = {md5(b"outside the home %d" % n)}
        self.last_push_ok = False
        self.dirs_at_push: dict[str, int] = {}  # the home's folders (and inodes) at the last push that exited 0
        self.reconnect(self.email)
        for rel in ("a.txt", "d/b.ipynb", "e/c"):
            self._write(rel, self._content(rel), self._tick())
        self._push()

    def teardown(self) -> None:
        """Write a failing example down before Hypothesis replays it (LIFECYCLE_FAILURE_LOG)."""
        exc = sys.exc_info()[1]
        # (not Hypothesis's StopTest, a BaseException: an example that ran out of data)
        if FAILURE_LOG and isinstance(exc, Exception):
            StepLog.write_failure(getattr(self, "base", self.workdir), exc)

    def reconnect(self, email: str) -> None:
        connect(self.url, self.home, email)
        self.refresh_token = json.loads((self.home / PLANTED_CREDS).read_text())["refresh_token"]

    def client(self, full: bool) -> OtherClient:
        key = (self.email, full)
        if key not in self.clients:
            self.clients[key] = OtherClient(self.url, self.email, full=full)
        return self.clients[key]

    def _op(self, name: str) -> None:
        type(self).ops[name] = type(self).ops.get(name, 0) + 1

    def _tick(self) -> int:
        self.clock += 100
        return self.clock

    def _odd_time(self, when: str) -> int:
        """The model's clock ("now"), or an odd time never used twice: a change that keeps both
        size and mtime is invisible to any scan that does not read every file, so the model
        never makes one."""
        if when == "now":
            return self._tick()
        self.counter += 1
        return {"old": OLD, "pre1970": PRE_1970, "post2262": POST_2262}[when] + self.counter

    def _content(self, rel: str, empty: bool = False) -> bytes:
        self.counter += 1
        return b"" if empty else f"{rel} v{self.counter} ".encode() + os.urandom(random.randint(0, 24))

    def _write(self, rel: str, data: bytes, mtime: int) -> None:
        p = self.home / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if p.exists():
            os.chmod(p, 0o644)
        p.write_bytes(data)
        os.utime(p, (mtime, mtime))
        self.model.local_write(rel)

    # -- views ----------------------------------------------------------------------------------

    def view(self, email: str | None = None) -> DriveView:
        return DriveView(self.emulator.files(email or self.email))

    def local(self) -> dict[str, bytes]:
        return {p: b for p, b in local_files(self.home).items() if not is_secret(p)}

    def dir_inodes(self) -> dict[str, int]:
        return {d: os.stat(self.home / d).st_ino for d in self.local_dirs()}

    def local_dirs(self) -> list[str]:
        out = []
        for dirpath, dirnames, _ in os.walk(self.home):
            for n in dirnames:
                rel = os.path.relpath(os.path.join(dirpath, n), self.home)
                if not is_secret(rel) and not rel.startswith(".local") and not os.path.islink(self.home / rel):
                    out.append(rel)
        return sorted(out)

    def free_paths(self) -> list[str]:
        """Candidate paths where a file can be written: nothing there, every parent a real folder or absent."""
        out = []
        for c in CANDIDATES:
            if local_kind(self.home, c) is not None:
                continue
            anc = parent(c)
            ok = True
            while anc:
                if local_kind(self.home, anc) not in (None, "dir"):
                    ok = False
                anc = parent(anc)
            if ok:
                out.append(c)
        return out

    def live_items(self, view: DriveView, *, files_only: bool = True) -> list[tuple[str, dict]]:
        out = []
        for path, items in sorted(view.live().items()):
            for f in items:
                if files_only and f["mimeType"] == FOLDER_MIME:
                    continue
                out.append((path, f))
        return out

    def descendants(self, view: DriveView, path: str) -> list[str]:
        return [p for p in view.live() if p == path or p.startswith(path + "/")] + \
            [p for p in self.local() if p == path or p.startswith(path + "/")]

    # -- (f) and the push check -----------------------------------------------------------------

    def check_run(self, run: CliRun, *, must_succeed: bool = False) -> None:
        problems = run.problems()
        assert not problems, f"(f) {problems}\n{run.describe()}"
        if must_succeed:
            assert run.code == 0, f"(f) a push with nothing hostile in the home and no faults failed\n{run.describe()}"

    def _push(self, *extra: str) -> CliRun:
        self._op("push")
        self.settle_file_moves()
        pre_local = self.local()
        pre_view = self.view()
        run = run_cli(*push_argv(self.home, self.url, *extra))
        hostile = bool(self.unreadable and os.geteuid() != 0)
        self.check_run(run, must_succeed=not hostile)
        if run.code == 0:
            self.verify_push(run, pre_local, pre_view)
        else:
            self.push_unverified()
        self.last_push_ok = run.code == 0
        if self.last_push_ok:
            self.dirs_at_push = self.dir_inodes()
        return run

    def push_unverified(self) -> None:
        """A push ended without a verdict: what it sent, and which deletions it noted, is unknown."""
        self.model.push_unverified()
        for path in self.deleted_since_push:
            self.deleted_since_push[path] = True
        self.file_moves = {p: (size, True) for p, (size, _) in self.file_moves.items()}
        for path in self.local():
            self.known_rows.setdefault(path, False)
        self.drive_edits_written_over()

    def drive_edits_written_over(self) -> None:
        """After a push without a verdict: an item whose recorded Drive edit that push wrote over
        (only this home's pushes write besides the clients the model records) holds this home's
        bytes now, and its edit must have been pinned first. Whether the state DB knows the new
        content is unknown (killed before or after its row), so a later local write there may
        meet it as this home's or as another client's (model bug 41: a local edit with an earlier
        time was held to Drive's edit that the push had already replaced)."""
        m = self.model
        if m.adoption is not None:
            return
        view = self.view()
        live = view.live()
        for path, e in list(m.drive_edits.items()):
            f = view.by_id.get(e.fid)
            if f is None or not e.md5 or f["md5Checksum"] == e.md5:
                continue
            twins = any(g["id"] in m.foreign for g in live.get(path, []))
            if not (twins or self.aliased(path) or path in self.alias_targets or path in self.adopted_twins):
                revs = self.client(True).revisions(e.fid)
                assert any(r.get("md5Checksum") == e.md5 and r.get("keepForever") for r in revs), \
                    f"(b) a push without a verdict wrote over Drive's edit of {path!r} unpinned: {revs}"
            m.drive_edits[path] = DriveEdit(e.fid, f["md5Checksum"], parse_ms(f["modifiedTime"]))
            m.drive_unverified.add(path)
            m.uncertain.add(path)

    def verify_push(self, run: CliRun, pre_local: dict[str, bytes], pre_view: DriveView) -> None:
        """(a) and (b) for a push that exited 0; then the model learns what Drive now agrees with."""
        summary = run.summary or {}
        view = self.view()
        live = view.live()
        m = self.model
        ambiguous = {p for p, items in [*pre_view.live().items(), *live.items()] if len(items) > 1}
        by_content = self.content_moves(pre_local)
        for path, data in sorted(pre_local.items()):
            if self.aliased(path) or ambiguous.intersection(_ancestors(path)) or path in self.adopted_twins \
                    or path in self.unjudgeable:
                continue  # a restore's renamed twin, or a folder name Drive holds twice: no one item to check
            st_ = os.stat(self.home / path, follow_symlinks=False)
            local_ms = st_.st_mtime_ns // 1_000_000
            exp = m.expectation(path, md5(data), local_ms)
            for _, edit in by_content.get(path, []):
                exp.md5s.add(edit.md5 or "")
                exp.why += "; or a gone file's item with these bytes, moved here by size and md5"
            items = [f for f in live.get(path, []) if f["mimeType"] != FOLDER_MIME]
            foreign_here = any(f["id"] in m.foreign for f in items)
            ok = [f for f in items if f["md5Checksum"] in exp.md5s]
            pinned_ok: list[dict] = []
            if exp.pin is not None and exp.pin_optional_md5 is not None:
                pinned_ok = [f for f in items if f["md5Checksum"] == exp.pin_optional_md5]
            if pinned_ok and not ok and not foreign_here:
                if self.replaced(view, exp.pin):
                    self.assert_pinned(exp.pin, summary, path, exp, run)
                ok = pinned_ok
            ctx = f"{path!r}: {exp.why}; local md5 {md5(data)}; Drive has {[(f['id'], f['md5Checksum']) for f in items]}\n{run.describe()}"
            if not ok:
                assert exp.may_be_absent and not (items and not foreign_here), f"(a) {ctx}"
            if foreign_here:
                continue  # which of the twins a push writes to is its own choice
            if exp.pin is not None and exp.pin_optional_md5 is None and ok and self.replaced(view, exp.pin):
                self.assert_pinned(exp.pin, summary, path, exp, run)
        # (b) Drive-side edits at paths the home no longer has: left alone (or trashed, never replaced)
        for path, edit in m.drive_edits.items():
            f = view.by_id.get(edit.fid)
            if path in self.alias_targets or path in self.adopted_twins or ambiguous.intersection([path, *_ancestors(path)]):
                continue  # a renamed local twin may be linked to it
            if path not in pre_local and f is not None and f["md5Checksum"] != edit.md5:
                # replaced by this push, or by an earlier one that ended without a verdict: pinned either way
                revs = self.client(True).revisions(edit.fid)
                assert any(r.get("md5Checksum") == edit.md5 and r.get("keepForever") for r in revs), \
                    f"(b) Drive's edit of {path!r} was replaced, unpinned, and the home has no such file: {revs}\n{run.describe()}"
        # (b) for another client's same-name file edited beside ours: never written over unpinned
        for fid, want in list(self.twin_edits.items()):
            before = pre_view.by_id.get(fid)
            at = pre_view.rel(fid) if before is not None else None
            if at is None or at in self.adopted_twins or not self.twin_of_ours(pre_view, at, before):
                del self.twin_edits[fid]  # not beside ours now: judged like any item from here on
                continue
            f = view.by_id.get(fid)
            if f is not None and f["md5Checksum"] != want:
                revs = self.client(True).revisions(fid)
                assert any(r.get("md5Checksum") == want and r.get("keepForever") for r in revs), \
                    f"(b) another client's file beside {at!r} was written over, unpinned: {revs}\n{run.describe()}"
        self.learn_after_push(pre_local, view)
        for path, sources in by_content.items():
            for gone, edit in sources:
                here = [f for f in live.get(path, []) if f["id"] == edit.fid]
                if here:  # the gone file's item is this path's now, its Drive history with it
                    m.drive_edits.pop(gone, None)
                    if here[0]["md5Checksum"] == edit.md5:
                        m.drive_edits[path] = edit

    def content_moves(self, pre_local: dict[str, bytes]) -> dict[str, list[tuple[str, DriveEdit]]]:
        """Files no row knows whose bytes are what a file gone since had at its last backup:
        the push may take each for that file moved (same size and md5: a copy then a delete),
        its item, and that item's Drive edit, coming along (model bug 39: a restore wrote a
        folder's file back under its old name beside the renamed folder, then that copy was
        replaced by a folder; the renamed folder's file has its bytes and took its item)."""
        m = self.model
        if m.adoption is not None and not m.adoption_may_know:
            return {}  # (back to an earlier account, its old state may be kept: moves as ever, model bug 46)
        gone = [(q, e) for q, e in sorted(m.drive_edits.items())
                if q in self.known_rows and q not in pre_local and e.md5]
        found: dict[str, list[tuple[str, DriveEdit]]] = {}
        for path, data in pre_local.items():
            if path in self.known_rows or not data:
                continue
            digest = md5(data)
            sources = [(q, e) for q, e in gone if digest in self.ever_backed_up.get(q, set())]
            if sources:
                found[path] = sources
        return found

    @staticmethod
    def replaced(view: DriveView, edit: DriveEdit) -> bool:
        """Drive's version `edit` no longer is its item's content (a push wrote over it)."""
        f = view.by_id.get(edit.fid)
        return f is not None and f["md5Checksum"] != edit.md5

    def assert_pinned(self, edit: DriveEdit, summary: dict, path: str, exp: Expectation, run: CliRun) -> None:
        revs = self.client(True).revisions(edit.fid)
        pinned = [r for r in revs if r.get("md5Checksum") == edit.md5 and r.get("keepForever")]
        assert pinned, f"(b) Drive's later copy of {path!r} was replaced without pinning its revision ({exp.why}): {revs}\n{run.describe()}"
        assert summary.get("conflicts", 0) >= 1, f"(b) {path!r} replaced Drive's later copy without reporting a conflict\n{run.describe()}"

    def learn_after_push(self, pre_local: dict[str, bytes], view: DriveView) -> None:
        m = self.model
        live = view.live()
        for path, data in pre_local.items():
            if any(f["md5Checksum"] == md5(data) for f in live.get(path, [])):
                self.ever_backed_up.setdefault(path, set()).add(md5(data))
            if any(f["md5Checksum"] == md5(data) for f in live.get(path, [])):
                m.drive_edits.pop(path, None)
                m.drive_gone.pop(path, None)
                self.kept_by_adoption.discard(path)
            elif m.adoption is not None:
                self.kept_by_adoption.add(path)
                # Drive's later copy was kept: it stays the later write. At a path a file was
                # moved onto, that is the item there now: the moved file's, carried along by ID,
                # or Drive's own, judged by path (model bug 27)
                here = {f["id"] for f in live.get(path, [])}
                kept = [e for e in (m.adoption.get(path), m.displaced_in_adoption.get(path))
                        if e is not None and e.fid in here]
                d = kept[0] if kept else m.adoption.get(path)
                if d is not None and path not in m.drive_edits and path not in m.drive_gone:
                    m.drive_edits[path] = d
            rival = m.rival_edits.get(path)
            here_ids = {f["id"] for f in live.get(path, [])}
            edit = m.drive_edits.get(path)
            if rival is not None and rival.fid in here_ids and (edit is None or edit.fid not in here_ids):
                m.drive_edits[path] = rival  # planned in place: the path's own item stays, with its history
            m.local_dirty.discard(path)
            m.uncertain.discard(path)
        m.rival_edits.clear()
        for p, how in list(m.drive_gone.items()):
            if how == "trashed" and any(f["mimeType"] != FOLDER_MIME and f["id"] not in m.foreign
                                        for f in live.get(p, [])):
                # live again: a push that untrashed its folder by ID (a local change below it)
                # brought back what the folder held (model bug 44)
                del m.drive_gone[p]
        for records in (m.drive_edits, m.drive_gone):
            for p in list(records):
                if local_kind(self.home, p) == "dir" or any(local_kind(self.home, a) == "file" for a in _ancestors(p)):
                    # the other kind stands at that path now: the push set Drive's item aside
                    # under a new name ("... (replaced by a folder)"), so its history left the path
                    del records[p]
        m.adoption = None
        m.moved_in_adoption.clear()
        m.displaced_in_adoption.clear()
        m.may_reappear.clear()
        m.known_in_adoption.clear()
        for fid, was in list(self.moved_from.items()):
            if fid in view.by_id and view.rel(fid) == self.at_home(was) and view.alive(fid):
                # put back by ID where the home has it: this home's item again, checked like any
                # other from now on (an item of the account not connected now is not in `view`)
                self.ours_again(fid)
            elif fid in view.by_id and view.rel(fid) is not None and any(
                    g["id"] != fid and g["id"] not in m.foreign for g in live.get(self.at_home(was), [])):
                # left where the student moved it (here into a folder the backup never reads) and
                # the path backed up into another item: the student's copy now, no path's history
                # here (model bug 42: its later edit was expected at the path it had left)
                del self.moved_from[fid]
                self.moved_ours.discard(fid)
        self.renamed_to.clear()
        self.file_moves.clear()
        m.drive_unverified.clear()
        self.deleted_since_push.clear()
        self.known_rows = dict.fromkeys(pre_local, True)
        for path in self.unjudgeable:  # settled one way or the other: Drive's item there is the one known now
            items = [f for f in view.live().get(path, []) if f["mimeType"] != FOLDER_MIME]
            if len(items) == 1 and path in pre_local and items[0]["md5Checksum"] != md5(pre_local[path]):
                f = items[0]
                m.drive_edits[path] = DriveEdit(f["id"], f["md5Checksum"], parse_ms(f["modifiedTime"]))
        self.unjudgeable.clear()

    def start_adoption(self, *, may_know: bool = False) -> None:
        view = self.view()
        files: dict[str, DriveEdit] = {}
        for p, f in self.live_items(view):  # an item of this home's pushes first, another client's twin else
            if p not in files or f["id"] not in self.model.foreign:
                files[p] = DriveEdit(f["id"], f["md5Checksum"], parse_ms(f["modifiedTime"]))
        self.model.start_adoption(files, set(self.local()), may_know=may_know)
        self.file_moves.clear()
        for p, items in view.live().items():  # adoption may take the twin for its own: which one it writes is its choice
            if len(items) > 1 and any(f["id"] in self.visible_twins for f in items):
                self.adopted_twins.add(p)
                # and the one it does not take is no longer this home's: a later push may put
                # the other kind beside it (two items of one app at one path: no owner to tell)
                self.model.foreign.update(f["id"] for f in items)

    # -- invariants after every step ------------------------------------------------------------

    @invariant()
    def count_step(self) -> None:
        """Not a check: Hypothesis runs invariants once after every step, so this counts steps."""
        if hasattr(self, "model"):
            type(self).steps += 1
            if TRACE:
                self.trace()

    def trace(self) -> None:
        """LIFECYCLE_TRACE=1: after each step, print the home, Drive, and the model's records, so
        that a replayed failure shows where the model and the product parted (soak S: model bug 27)."""
        m, view = self.model, self.view()
        short = lambda e: (e.fid[:6], (e.md5 or "")[:6], e.modified_ms)  # noqa: E731
        print(f"TRACE step {type(self).steps} local", {p: md5(d)[:6] for p, d in self.local().items()})
        print("  drive", sorted((view.rel(f["id"]) or "(elsewhere)", f["id"][:6], (f.get("md5Checksum") or "-")[:6],
                                 "" if view.alive(f["id"]) else "trashed")
                                for f in view.files if f["mimeType"] != FOLDER_MIME))
        print("  edits", {p: short(e) for p, e in m.drive_edits.items()}, "gone", m.drive_gone,
              "dirty", m.local_dirty, "uncertain", m.uncertain)
        print("  adoption", None if m.adoption is None else {p: short(e) for p, e in m.adoption.items()},
              "displaced", {p: short(e) for p, e in m.displaced_in_adoption.items()},
              "foreign", sorted(x[:6] for x in m.foreign), "moved_from", {k[:6]: v for k, v in self.moved_from.items()})

    @invariant()
    def no_two_live_items_at_one_path(self) -> None:
        """(c), and (e) on Drive: nothing secret, nothing from outside the home."""
        if not hasattr(self, "model"):
            return
        for email in self.accounts:
            view = self.view(email)
            for path, items in view.live().items():
                ours = [f for f in items if f["id"] not in self.model.foreign]
                assert len(ours) <= 1, f"(c) {len(ours)} live items at {path!r} in {email}: {ours}"
            for f in view.files:
                rel = view.rel(f["id"])
                if f["id"] in self.model.foreign:
                    continue
                assert rel is None or not is_secret(rel), f"(e) uploaded a secret or own-state file: {rel!r}"
                assert f["md5Checksum"] not in self.forbidden_md5, f"(e) a secret's or an outside file's bytes are on Drive: {f}"

    @invariant()
    def nothing_outside_the_home_touched(self) -> None:
        """(e) locally: the folder outside the home, the home's secrets and its credentials."""
        if not hasattr(self, "model"):
            return
        assert tree_digest(self.outside) == self.outside_digest, "(e) a file outside the home changed"
        for rel, data in self.secrets.items():
            p = self.home / rel
            assert not p.exists() or p.read_bytes() == data, f"(e) the secret {rel!r} was overwritten"
        assert not (self.home / PLANTED_KEY).exists(), f"(e) a restore wrote {PLANTED_KEY}"
        creds = self.home / PLANTED_CREDS
        token = json.loads(creds.read_text()).get("refresh_token") if creds.exists() else None
        assert token == self.refresh_token, "(e) the home's credentials were replaced"

    # -- local steps ----------------------------------------------------------------------------

    def local_renamed(self, src: str, dst: str) -> bool:
        """The model follows a local rename; says whether the push knows `dst` as `src`'s file
        by identity (not a rename back to its own row, not an edit of the path it lands on)."""
        m = self.model
        back = self.renamed_to.get(dst) is not None and self.at_home(dst) == src
        if back:
            self.deleted_since_push.pop(dst, None)  # renamed back where it came from: its own row again
        elif self.vacated(dst):
            # Onto a file deleted or renamed away since the last push: the product sees an edit
            # of that path (like an editor's save by rename) and `src` as deleted (its Drive
            # item kept where it is, with its history).
            return self._an_edit_of(dst, src, self.took_vacated_path(dst))
        elif m.adoption is None and m.drive_gone.get(src) in GONE_RESPECTED and any(
                f["mimeType"] != FOLDER_MIME and f["id"] not in m.foreign for f in self.view().live().get(dst, [])):
            # The moved file's item is trashed or deleted on Drive, so no move by ID; Drive keeps
            # a deleted file's copy at `dst`, whose row plans the path in place: an edit of that
            # path, judged by time against that copy's history (model bug 43)
            return self._an_edit_of(dst, src, self.deleted_since_push.get(src, False))
        if src in self.kept_by_adoption and "move_after_adoption_kept_drive" in KNOWN_DEFECTS:
            # gated: test_move_after_adoption_kept_drive_copy_is_one_move. Not known by identity
            # today: a delete plus a create, like a file changed since Drive agreed.
            self.model.local_dirty.add(src)
        if "move_onto_kept_leftover" in KNOWN_DEFECTS and \
                any(f["mimeType"] != FOLDER_MIME for f in self.view().live().get(dst, [])):
            # gated: test_rename_onto_a_kept_leftover_is_one_move. Onto a path where Drive keeps
            # a deleted file, a rename is an upload over that item today, not a move.
            self.model.local_dirty.add(src)
        self.kept_by_adoption.discard(src)
        self.model.local_renamed(src, dst)
        dst_file = self.home / dst
        if dst_file.is_file() and not dst_file.is_symlink() and \
                md5(dst_file.read_bytes()) in self.ever_backed_up.get(dst, set()):
            self.model.may_reappear.add(dst)
        self.follow_rename(src, dst)
        self.deleted_since_push.setdefault(src, False)  # vacated: its row stays live until a push
        return not back

    def _an_edit_of(self, dst: str, src: str, maybe_pushed: bool) -> bool:
        """A file renamed onto `dst` that the push plans in place there: `dst`'s edit, and `src`
        a deleted file (`maybe_pushed`: a push without a verdict may have noted that already)."""
        self.model.forget_path(src)
        self.model.local_write(dst)
        self.kept_by_adoption.discard(src)
        self.deleted_since_push[src] = maybe_pushed
        return False

    def settle_file_moves(self) -> None:
        """Before a push: a file moved here by itself is known to the push by its inode and
        size, so one whose size changed since the move is a new file there, and its item stays
        the deleted old path's, with what happened to it on Drive (model bug 40: moved, then
        edited with another size, its item's later Drive edit expected at the new path). A push
        without a verdict may have carried the move already (then the edit is in place)."""
        at_paths = set(self.renamed_to.values())
        for dst, (size, maybe_carried) in list(self.file_moves.items()):
            f = self.home / dst
            if dst not in at_paths or local_kind(self.home, dst) != "file":
                del self.file_moves[dst]
                continue
            if os.stat(f, follow_symlinks=False).st_size == size:
                continue
            del self.file_moves[dst]
            if maybe_carried:
                self.model.uncertain.add(dst)
                self.model.local_dirty.add(dst)
            else:
                self.renames_ended(dst)

    def vacated(self, path: str) -> bool:
        """`path` held a file deleted or renamed away since the last push, and the state DB still
        has its row live (no adoption pending)."""
        return path in self.deleted_since_push and path in self.known_rows and self.model.adoption is None

    def took_vacated_path(self, path: str) -> bool:
        """A file renamed or written onto a vacated `path`: its row makes it an edit of that
        path, with that path's Drive history, and a file renamed away from it a new one (model
        bug 22: a new file written there). After a push without a verdict the row may have moved
        or been marked deleted already: then it is a file on a free path or beside a kept
        leftover; either way is right, so the next push is not judged there. Says whether such a
        push ran."""
        maybe_pushed = self.deleted_since_push[path] or not self.known_rows[path]
        moved_away = self.at_home(path) if path in self.renamed_to else None
        if maybe_pushed:
            self.unjudgeable.update(p for p in (path, moved_away) if p is not None)
        if moved_away is not None and moved_away != path:
            for records in (self.model.drive_edits, self.model.drive_gone):
                if moved_away in records:  # what happened to the path's item on Drive is the path's again
                    records[path] = records.pop(moved_away)
        self.path_rewritten(path, self.local())
        return maybe_pushed

    def follow_rename(self, src: str, dst: str) -> None:
        """`renamed_to` maps a Drive path to where the home has that item's file now. The file
        at `src` is the one some entry points at (moved there earlier), or `src`'s own if it
        never left; a path left and filled again by another file is not followed through
        (model bug 14: a chain `d/b → d/c`, `e/c → d/b`, `d/b → a` sent `d/b`'s item to `a`)."""
        followed = False
        for drive_path, at in list(self.renamed_to.items()):
            if at == src:
                followed = True
                if drive_path == dst:
                    del self.renamed_to[drive_path]  # back where it came from
                else:
                    self.renamed_to[drive_path] = dst
        if not followed and src not in self.renamed_to:
            self.renamed_to[src] = dst

    def renames_ended(self, rel: str) -> None:
        """The file at `rel` (or every file below the folder `rel`) is removed here: a file
        moved there since the last push is gone, so its Drive item is again a deleted path's,
        and what another client does to it is no history of a file written at `rel` later
        (model bug 30: moved, replaced by a folder and by a new file, then its item edited on
        Drive with a later time: the model expected the edit at the new file's path)."""
        for p in [p for p in self.file_moves if p == rel or p.startswith(rel + "/")]:
            del self.file_moves[p]
        for drive_path, at in list(self.renamed_to.items()):
            if at == rel or at.startswith(rel + "/"):
                del self.renamed_to[drive_path]
                for records in (self.model.drive_edits, self.model.drive_gone):
                    if at in records:  # back with the item's own (deleted) path
                        records[drive_path] = records.pop(at)

    def at_home(self, drive_path: str) -> str:
        """Where the home has the file Drive holds at `drive_path`: a local rename not pushed yet
        moved it (a push carries the Drive item, and what happens to it meanwhile, along)."""
        return self.renamed_to.get(drive_path, drive_path)

    def _then_push(self, then_push: bool) -> None:
        """Most steps may be followed by a push at once: what a student's "Sync now" does."""
        if then_push:
            self._push()

    @rule(data=PICKS, empty=st.booleans(), then_push=st.booleans())
    def create_file(self, data: Picks, empty: bool, then_push: bool) -> None:
        free = self.free_paths()
        if not free:
            return
        rel = pick(data, free)
        self._op("local create")
        vacated = self.vacated(rel)
        self._write(rel, self._content(rel, empty), self._tick())
        if vacated:
            self.took_vacated_path(rel)
        self._then_push(then_push)

    @precondition(lambda self: bool(self.local()))
    @rule(data=PICKS, when=st.sampled_from(["now", "now", "old", "pre1970", "post2262"]), then_push=st.booleans())
    def edit_file(self, data: Picks, when: str, then_push: bool) -> None:
        """Edit a file; its mtime is the model's clock, or an odd one."""
        rel = pick(data, sorted(self.local()))
        self._op(f"local edit ({when})")
        self._write(rel, self._content(rel), self._odd_time(when))
        self.unreadable.discard(rel)
        self._then_push(then_push)

    @precondition(lambda self: bool(self.local()))
    @rule(data=PICKS)
    def delete_file(self, data: Picks) -> None:
        rel = pick(data, sorted(self.local()))
        self._op("local delete file")
        os.chmod(self.home / rel, 0o644)
        (self.home / rel).unlink()
        self.deleted_since_push[rel] = False
        self.renames_ended(rel)
        self.model.forget_path(rel)
        self.unreadable.discard(rel)
        self.aliases.discard(rel)

    @precondition(lambda self: bool(self.local_dirs()))
    @rule(data=PICKS)
    def delete_folder(self, data: Picks) -> None:
        rel = pick(data, self.local_dirs())
        self._op("local delete folder")
        self.deleted_since_push.update((p, False) for p in self.local() if p.startswith(rel + "/"))
        self.renames_ended(rel)
        shutil.rmtree(self.home / rel)
        for p in list(self.model.local_dirty | self.model.uncertain | self.unreadable | self.special | self.aliases):
            if p.startswith(rel + "/"):
                self.model.forget_path(p)
                self.unreadable.discard(p)
                self.special.discard(p)
                self.aliases.discard(p)

    @precondition(lambda self: bool(self.local()))
    @rule(data=PICKS, then_push=st.booleans())
    def move_file(self, data: Picks, then_push: bool) -> None:
        """Rename or move a file (case-only renames included: a.txt ↔ A.txt)."""
        src = pick(data, sorted(self.local()))
        targets = [c for c in self.free_paths() if c != src]
        if not targets:
            return
        dst = pick(data, targets)
        self._op("local move file" if parent(src) != parent(dst) else "local rename file")
        m = self.model
        clean = m.adoption is None and src not in m.local_dirty and src not in m.uncertain
        moved = self.file_moves.pop(src, None) or (os.stat(self.home / src, follow_symlinks=False).st_size, False)
        (self.home / dst).parent.mkdir(parents=True, exist_ok=True)
        os.rename(self.home / src, self.home / dst)
        if self.local_renamed(src, dst) and clean:
            self.file_moves[dst] = moved
        for s in (self.unreadable, self.aliases):
            if src in s:
                s.discard(src)
                s.add(dst)
        self._then_push(then_push)

    @precondition(lambda self: bool(self.local_dirs()))
    @rule(data=PICKS, name=st.sampled_from(["d", "e", "f", "D"]))
    def rename_folder(self, data: Picks, name: str) -> None:
        src = pick(data, self.local_dirs())
        dst = f"{parent(src)}/{name}" if parent(src) else name
        if local_kind(self.home, dst) is not None:
            return
        self._op("local rename folder")
        os.rename(self.home / src, self.home / dst)
        for p in [p for p in self.file_moves if p.startswith(src + "/")]:
            self.file_moves[dst + p[len(src):]] = self.file_moves.pop(p)
        for s in (self.unreadable, self.special, self.aliases):
            for p in list(s):
                if p.startswith(src + "/"):
                    s.discard(p)
                    s.add(dst + p[len(src):])
        for p in list(self.local()):
            if p.startswith(dst + "/"):
                self.local_renamed(src + p[len(dst):], p)

    @precondition(lambda self: bool(self.local()) or bool(self.local_dirs()))
    @rule(data=PICKS)
    def swap_file_and_folder(self, data: Picks) -> None:
        """A file replaced by a folder of the same name, or a folder by a file."""
        choices = sorted(self.local()) + self.local_dirs()
        rel = pick(data, choices)
        # what stood at `rel` is deleted since the last push: its rows stay live until a push, so
        # a file moved onto one of those paths later is an edit of it (model bug 31)
        if (self.home / rel).is_dir():
            self._op("local folder → file")
            self.deleted_since_push.update((p, False) for p in self.local() if p.startswith(rel + "/"))
            self.renames_ended(rel)
            self.delete_tree(rel)
            self._write(rel, self._content(rel), self._tick())
        else:
            self._op("local file → folder")
            self.deleted_since_push[rel] = False
            self.renames_ended(rel)
            (self.home / rel).unlink()
            self.model.forget_path(rel)
            self.unreadable.discard(rel)
            self.aliases.discard(rel)
            self._write(f"{rel}/x.txt", self._content(rel), self._tick())

    def delete_tree(self, rel: str) -> None:
        shutil.rmtree(self.home / rel)
        for s in (self.model.local_dirty, self.model.uncertain, self.unreadable, self.special, self.aliases):
            for p in list(s):
                if p.startswith(rel + "/"):
                    s.discard(p)

    @rule(data=PICKS, kind=st.sampled_from(["symlink-file", "symlink-dir", "fifo", "unreadable", "secret"]))
    def special_file(self, data: Picks, kind: str) -> None:
        """A symlink (to outside the home), a FIFO, an unreadable file or a secret appears."""
        self._op(f"local {kind}")
        if kind == "secret":
            rel = pick(data, SECRET_FILES)
            content = b"-----SECRET %d-----" % self.counter + os.urandom(8)
            self.counter += 1
            (self.home / rel).parent.mkdir(parents=True, exist_ok=True)
            (self.home / rel).write_bytes(content)
            self.secrets[rel] = content
            self.forbidden_md5.add(md5(content))
            return
        if kind == "unreadable":
            files = sorted(p for p in self.local() if p not in self.aliases)
            if not files:
                return
            rel = pick(data, files)
            os.chmod(self.home / rel, 0)
            self.unreadable.add(rel)
            return
        if kind == "symlink-dir":  # a folder the backup has, replaced by a link to outside the home
            dirs = [d for d in self.local_dirs() if "/" not in d]
            dirs += [d for d in DIRS if local_kind(self.home, d) is None]
            if not dirs:
                return
            rel = pick(data, sorted(set(dirs)))
            if (self.home / rel).exists():
                self.delete_tree(rel)
            os.symlink(self.outside / "dir", self.home / rel)
            self.special.add(rel)
            return
        free = self.free_paths()
        if not free:
            return
        rel = pick(data, free)
        (self.home / rel).parent.mkdir(parents=True, exist_ok=True)
        if kind == "symlink-file":
            os.symlink(self.outside / "secret.txt", self.home / rel)
        else:
            os.mkfifo(self.home / rel)
        self.special.add(rel)

    # -- another client, on Drive ---------------------------------------------------------------

    def _pick_live(self, data: Picks, *, files_only: bool, ours_only: bool = False) -> tuple[str, dict] | None:
        view = self.view()
        items = [(p, f) for p, f in self.live_items(view, files_only=files_only)
                 if not is_secret(p) and (not ours_only or f["id"] not in self.model.foreign)]
        if not items:
            return None
        return pick(data, items, "drive item")

    @rule(data=PICKS, full=st.booleans(), odd_time=st.booleans(), then_push=st.booleans())
    def drive_edit(self, data: Picks, full: bool, odd_time: bool, then_push: bool) -> None:
        """Another client (the Drive web UI, or this app on another hub) edits a backed-up file."""
        picked = self._pick_live(data, files_only=True)
        if picked is None:
            return
        path, f = picked
        when = self._odd_time("post2262") if odd_time else self._tick()
        content = self._content(f"drive:{path}")
        try:
            self.client(full).edit(f["id"], content, rfc3339(when))
        except AssertionError as exc:
            if not full and ": 404 " in str(exc):
                return  # made in the web UI (another OAuth client): this app's other copy cannot see it
            raise
        self._op("drive edit" + (" (after 2262)" if odd_time else ""))
        if f["id"] in self.model.foreign and path in self.alias_targets:
            # another copy's twin that a restore wrote here under another name (`a~tag.txt`): the
            # state links it to that local file, and a push renames it on Drive to match, so its
            # edit is not this path's history (the aliased file itself is not judged)
            self._then_push(then_push)
            return
        self.twin_edits.pop(f["id"], None)
        if self.twin_of_ours(self.view(), path, f):
            # another client's same-name file beside ours: the state DB links ours to the path,
            # so this is no history of it, and recorded there it would replace ours' (model bug
            # 28); a push must still never write over it (verify_push)
            self.twin_edits[f["id"]] = md5(content)
            self._then_push(then_push)
            return
        at = self.home_path_of(f["id"], path)
        if f["id"] not in self.model.foreign or at != path:
            # this home's item: a local rename not pushed yet carries it along. Another client's
            # twin beside it stays where it is (model bug 21)
            at = self.at_home(at)
        self.model.drive_edit(at, DriveEdit(f["id"], md5(content), when * 1000))
        self._then_push(then_push)

    @rule(data=PICKS, local_later=st.booleans(), full=st.booleans(), then_push=st.booleans())
    def edit_both_sides(self, data: Picks, local_later: bool, full: bool, then_push: bool) -> None:
        """The same file edited here and on Drive since the last push: the later timestamp wins."""
        view = self.view()
        local = self.local()
        # the same file: the local file at the path is that Drive item's (not renamed away since,
        # with another file moved in: model bug 14)
        items = [(p, f) for p, f in self.live_items(view) if p in local and f["id"] not in self.model.foreign
                 and self.at_home(self.moved_from.get(f["id"], p)) == p]
        if not items:
            return
        path, f = pick(data, items, "file on both sides")
        when = self._tick()
        self._op("edit on both sides (" + ("local" if local_later else "Drive") + " later)")
        content = self._content(f"drive:{path}")
        self.client(full).edit(f["id"], content, rfc3339(when))
        self.model.drive_edit(path, DriveEdit(f["id"], md5(content), when * 1000))
        self._write(path, self._content(path), when + (50 if local_later else -50))
        self._tick()
        self._then_push(then_push)

    @rule(data=PICKS, how=st.sampled_from(["rename", "move inside", "move out"]))
    def drive_reorganise(self, data: Picks, how: str) -> None:
        """The student renames or moves a backed-up file or folder on Drive."""
        picked = self._pick_live(data, files_only=False)
        if picked is None:
            return
        path, f = picked
        view = self.view()
        self._op(f"drive {how}")
        other = self.client(True)
        gone = self.descendants(view, path)
        if how == "rename":
            other.patch(f["id"], {"name": f"renamed-{self.counter}-{f['name']}"})
            self.counter += 1
        else:
            if how == "move out":
                target = "root"
            else:
                folders = [g["id"] for p, g in self.live_items(view, files_only=False)
                           if g["mimeType"] == FOLDER_MIME and p != path and not p.startswith(path + "/")
                           and not any(h["name"] == f["name"] for h in view.files if (h.get("parents") or [None])[0] == g["id"])]
                folders += view.root_ids()[:1]
                target = pick(data, folders)
                if target == f["parents"][0]:
                    return
            other.patch(f["id"], {}, addParents=target, removeParents=f["parents"][0])
        twin = self.twin_of_ours(view, path, f)
        if twin:
            # another client's file beside ours, moved away: no push ever linked it (the state DB
            # links ours), so it is that client's file elsewhere now, with no home path, and its
            # edits are no history of this path (model bug 26)
            for p, e in list(self.model.drive_edits.items()):
                if e.fid == f["id"]:
                    del self.model.drive_edits[p]
            return
        self.model.mark_gone([self.at_home(p) for p in gone], "moved")
        for g in view.files:  # where the home has them: a push may put them back there
            if g["id"] == f["id"] or f["id"] in view.ancestor_ids(g["id"]):
                self.moved_from.setdefault(g["id"], view.rel(g["id"]) or "")
                if g["id"] not in self.model.foreign:  # not another client's twin beside ours
                    self.moved_ours.add(g["id"])
                self.model.foreign.add(g["id"])  # placed by another client now

    @rule(data=PICKS, how=st.sampled_from(["trash", "untrash", "delete"]), full=st.booleans(),
          then_push=st.booleans())
    def drive_remove(self, data: Picks, how: str, full: bool, then_push: bool) -> None:
        view = self.view()
        if how == "untrash":
            items = [(view.rel(f["id"]), f) for f in view.files if f["trashed"] and view.rel(f["id"])]
            if not items:
                return
            path, f = pick(data, sorted(items, key=lambda x: (x[0], x[1]["id"])))
        else:
            picked = self._pick_live(data, files_only=False)
            if picked is None:
                return
            path, f = picked
        self._op(f"drive {how}")
        other = self.client(full)
        try:
            if how == "delete":
                other.delete(f["id"])
            else:
                other.patch(f["id"], {"trashed": how == "trash"})
        except AssertionError as exc:
            if ": 403 " in str(exc) or ": 404 " in str(exc):
                return  # this app's other copy may only touch what the app made
            raise
        if how == "untrash":  # its whole subtree is back where the other client put it
            self.model.foreign.update(g["id"] for g in view.files
                                      if g["id"] == f["id"] or f["id"] in view.ancestor_ids(g["id"]))
        elif not self.twin_of_ours(view, path, f):
            home_path = self.home_path_of(f["id"], path)  # moved on Drive before: where the home has it
            gone = self.descendants(view, path) + self.descendants(view, home_path)
            # items moved on Drive into this folder before go with it: their home paths too
            gone += [self.moved_from[g["id"]] for g in view.files if g["id"] in self.moved_from
                     and (g["id"] == f["id"] or f["id"] in view.ancestor_ids(g["id"]))]
            self.model.mark_gone([self.at_home(p) for p in gone], "trashed" if how == "trash" else "deleted")
        self._then_push(then_push)

    def home_path_of(self, fid: str, path: str) -> str:
        """Where the home has the Drive item `fid`, found at `path` now: where it was before
        another client moved it. Not so for an item the app cannot see (a same-name file made in
        the web UI): no push ever links it, so moved away from beside ours and edited there, it
        is no path's history here but its own (model bug 24)."""
        was = self.moved_from.get(fid)
        if was is None or (fid not in self.moved_ours and not self.app_sees(fid)):
            return path
        return was

    def app_sees(self, fid: str) -> bool:
        """The app (drive.file) can read item `fid`: one it or another copy of it made."""
        app = self.client(False)
        return app.http.get(f"{self.url}drive/v3/files/{fid}", params={"fields": "id"}, timeout=30).status_code != 404

    def twin_of_ours(self, view: DriveView, path: str, f: dict) -> bool:
        """`f` is another client's item beside one of this home's at the same path: removing or
        moving it changes nothing the home's backup holds."""
        return f["id"] in self.model.foreign and any(
            g["id"] != f["id"] and g["id"] not in self.model.foreign for g in view.live().get(path, []))

    @rule(data=PICKS, full=st.booleans())
    def drive_same_name(self, data: Picks, full: bool) -> None:
        """Another client puts a file with the same name beside a backed-up one."""
        picked = self._pick_live(data, files_only=True, ours_only=True)
        if picked is None:
            return
        path, f = picked
        self._op("drive same-name file")
        g = self.client(full).create(f["name"], f["parents"][0], self._content(f"twin:{path}"), rfc3339(self._tick()))
        self.model.foreign.add(g["id"])
        if not full:
            self.visible_twins.add(g["id"])

    @precondition(lambda self: not self.planted)
    @rule()
    def drive_plant_secrets(self) -> None:
        """This app on another hub put `.ssh/authorized_keys` and a credentials file for another
        account into the backup folder: no restore may ever write them into the home."""
        view = self.view()
        roots = view.root_ids()
        if not roots:
            return
        self._op("drive plant secrets")
        app = self.client(False)
        mallory = self.base / "mallory"
        mallory.mkdir(exist_ok=True)
        connect(self.url, mallory, f"mallory{self.counter}@lifecycle.test")
        creds = (mallory / PLANTED_CREDS).read_bytes()
        when = rfc3339(self._tick())
        ssh = app.create(".ssh", roots[0], None, when)
        key = app.create("authorized_keys", ssh["id"], b"ssh-ed25519 AAAA mallory", when)
        parent_id = roots[0]
        ids = [ssh["id"], key["id"]]
        for name in STATE_REL.split("/"):
            parent_id = app.create(name, parent_id, None, when)["id"]
            ids.append(parent_id)
        ids.append(app.create("credentials.json", parent_id, creds, when)["id"])
        self.model.foreign.update(ids)
        self.planted = True

    # -- lifecycle ------------------------------------------------------------------------------

    @rule(how=st.sampled_from(["delete", "truncate", "garbage"]))
    def lose_state(self, how: str) -> None:
        """The state DB is deleted, emptied, or holds garbage (a new volume keeps the files only)."""
        state = self.home / STATE_REL
        dbs = [p for p in state.glob("state.sqlite3*")]
        if not dbs:
            return
        self._op(f"state DB {how}")
        self.start_adoption()
        for p in dbs:
            if how == "delete" or p.name != "state.sqlite3":
                p.unlink()
            elif how == "truncate":
                p.write_bytes(b"")
            else:
                p.write_bytes(b"SQLite format 3\x00" + os.urandom(2000))
        if how == "garbage":  # the push must say so in one line; then the student deletes it
            pre_local, pre_view = self.local(), self.view()
            run = run_cli(*push_argv(self.home, self.url))
            self.check_run(run)
            if run.code == 0:
                self.verify_push(run, pre_local, pre_view)
                return
            self.push_unverified()
            for p in state.glob("state.sqlite3*"):
                p.unlink()

    @rule(data=PICKS, newer=st.booleans())
    def new_volume(self, data: Picks, newer: bool) -> None:
        """The home's volume is replaced: no state, no files but starter files of the same names."""
        view = self.view()
        paths = sorted(p for p, _ in self.live_items(view) if not is_secret(p))
        self._op("new volume")
        for child in self.home.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
        self.special.clear()
        self.unreadable.clear()
        self.aliases.clear()
        self.secrets.clear()
        self.model.local_dirty.clear()
        self.model.uncertain.clear()
        self.reconnect(self.email)
        starters = pick_some(data, paths, 4) if paths else []
        for rel in starters:
            if local_kind(self.home, rel) is None and all(local_kind(self.home, a) in (None, "dir")
                                                           for a in _ancestors(rel)):
                self._write(rel, b"starter " + rel.encode(), self._tick() if newer else self._odd_time("old"))
        self.start_adoption()

    @rule()
    def switch_account(self) -> None:
        """Disconnect, connect another Google account (or the first one again)."""
        previous = self.email
        if len(self.accounts) == 1:
            self.accounts.append(self.accounts[0].replace("@", "+other@"))
        self.email = self.accounts[1] if self.email == self.accounts[0] else self.accounts[0]
        self._op("account switch")
        self.reconnect(self.email)
        m = self.model
        self.drive_history[previous] = (dict(m.drive_edits), dict(m.drive_gone))
        self.clean_at_leave[previous] = {
            p: (md5(data), os.stat(self.home / p, follow_symlinks=False).st_mtime_ns // 1_000_000)
            for p, data in self.local().items() if p not in m.local_dirty and p not in m.uncertain}
        self.start_adoption(may_know=self.email in self.used_accounts)
        if self.email in self.used_accounts:
            m.known_clean = dict(self.clean_at_leave.get(self.email, {}))
        if self.email in self.drive_history:  # what happened on that Drive still holds for its old state
            edits, gone = self.drive_history[self.email]
            m.drive_edits.update(edits)
            m.drive_gone.update(gone)
        self.used_accounts.add(self.email)

    # -- runs -----------------------------------------------------------------------------------

    @rule(policy=st.sampled_from(["keep", "keep", "trash"]))
    def push(self, policy: str) -> None:
        self._push("--delete", policy)

    @rule(kind=st.sampled_from(["lost-after-commit", "reset", "503", "sigkill", "concurrent"]),
          rate=st.sampled_from(FAULT_RATES), seed=st.integers(0, 2**16), delay=st.floats(0.0, 1.5))
    def interrupted_push(self, kind: str, rate: float, seed: int, delay: float) -> None:
        """A push dies mid-way (faults until retries run out, or SIGKILL), or two run at once."""
        self._op(f"push {kind}")
        self.settle_file_moves()
        argv = push_argv(self.home, self.url)
        self.last_push_ok = False
        if kind == "sigkill":  # every Drive request slowed to 0.1 s, so the kill lands mid-push
            self.emulator.set_faults(1.0, ["slow"], seed, slow_ms=100)
            try:
                proc = spawn_cli(*argv)
                time.sleep(0.5 + delay)  # the child's start-up, then a random moment of its run
                run = finish(proc, argv, kill=True)
            finally:
                self.emulator.set_faults(0)
            self.settle()
            if run is not None:
                self.check_run(run)
            self.push_unverified()
            return
        if kind == "concurrent":  # "Sync now" and the nightly job on one home at once
            procs = [spawn_cli(*argv), spawn_cli(*argv)]
            for proc in procs:
                run = finish(proc, argv)
                assert run is not None
                self.check_run(run)
            self.push_unverified()
            return
        self.emulator.set_faults(rate, [kind], seed)
        try:
            pre_local, pre_view = self.local(), self.view()
            run = run_cli(*argv)
        finally:
            self.emulator.set_faults(0)
        self.check_run(run)
        if run.code == 0:
            self.verify_push(run, pre_local, pre_view)
        else:
            self.push_unverified()

    def settle(self) -> None:
        """Wait until requests a killed child had already sent are answered (the emulator still
        carries them out), so every check sees the end state."""
        last = -1
        while (now := self.emulator.stats()["requests"]) != last:
            last = now
            time.sleep(0.25)

    @rule(overwrite=st.sampled_from(["never", "never", "older"]))
    def restore_home(self, overwrite: str) -> None:
        """Restore into the home itself: what is missing comes back, local files stay (or, with
        `older`, older ones are replaced by Drive's later copy)."""
        self._op(f"restore ({overwrite})")
        before = self.local()
        mtimes = {p: os.stat(self.home / p).st_mtime_ns // 1_000_000 for p in before}
        view = self.view()
        live = view.live()
        occupied = {p for p in live if local_kind(self.home, p) is not None or self._blocked(p)}
        run = run_cli(*restore_argv(self.home, self.url, "--overwrite", overwrite))
        self.check_run(run)
        if run.code != 0:
            return
        after = self.local()
        # a restore links each local folder at a path Drive holds a folder at, noting its inode
        # (defect 20): renamed later, it is that folder moved
        self.dirs_at_push.update((d, ino) for d, ino in self.dir_inodes().items()
                                 if any(f["mimeType"] == FOLDER_MIME for f in live.get(d, [])))
        for r in (run.summary or {}).get("renamed", []):
            self.aliases.add(r["path"])
            self.alias_targets.add(f"{parent(r['path'])}/{r['drive_name']}".lstrip("/"))
        for path, data in before.items():
            if after.get(path) == data or (overwrite == "older" and self.aliased(path)):
                continue
            items = [f for f in live.get(path, []) if f["mimeType"] != FOLDER_MIME]
            assert overwrite == "older" and path in after, f"restore replaced or removed {path!r}\n{run.describe()}"
            assert any(f["md5Checksum"] == md5(after[path]) and parse_ms(f["modifiedTime"]) > mtimes[path]
                       for f in items), f"restore replaced a newer local {path!r}\n{run.describe()}"
        invisible = self._invisible_ids(view)
        for path, items in live.items():
            if len(items) != 1 or items[0]["mimeType"] == FOLDER_MIME or items[0]["id"] in invisible:
                continue
            if path in occupied or is_secret(path) or any(len(live.get(a, [])) != 1 for a in _ancestors(path)):
                continue
            assert path in after and md5(after[path]) == items[0]["md5Checksum"], \
                f"restore did not bring back {path!r}\n{run.describe()}"
        for path, data in after.items():
            if before.get(path) != data:  # written by the restore: Drive and the home agree now
                self.model.drive_edits.pop(path, None)
                self.model.drive_gone.pop(path, None)
                if self.model.adoption is not None:  # and the state DB has its row: nothing to adopt there
                    self.model.adoption.pop(path, None)
                    self.model.known_in_adoption.add(path)
                self.model.forget_path(path)
                self.kept_by_adoption.discard(path)
                self.known_rows[path] = True
                self.path_rewritten(path, after)
                twins = sum(f["mimeType"] != FOLDER_MIME for f in live.get(path, [])) > 1
                for f in live.get(path, []):  # restored from an item moved on Drive: linked here now (model bug 16)
                    # unless it was moved beside one of ours: then one of the two is restored under
                    # another name, and which one the product calls by the name is its own choice
                    # (an adoption takes the older): it stays another client's (model bug 34)
                    if f["id"] in self.moved_from and not twins:
                        self.ours_again(f["id"])
                    if f["mimeType"] != FOLDER_MIME and f["md5Checksum"] == md5(data):
                        self.restored_elsewhere(f["id"], path, after)
        if self.model.adoption is not None:
            for path, data in after.items():
                # the items the app sees: a same-name file made in the web UI is not one (soak W)
                items = [f for f in live.get(path, []) if f["mimeType"] != FOLDER_MIME and f["id"] not in invisible]
                if (before.get(path) == data and len(items) == 1
                        and items[0]["md5Checksum"] == md5(data) and not self.aliased(path)
                        and all(len(live.get(a, [])) == 1 for a in _ancestors(path))):
                    # found the same on both sides: the restore gives the path a row linking it to
                    # Drive's item, so a later change on either side meets that row, not an
                    # adoption that judges by time (model bug 29)
                    self.model.adoption.pop(path, None)
                    self.model.known_in_adoption.add(path)
                    self.model.drive_edits.pop(path, None)
                    self.model.drive_gone.pop(path, None)
                    self.model.forget_path(path)
                    self.kept_by_adoption.discard(path)
                    self.known_rows[path] = True

    def restored_elsewhere(self, fid: str, path: str, local: dict[str, bytes]) -> None:
        """A restore wrote `path` from the item `fid`, whose history the model kept at another
        path (a push without a verdict moved it there on Drive, say, with its folder): the item
        is `path`'s now, and a file at the other path is a new one to the product, with no row
        and no Drive history (model bug 33: `e` renamed `D`, a push that moved `D` on Drive
        failed, `D` renamed back to `e` and a restore wrote `D` from Drive)."""
        for q, e in list(self.model.drive_edits.items()):
            # (also where the student moved the item on Drive and the restore wrote it at its new
            # path: it is linked there now, and the old path's file is a new one: model bug 37)
            if q != path and e.fid == fid and self.model.drive_gone.get(q) in (None, *GONE_MOVED):
                del self.model.drive_edits[q]
                self.model.drive_gone.pop(q, None)
                self.known_rows.pop(q, None)
                if q in local:
                    self.model.local_write(q)

    def ours_again(self, fid: str) -> None:
        """An item moved on Drive is where the home has it again (put back by a push, or its
        path written from it by a restore): its history is its current path's from now on."""
        del self.moved_from[fid]
        if fid in self.moved_ours:
            self.moved_ours.discard(fid)
            self.model.foreign.discard(fid)

    def path_rewritten(self, path: str, local: dict[str, bytes]) -> None:
        """`path`'s row is its Drive item's again (a restore wrote the path from it, or a file
        was renamed onto it while the row was still live): a file moved away from `path` since
        the last push is a new file to the product now (no row knows it), and a file moved onto
        `path` lost its link to its old item."""
        if path in self.renamed_to:
            moved = self.at_home(path)
            del self.renamed_to[path]
            if moved != path and moved in local:
                self.model.drive_edits.pop(moved, None)
                self.model.drive_gone.pop(moved, None)
                self.model.local_write(moved)
        for src, dst in list(self.renamed_to.items()):
            if dst == path:
                del self.renamed_to[src]

    def aliased(self, path: str) -> bool:
        """Written by a restore under another name than Drive's (it or a folder above it): the
        state links it to the Drive item of the original name, so its path says nothing."""
        return any(p in self.aliases for p in [path, *_ancestors(path)])

    def _blocked(self, path: str) -> bool:
        return any(local_kind(self.home, a) not in (None, "dir") for a in _ancestors(path))

    @rule()
    def restore_into_empty_home(self) -> None:
        """(d): a new, empty home restored from the backup holds exactly what the backup holds."""
        self._op("restore into an empty home")
        self.counter += 1
        fresh = self.base / f"fresh{self.counter}" / USER
        fresh.mkdir(parents=True)
        connect(self.url, fresh, self.email)
        view = self.view()
        run = run_cli(*restore_argv(fresh, self.url))
        self.check_run(run)
        invisible = self._invisible_ids(view)
        want = {}
        for path, items in view.live().items():
            for f in items:
                if f["mimeType"] != FOLDER_MIME and f["id"] not in invisible and not is_secret(path):
                    want.setdefault(path, []).append(f["md5Checksum"])
        if run.code != 0:
            assert not view.root_ids() or not want, f"(d) restore into an empty home failed\n{run.describe()}"
            return
        got = local_files(fresh)
        assert not any(is_secret(p) for p in got), f"(e) restore wrote a secret: {sorted(got)}"
        assert sorted(md5(b) for b in got.values()) == sorted(m for ms in want.values() for m in ms), \
            f"(d) restored files differ from the backup: {sorted((p, md5(b)) for p, b in got.items())} vs {want}\n{run.describe()}"
        for path, md5s in want.items():
            if len(md5s) == 1 and all(len(view.live().get(a, [])) == 1 for a in [path, *_ancestors(path)]):
                assert path in got and md5(got[path]) == md5s[0], f"(d) {path!r} not restored byte for byte"

    def _invisible_ids(self, view: DriveView) -> set[str]:
        """Items the app cannot see (made by the full-scope client): a restore never has them."""
        out = set()
        for f in view.files:
            if f["id"] in self.model.foreign and not self.app_sees(f["id"]):
                out.add(f["id"])
        # everything below an invisible folder is out of reach too
        changed = True
        while changed:
            changed = False
            for f in view.files:
                if f["id"] not in out and (f.get("parents") or [None])[0] in out:
                    out.add(f["id"])
                    changed = True
        return out

    @precondition(lambda self: self.planted)
    @rule(which=st.sampled_from(["ssh", "state"]))
    def restore_secret_path(self, which: str) -> None:
        """(e): `restore --path` into a secret or the tool's own state never writes there."""
        self._op(f"restore --path {which}")
        extra = ["--path", ".ssh"] if which == "ssh" else ["--path", STATE_REL, "--overwrite", "always"]
        run = run_cli(*restore_argv(self.home, self.url, *extra))
        self.check_run(run)

    @precondition(lambda self: self.last_push_ok and not self.model.local_dirty and not self.model.drive_edits
                  and not self.model.drive_gone and self.model.adoption is None and not self.unreadable
                  and not self.renamed_to)  # an unpushed move (into a new folder, onto a kept leftover) adds its own requests
    @rule(data=PICKS, folder=st.booleans())
    def rename_then_push(self, data: Picks, folder: bool) -> None:
        """A local rename or move of a backed-up file or folder is one metadata update: no bytes
        uploaded, no new Drive item."""
        choices = self.local_dirs() if folder else sorted(p for p in self.local() if p not in self.aliases)
        if not choices:
            return
        src = pick(data, choices)
        live = self.view().live()
        if any(not any(f["mimeType"] == FOLDER_MIME for f in live.get(d, [])) for d in self.local_dirs()):
            return  # a local folder not on Drive yet (an emptied file → folder swap, say): its own create
        if self.dir_inodes().items() - self.dirs_at_push.items():
            # a folder made here since the last push (for a FIFO or a symlink, say) that Drive
            # holds a folder of the same name for: no row knows this one, so it is new (model bug 36)
            return
        dst = f"{parent(src)}/moved-{self.counter}" if parent(src) else f"moved-{self.counter}"
        self.counter += 1
        before = self.view()
        count = len(before.files)
        ids = {f["id"] for f in before.live().get(src, [])}
        self._op("local rename, then push")
        os.rename(self.home / src, self.home / dst)
        for p in list(self.local()):
            if p == dst or p.startswith(dst + "/"):
                self.local_renamed(src + p[len(dst):], p)
        run = self._push()
        assert run.code == 0 and (run.summary or {}).get("bytes_uploaded") == 0, f"rename re-sent bytes\n{run.describe()}"
        after = self.view()
        assert len(after.files) == count, f"rename made new Drive items\n{run.describe()}"
        assert ids & {f["id"] for f in after.live().get(dst, [])}, f"rename did not move the Drive item\n{run.describe()}"


def _ancestors(path: str) -> list[str]:
    out = []
    p = parent(path)
    while p:
        out.append(p)
        p = parent(p)
    return out


@pytest.mark.timeout(0)
def test_lifecycle_model(emulator: Any, tmp_path: Path) -> None:
    """Random lifecycles of one home at one emulator; a new account and home per example."""
    LifecycleMachine.emulator = emulator
    LifecycleMachine.workdir = tmp_path
    LifecycleMachine.examples = 0
    LifecycleMachine.steps = 0
    LifecycleMachine.ops = {}
    started = time.monotonic()
    machine: Any = LifecycleMachine
    if os.environ.get("LIFECYCLE_REPRODUCE"):  # "<hypothesis version>:<blob>" from a failure's report
        version, _, blob = os.environ["LIFECYCLE_REPRODUCE"].partition(":")
        machine = reproduce_failure(version, blob.encode())(LifecycleMachine)
    try:
        if FAILURE_LOG:
            with with_reporter(StepLog()):
                run_state_machine_as_test(machine, settings=lifecycle_settings())
        else:
            run_state_machine_as_test(machine, settings=lifecycle_settings())
    finally:
        emulator.set_faults(0)
        print(run_report(LifecycleMachine.examples, LifecycleMachine.steps, LifecycleMachine.ops,
                         time.monotonic() - started))


FAMILIES = ("local", "drive", "lifecycle", "push-restore")


def op_family(name: str) -> str:
    """The family an operation counts in (the issue's list: local, on Drive by another client,
    lifecycle, then push or restore). A push killed, faulted or doubled is a lifecycle event."""
    if name.startswith("local"):
        return "local"
    if name.startswith(("drive", "edit on both sides")):
        return "drive"
    if name.startswith(("state DB", "new volume", "account switch", "push ")):
        return "lifecycle"
    return "push-restore"  # "push", "restore (...)", "restore into an empty home", "restore --path"


def run_report(examples: int, steps: int, ops: dict[str, int], seconds: float) -> str:
    """What `make soak` shows and docs/RELIABILITY.md quotes: sizes, operations by family, time."""
    lines = [f"\nlifecycle model: {examples} examples, {steps} steps, {sum(ops.values())} operations "
             f"in {seconds:.0f}s wall time"]
    for fam in FAMILIES:
        mine = {k: v for k, v in sorted(ops.items()) if op_family(k) == fam}
        detail = ", ".join(f"{k}: {v}" for k, v in mine.items())
        lines.append(f"  {fam}: {sum(mine.values())} ({detail})")
    return "\n".join(lines)
