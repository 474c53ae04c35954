"""`make demo` (`jupyter-drive-sync demo`) prints one link that opens JupyterLab as is (issue 15)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_demo_prints_a_link_with_its_token(tmp_path: Path) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "jupyter-drive-sync"), "demo", "--no-browser", "--workdir", str(tmp_path),
         "--port", "0", "--lab-port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True,
        env={**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg")})
    try:
        link = None
        assert proc.stdout is not None
        for line in proc.stdout:
            m = re.search(r"open (http://127\.0\.0\.1:\d+/lab\?token=\w+)", line)
            if m:
                link = m.group(1)
                break
        assert link, "no link printed"
        token = link.split("token=")[1]
        api = f"http://127.0.0.1:{port}/api/status"
        for _ in range(240):  # JupyterLab takes a few seconds to listen
            try:
                answer = requests.get(api, params={"token": token}, timeout=5)
                break
            except requests.ConnectionError:
                time.sleep(0.25)
        assert answer.status_code == 200
        assert requests.get(api, timeout=5).status_code == 403  # the token is what lets the link in
        assert requests.get(link, timeout=10).status_code == 200
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
