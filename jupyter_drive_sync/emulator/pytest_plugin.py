"""A pytest plugin: a fresh Drive emulator per test, reached over real HTTP.

Load it with `pytest_plugins = ["jupyter_drive_sync.emulator.pytest_plugin"]` in a root
conftest. Shipped with the emulator (and, like it, free of client code) so that any suite
that talks to Drive can run against an emulator without copying fixtures.

Usage::

    def test_x(emulator):
        acct = emulator.create_account("ann@example.edu")   # {email, refresh_token, access_token, ...}
        creds = Credentials(acct["access_token"], refresh_token=acct["refresh_token"],
                            token_uri=emulator.url + "token", **emulator.client_ids())
        ... build the Drive service against emulator.url ...
        assert emulator.stats()["requests"] == 3

To change the emulator's settings for a module, override `emulator_settings` there, e.g.
`return dataclasses.replace(default, latency_ms=30)`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

from .context import EmulatorContext
from .server import RunningEmulator, start_in_thread
from .settings import EmulatorSettings


def pytest_configure(config: pytest.Config) -> None:
    """oauthlib refuses http:// endpoints without this (reference, trap 4); the emulator is http."""
    os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"


class EmulatorHandle:
    """A running emulator plus the admin API as small helpers (real HTTP via `requests`)."""

    def __init__(self, running: RunningEmulator) -> None:
        self.running = running
        self.url: str = running.url  # "http://127.0.0.1:PORT/"
        self.ctx: EmulatorContext = running.ctx
        self.http = requests.Session()

    def _admin(self, method: str, path: str, **kw: Any) -> Any:
        resp = self.http.request(method, self.url + path, timeout=30, **kw)
        resp.raise_for_status()
        return resp.json()

    def create_account(self, email: str, **extra: Any) -> dict[str, Any]:
        """POST /_emulator/accounts: `{email, refresh_token, access_token, ...}` (drive.file scope)."""
        return self._admin("POST", "_emulator/accounts", json={"email": email, **extra})

    def update_account(self, email: str, **fields: Any) -> dict[str, Any]:
        """PATCH /_emulator/accounts/<email>, e.g. `storage_quota_bytes=10`."""
        return self._admin("PATCH", f"_emulator/accounts/{email}", json=fields)

    def stats(self) -> dict[str, Any]:
        return self._admin("GET", "_emulator/stats")

    def reset_stats(self) -> None:
        self._admin("POST", "_emulator/stats/reset")

    def set_faults(self, rate: float, kinds: list[str] | None = None, seed: int | None = None,
                   **extra: Any) -> dict[str, Any]:
        """POST /_emulator/faults; `rate=0` turns faults off. kinds default: the seven random kinds.
        `routes=["POST /upload/drive/v3/files", ...]` limits faults to those calls."""
        return self._admin("POST", "_emulator/faults", json={"rate": rate, "kinds": kinds, "seed": seed, **extra})

    def files(self, email: str) -> list[dict[str, Any]]:
        """Every file of the account, trashed too (admin view, ignores drive.file visibility)."""
        return self._admin("GET", f"_emulator/accounts/{email}/files")["files"]

    def client_secrets(self, client_id: str | None = None) -> dict[str, Any]:
        """A client-secrets document as Google's console downloads it: the built-in web client's
        `{"web": {...}}`, or that of `client_id` (`{"web": ...}` or `{"installed": ...}`)."""
        params = {"client_id": client_id} if client_id else None
        return self._admin("GET", "_emulator/client_secrets.json", params=params)

    def client_ids(self) -> dict[str, str]:
        """`client_id` and `client_secret` of the built-in client (for `Credentials(...)`)."""
        web = self.client_secrets()["web"]
        return {"client_id": web["client_id"], "client_secret": web["client_secret"]}

    def create_client(self, redirect_uris: list[str] | None = None, client_type: str = "web") -> dict[str, Any]:
        """Another OAuth client (drive.file visibility is per client): a `web` one accepts exactly
        `redirect_uris`; an `installed` (Desktop) one any loopback redirect and takes no URIs.
        Returns `{client_id, client_secret, type, redirect_uris, client_secrets}`."""
        body = {"redirect_uris": redirect_uris or [], "type": client_type}
        return self._admin("POST", "_emulator/clients", json=body)

    def register_redirect_uri(self, *uris: str, client_id: str | None = None) -> None:
        """Authorize more redirect URIs for a web client (default: the built-in one), as an admin
        adds them to the client in Google's console: a web client accepts no other."""
        client_id = client_id or self.client_ids()["client_id"]
        self._admin("POST", "_emulator/clients", json={"client_id": client_id, "redirect_uris": list(uris)})

    def settings(self, **changes: Any) -> dict[str, Any]:
        """Change latency, limits (write_rate, write_burst, quota_per_minute,
        project_quota_per_minute) or token lifetimes while running; returns them all."""
        return self._admin("POST", "_emulator/settings", json=changes)

    def advance_clock(self, seconds: float) -> dict[str, Any]:
        """POST /_emulator/clock: the emulator lives `seconds` later (tokens, sessions, revisions)."""
        return self._admin("POST", "_emulator/clock", json={"advance_seconds": seconds})


@pytest.fixture
def emulator_settings(tmp_path: Path) -> EmulatorSettings:
    """Settings for the `emulator` fixture; override in a test module to change them."""
    return EmulatorSettings(data_dir=tmp_path / "emulator-data", persistent=False, auto_consent=True)


@pytest.fixture
def emulator(emulator_settings: EmulatorSettings) -> Iterator[EmulatorHandle]:
    """A fresh emulator for this test (own port, own data dir), stopped afterwards."""
    running = start_in_thread(emulator_settings)
    handle = EmulatorHandle(running)
    try:
        yield handle
    finally:
        handle.http.close()
        running.stop()
