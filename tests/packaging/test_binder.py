"""binder/ (mybinder.org) is coherent: its environment can build the wheel, postBuild leaves the
building to pip, and `start` really brings up the emulator and a sample home, points the server
extension at them, and then runs the command it was given."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import time
import tomllib
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
import yaml

from jupyter_drive_sync.cli.demo import DEMO_EMAIL, DEMO_USER

ROOT = Path(__file__).resolve().parents[2]
BINDER = ROOT / "binder"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def commands_of(script: Path) -> list[str]:
    return [line.strip() for line in script.read_text().splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def test_environment_builds_what_pyproject_needs() -> None:
    env = yaml.safe_load((BINDER / "environment.yml").read_text())
    deps = {re.split(r"[=<>! ]", d, maxsplit=1)[0]: d for d in env["dependencies"] if isinstance(d, str)}
    # node for the wheel's frontend build hook; a Python the package accepts; JupyterLab to run it.
    assert {"nodejs", "pip", "python", "jupyterlab"} <= set(deps)
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    minimum = tuple(int(x) for x in re.search(r">=\s*(\d+)\.(\d+)", pyproject["project"]["requires-python"]).groups())
    python = tuple(int(x) for x in re.search(r"=(\d+)\.(\d+)", deps["python"]).groups())
    assert python >= minimum
    # The hook pip relies on builds the frontend with jlpm, which jupyter-builder provides at build time.
    hook = pyproject["tool"]["hatch"]["build"]["hooks"]["jupyter-builder"]
    assert hook["build-kwargs"]["npm"] == ["jlpm"]
    assert any(r.startswith("jupyter-builder") for r in pyproject["build-system"]["requires"])


def test_postbuild_installs_the_repo_and_builds_nothing_by_hand() -> None:
    post, start = BINDER / "postBuild", BINDER / "start"
    for script in (post, start):
        assert script.stat().st_mode & stat.S_IXUSR, f"{script.name} must be executable"
        assert script.read_text().startswith("#!/bin/bash\n")
        subprocess.run(["bash", "-n", str(script)], check=True)  # syntax
    commands = commands_of(post)
    assert any(re.fullmatch(r"python -m pip install( --\S+)* \.", c) for c in commands), commands
    hand_builds = [c for c in commands if re.search(r"\b(jlpm|npm|yarn|node|jupyter[- ]builder|labextension)\b", c)]
    assert not hand_builds
    # `start` ends by becoming the server it was given, arguments untouched.
    assert commands_of(start)[-1] == 'exec "$@"'


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Environment for running binder/start in a scratch HOME; the emulator it leaves running
    in the background (it outlives `exec`) is stopped afterwards by the pid it recorded."""
    port = free_port()
    home = tmp_path / "binder-home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "DRIVE_SYNC_"))}
    env.update(
        HOME=str(home),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        DRIVE_SYNC_DEMO_DIR=str(tmp_path / "demo"),
        DRIVE_SYNC_EMULATOR_PORT=str(port),
        JUPYTER_CONFIG_DIR=str(tmp_path / "user-jupyter-config"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
    )
    info = {"env": env, "url": f"http://127.0.0.1:{port}/", "dir": tmp_path / "demo",
            "home": tmp_path / "demo" / "home" / DEMO_USER}
    yield info
    pid_file = info["dir"] / "emulator.pid"
    if pid_file.exists():
        pid = int(pid_file.read_text())
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)


PROBE = textwrap.dedent("""
    import json, os, sys, urllib.request
    from jupyter_core.paths import jupyter_config_path
    config_dir = os.environ["JUPYTER_CONFIG_PATH"].split(os.pathsep)[0]
    assert config_dir in jupyter_config_path(), jupyter_config_path()
    with open(os.path.join(config_dir, "jupyter_server_config.json")) as f:
        config = json.load(f)
    url = config["DriveSyncApp"]["emulator_url"]
    with urllib.request.urlopen(url + "_emulator/stats", timeout=10) as resp:
        stats = json.load(resp)
    print(json.dumps({"argv": sys.argv[1:], "config": config, "stats": stats}))
""")


def test_start_runs_the_emulator_and_wires_the_extension(demo: dict[str, Any]) -> None:
    done = subprocess.run([str(BINDER / "start"), sys.executable, "-c", PROBE, "--an arg", "two words"],
                          env=demo["env"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["argv"] == ["--an arg", "two words"]  # "$@" reaches the server untouched
    assert "by_route" in seen["stats"]  # the emulator's admin API answered over loopback

    home = demo["home"]
    assert seen["config"]["DriveSyncApp"] == {
        "emulator_url": demo["url"], "home_dir": str(home), "username": DEMO_USER}
    assert seen["config"]["ServerApp"]["root_dir"] == str(home)
    assert (home / "lab02" / "data" / "heights.csv").is_file()
    creds = home / ".local/share/jupyter/drive_sync/credentials.json"
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600

    # The stored sign-in is real: a push from the CLI lands in the demo account's Drive.
    push = subprocess.run([sys.executable, "-m", "jupyter_drive_sync", "push", "--home", str(home),
                           "--user", DEMO_USER, "--api-root", demo["url"], "--json"],
                          env=demo["env"], capture_output=True, text=True, timeout=120)
    assert push.returncode == 0, push.stderr
    assert json.loads(push.stdout)["created"] >= 6
    with urllib.request.urlopen(f"{demo['url']}_emulator/accounts/{DEMO_EMAIL}/files", timeout=10) as resp:
        names = {f["name"] for f in json.load(resp)["files"]}
    assert {"README.md", "heights.csv", "lab01.ipynb"} <= names
    assert "id_rsa" not in names  # the sample's secret stayed home


def test_start_serves_jupyter_with_the_extension_connected(demo: dict[str, Any]) -> None:
    """The real thing Binder runs: a Jupyter server started through binder/start."""
    port, token = free_port(), "binder-test-token"
    cmd = [str(BINDER / "start"), sys.executable, "-m", "jupyter_server", "--no-browser",
           "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
           f"--IdentityProvider.token={token}"]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    log = open(demo["dir"].parent / "server.log", "wb")
    proc = subprocess.Popen(cmd, env=demo["env"], stdout=log, stderr=subprocess.STDOUT)
    base, headers = f"http://127.0.0.1:{port}/", {"Authorization": f"token {token}"}
    try:
        status = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                r = requests.get(base + "drive-sync/status", headers=headers, timeout=10)
                if r.status_code == 200:
                    status = r.json()
                    break
            except requests.RequestException:
                pass
            time.sleep(0.3)
        assert status is not None, (demo["dir"].parent / "server.log").read_text()[-3000:]
        assert status["configured"] and status["connected"]
        assert status["account"] == DEMO_EMAIL
        assert status["folder"] == f"home/{DEMO_USER}"
        # The file browser's root is the sample home.
        listing = requests.get(base + "api/contents", headers=headers, timeout=10).json()
        assert {"README.md", "lab01", "lab02", "project"} <= {c["name"] for c in listing["content"]}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_start_still_starts_the_server_when_the_emulator_cannot(demo: dict[str, Any]) -> None:
    """A taken port: the demo setup fails loudly, and the command runs anyway (unwired)."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", int(demo["env"]["DRIVE_SYNC_EMULATOR_PORT"])))
        taken.listen()
        probe = "import os; print(repr(os.environ.get('JUPYTER_CONFIG_PATH')))"
        done = subprocess.run([str(BINDER / "start"), sys.executable, "-c", probe],
                              env=demo["env"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "None"
    assert "setup failed" in done.stderr
