"""The Jupyter Server extension: configuration traits, the long-lived objects, the routes.

Every setting is a documented trait (`c.DriveSyncApp.<name>` in a Jupyter config file). The
objects that outlive a request (the OAuth state table, the job runner, the prompt state)
are built once in `initialize_settings` and handed to the handlers as init kwargs.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from jupyter_server.extension.application import ExtensionApp
from traitlets import Enum, Float, Int, List, Unicode, default

from ..core import settings as cfg
from ..auth.oauth import Connection, PendingFlows, WebAuth, check_connection
from .jobs import EXTERNAL_JOB_ID, JobManager, probe_home_lock, read_last_push, root_folder_url
from ..core.model import DeletePolicy, Policy
from .prompt import PromptState


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
            lambda: self.settings.push_options(),
            lock_holder=self._lock_holder,
            has_credentials=lambda: self.settings.credentials_file.exists(),
            on_finished=lambda job, exc: self._job_finished(),
        )
        self._check_lock = threading.Lock()
        self._checked: tuple[Any, float, Connection] | None = None
        self._backup_probe: tuple[Any, bool] | None = None  # (credentials key, answer)

    def _job_finished(self) -> None:
        self.forget_connection_check()
        with self._check_lock:
            self._backup_probe = None

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
        path = self.settings.credentials_file
        try:
            st = path.stat()
            key: Any = (st.st_mtime_ns, st.st_size)
        except OSError:
            key = None
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

    def _last_push_needs_reauth(self, key: Any) -> bool:
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
            "needs_reauth": conn.needs_reauth,
            "prompt": self.prompt.should_prompt(connected=conn.connected),
            "root_folder_url": self.root_folder_url(last),
            # where the backup goes, for the first-login dialog ("home/alice")
            "folder": self.settings.folder_template.replace("{username}", self.settings.username),
            "last_push": last,
            "job": job.to_dict() if job else None,
            # the Drive folder already holds a backup: the first-login prompt offers "Restore my files"
            "has_backup": self.has_backup(conn),
        }

    # ------------------------------------------------------------ restore (blocking: run off-loop)

    def has_backup(self, conn: Connection) -> bool:
        """Whether the user's Drive folder holds anything. Free once this home has pushed (the
        state DB knows the folder); else asked of Drive once per sign-in, then remembered."""
        if not conn.connected or conn.needs_reauth:
            return False
        from .jobs import _read_state_meta
        from ..home.state import META_ROOT_FOLDER_ID

        if _read_state_meta(self.settings.state_dir, (META_ROOT_FOLDER_ID,)):
            return True
        path = self.settings.credentials_file
        try:
            st = path.stat()
            key: Any = (st.st_mtime_ns, st.st_size)
        except OSError:
            return False
        with self._check_lock:
            cached = self._backup_probe
        if cached is not None and cached[0] == key:
            return cached[1]
        from ..engine.restore import probe_backup, restore_options

        try:
            answer = probe_backup(restore_options(self.settings))
        except Exception as exc:  # noqa: BLE001 - status must answer anyway
            logging.getLogger(__name__).info("drive-sync: cannot tell whether Drive holds a backup: %s", exc)
            return False
        with self._check_lock:
            self._backup_probe = (key, answer)
        return answer

    def start_restore(self, path: str, overwrite: str) -> Any:
        """Queue a restore of `path` (relative to the home; "" = all). ValueError for bad input."""
        from ..engine.restore import Overwrite, restore_options, split_subpath

        parts = split_subpath(path)
        policy = Overwrite(overwrite)  # ValueError for an unknown policy
        sub = "/".join(parts)
        return self.jobs.start_restore(lambda: restore_options(self.settings, path=sub, overwrite=policy))

    def remote(self, path: str) -> dict[str, Any]:
        """What Drive holds at `path` under the user's folder (for the restore dialog)."""
        from ..engine.restore import list_remote, restore_options

        return list_remote(restore_options(self.settings), path)

    def last_push(self) -> dict[str, Any] | None:
        """The last finished push of this home, whoever ran it (server, CLI, nightly job)."""
        return read_last_push(self.settings.state_dir)

    def root_folder_url(self, last: dict[str, Any] | None) -> str | None:
        return root_folder_url(last, self.folder_url_base)

    # ------------------------------------------------------------ lock probe

    def _lock_holder(self) -> dict[str, Any] | None:
        return probe_home_lock(self.settings.state_dir)

    def disconnect(self) -> bool:
        from ..auth.oauth import disconnect

        try:
            return disconnect(self.settings)
        finally:
            self.forget_connection_check()

    def stop(self) -> None:
        self.jobs.shutdown()


def _fetch_json(url: str, timeout: float = 10.0) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - configured emulator URL
        return json.loads(resp.read().decode("utf-8"))


