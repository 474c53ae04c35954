"""The server extension's long-lived object for one home: settings, sign-in, jobs, prompt, status.

Built once when the extension loads and handed to every handler, so the handlers stay thin
routes. Its methods that touch the network or the disk block: handlers run them off the IOLoop.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from ..auth.connection import Connection, check_connection, disconnect
from ..auth.web_flow import PendingFlows, WebAuth
from ..core import settings as cfg
from ..core.options import Overwrite, push_options, restore_options
from ..engine.drive_browse import list_remote, probe_backup, restorable_subpath
from ..engine.account_check import account_status
from ..engine.status import (
    backup_folder, categorize_job, probe_home_lock, read_last_push, root_folder_url, stored_root_folder_id,
)
from .jobs import Job, JobManager
from .prompt import PromptState

log = logging.getLogger(__name__)


class DriveSyncService:
    """What the handlers need for one home: settings, sign-in, jobs, prompt, status."""

    def __init__(
        self,
        settings: cfg.SyncSettings,
        *,
        redirect_uri: str = "",
        hub_public_url: str = "",
        prompt_enabled: bool = True,
        status_check_interval: float = 60.0,
        folder_url_base: str | None = None,
    ) -> None:
        self.settings = settings
        self.redirect_uri_setting = redirect_uri
        self.hub_public_url = hub_public_url
        self.status_check_interval = status_check_interval
        self.folder_url_base = folder_url_base
        self.auth = WebAuth(settings, PendingFlows())
        self.prompt = PromptState(settings.state_dir, enabled=prompt_enabled)
        self.jobs = JobManager(
            settings.state_dir,
            lambda: push_options(self.settings),
            lock_holder=self._lock_holder,
            has_credentials=lambda: self.settings.credentials_file.exists(),
            on_finished=lambda job, exc: self._job_finished(),
        )
        self._check_lock = threading.Lock()
        # Cached answers are keyed on the credentials file (see _credentials_key).
        self._checked: tuple[tuple[int, int] | None, float, Connection] | None = None
        self._backup_probe: tuple[tuple[int, int], bool] | None = None  # (credentials key, answer)
        # How the last sign-in through the popup ended when it did not connect (consent denied,
        # link expired): status reports it, so the main window can say so even when the popup's
        # message to it was lost. Cleared by a sign-in that connects and by a disconnect.
        self.auth_error: dict[str, Any] | None = None

    def _job_finished(self) -> None:
        self.forget_connection_check()
        with self._check_lock:
            self._backup_probe = None

    def _credentials_key(self) -> tuple[int, int] | None:
        """The credentials file's (mtime_ns, size): a sign-in, a refresh saved by a push or a
        disconnect changes it, so answers cached under it are never stale. None: no file."""
        try:
            st = self.settings.credentials_file.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    # ------------------------------------------------------------ redirect URI

    def redirect_uri(self, server_url: str | None, base_url: str) -> str:
        return cfg.redirect_uri(
            configured=self.redirect_uri_setting or None,
            hub_public_url=self.hub_public_url or None,
            server_url=server_url,
            base_url=base_url,
        )

    # ------------------------------------------------------------ status (blocking: run off-loop)

    def forget_connection_check(self) -> None:
        with self._check_lock:
            self._checked = None

    def connection(self) -> Connection:
        """Connection state, asking Google at most every `status_check_interval` seconds.

        The cache is keyed on the credentials file's mtime and size, so a sign-in, a refresh
        saved by a push or a disconnect is seen at once.
        """
        key = self._credentials_key()
        now = time.monotonic()
        with self._check_lock:
            cached = self._checked
        if cached and cached[0] == key and now - cached[1] < self.status_check_interval:
            return cached[2]
        conn = check_connection(self.settings, live=key is not None)
        if conn.connected and not conn.needs_reauth and self._last_push_needs_reauth(key):
            conn.needs_reauth = True
        with self._check_lock:
            self._checked = (key, now, conn)
        return conn

    def _last_push_needs_reauth(self, key: tuple[int, int] | None) -> bool:
        """A push that ended with "reconnect" after the credentials were last written."""
        last = self.jobs.last_finished() or {}
        error = last.get("error") or {}
        if error.get("kind") != "needs_reauth" or key is None:
            return False
        return float(last.get("finished_at") or 0) * 1e9 >= key[0]

    def status(self) -> dict[str, Any]:
        conn = self.connection()
        job = self.jobs.current()
        last = self.last_push()
        return {
            "configured": self.auth.configured,
            "connected": conn.connected,
            "account": conn.account,
            # the account the backup so far went to, and whether another one is connected now
            **account_status(self.settings.state_dir, conn.account),
            "needs_reauth": conn.needs_reauth,
            "prompt": self.prompt.should_prompt(connected=conn.connected),
            "root_folder_url": self.root_folder_url(last),
            # where the backup goes, for the first-login dialog ("home/alice")
            "folder": self.folder(),
            "last_push": last,
            "job": self.job_json(job) if job else None,
            "auth_error": self.auth_error,
            # the Drive folder already holds a backup: the first-login prompt offers "Restore my files"
            "has_backup": self.has_backup(conn),
        }

    def folder(self) -> str:
        """The backup folder's path under My Drive, exactly as a push names it ("home/alice")."""
        return backup_folder(self.settings)

    def last_push(self) -> dict[str, Any] | None:
        """The last finished push of this home, whoever ran it (server, CLI, nightly job)."""
        return read_last_push(self.settings.state_dir, self.settings.home)

    def job_json(self, job: Job) -> dict[str, Any]:
        """A job as the API shows it: a push summary's left-out entries categorized."""
        return categorize_job(job.to_dict(), self.settings.home)

    def sign_in_started(self) -> None:
        """A new sign-in: an earlier one's failure no longer applies."""
        self.auth_error = None

    def sign_in_failed(self, kind: str, message: str) -> None:
        """Remember how the last sign-in ended without connecting (for status)."""
        self.auth_error = {"kind": kind, "message": message, "at": time.time()}

    def sign_in_done(self) -> None:
        self.auth_error = None
        self.forget_connection_check()

    def root_folder_url(self, last: dict[str, Any] | None) -> str | None:
        return root_folder_url(last, self.folder_url_base)

    # ------------------------------------------------------------ restore (blocking: run off-loop)

    def has_backup(self, conn: Connection) -> bool:
        """Whether the user's Drive folder holds anything. Free once this home has pushed (the
        state DB knows the folder); else asked of Drive once per sign-in, then remembered."""
        if not conn.connected or conn.needs_reauth:
            return False
        if stored_root_folder_id(self.settings.state_dir) and \
                not account_status(self.settings.state_dir, conn.account)["account_changed"]:
            return True
        key = self._credentials_key()
        if key is None:
            return False
        with self._check_lock:
            cached = self._backup_probe
        if cached is not None and cached[0] == key:
            return cached[1]
        try:
            answer = probe_backup(restore_options(self.settings))
        except Exception as exc:  # noqa: BLE001 - status must answer anyway
            log.info("drive-sync: cannot tell whether Drive holds a backup: %s", exc)
            return False
        with self._check_lock:
            self._backup_probe = (key, answer)
        return answer

    def start_restore(self, path: str, overwrite: str) -> Job:
        """Queue a restore of `path` (relative to the home; "" = all). ValueError for bad input,
        a secret or the tool's own state (refused before any job starts)."""
        parts = restorable_subpath(path)
        policy = Overwrite(overwrite)  # ValueError for an unknown policy
        sub = "/".join(parts)
        return self.jobs.start_restore(lambda: restore_options(self.settings, path=sub, overwrite=policy))

    def remote(self, path: str) -> dict[str, Any]:
        """What Drive holds at `path` under the user's folder (for the restore dialog)."""
        return list_remote(restore_options(self.settings), path)

    # ------------------------------------------------------------ lock probe, sign-out, shutdown

    def _lock_holder(self) -> dict[str, Any] | None:
        return probe_home_lock(self.settings.state_dir)

    def disconnect(self) -> bool:
        self.auth_error = None
        try:
            return disconnect(self.settings)
        finally:
            self.forget_connection_check()

    def stop(self) -> None:
        self.jobs.shutdown()
