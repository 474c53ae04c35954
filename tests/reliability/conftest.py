"""Shared pieces of the reliability suite (issue 9): trial counts and the byte-for-byte check.

`trials(ci, soak)` picks the CI count, or the soak count when `DRIVE_SYNC_SOAK` is set
(`make soak`). `Mirror` compares a home with what Drive holds under the home's folder, using
the emulator's admin view (every file of the account, trashed ones too, whichever client made
it) for names, parents, md5 and duplicates, and `alt=media` downloads for the bytes themselves.

Test modules import these with `from .conftest import ...` (this directory is a package, so
the name cannot clash with the other conftest modules).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import pytest
import requests

# pytest-jupyter's server fixtures and its async test hooks, for this directory only (as
# tests/server/conftest.py does): test_security_suite.py drives a real Jupyter server.
from pytest_jupyter.jupyter_server import *  # noqa: E402,F401,F403

from jupyter_drive_sync.home.excludes import Excludes
from jupyter_drive_sync.core.model import FOLDER_MIME
from jupyter_drive_sync.core.settings import STATE_DIR_REL, state_dir
from jupyter_drive_sync.home.lock import LOCK_NAME

from tests.support.helpers import drive_paths  # the test modules import it from here too

SOAK = os.environ.get("DRIVE_SYNC_SOAK", "").strip() not in ("", "0")
CLI = [sys.executable, "-m", "jupyter_drive_sync"]


def trials(ci: int, soak: int) -> int:
    """How many trials a scenario runs: `ci` in `make test`, `soak` under `make soak`."""
    return soak if SOAK else ci


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


# -- the local side ---------------------------------------------------------------------------


MAX_FILE_SIZE = 5 * 1024**4  # the push's default size limit


def local_tree(home: Path) -> dict[str, bytes | None]:
    """What a push should carry: relative path → bytes (files) or None (folders).

    Walks without following symlinks, applies the home's exclude rules (secrets, caches, the
    tool's own state dir, ~/.drivesyncignore) and leaves out everything that is not a regular
    file or a folder, exactly the things the product reports as skipped.
    """
    excludes = Excludes.for_home(home)
    out: dict[str, bytes | None] = {}
    stack = [""]
    while stack:
        rel_dir = stack.pop()
        with os.scandir(home / rel_dir if rel_dir else home) as it:
            for entry in it:
                rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
                if entry.is_symlink():
                    continue
                is_dir = entry.is_dir(follow_symlinks=False)
                if not is_dir and not entry.is_file(follow_symlinks=False):
                    continue
                if excludes.why(rel, is_dir) is not None or rel == STATE_DIR_REL:
                    continue
                if not is_dir and entry.stat(follow_symlinks=False).st_size > MAX_FILE_SIZE:
                    continue
                if is_dir:
                    out[rel] = None
                    stack.append(rel)
                else:
                    out[rel] = Path(entry.path).read_bytes()
    # The folders around the tool's own state dir are not backed up when that is all they hold.
    chain = STATE_DIR_REL.split("/")
    for depth in range(len(chain) - 1, 0, -1):
        folder = "/".join(chain[:depth])
        if folder in out and not any(k.startswith(folder + "/") for k in out):
            del out[folder]
    return out


# -- the Drive side ---------------------------------------------------------------------------


@dataclass
class MirrorReport:
    """How a home and its Drive folder differ; `ok` when they are byte-for-byte equal."""

    files: int = 0
    folders: int = 0
    duplicates: dict[str, int] = field(default_factory=dict)  # path → copies (trashed counted)
    lost: list[str] = field(default_factory=list)  # local, not (or not usable) on Drive
    extra: list[str] = field(default_factory=list)  # on Drive under the folder, not local
    wrong: list[str] = field(default_factory=list)  # kind, size, md5 or bytes differ
    trashed: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.duplicates or self.lost or self.extra or self.wrong or self.trashed)

    def __str__(self) -> str:
        return (f"files={self.files} folders={self.folders} duplicates={self.duplicates} lost={self.lost[:10]} "
                f"extra={self.extra[:10]} wrong={self.wrong[:10]} trashed={self.trashed[:10]}")


class Mirror:
    """Compares one home with its folder on Drive (default `home/<user>`) at one emulator."""

    def __init__(self, emulator: Any, email: str, user: str, folder: str | None = None) -> None:
        self.emulator = emulator
        self.email = email
        self.folder = folder or f"home/{user}"
        self._token: str | None = None

    def _download(self, file_id: str) -> bytes:
        if self._token is None:  # a drive.file token of the built-in client: it sees what the push made
            self._token = self.emulator.create_account(self.email)["access_token"]
        resp = requests.get(f"{self.emulator.url}drive/v3/files/{file_id}", params={"alt": "media"},
                            headers={"Authorization": f"Bearer {self._token}"}, timeout=60)
        resp.raise_for_status()
        return resp.content

    def tree(self) -> dict[str, list[dict[str, Any]]]:
        return drive_paths(self.emulator.files(self.email))

    def compare(self, home: Path, *, download: bool = True, trashed_ok: Iterable[str] = (),
                allow_outside: Iterable[str] = ()) -> MirrorReport:
        """Compare now. Faults must be off (the downloads go through the Drive API).

        `allow_outside`: Drive paths outside the folder that may exist (e.g. the folder's old
        parent after the user moved it)."""
        want = local_tree(home)
        tree = self.tree()
        prefix = self.folder + "/"
        rep = MirrorReport()
        rep.duplicates = {p: len(fs) for p, fs in tree.items() if len(fs) > 1}
        chain = {"/".join(self.folder.split("/")[:i + 1]) for i in range(len(self.folder.split("/")))}
        allowed = chain | set(allow_outside)
        outside = [p for p in tree if p not in allowed and not p.startswith(prefix)]
        rep.extra.extend(outside)
        ok_trashed = set(trashed_ok)
        for path, fs in sorted(tree.items()):
            if not path.startswith(prefix):
                continue
            rel = path[len(prefix):]
            f = fs[0]
            if rel not in want:
                if not (f["trashed"] and rel in ok_trashed):
                    rep.extra.append(rel)
                continue
            if f["trashed"]:
                rep.trashed.append(rel)
        for rel, data in sorted(want.items()):
            fs = tree.get(prefix + rel)
            if not fs:
                rep.lost.append(rel)
                continue
            f = fs[0]
            if data is None:
                rep.folders += 1
                if f["mimeType"] != FOLDER_MIME:
                    rep.wrong.append(f"{rel}: a file on Drive, a folder here")
                continue
            rep.files += 1
            if f["mimeType"] == FOLDER_MIME:
                rep.wrong.append(f"{rel}: a folder on Drive, a file here")
            elif int(f["size"]) != len(data) or f["md5Checksum"] != md5(data):
                rep.wrong.append(f"{rel}: size/md5 {f['size']}/{f['md5Checksum']} != {len(data)}/{md5(data)}")
            elif download and self._download(f["id"]) != data:
                rep.wrong.append(f"{rel}: bytes differ")
        return rep

    def assert_equal(self, home: Path, **kw: Any) -> MirrorReport:
        rep = self.compare(home, **kw)
        assert rep.ok, str(rep)
        return rep


# -- processes --------------------------------------------------------------------------------


def cli(*args: str, **popen: Any) -> subprocess.Popen:
    """`jupyter-drive-sync ARGS` as a child process (stdout/stderr piped)."""
    return subprocess.Popen([*CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, **popen)


def run_cli(*args: str, timeout: float = 180, **kw: Any) -> tuple[int, str, str]:
    """Run the CLI to the end: (exit status, stdout, stderr)."""
    proc = subprocess.run([*CLI, *args], capture_output=True, stdin=subprocess.DEVNULL, timeout=timeout, **kw)
    return proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")


def lock_holder(home: Path) -> dict[str, Any]:
    """Who the home's lock file says holds it (the file keeps the last holder's JSON)."""
    try:
        return json.loads((state_dir(home) / LOCK_NAME).read_text() or "{}")
    except (OSError, ValueError):
        return {}


def wait_for(predicate: Any, proc: subprocess.Popen | None = None, timeout: float = 60, poll: float = 0.005) -> bool:
    """Poll `predicate()` until true; False if `proc` ended first or the time ran out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        if proc is not None and proc.poll() is not None:
            return bool(predicate())
        time.sleep(poll)
    return False


def route_count(emulator: Any, *prefixes: str) -> int:
    """Requests so far whose stats key ("METHOD /route") starts with one of `prefixes`."""
    by_route = emulator.stats()["by_route"]
    return sum(n for r, n in by_route.items() if r.startswith(prefixes))


CREATE_ROUTES = ("POST /upload/drive/v3/files", "POST /drive/v3/files", "POST /batch/drive/v3")


@pytest.fixture
def soak() -> bool:
    return SOAK