class DriveSyncApp(ExtensionApp):
    """Back up the user's home folder into their own Google Drive."""

    name = "jupyter_drive_sync"
    load_other_extensions = True

    client_secrets_file = Unicode(
        "",
        help="""Google OAuth client secrets (a `web` client) used for the sign-in.
        Default: $JUPYTER_DRIVE_SYNC_CLIENT_SECRETS. Empty: sign-in is not configured.""",
    ).tag(config=True)

    redirect_uri = Unicode(
        "",
        help="""OAuth redirect URI registered with Google. Default: under JupyterHub
        `<hub_public_url>/hub/user-redirect/drive-sync/oauth2callback` (one URI for the whole hub);
        standalone, this server's own URL + base_url + `drive-sync/oauth2callback`.""",
    ).tag(config=True)

    hub_public_url = Unicode(
        "",
        help="""Public URL of the JupyterHub (e.g. https://hub.example.org/), used to build the
        redirect URI. Default: $JUPYTERHUB_PUBLIC_HUB_URL, else the address the browser used.""",
    ).tag(config=True)

    folder_template = Unicode(
        cfg.DEFAULT_FOLDER_TEMPLATE,
        help="Drive folder (under My Drive) that mirrors the home; `{username}` is replaced.",
    ).tag(config=True)

    api_root = Unicode(
        "",
        help=f"Drive API root. Default: $JUPYTER_DRIVE_SYNC_API_ROOT or {cfg.GOOGLE_API_ROOT}.",
    ).tag(config=True)

    encryption_key = Unicode(
        "",
        help=f"""Fernet key that encrypts the stored credentials (the same key the nightly job
        gets). Default: ${cfg.KEY_ENV}, which is preferable: config values are echoed by
        `--debug` logging. Empty: stored as 0600 plain JSON.""",
    ).tag(config=True)

    excludes = List(
        Unicode(),
        help="Extra gitignore-style patterns never pushed (added to the built-in excludes).",
    ).tag(config=True)

    policy = Enum(
        [p.value for p in Policy],
        default_value=Policy.LAST_WRITE_WINS.value,
        help="Conflict policy: last-write-wins, or local-wins (Drive mirrors the home).",
    ).tag(config=True)

    delete_policy = Enum(
        [p.value for p in DeletePolicy],
        default_value=DeletePolicy.KEEP.value,
        help="What a local deletion does on Drive: keep the Drive copy, or trash it.",
    ).tag(config=True)

    workers = Int(cfg.DEFAULT_WORKERS, help="Parallel uploads per push.").tag(config=True)

    prompt_default = Enum(
        ["ask", "never"],
        default_value="ask",
        help="Offer the first-login 'Back up to Google Drive?' dialog (ask), or never.",
    ).tag(config=True)

    emulator_url = Unicode(
        "",
        help="""URL of a running Drive emulator (`jupyter-drive-sync emulator`). When set, the
        Drive API root, the OAuth client and the consent page all come from it, so the whole
        product runs with no Google account.""",
    ).tag(config=True)

    home_dir = Unicode(
        "",
        help="The home folder to back up. Default: the server's root_dir, else ~.",
    ).tag(config=True)

    username = Unicode(
        "",
        help="Name used in folder_template. Default: $JUPYTERHUB_USER, else the home's basename.",
    ).tag(config=True)

    status_check_interval = Float(
        60.0,
        help="Seconds between live checks (a token refresh) that the Google grant still holds.",
    ).tag(config=True)

    credentials_file = Unicode(
        "",
        help="Credentials file. Default: <home>/.local/share/jupyter/drive_sync/credentials.json.",
    ).tag(config=True)

    @default("client_secrets_file")
    def _default_client_secrets(self) -> str:
        return os.environ.get(cfg.CLIENT_SECRETS_ENV, "")

    # ------------------------------------------------------------ lifecycle

    def _home(self) -> Path:
        if self.home_dir:
            return Path(self.home_dir).expanduser()
        root = getattr(self.serverapp, "root_dir", "") if self.serverapp else ""
        if not root:
            return Path.home()
        root_path, home = Path(root).expanduser().resolve(), Path.home().resolve()
        if root_path != home and home.is_relative_to(root_path):
            # A file browser opened above the home (root_dir "/" is common) is not a home to
            # back up: that would walk the whole machine into the student's Drive.
            return home
        return root_path

    def build_sync_settings(self) -> cfg.SyncSettings:
        client_config: dict[str, Any] | None = None
        api_root = self.api_root or None
        if self.emulator_url:
            emu = self.emulator_url.rstrip("/") + "/"
            api_root = api_root or emu
            try:
                client_config = _fetch_json(emu + "_emulator/client_secrets.json")
            except Exception as exc:  # noqa: BLE001 - the server must start anyway
                self.log.error("drive-sync: cannot reach the Drive emulator at %s: %s", emu, exc)
        return cfg.SyncSettings.for_home(
            self._home(),
            api_root=api_root,
            client_secrets_file=self.client_secrets_file or None,
            credentials_path=self.credentials_file or None,
            encryption_key=self.encryption_key or None,
            username=self.username or None,
            client_config=client_config,
            folder_template=self.folder_template,
            policy=Policy(self.policy),
            delete_policy=DeletePolicy(self.delete_policy),
            workers=self.workers,
            excludes=tuple(self.excludes),
        )

    def initialize_settings(self) -> None:
        settings = self.build_sync_settings()
        self.service = DriveSyncService(
            settings,
            redirect_uri=self.redirect_uri,
            hub_public_url=self.hub_public_url,
            prompt_enabled=self.prompt_default == "ask",
            status_check_interval=self.status_check_interval,
            folder_url_base=self.emulator_url.rstrip("/") + "/" if self.emulator_url else None,
        )
        self.log.info(
            "drive-sync: home %s, Drive folder %s, sign-in %s",
            settings.home,
            settings.folder_template.replace("{username}", settings.username),
            "configured" if self.service.auth.configured else "NOT configured (set client_secrets_file)",
        )

    def initialize_handlers(self) -> None:
        from .handlers import route_table

        self.handlers.extend(route_table({"service": self.service}))

    async def stop_extension(self) -> None:
        service = getattr(self, "service", None)
        if service is not None:
            service.stop()

    def current_activity(self) -> list[dict[str, Any]] | None:
        """A running push counts as activity, so an idle culler does not stop the server mid-push."""
        service = getattr(self, "service", None)
        job = service.jobs.current() if service is not None else None
        if job is None or job.id == EXTERNAL_JOB_ID:
            return None
        return [{"kind": f"drive-sync {job.kind}", "id": job.id}]


__all__ = ["DriveSyncApp", "DriveSyncService"]
