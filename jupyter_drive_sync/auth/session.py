"""Open one home for a run: check it, take its lock, reach its Drive with the stored credentials.

Push, restore and the restore dialog's listing all start this way; one copy keeps them from
disagreeing about which credentials file a home uses or what "not connected" means (whose
folder a home is: `core.settings.resolve_username` and `folder_name`).
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from google.oauth2.credentials import Credentials

from ..core.errors import ConfigError, NotConnected
from ..core.settings import default_credentials_path, state_dir
from ..drive.client import DriveClient
from ..drive.pacing import Pacer
from ..home.lock import HomeLock
from .credentials import CredentialsError, CredentialStore

log = logging.getLogger(__name__)


def require_home(home: Path) -> None:
    if not home.is_dir():
        raise ConfigError(f"the home folder {home} does not exist or is not a folder")


@contextmanager
def home_lock(home: Path, kind: str, wait: float = 0.0) -> Iterator[HomeLock]:
    """Hold the home's lock (one push or restore at a time) for the `with` block; AlreadyRunning
    if another run keeps it longer than `wait` seconds."""
    lock = HomeLock(state_dir(home), kind=kind)
    lock.acquire(timeout=wait)
    try:
        yield lock
    finally:
        lock.release()


def connect(home: Path, credentials_path: Path | None, key: str | None, api_root: str,
            pacer: Pacer | None = None, **sizes: float) -> DriveClient:
    """A Drive client with the home's stored credentials (refreshed tokens are saved back);
    NotConnected when there are none or they cannot be read. `sizes`: DriveClient's upload sizes
    and write pacing (`write_rate`, `write_burst`)."""
    try:
        store = CredentialStore(credentials_path or default_credentials_path(home), key)  # a bad key raises
        creds = store.load()
    except CredentialsError as exc:
        raise NotConnected(str(exc)) from exc
    if creds is None:
        raise NotConnected("Google Drive is not connected for this home: run `jupyter-drive-sync auth` first")
    return DriveClient(creds, api_root=api_root, pacer=pacer, on_credentials_refreshed=_save_unless_replaced(store, creds),
                       **sizes)


def _save_unless_replaced(store: CredentialStore, creds: Credentials) -> Callable[[Credentials], None]:
    """Write refreshed tokens back, but only while the file still holds this grant.

    A long push refreshes its token every hour; if the student disconnected meanwhile, or
    reconnected (perhaps another Google account), writing the run's copy back would bring the
    forgotten grant back over the new one.
    """
    expected = [creds.refresh_token]

    def save(refreshed: Credentials) -> None:
        try:
            current = store.load()
        except CredentialsError:
            current = None
        if current is None or current.refresh_token != expected[0]:
            log.info("the stored Google sign-in changed during the run; its refreshed token is not saved")
            return
        store.save(refreshed)
        expected[0] = refreshed.refresh_token

    return save
