"""A real JupyterHub, set up from docs/ADMIN.md, for the two-student test.

What comes from the guide, read from its code blocks every run (so the test breaks when the
guide does): the DriveSyncApp config file (path and content), the drive-sync part of
`jupyterhub_config.py`, the emulator-trial additions and the nightly script. Every absolute
path they name under /etc/ is mapped under this test's prefix dir, /home to its homes root,
`https://hub.example.org/` to this hub, and the trial's emulator address to this emulator.

What is this test's own (a hub admin's choice, not drive-sync's): DummyAuthenticator,
SimpleLocalProcessSpawner (homes under the prefix, servers as this machine's user),
configurable-http-proxy from node_modules (`jlpm install`, run by `make test`), free ports on
127.0.0.1, and JUPYTER_CONFIG_PATH pointing the single-user servers at the mapped /etc/jupyter.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
import yaml

from jupyter_drive_sync.emulator.server import start_in_thread
from jupyter_drive_sync.emulator.settings import EmulatorSettings

from tests.support.server_process import free_port, headless_chromium, log_tail, stop_process, wait_until_serving

REPO = Path(__file__).resolve().parents[2]
# Another copy of the guide (e.g. one naming an old settings location) can be tried with
# DRIVE_SYNC_ADMIN_GUIDE=<file>, without touching docs/ADMIN.md.
GUIDE = Path(os.environ.get("DRIVE_SYNC_ADMIN_GUIDE") or REPO / "docs" / "ADMIN.md")
CHP = REPO / "node_modules" / ".bin" / "configurable-http-proxy"
CHROMIUM = os.environ.get("DRIVE_SYNC_CHROMIUM", "/usr/bin/chromium")
VENV_BIN = Path(sys.executable).parent
PASSWORD = "correct-horse"
GUIDE_HUB_URL = "https://hub.example.org/"
GUIDE_TRIAL_HUB_URL = "http://127.0.0.1:8000/"
GUIDE_TRIAL_EMULATOR_URL = "http://127.0.0.1:8765/"

# No skip when a piece is missing: a hub test that silently does not run would hide a broken guide.
if not CHP.exists():  # pragma: no cover - `make test` runs `jlpm install`
    raise pytest.UsageError(f"{CHP} missing: run `jlpm install` (package.json's devDependencies)")
if not Path(CHROMIUM).exists():  # pragma: no cover - `make test` installs it
    raise pytest.UsageError(f"{CHROMIUM} missing: run `make browser` (apt-get install chromium)")


# ------------------------------------------------------------------ what the guide says


@dataclass(frozen=True)
class Guide:
    """The code blocks of docs/ADMIN.md that a hub admin copies, as the guide prints them."""

    config_path: str          # where the DriveSyncApp settings go (other hubs)
    config_text: str          # ... and what the file holds
    z2jh_values: dict[str, Any]
    hub_config: str           # the drive-sync part of jupyterhub_config.py
    trial_hub_config: str     # what the emulator trial adds to it
    nightly_path: str
    nightly_script: str
    trial_nightly_env: dict[str, str]
    trial_client_body: str    # what the emulator trial POSTs to /_emulator/clients


def _blocks(text: str) -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in re.finditer(r"^```(\w*)\n(.*?)^```", text, re.M | re.S)]


def _one(found: list[Any], what: str) -> Any:
    if len(found) != 1:
        raise AssertionError(f"docs/ADMIN.md must have exactly one {what}; found {len(found)}")
    return found[0]


def read_guide(path: Path = GUIDE) -> Guide:
    """Each block found by what an admin sees first in it (a `tee` target, a comment line, the
    shebang), so that rewording the prose around them never breaks the test, but moving the
    settings file, renaming the script or dropping a line from a block does."""
    blocks = _blocks(path.read_text(encoding="utf-8"))
    tees = [m for lang, body in blocks if lang == "sh"
            for m in re.finditer(r"tee (/\S+) <<'EOF'\n(.*?)\nEOF\n", body, re.S)]
    config = _one([m for m in tees if m.group(1).startswith("/etc/jupyter/")],
                  "`tee /etc/jupyter/... <<'EOF'` block (the DriveSyncApp config file)")
    values = _one([yaml.safe_load(body) for lang, body in blocks
                   if lang == "yaml" and body.startswith("singleuser:")], "Zero to JupyterHub config.yaml block")
    hub = _one([body for lang, body in blocks
                if lang == "python" and body.startswith("# jupyterhub_config.py: the drive-sync part")],
               "`# jupyterhub_config.py: the drive-sync part` block")
    trial = _one([body for lang, body in blocks
                  if lang == "python" and body.startswith("# jupyterhub_config.py: only while trying")],
                 "`# jupyterhub_config.py: only while trying against the emulator` block")
    nightly = _one([body for lang, body in blocks if lang == "sh" and body.startswith("#!/bin/sh\n")
                    and "jupyter-drive-sync hub --homes-root" in body], "nightly script (#!/bin/sh)")
    nightly_path = _one(re.findall(r"^# (/\S+\.sh)\b", nightly, re.M), "nightly script path comment")
    run_by_hand = _one([m for lang, body in blocks if lang == "sh"
                        for m in re.finditer(rf"^sudo ((?:\w+=\S+ )+){re.escape(nightly_path)}$", body, re.M)],
                       "line running the nightly script by hand against the emulator")
    trial_env = dict(pair.split("=", 1) for pair in run_by_hand.group(1).split())
    client_body = _one([m.group(1) for lang, body in blocks if lang == "sh"
                        for m in re.finditer(r"curl -s -X POST \S+/_emulator/clients \\\n\s+-d '([^']*)'", body)],
                       "`curl -s -X POST .../_emulator/clients -d '...'` line")
    return Guide(config.group(1), config.group(2), values, hub, trial, nightly_path, nightly, trial_env,
                 client_body)


# ------------------------------------------------------------------ the hub


class Hub:
    """A `jupyterhub` process configured by this test plus the guide's blocks, mapped under `prefix`."""

    def __init__(self, prefix: Path, emulator_url: str, guide: Guide) -> None:
        self.prefix = prefix
        self.homes = prefix / "home"
        self.emulator_url = emulator_url
        self.guide = guide
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.key = ""
        self.log_path = prefix / "jupyterhub.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def mapped(self, text: str) -> str:
        """The guide's text with its machine's places replaced by this test's."""
        text = text.replace(GUIDE_HUB_URL, self.url).replace(GUIDE_TRIAL_HUB_URL, self.url)
        text = text.replace(GUIDE_TRIAL_EMULATOR_URL, self.emulator_url)
        text = re.sub(r"(?<![\w.])/etc/", f"{self.prefix}/etc/", text)
        return re.sub(r"--homes-root /home\b", f"--homes-root {self.homes}", text)

    def path(self, guide_path: str) -> Path:
        return Path(self.mapped(guide_path))

    @property
    def redirect_uri(self) -> str:
        return f"{self.url}hub/user-redirect/drive-sync/oauth2callback"

    def write_admin_files(self, client_secrets: dict[str, Any]) -> None:
        """What the guide has the admin put on the machine: key, client secrets, config file, nightly script."""
        secrets_dir = self.prefix / "etc" / "jupyter-drive-sync"
        secrets_dir.mkdir(parents=True, exist_ok=True)
        from cryptography.fernet import Fernet

        self.key = Fernet.generate_key().decode()
        (secrets_dir / "encryption-key").write_text(self.key + "\n")
        (secrets_dir / "client_secrets.json").write_text(json.dumps(client_secrets))
        config = self.path(self.guide.config_path)
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(self.mapped(self.guide.config_text))
        nightly = self.path(self.guide.nightly_path)
        nightly.parent.mkdir(parents=True, exist_ok=True)
        nightly.write_text(self.mapped(self.guide.nightly_script))
        nightly.chmod(0o755)

    def hub_config(self) -> str:
        lab_settings = self.prefix / "lab-settings"
        notif = lab_settings / "@jupyterlab/apputils-extension/notification.jupyterlab-settings"
        notif.parent.mkdir(parents=True, exist_ok=True)
        notif.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))  # no toasts over the status bar
        own = f"""
c = get_config()  # noqa: F821
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {self.port}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {free_port()}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{free_port()}"
c.ConfigurableHTTPProxy.command = [{str(CHP)!r}]
c.ConfigurableHTTPProxy.pid_file = {str(self.prefix / 'proxy.pid')!r}
c.JupyterHub.db_url = "sqlite:///{self.prefix / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = {str(self.prefix / 'cookie_secret')!r}
c.JupyterHub.pid_file = {str(self.prefix / 'jupyterhub.pid')!r}
c.JupyterHub.cleanup_servers = True
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = {PASSWORD!r}
c.Authenticator.allowed_users = {{"ana", "bo"}}
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = {str(self.homes) + '/{username}'!r}
c.Spawner.cmd = [{str(VENV_BIN / 'jupyterhub-singleuser')!r}]
c.Spawner.args = ["--allow-root", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 90
c.Spawner.http_timeout = 90
c.Spawner.environment = {{
    "JUPYTER_CONFIG_PATH": {str(self.prefix / 'etc' / 'jupyter')!r},  # the guide's /etc/jupyter
    "JUPYTERLAB_SETTINGS_DIR": {str(lab_settings)!r},
    "JUPYTER_DRIVE_SYNC_WRITE_RATE": "0",  # the test emulator has no write limit (tests/conftest.py)
}}
"""
        return "\n".join([own, self.mapped(self.guide.hub_config), self.mapped(self.guide.trial_hub_config)])

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("JUPYTERHUB_", "JUPYTER_DRIVE_SYNC_", "JUPYTER_CONFIG", "JUPYTERLAB_", "JPY_"))}
        env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
        return env

    def start(self) -> "Hub":
        self.homes.mkdir(parents=True, exist_ok=True)
        (self.prefix / "jupyterhub_config.py").write_text(self.hub_config())
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [str(VENV_BIN / "jupyterhub"), "-f", str(self.prefix / "jupyterhub_config.py")],
            cwd=self.prefix, env=self.env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_until_serving(self.proc, self.url + "hub/api", "jupyterhub", self.log_path)
        return self

    def log_tail(self, n: int = 4000) -> str:
        return log_tail(self.log_path, n)

    def stop(self) -> None:
        """SIGTERM to the hub: it stops the single-user servers and the proxy it started."""
        stop_process(self.proc, timeout=30)

    def run_nightly(self) -> subprocess.CompletedProcess[str]:
        """The guide's nightly script, run by hand as its emulator trial says."""
        env = self.env()
        env.update({k: self.mapped(v) for k, v in self.guide.trial_nightly_env.items()})
        env["JUPYTER_DRIVE_SYNC_WRITE_RATE"] = "0"
        return subprocess.run(["/bin/sh", str(self.path(self.guide.nightly_path))], env=env,
                              capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def guide() -> Guide:
    return read_guide()


@pytest.fixture(scope="module")
def hub_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The stand-in for Google: consent is clicked by the student, like Google's page."""
    running = start_in_thread(EmulatorSettings(data_dir=tmp_path_factory.mktemp("emulator"),
                                               persistent=False, auto_consent=False))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, hub_emulator: Any, guide: Guide) -> Iterator[Hub]:
    prefix = tmp_path_factory.mktemp("hub-prefix")
    hub = Hub(prefix, hub_emulator.url, guide)
    # The Google console step, on the emulator, with the guide's request: a web client whose one
    # redirect URI is the hub's (checked here, so a guide naming another URI fails at once).
    body = hub.mapped(guide.trial_client_body)
    assert json.loads(body) == {"type": "web", "redirect_uris": [hub.redirect_uri]}, body
    resp = requests.post(hub_emulator.url + "_emulator/clients", data=body, timeout=10)
    resp.raise_for_status()
    hub.write_admin_files(resp.json()["client_secrets"])
    try:
        yield hub.start()
    finally:
        hub.stop()  # also when it failed to start: no hub or proxy left behind


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    import playwright.sync_api as sync_api

    sync_api.expect.set_options(timeout=30_000)
    with headless_chromium(CHROMIUM) as b:
        yield b
