"""The guide's settings file is one that Jupyter Server reads; a `config.d` file is not, and says so.

A real Jupyter Server process (no hub) with its config path pointed at a folder that stands for
/etc/jupyter: it prints the DriveSyncApp settings it ended up with.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import Guide

PROBE = r"""
import json, sys
from jupyter_core.paths import jupyter_config_path
from jupyter_server.extension.config import ExtensionConfigManager
from jupyter_server.serverapp import ServerApp
# Only ours: the other installed extensions (JupyterLab, Notebook...) take seconds to load.
found = ExtensionConfigManager(read_config_path=jupyter_config_path()).get_jpserver_extensions()
app = ServerApp(jpserver_extensions={name: name == "jupyter_drive_sync" for name in found})
app.initialize(argv=["--ServerApp.port=0", "--ServerApp.open_browser=False", "--ServerApp.root_dir=" + sys.argv[1]])
ext = app.extension_manager.extension_apps["jupyter_drive_sync"]
(drive,) = ext
print("SETTINGS " + json.dumps({"hub_public_url": drive.hub_public_url,
                                "client_secrets_file": drive.client_secrets_file}))
"""


def settings_read(etc_jupyter: Path, home: Path) -> tuple[dict[str, str], str]:
    """What DriveSyncApp read from `etc_jupyter` (as JUPYTER_CONFIG_PATH), and the server's log."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("JUPYTER_CONFIG", "JUPYTER_DRIVE_SYNC_", "JUPYTERHUB_"))}
    env.update(JUPYTER_CONFIG_PATH=str(etc_jupyter), JUPYTER_CONFIG_DIR=str(home / ".jupyter"), HOME=str(home))
    proc = subprocess.run([sys.executable, "-c", PROBE, str(home)], env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("SETTINGS "))
    return json.loads(line[len("SETTINGS "):]), proc.stderr


@pytest.fixture
def etc_jupyter(tmp_path: Path) -> Path:
    path = tmp_path / "etc" / "jupyter"
    path.mkdir(parents=True)
    return path


def guide_settings(guide: Guide) -> dict[str, str]:
    return json.loads(guide.config_text)["DriveSyncApp"]


def test_z2jh_values_write_the_same_file_as_the_other_hubs_section(guide: Guide) -> None:
    """One place for the settings in the whole guide: §3's extraFiles entry is §4's file."""
    files = guide.z2jh_values["singleuser"]["extraFiles"]
    entries = [f for f in files.values() if "DriveSyncApp" in f.get("data", {})]
    assert len(entries) == 1, files
    assert entries[0]["mountPath"] == guide.config_path
    assert entries[0]["data"] == json.loads(guide.config_text)


def test_the_guides_settings_file_is_read(guide: Guide, etc_jupyter: Path, tmp_path: Path) -> None:
    assert guide.config_path.startswith("/etc/jupyter/")
    target = etc_jupyter / Path(guide.config_path).relative_to("/etc/jupyter")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(guide.config_text)
    read, log = settings_read(etc_jupyter, tmp_path)
    assert read == guide_settings(guide)
    assert "IGNORED" not in log


def test_settings_in_a_config_d_folder_are_ignored_and_the_log_says_where_they_go(
    guide: Guide, etc_jupyter: Path, tmp_path: Path
) -> None:
    """Jupyter Server reads only jpserver_extensions from config.d: the old guide's place."""
    config_d = etc_jupyter / "jupyter_server_config.d"
    config_d.mkdir()
    (config_d / "drive_sync_hub.json").write_text(guide.config_text)
    read, log = settings_read(etc_jupyter, tmp_path)
    assert read == {"hub_public_url": "", "client_secrets_file": ""}
    warning = next(ln for ln in log.splitlines() if "IGNORED" in ln)
    assert str(config_d / "drive_sync_hub.json") in warning
    assert str(etc_jupyter / "jupyter_drive_sync_config.json") in warning
