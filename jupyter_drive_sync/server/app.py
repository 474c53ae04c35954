"""The Jupyter Server extension: its configuration traits and its lifecycle.

Every setting is a documented trait (`c.DriveSyncApp.<name>` in a Jupyter config file). The
objects that outlive a request (the OAuth state table, the job runner, the prompt state) make
up one `DriveSyncService`, built in `initialize_settings` and handed to the handlers as an
init kwarg.
"""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path
from typing import Any

from jupyter_server.extension.application import ExtensionApp
from traitlets import Enum, Float, Int, List, Unicode, default

from ..core import settings as cfg
from ..core.errors import ConfigError
from ..core.model import DeletePolicy, Policy
from ..core.options import UPLOAD_ORDERS, WORK_FIRST
from .handlers import route_table
from .jobs import EXTERNAL_JOB_ID
from .service import DriveSyncService


# The extension's own config file (`<name>.json` or `<name>.py` in any Jupyter config dir).
CONFIG_FILE_NAME = "jupyter_drive_sync_config"


def _fetch_json(url: str, timeout: float = 10.0) -> dict[str, Any]:
    """GET a small JSON document (the emulator's client secrets) at start-up."""
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
        help="Drive folder (under My Drive) that mirrors the home; `{username}` (or `{user}`) is replaced.",
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

    upload_order = Enum(
        list(UPLOAD_ORDERS),
        default_value=WORK_FIRST,
        help="""What a push sends first: work-first (notebooks, then code and text, newest first,
        then data and media, so a push stopped part-way holds the student's work) or path
        (folders, then files by path).""",
    ).tag(config=True)

    write_rate = Float(
        None,
        allow_none=True,
        help="""Writes per second a push sends for the student's Google account. Default (None):
        $JUPYTER_DRIVE_SYNC_WRITE_RATE, else Google's documented sustained limit of 3 per second
        per account, which cannot be raised; 0 sends them unpaced (an emulator without a limit).
        A negative, NaN or infinite value stops the extension at start-up.""",
    ).tag(config=True)

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

    @default("config_file_name")
    def _config_file_name_default(self) -> str:
        """`jupyter_drive_sync_config.{json,py}` in any Jupyter config dir (e.g. /etc/jupyter/).

        ExtensionApp would derive `jupyter_jupyter_drive_sync_config` from `name`, which nobody
        guesses. `jupyter_server_config.json`, `jupyter_config.json` and the command line work too.
        """
        return CONFIG_FILE_NAME

    def _warn_ignored_config_d(self) -> None:
        """Say so when DriveSyncApp settings sit in a `jupyter_server_config.d/` folder.

        Jupyter Server reads only `ServerApp.jpserver_extensions` from those folders, so such
        settings are dropped without a word, and the student meets the consequences.
        """
        for folder in self.config_file_paths:
            for path in sorted(Path(folder, "jupyter_server_config.d").glob("*.json")):
                try:
                    data = json.loads(path.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    continue
                if isinstance(data, dict) and "DriveSyncApp" in data:
                    self.log.warning(
                        "drive-sync: IGNORED %s: Jupyter Server reads only ServerApp.jpserver_extensions "
                        "from config.d folders; put the DriveSyncApp settings in %s",
                        path, Path(folder, CONFIG_FILE_NAME + ".json"),
                    )

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
        # The CLI's one rule for the trait, else $JUPYTER_DRIVE_SYNC_WRITE_RATE: -1, NaN or infinity
        # stop the extension at start-up (ConfigError) instead of silently turning pacing off. Not a
        # traitlets @validate: Jupyter Server logs a config TraitError, rolls back *every* DriveSyncApp
        # setting and then loads the extension anyway, with all of the admin's config dropped.
        cfg.resolve_write_rate(self.write_rate, name="DriveSyncApp.write_rate")
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
            order=self.upload_order,
            write_rate=self.write_rate,
        )

    def initialize_settings(self) -> None:
        self._warn_ignored_config_d()
        try:
            settings = self.build_sync_settings()
        except ConfigError as exc:  # Jupyter Server then logs the traceback and serves without us
            self.log.error("drive-sync: NOT started: %s", exc)
            raise
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
            self.service.folder(),
            "configured" if self.service.auth.configured else "NOT configured (set client_secrets_file)",
        )

    def initialize_handlers(self) -> None:
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


__all__ = ["DriveSyncApp"]
