"""A Jupyter server with the drive-sync extension, wired to the test's Drive emulator: the
fixtures every server test module needs, written once.

Use with `from tests.support.server_fixtures import *` in a conftest or a test module: it brings in
pytest-jupyter's fixtures, then overrides `jp_server_config` (which must come after them).
Kept out of tests/conftest.py on purpose: pytest-jupyter's autouse clean-ups would slow down
every other test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from pytest_jupyter.jupyter_server import *  # noqa: F401,F403 - the server fixtures, re-exported

from tests.support.helpers import Session

HUB_VARS = (
    "JUPYTERHUB_SERVICE_PREFIX",
    "JUPYTERHUB_API_URL",
    "JUPYTERHUB_PUBLIC_HUB_URL",
    "JUPYTERHUB_BASE_URL",
    "JUPYTERHUB_USER",
)


@pytest.fixture
def fernet_key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture
def standalone_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No JupyterHub variables leak in from the machine running the tests."""
    for name in HUB_VARS + ("JUPYTER_DRIVE_SYNC_KEY", "JUPYTER_DRIVE_SYNC_API_ROOT"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def registered_redirect_uri(emulator: Any, jp_http_port: int, jp_base_url: str) -> str:
    """This test server's standalone callback, authorized for the emulator's built-in web client,
    as an admin adds it to a web client in Google's console: like Google's, that client accepts
    no other redirect URI, so a server that sends a wrong one fails its sign-in."""
    uri = f"http://127.0.0.1:{jp_http_port}{jp_base_url}drive-sync/oauth2callback"
    emulator.register_redirect_uri(uri)
    return uri


@pytest.fixture
def drive_sync_config(emulator: Any, fernet_key: str, registered_redirect_uri: str) -> dict[str, Any]:
    """`c.DriveSyncApp` for the tests; override in a module to change it."""
    return {"emulator_url": emulator.url, "encryption_key": fernet_key, "status_check_interval": 0.0}


@pytest.fixture
def jp_server_config(standalone_env: None, drive_sync_config: dict[str, Any]) -> dict[str, Any]:
    return {
        "ServerApp": {
            "jpserver_extensions": {"jupyter_drive_sync": True},
            "allow_unauthenticated_access": False,
        },
        "DriveSyncApp": drive_sync_config,
    }


@pytest.fixture
def home(jp_root_dir: Path) -> Path:
    """The server's root_dir, which the extension backs up by default."""
    return Path(jp_root_dir)


@pytest.fixture
def api(jp_fetch: Any) -> Session:
    """A browser-like client of the server (one Jupyter user throughout)."""
    return Session(jp_fetch)


@pytest.fixture
def service(jp_serverapp: Any) -> Any:
    """The extension's long-lived service object (for white-box checks only)."""
    app = jp_serverapp.web_app.settings["jupyter_drive_sync"]
    return app.service
