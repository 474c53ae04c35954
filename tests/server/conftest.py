"""A Jupyter server with the drive-sync extension, wired to a fresh Drive emulator.

The home is the server's root_dir (the extension's default). The emulator runs in its own
thread; everything between the server, the emulator and the client libraries is real HTTP.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

# pytest_jupyter's server fixtures and hooks plus ours (home, api, service, jp_server_config, ...),
# for this directory only. (The plugin's usual `pytest_plugins = ("pytest_jupyter.jupyter_server",)`
# is refused by pytest in a conftest below the rootdir; importing it here scopes it to these
# tests instead of the whole suite.)
from tests.support.server_fixtures import *  # noqa: E402,F403

from tests.support import helpers
from tests.support.helpers import SERVER_EMAIL as EMAIL
from tests.support.helpers import connect, consent, get_json, post_json, wait_job


@pytest.fixture
def state_dir(home: Path) -> Path:
    return home / ".local/share/jupyter/drive_sync"


@pytest.fixture
def credentials_file(state_dir: Path) -> Path:
    return state_dir / "credentials.json"


def make_home_files(home: Path) -> dict[str, bytes]:
    files = {
        "notebook.ipynb": b'{"cells": []}',
        "data/a.csv": b"x,y\n1,2\n",
        "data/deep/b.txt": b"hello",
        "README.md": b"# my work\n",
    }
    for rel, data in files.items():
        path = home / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return files


def drive_paths(files: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The emulator's flat listing → {"home/ann/data/a.csv": file} (not trashed), via parents."""
    return {path: live[0] for path, group in helpers.drive_paths(files).items()
            if (live := [f for f in group if not f.get("trashed")])}


def duplicates(files: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(parent, name) pairs that occur more than once among untrashed files."""
    seen: dict[tuple[str, str], int] = {}
    for f in files:
        if f.get("trashed"):
            continue
        key = ((f.get("parents") or [""])[0], f["name"])
        seen[key] = seen.get(key, 0) + 1
    return [k for k, n in seen.items() if n > 1]


def fresh_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTERHUB_")}
    env.update(extra)
    return env


class Helpers:
    """The helpers above, handed to tests as the `h` fixture (test modules cannot import conftest)."""

    EMAIL = EMAIL
    get_json = staticmethod(get_json)
    post_json = staticmethod(post_json)
    consent = staticmethod(consent)
    connect = staticmethod(connect)
    wait_job = staticmethod(wait_job)
    make_home_files = staticmethod(make_home_files)
    drive_paths = staticmethod(drive_paths)
    duplicates = staticmethod(duplicates)
    fresh_env = staticmethod(fresh_env)


@pytest.fixture
def h() -> type[Helpers]:
    return Helpers

