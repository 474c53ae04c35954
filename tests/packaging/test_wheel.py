"""The built wheel, pip-installed into a fresh venv, brings the prebuilt JupyterLab extension,
the server extension and the classic nbextension, all enabled, with no node and no extra step."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def run(*cmd: str | Path, cwd: Path | None = None) -> str:
    # The dev venv's bin on PATH too (jupyter-builder's `jupyter-builder` and `jlpm`).
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    out = ANSI.sub("", proc.stdout + proc.stderr)
    assert proc.returncode == 0, out[-4000:]
    return out


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    # Isolated, as a release build: the backend, the build hook and jlpm come from [build-system].
    run(sys.executable, "-m", "build", "--wheel", "--outdir", out, ROOT, cwd=ROOT)
    (whl,) = out.glob("jupyter_drive_sync-*.whl")
    return whl


def test_wheel_ships_the_prebuilt_frontend(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    data = next(n.split("/data/")[0] for n in names if "/data/" in n) + "/data/"
    labext = data + "share/jupyter/labextensions/jupyter-drive-sync/"
    assert labext + "package.json" in names
    assert labext + "install.json" in names
    assert labext + "schemas/jupyter-drive-sync/plugin.json" in names
    assert any(n.startswith(labext + "static/remoteEntry.") for n in names)
    assert data + "share/jupyter/nbextensions/jupyter_drive_sync/main.js" in names
    assert data + "etc/jupyter/nbconfig/tree.d/jupyter_drive_sync.json" in names
    assert data + "etc/jupyter/jupyter_server_config.d/jupyter_drive_sync.json" in names
    schema = json.loads(zipfile.ZipFile(wheel).read(labext + "schemas/jupyter-drive-sync/plugin.json"))
    assert set(schema["properties"]) == {"promptOnStartup", "showInToolbars"}
    assert {"Notebook", "FileBrowser", "TopBar"} <= set(schema["jupyter.lab.toolbars"])


def test_fresh_venv_lists_everything_enabled_and_ok(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv)
    bin_ = venv / "bin"
    run(bin_ / "python", "-m", "pip", "install", "--quiet", wheel, "jupyterlab")

    labext = run(bin_ / "jupyter", "labextension", "list")
    assert re.search(r"jupyter-drive-sync v\S+ enabled OK \(python, jupyter-drive-sync\)", labext), labext

    server = run(bin_ / "jupyter", "server", "extension", "list")
    assert re.search(r"jupyter_drive_sync enabled", server), server
    assert re.search(r"jupyter_drive_sync \S+ OK", server), server

    nbconfig = venv / "etc/jupyter/nbconfig/tree.d/jupyter_drive_sync.json"
    assert json.loads(nbconfig.read_text()) == {"load_extensions": {"jupyter_drive_sync/main": True}}
    assert (venv / "share/jupyter/nbextensions/jupyter_drive_sync/main.js").is_file()
