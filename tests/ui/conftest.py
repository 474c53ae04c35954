"""Real-browser UI tests: JupyterLab / Notebook 7 / nbclassic in headless Chromium (Playwright).

Each test gets a fresh Drive emulator (tests/conftest.py, real HTTP), a sample home, and a real
`jupyter lab` server process with the drive-sync extension wired to that emulator. The browser
is Debian's chromium (`make test` installs it); Playwright never downloads one.

Screenshots for the README are written when DRIVE_SYNC_SCREENSHOTS=<dir> is set.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

from jupyter_drive_sync.emulator.settings import EmulatorSettings

from tests.support.server_process import free_port, headless_chromium, stop_process, wait_until_serving

CHROMIUM = os.environ.get("DRIVE_SYNC_CHROMIUM", "/usr/bin/chromium")
USERNAME = "alice"
EMAIL = "alice@example.edu"

# No skip when the browser is missing: a UI suite that silently does not run would hide a
# broken frontend. `make test` installs both (playwright from the test extras, Debian's chromium).
import playwright.sync_api as sync_api  # noqa: E402

sync_api.expect.set_options(timeout=20_000)  # a loaded CI machine is slower than a laptop
if not Path(CHROMIUM).exists():  # pragma: no cover - `make test` installs it
    raise pytest.UsageError(f"{CHROMIUM} missing: run `make browser` (apt-get install chromium)")


def make_sample_home(home: Path, n_files: int = 40) -> list[str]:
    """A small student home: notebooks, data, a nested project, plus things never backed up."""
    files = {
        "intro.ipynb": json.dumps({
            "cells": [{"cell_type": "markdown", "id": "a1", "metadata": {}, "source": "# Week 1"}],
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
            "nbformat": 4, "nbformat_minor": 5,
        }),
        "README.md": "# My coursework\n",
        "project/analysis.py": "print('hello')\n",
        "project/data/measurements.csv": "t,x\n" + "".join(f"{i},{i * i}\n" for i in range(200)),
    }
    for i in range(n_files - len(files)):
        files[f"exercises/week{i // 10}/ex{i:02d}.txt"] = f"exercise {i}\n" * 50
    for rel, text in files.items():
        path = home / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    # Never backed up: caches and secrets.
    (home / ".cache").mkdir()
    (home / ".cache/big.bin").write_bytes(b"x" * 1000)
    (home / ".ssh").mkdir()
    (home / ".ssh/id_rsa").write_text("secret")
    return sorted(files)


class JupyterServer:
    """A `jupyter lab` process (which also serves Notebook 7 and nbclassic pages)."""

    def __init__(self, root: Path, home: Path, emulator_url: str, extra_args: list[str] | None = None) -> None:
        self.root = root
        self.home = home
        self.emulator_url = emulator_url
        self.extra_args = extra_args or []
        self.token = secrets.token_hex(16)
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = root / "jupyter.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def page_url(self, path: str) -> str:
        sep = "&" if "?" in path else "?"
        return f"{self.url}{path}{sep}token={self.token}"

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("JUPYTERHUB_", "JUPYTER_DRIVE_SYNC_", "JUPYTER_CONFIG", "JUPYTERLAB_"))}
        user_home = self.root / "userhome"
        settings = self.root / "lab-settings"
        # No news prompt; the toasts would cover the status bar.
        notif = settings / "@jupyterlab/apputils-extension/notification.jupyterlab-settings"
        notif.parent.mkdir(parents=True, exist_ok=True)
        notif.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
        env.update(
            HOME=str(user_home),
            JUPYTER_CONFIG_DIR=str(self.root / "jupyter-config"),
            JUPYTER_RUNTIME_DIR=str(self.root / "runtime"),
            JUPYTERLAB_SETTINGS_DIR=str(settings),
            JUPYTERLAB_WORKSPACES_DIR=str(self.root / "workspaces"),
            OAUTHLIB_INSECURE_TRANSPORT="1",
            JUPYTER_DRIVE_SYNC_WRITE_RATE="0",  # the test emulator has no write limit (tests/conftest.py)
        )
        user_home.mkdir(parents=True, exist_ok=True)
        return env

    def start(self) -> "JupyterServer":
        self.port = free_port()
        cmd = [
            sys.executable, "-m", "jupyterlab",
            "--no-browser", "--allow-root",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.home}",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            f"--DriveSyncApp.emulator_url={self.emulator_url}",
            "--DriveSyncApp.status_check_interval=0",
            "--DriveSyncApp.workers=1",
            *self.extra_args,
        ]
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, env=self._env(), stdout=log, stderr=subprocess.STDOUT, cwd=self.root)
        wait_until_serving(self.proc, self.url + "api/status", "jupyter lab", self.log_path,
                           params={"token": self.token}, tail=3000)
        return self

    def stop(self) -> None:
        stop_process(self.proc, timeout=15)

    def api(self, method: str, path: str, **kw: Any) -> requests.Response:
        """The server's REST API with the token (server-side checks, not UI)."""
        headers = {"Authorization": f"token {self.token}"}
        return requests.request(method, self.url + path, headers=headers, timeout=30, **kw)

    def status(self) -> dict[str, Any]:
        r = self.api("GET", "drive-sync/status")
        r.raise_for_status()
        return r.json()


