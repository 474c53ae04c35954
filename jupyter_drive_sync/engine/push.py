"""Push one home to Drive: scan, merge the Drive changes feed, plan, execute.

INTERFACE (agreed between the CLI, the server extension and the hub job):

    run_push(options: PushOptions, progress: Callable[[ProgressEvent], None] | None = None) -> PushSummary
        raises errors.NotConnected (no credentials / needs reconnect), errors.DriveRefused (storage
        full, daily cap), errors.AlreadyRunning (lock held), errors.ConfigError; per-file problems go
        in the summary. The summary is also saved in the state DB (last push) for `status`.

This module is the order of things; each step has its own module: `remote_root` (the home's
Drive folder, adoption), `remote_changes` (the changes feed), `plan` (pure), `executor`.
Duplicates can't happen: new IDs come from `generateIds` and are recorded as pending before
any create; creates carry those IDs (a retry meets 409 and becomes a get); every confirmed
action is committed to the state DB at once. A lost state DB triggers adoption: the existing
Drive folder is walked and matched by path before anything is created; the state DB records
that adoption finished, so a run cut short while adopting is followed by one that adopts again.
The plan runs in `options.order` (`plan_order`): by default the student's notebooks, code and
text go up before their data and media, so a push stopped part-way holds their work.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable

from ..auth.session import connect, home_lock, require_home
from ..core.errors import ConfigError
from ..core.model import Action, ActionKind, PushSummary, Snapshot
from ..core.options import PushOptions
from ..core.settings import folder_name, resolve_username
from ..drive.client import DriveClient
from ..home.excludes import Excludes
from ..home.scan import hash_candidates, scan
from ..home.state_db import StateDB
from .account_check import settle_account
from .executor import UPLOADS, Executor
from .plan import PlanRows, paths_to_hash, plan
from .plan_input import read_plan_state
from .plan_order import FOLDERS, action_kind, check_order
from .progress import ProgressEvent, RunProgress
from .remote_changes import digest_own_writes, fold_changes, preview_changes
from .remote_root import preview_root, resume_adoption, setup_root


class _Run(RunProgress):
    """One push: the running summary and progress (counters: RunProgress), the order of steps."""

    summary: PushSummary

    def __init__(self, options: PushOptions, progress: Callable[[ProgressEvent], None] | None) -> None:
        super().__init__(PushSummary(), progress)
        self.o = options
        self.home = Path(options.home)
        self.user = resolve_username(self.home, options.user)
        self._spare_ids: list[str] = []  # generated with the root folder's, not yet used
        self._adoption_hashes: dict[str, str] = {}  # md5s adoption read (not read twice)
        try:
            self.order = check_order(options.order)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        self._client: DriveClient | None = None  # while connected: its write pacer feeds the ETA
        self._kinds: dict[str, str] = {}  # path -> plan_order kind, of the plan's actions
        self.folders_total = 0  # folders the plan creates (each one write, like a file)

    # -- reporting (also the executor's PushReport) ---------------------------------------------

    def write_rate_now(self) -> float | None:
        client = self._client
        return client.write_pacer.sustained_rate if client is not None else None

    def writes_left(self) -> int:
        return super().writes_left() + max(0, self.folders_total - self.summary.folders_created)

    def kind_of(self, path: str | None) -> str | None:
        if path is None:
            return FOLDERS if self.summary.folders_created < self.folders_total else None
        return self._kinds.get(path)

    def count(self, a: Action) -> None:
        """Count one action Drive confirmed (or one left alone) in the summary."""
        s = self.summary
        k = a.kind
        with self._lock:
            if k is ActionKind.MKDIR:
                s.folders_created += 1
            elif k is ActionKind.CREATE:
                s.created += 1
            elif k is ActionKind.UPDATE_CONTENT:
                s.updated += 1
            elif k is ActionKind.UPDATE_MTIME:
                s.metadata_updated += 1
            elif k is ActionKind.TRASH:
                s.trashed += 1
            elif k is ActionKind.KEEP_DRIVE:
                s.kept_drive_copy += 1
            elif k is ActionKind.MOVE:
                s.moved += 1
            if a.conflict:
                s.conflicts += 1

    def files_confirmed(self, n: int, bytes_uploaded: int = 0) -> None:
        with self._lock:
            self.files_done += n
            self.summary.bytes_uploaded += bytes_uploaded

    # -- the run -------------------------------------------------------------------------------

    def run(self) -> PushSummary:
        started = time.monotonic()
        require_home(self.home)
        with home_lock(self.home, "push", self.o.wait_for_lock):
            return self._locked_run(started)

    def _connect(self) -> DriveClient:
        o = self.o
        sizes = {k: v for k, v in (("chunk_size", o.chunk_size), ("multipart_limit", o.multipart_limit),
                                   ("write_rate", o.write_rate), ("write_burst", o.write_burst)) if v is not None}
        return connect(self.home, o.credentials_path, o.encryption_key, o.api_root, o.pacer, **sizes)

    def _locked_run(self, started: float) -> PushSummary:
        o = self.o
        self.emit("scanning")
        excludes = Excludes.for_home(self.home, extra=o.extra_excludes)
        for problem in excludes.problems:
            self.skip(".drivesyncignore", problem)
        snap = scan(self.home, excludes, max_file_size=o.max_file_size)
        for s in snap.skipped:
            self.skip(s.path, s.reason)
        for rel, reason in excludes.secrets_among(snap.excluded):
            self.skip(rel, reason)

        client = self._connect()
        db = StateDB.for_home(self.home)
        self._client = client
        try:
            return self._with_client(client, db, snap, started)
        finally:
            self._client = None
            client.close()
            db.close()

    def _root_and_state(self, client: DriveClient, db: StateDB, snap: Snapshot) -> tuple[str | None, PlanRows]:
        """The home's Drive folder and the state rows to plan with, the Drive side brought up
        to date from the changes feed (a dry run only looks: nothing is written).
        First of all, the stored IDs must belong to the connected account (see account_check)."""
        account = settle_account(client, db, dry_run=self.o.dry_run)
        if account.switched:
            self.skip(".", account.note() or "another Google account is connected")
        if self.o.dry_run:  # what a real run would plan with, adoption included (read only)
            parts = folder_name(self.o.folder_template, self.user).split("/")
            root_id, rows, self._adoption_hashes = preview_root(
                client, db, parts, self.skip, snap, self.home, fresh=account.fresh,
                known=lambda: preview_changes(client, db))
            return root_id, PlanRows(rows)
        root_id = db.root_folder_id
        if not root_id or not db.page_token or fold_changes(client, db, root_id, self.skip, self.count):
            parts = folder_name(self.o.folder_template, self.user).split("/")
            setup = setup_root(client, db, parts, self.skip, snap, self.home)
            root_id, self._spare_ids, self._adoption_hashes = setup.root_id, setup.spare_ids, setup.hashes
        elif not db.adoption_finished(root_id):  # a run was cut short while adopting: adopt first
            self._adoption_hashes = resume_adoption(client, db, root_id, snap, self.home, self.skip)
        return root_id, read_plan_state(db, snap)

    def _with_client(self, client: DriveClient, db: StateDB, snap: Snapshot, started: float) -> PushSummary:
        o = self.o
        self.emit("planning")
        root_id, state = self._root_and_state(client, db, snap)
        self.summary.root_folder_id = root_id
        hashes = hash_candidates(self.home, snap, state, also=paths_to_hash(snap, state), known=self._adoption_hashes)
        the_plan = plan(snap, state, hashes, policy=o.policy, delete_policy=o.delete_policy)
        self.summary.unchanged = the_plan.unchanged
        actions = the_plan.actions
        self.files_total = sum(1 for a in actions if a.kind in UPLOADS or a.kind is ActionKind.UPDATE_MTIME)
        self.bytes_total = sum(a.local.size for a in actions if a.kind in UPLOADS and a.local is not None)
        self.folders_total = sum(1 for a in actions if a.kind is ActionKind.MKDIR)
        self._kinds = {a.path: action_kind(a) for a in actions}

        if o.dry_run:
            self._count_dry(actions)
        elif actions:
            assert root_id is not None
            self.emit("uploading")
            Executor(self, client, db, state, self.home, workers=o.workers, spare_ids=self._spare_ids,
                     order=self.order, deadline=o.deadline).execute(root_id, actions)
            s = self.summary
            digest_own_writes(client, db, s.folders_created + s.created + s.updated + s.metadata_updated + s.trashed
                              + s.moved,
                              self.skip, self.count)

        sent = client.write_stats  # the whole run's writes: root folder and adoption included
        self.summary.writes, self.summary.refused_writes = sent.writes, sent.refused_writes
        self.summary.seconds = round(time.monotonic() - started, 3)
        if not o.dry_run:
            db.set_last_push(asdict(self.summary))
        self.emit("done")
        return self.summary

    def _count_dry(self, actions: list[Action]) -> None:
        s = self.summary
        for a in actions:
            self.count(a)
            if a.kind in UPLOADS and a.local is not None:
                s.bytes_uploaded += a.local.size


def run_push(options: PushOptions, progress: Callable[[ProgressEvent], None] | None = None) -> PushSummary:
    """Push one home (see the module docstring for what it raises)."""
    return _Run(options, progress).run()
