"""Settings shared by the server extension, the CLI and the nightly hub job.

One place decides the defaults (where state lives, which key encrypts the credentials, which
redirect URI Google sees), so the three entry points can never disagree about a user's files.
Nothing here does network I/O.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit

from .errors import ConfigError
from .model import DeletePolicy, Policy

GOOGLE_API_ROOT = "https://www.googleapis.com/"
DEFAULT_FOLDER_TEMPLATE = "home/{username}"
# The tool's own folder inside a home (state DB, lock, credentials, records): never pushed, and
# reached without following symlinks from the home down (see home/private_dir.py).
STATE_DIR_REL = ".local/share/jupyter/drive_sync"
CREDENTIALS_FILENAME = "credentials.json"
KEY_ENV = "JUPYTER_DRIVE_SYNC_KEY"
API_ROOT_ENV = "JUPYTER_DRIVE_SYNC_API_ROOT"
WRITE_RATE_ENV = "JUPYTER_DRIVE_SYNC_WRITE_RATE"  # writes/s per account; 0 = unpaced (test emulators)
CLIENT_SECRETS_ENV = "JUPYTER_DRIVE_SYNC_CLIENT_SECRETS"
CALLBACK_PATH = "drive-sync/oauth2callback"
HUB_USER_REDIRECT = "hub/user-redirect/"
DEFAULT_WORKERS = 16  # uploads in flight per push: at ~30 ms a request, 8 could not fill the 200/s quota

# Environment variables JupyterHub sets in every single-user server.
HUB_MARKERS = ("JUPYTERHUB_SERVICE_PREFIX", "JUPYTERHUB_API_URL")


def state_dir(home: str | os.PathLike[str]) -> Path:
    """`<home>/.local/share/jupyter/drive_sync`: state DB, lock, credentials and records live here."""
    return Path(home) / STATE_DIR_REL


def default_credentials_path(home: str | os.PathLike[str]) -> Path:
    """Where a home's Google grant is kept unless the admin names another file."""
    return state_dir(home) / CREDENTIALS_FILENAME


def resolve_encryption_key(
    explicit: str | None = None, environ: Mapping[str, str] | None = None
) -> str | None:
    """An explicit key wins, else `JUPYTER_DRIVE_SYNC_KEY`; empty means "no encryption"."""
    env = os.environ if environ is None else environ
    key = explicit or env.get(KEY_ENV, "")
    return key.strip() or None


def resolve_write_rate(
    explicit: float | None = None, environ: Mapping[str, str] | None = None, *, name: str = "write_rate"
) -> float | None:
    """Writes per second per account: the explicit value, else `JUPYTER_DRIVE_SYNC_WRITE_RATE`,
    else None (the Drive client's default, Google's documented rate).

    The one rule for every entry point (CLI flags, the hub job, the server's trait, the Drive
    client): a finite number, 0 or more; 0 sends writes unpaced (README, DriveSyncApp.write_rate).
    Anything else is a ConfigError naming its source (`name` for an explicit value, else the
    variable), so a typo never silently turns pacing off or stalls every write.
    """
    if explicit is not None:
        return _checked_rate(explicit, name, f"{explicit:g}" if isinstance(explicit, (int, float)) else repr(explicit))
    env = os.environ if environ is None else environ
    text = env.get(WRITE_RATE_ENV, "").strip()
    if not text:
        return None
    return _checked_rate(text, WRITE_RATE_ENV, repr(text))


def _checked_rate(value: object, source: str, shown: str) -> float:
    """`value` as a rate of writes per second, or a one-line ConfigError saying what is allowed."""
    try:
        rate = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        rate = math.nan
    if not 0 <= rate < math.inf:  # also refuses NaN
        raise ConfigError(f"{source} must be a number of writes per second, 0 or more (0: unpaced), not {shown}")
    return rate


