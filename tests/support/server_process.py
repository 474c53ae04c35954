"""Real server processes for the browser tests (tests/ui: `jupyter lab`; tests/jupyterhub: a
`jupyterhub`), and the headless Chromium that drives them: a free port, waiting until the server
answers, stopping it, launching the browser. Written once so that both suites start, wait for and
stop their servers the same way.
"""

from __future__ import annotations

import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import requests


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log_tail(log_path: Path, n: int) -> str:
    """The last `n` characters of a server's log, for an error message ("" before it exists)."""
    return log_path.read_text(errors="replace")[-n:] if log_path.exists() else ""


def wait_until_serving(proc: subprocess.Popen[bytes], url: str, what: str, log_path: Path, *,
                       params: dict[str, str] | None = None, tail: int = 4000, timeout: float = 60) -> None:
    """Poll `url` until it answers 200. RuntimeError with the log's tail when the process exits
    first or `timeout` seconds pass: a server that never came up says why in the test's failure."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited:\n{log_tail(log_path, tail)}")
        try:
            if requests.get(url, params=params, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{what} did not start:\n{log_tail(log_path, tail)}")


def stop_process(proc: subprocess.Popen[bytes] | None, timeout: float) -> None:
    """SIGTERM (a server's own clean shutdown), then SIGKILL if it has not ended within `timeout` s."""
    if proc and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def headless_chromium(executable: str) -> Iterator[Any]:
    """Playwright's Chromium driver on this machine's chromium (Playwright never downloads one)."""
    import playwright.sync_api as sync_api

    pw = sync_api.sync_playwright().start()
    browser = pw.chromium.launch(executable_path=executable, headless=True, args=["--no-sandbox"])
    try:
        yield browser
    finally:
        browser.close()
        pw.stop()