@pytest.fixture
def emulator_settings(tmp_path: Path) -> EmulatorSettings:
    """Manual consent: the popup shows the emulator's consent page and the test clicks Allow."""
    return EmulatorSettings(data_dir=tmp_path / "emulator-data", persistent=False, auto_consent=False)


@pytest.fixture
def sample_home(tmp_path: Path) -> tuple[Path, list[str]]:
    home = tmp_path / USERNAME
    home.mkdir()
    return home, make_sample_home(home)


@pytest.fixture
def start_server(tmp_path: Path, emulator: Any, sample_home: tuple[Path, list[str]]) -> Iterator[Any]:
    """Call to start (or restart) a Jupyter server on the sample home; stopped after the test."""
    servers: list[JupyterServer] = []

    def start(extra_args: list[str] | None = None) -> JupyterServer:
        for s in servers:
            s.stop()
        server = JupyterServer(tmp_path, sample_home[0], emulator.url, extra_args).start()
        # The built-in client is a web client: like Google's, it accepts only the callback
        # registered for it, so this server's one is (the browser opens server.url).
        emulator.register_redirect_uri(server.url + "drive-sync/oauth2callback")
        servers.append(server)
        return server

    yield start
    for s in servers:
        s.stop()


@pytest.fixture
def server(start_server: Any) -> JupyterServer:
    return start_server()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    with headless_chromium(CHROMIUM) as b:
        yield b


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    ctx.set_default_timeout(30_000)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def page(context: Any) -> Iterator[Any]:
    """A browser tab; afterwards, no error from our extension may have reached the console.

    Errors are ours when their text or stack names our code (the bundle is served from
    .../labextensions/jupyter-drive-sync/, the classic one from nbextensions/jupyter_drive_sync/);
    Notebook 7 itself logs unrelated errors when a page is left while it is still loading.
    """
    tab = context.new_page()
    errors: list[str] = []
    tab.on("console", lambda m: errors.append(f"{m.text} @ {m.location.get('url', '')}") if m.type == "error" else None)
    tab.on("pageerror", lambda e: errors.append(f"uncaught: {e} {e.stack or ''}"))
    yield tab
    ours = [e for e in errors if re.search(r"drive[-_]?sync", e, re.I)]
    assert not ours, ours


def drive_paths(emulator: Any, email: str = EMAIL) -> set[str]:
    """Paths (relative to the backup folder home/<user>) of the account's untrashed files."""
    files = [f for f in emulator.files(email) if not f.get("trashed")]
    by_id = {f["id"]: f for f in files}

    def path(f: dict[str, Any]) -> str:
        parts = [f["name"]]
        parents = f.get("parents") or []
        while parents and parents[0] in by_id:
            f = by_id[parents[0]]
            parts.append(f["name"])
            parents = f.get("parents") or []
        return "/".join(reversed(parts))

    prefix = f"home/{USERNAME}/"
    return {path(f)[len(prefix):] for f in files
            if f["mimeType"] != "application/vnd.google-apps.folder" and path(f).startswith(prefix)}


def screenshot(page: Any, name: str, locator: Any | None = None) -> None:
    """Save a README screenshot when DRIVE_SYNC_SCREENSHOTS is set (never asserted)."""
    out = os.environ.get("DRIVE_SYNC_SCREENSHOTS")
    if not out:
        return
    Path(out).mkdir(parents=True, exist_ok=True)
    (locator or page).screenshot(path=str(Path(out) / f"{name}.png"))


def popup_opened_by(page: Any, button: Any) -> Any:
    """Click `button` and return the window it opens (the Google sign-in popup)."""
    with page.expect_popup() as popup_info:
        button.click()
    return popup_info.value


def close_menus(page: Any) -> None:
    """Close any open Lumino menu: Escape reaches a menu only when it has the focus (a submenu
    opened by hovering may not), so a click outside finishes the job."""
    menus = page.locator(".lm-Menu")
    for _ in range(2):
        if menus.count() == 0:
            return
        page.keyboard.press("Escape")
    if menus.count():
        page.mouse.click(5, page.viewport_size["height"] - 60)  # the left edge, above the status bar
    sync_api.expect(menus).to_have_count(0)


def connect_without_ui(page: Any, server: JupyterServer, emulator: Any, email: str = EMAIL) -> None:
    """Connect through the real routes with the emulator approving at once (for tests that
    start from a connected user): auth/start → consent (automatic) → oauth2callback."""
    emulator._admin("POST", "_emulator/consent", json={"auto": True, "email": email})
    page.goto(server.page_url("drive-sync/auth/start"))
    page.get_by_text("Google Drive is connected").first.wait_for()
    assert server.status()["connected"]