def resolve_api_root(explicit: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    root = explicit or env.get(API_ROOT_ENV, "") or GOOGLE_API_ROOT
    return root if root.endswith("/") else root + "/"


def resolve_username(
    home: str | os.PathLike[str], given: str | None = None, environ: Mapping[str, str] | None = None
) -> str:
    """Whose folder this is: the name given (a CLI flag, the hub job), else the hub's user name
    when there is one, else the home's basename.

    Under JupyterHub every home is mounted at the same path (`/home/jovyan`), so the basename
    alone would put every student in the same Drive folder name.
    """
    if given:
        return given
    env = os.environ if environ is None else environ
    return env.get("JUPYTERHUB_USER") or Path(home).resolve().name or "user"


def folder_name(template: str, username: str) -> str:
    """The backup folder's path under My Drive, e.g. `home/alice` for `home/{username}`.

    Both `{username}` and `{user}` name the user. Status shows and push creates exactly this
    path (empty components dropped), so the two can never disagree. ConfigError for a template
    that cannot be formatted or names no folder.
    """
    try:
        text = template.format(username=username, user=username)
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigError(f"bad folder template {template!r}: {exc}") from exc
    parts = [p for p in text.split("/") if p]
    if not parts:
        raise ConfigError("the Drive folder template names no folder")
    return "/".join(parts)


def under_jupyterhub(environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return any(env.get(name) for name in HUB_MARKERS)


def _join(base: str, *parts: str) -> str:
    """Join URL pieces with exactly one slash between them."""
    out = base.rstrip("/")
    for part in parts:
        part = part.strip("/")
        if part:  # base_url "/" adds nothing (else "http://host//drive-sync/...")
            out += "/" + part
    return out


def hub_redirect_uri(hub_url: str) -> str:
    """`<hub>/hub/user-redirect/drive-sync/oauth2callback` from either form of the hub's URL.

    JupyterHub's public URL is documented both as the whole hub (`https://hub.example.org/`)
    and, in `JUPYTERHUB_PUBLIC_HUB_URL`, with the hub prefix (`https://hub.example.org/hub/`);
    accept both rather than produce `/hub/hub/`.
    """
    base = hub_url.rstrip("/")
    if urlsplit(base).path.endswith("/hub"):
        base = base[: -len("/hub")]
    return _join(base, HUB_USER_REDIRECT, CALLBACK_PATH)


def redirect_uri(
    *,
    configured: str | None = None,
    hub_public_url: str | None = None,
    server_url: str | None = None,
    base_url: str = "/",
    environ: Mapping[str, str] | None = None,
) -> str:
    """The OAuth redirect URI Google must send the browser back to.

    Precedence: an explicit trait; under JupyterHub the hub's single user-redirect URI (the
    configured hub URL, else `JUPYTERHUB_PUBLIC_HUB_URL`, else the origin the browser used
    with `JUPYTERHUB_BASE_URL`); standalone, this server's own URL + base_url.
    `server_url` is the origin the browser reached us at (`http://localhost:8888`).
    """
    env = os.environ if environ is None else environ
    if configured:
        return configured
    if under_jupyterhub(env):
        hub = hub_public_url or env.get("JUPYTERHUB_PUBLIC_HUB_URL", "")
        if not hub:
            if not server_url:
                raise ValueError("cannot tell the hub's public URL: set DriveSyncApp.hub_public_url")
            hub = _join(server_url, env.get("JUPYTERHUB_BASE_URL", "/"))
        return hub_redirect_uri(hub)
    if not server_url:
        raise ValueError("cannot tell this server's URL: set DriveSyncApp.redirect_uri")
    return _join(server_url, base_url, CALLBACK_PATH)


@dataclass(slots=True)
class SyncSettings:
    """Everything one home's push, status or auth needs, already resolved to concrete values."""

    home: Path
    username: str
    api_root: str = GOOGLE_API_ROOT
    client_secrets_file: Path | None = None
    client_config: dict[str, Any] | None = None  # parsed client secrets (wins over the file)
    credentials_path: Path | None = None
    encryption_key: str | None = None
    folder_template: str = DEFAULT_FOLDER_TEMPLATE
    policy: Policy = Policy.LAST_WRITE_WINS
    delete_policy: DeletePolicy = DeletePolicy.KEEP
    workers: int = DEFAULT_WORKERS
    excludes: tuple[str, ...] = field(default_factory=tuple)
    # push only (core/options.push_options); None: PushOptions' default
    order: str | None = None  # "work-first" | "path"
    write_rate: float | None = None  # writes/s for this account (None: Google's documented rate)
    write_burst: float | None = None

    @classmethod
    def for_home(
        cls,
        home: str | os.PathLike[str],
        *,
        environ: Mapping[str, str] | None = None,
        api_root: str | None = None,
        client_secrets_file: str | os.PathLike[str] | None = None,
        credentials_path: str | os.PathLike[str] | None = None,
        encryption_key: str | None = None,
        username: str | None = None,
        **rest: Any,
    ) -> "SyncSettings":
        """Fill every default from the home and the environment (CLI flags override)."""
        env = os.environ if environ is None else environ
        home_path = Path(home).expanduser().resolve()
        secrets = client_secrets_file or env.get(CLIENT_SECRETS_ENV) or None
        return cls(
            home=home_path,
            username=resolve_username(home_path, username, env),
            api_root=resolve_api_root(api_root, env),
            client_secrets_file=Path(secrets) if secrets else None,
            credentials_path=Path(credentials_path) if credentials_path else None,
            encryption_key=resolve_encryption_key(encryption_key, env),
            **rest,
        )

    @property
    def state_dir(self) -> Path:
        return state_dir(self.home)

    @property
    def credentials_file(self) -> Path:
        return self.credentials_path or default_credentials_path(self.home)

    def load_client_config(self) -> dict[str, Any] | None:
        """The OAuth client (`web` or `installed` secrets), or None when none is configured."""
        if self.client_config is not None:
            return self.client_config
        if self.client_secrets_file is None:
            return None
        try:
            with open(self.client_secrets_file, encoding="utf-8") as fh:
                config = json.load(fh)
        except (OSError, ValueError) as exc:  # a Secret not mounted here, a truncated file
            raise ConfigError(f"cannot read the OAuth client secrets {self.client_secrets_file}: "
                              f"{getattr(exc, 'strerror', None) or exc}") from None
        if not isinstance(config, dict):
            raise ConfigError(f"the OAuth client secrets {self.client_secrets_file} are not a JSON object")
        return config

    def with_overrides(self, **changes: Any) -> "SyncSettings":
        return replace(self, **changes)

    def run_fields(self) -> dict[str, Any]:
        """The options every run (push, restore) takes from these settings, by field name."""
        return dict(
            home=self.home,
            user=self.username,
            folder_template=self.folder_template,
            api_root=self.api_root,
            credentials_path=self.credentials_file,
            encryption_key=self.encryption_key,
            workers=self.workers,
        )


def settings_from_args(args: Any) -> SyncSettings:
    """SyncSettings from the common CLI options (`--home`, `--api-root`, ...)."""
    return SyncSettings.for_home(
        args.home,
        api_root=getattr(args, "api_root", None),
        client_secrets_file=getattr(args, "client_secrets", None),
        credentials_path=getattr(args, "credentials", None),
        username=getattr(args, "user", None),
    )
