"""What the lifecycle tests drive the product through: only its stable outside.

The product is being restructured while these tests exist, so they touch nothing inside it:
the CLI entry point `jupyter_drive_sync.cli.main(argv)` (in-process, or as a child process
for kills and concurrent runs), the emulator's admin API (accounts, the admin listing, faults)
and plain Drive v3 REST calls made "by another client" with a token of the same account.
The one helper taken from the package, `connect_home`, is how every test connects a home.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import signal
import stat
import subprocess
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import requests

from jupyter_drive_sync.cli import main as cli_main
from jupyter_drive_sync.emulator.sample import connect_home

USER = "stu"
FOLDER = f"home/{USER}"  # the backup folder, Drive path from My Drive
STATE_REL = ".local/share/jupyter/drive_sync"
FOLDER_MIME = "application/vnd.google-apps.folder"
FULL_DRIVE = "https://www.googleapis.com/auth/drive"
# Never uploaded, never restored (the secrets rules and the tool's own state), by path prefix.
SECRET_PREFIXES = (".ssh", ".gnupg", ".netrc", ".git-credentials", ".aws", ".kube", ".config/gcloud",
                   ".config/rclone", ".docker/config.json", STATE_REL, ".local/share/jupyter/runtime")
TRACEBACK = "Traceback (most recent call last)"


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def is_secret(rel: str) -> bool:
    parts = rel.split("/")
    for prefix in SECRET_PREFIXES:
        pp = prefix.split("/")
        if len(pp) == 1:
            if pp[0] in parts:  # matched at any depth, like the product's rule
                return True
        elif parts[:len(pp)] == pp:
            return True
    return False


# -- the CLI ------------------------------------------------------------------------------------


@dataclass
class CliRun:
    argv: list[str]
    code: int | None  # None: it raised (the traceback is in `err`)
    out: str
    err: str
    logged: list[str] = field(default_factory=list)  # log records with a traceback

    @property
    def summary(self) -> dict[str, Any] | None:
        text = self.out.strip()
        if not text.startswith("{"):
            return None
        try:
            return json.loads(text.splitlines()[-1])
        except ValueError:
            return None

    def problems(self) -> list[str]:
        """Invariant (f): an exit status of the contract (0-4), no traceback anywhere."""
        out = []
        if self.code not in (0, 1, 2, 3, 4):
            out.append(f"exit status {self.code!r}")
        if TRACEBACK in self.out or TRACEBACK in self.err:
            out.append("a traceback was printed")
        out.extend(f"logged with a traceback: {m}" for m in self.logged)
        return out

    def describe(self) -> str:
        return f"$ jupyter-drive-sync {' '.join(self.argv)}\n-> {self.code}\nstdout: {self.out[-3000:]}\nstderr: {self.err[-3000:]}"


class _TracebackLog(logging.Handler):
    """Records the product's log records that carry a traceback: run from a terminal (no logging
    configured) Python prints those with their traceback on stderr."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and not record.name.startswith("jupyter_drive_sync.emulator"):
            self.seen.append(f"{record.name}: {record.getMessage()}: {record.exc_info[1]!r}")


def run_cli(*argv: str) -> CliRun:
    """`jupyter-drive-sync ARGV` in this process, output captured."""
    out, err = io.StringIO(), io.StringIO()
    handler = _TracebackLog()
    logger = logging.getLogger("jupyter_drive_sync")
    logger.addHandler(handler)
    code: int | None
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli_main(list(argv))
            except SystemExit as exc:  # argparse
                code = exc.code if isinstance(exc.code, int) else 2
            except BaseException:  # noqa: BLE001 - what a terminal would show as a traceback
                traceback.print_exc(file=err)
                code = None
    finally:
        logger.removeHandler(handler)
    return CliRun(list(argv), code, out.getvalue(), err.getvalue(), handler.seen)


def spawn_cli(*argv: str) -> subprocess.Popen:
    """`jupyter-drive-sync ARGV` as a child process (for SIGKILL and concurrent runs)."""
    return subprocess.Popen([sys.executable, "-m", "jupyter_drive_sync", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)


def finish(proc: subprocess.Popen, argv: Iterable[str], *, kill: bool = False) -> CliRun | None:
    """Wait for (or SIGKILL) a child; None when the kill landed (nothing to check about it)."""
    if kill and proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=120)
        return None
    out, err = proc.communicate(timeout=300)
    return CliRun(list(argv), proc.returncode, out, err)


def push_argv(home: Path, url: str, *extra: str) -> list[str]:
    return ["push", "--home", str(home), "--user", USER, "--api-root", url, "--json", "--workers", "2", *extra]


def restore_argv(home: Path, url: str, *extra: str) -> list[str]:
    return ["restore", "--home", str(home), "--user", USER, "--api-root", url, "--json", "--workers", "2", *extra]


def connect(url: str, home: Path, email: str) -> None:
    """Store a fresh drive.file token of `email` as the home's credentials (account created if new)."""
    connect_home(url, home, email)


# -- the local side -----------------------------------------------------------------------------


def local_files(home: Path) -> dict[str, bytes]:
    """Every regular file of the home (symlinks not followed, the tool's state dir left out)."""
    out: dict[str, bytes] = {}
    stack = [""]
    while stack:
        rel = stack.pop()
        try:
            entries = list(os.scandir(home / rel if rel else home))
        except OSError:
            continue
        for e in entries:
            r = f"{rel}/{e.name}" if rel else e.name
            if r == STATE_REL:
                continue
            st = e.stat(follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                stack.append(r)
            elif stat.S_ISREG(st.st_mode):
                try:
                    out[r] = Path(e.path).read_bytes()
                except OSError:
                    out[r] = b"<unreadable>"
    return out


def local_kind(home: Path, rel: str) -> str | None:
    """'file', 'dir', 'other' (symlink, FIFO...) or None, never following a symlink."""
    try:
        st = os.lstat(home / rel)
    except (FileNotFoundError, NotADirectoryError):
        return None
    if stat.S_ISREG(st.st_mode):
        return "file"
    if stat.S_ISDIR(st.st_mode):
        return "dir"
    return "other"


def tree_digest(root: Path) -> dict[str, str]:
    """Path → md5 (files) or kind, for a folder outside the home that nothing may touch."""
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            p = Path(dirpath) / n
            rel = str(p.relative_to(root))
            out[rel] = md5(p.read_bytes()) if p.is_file() and not p.is_symlink() else "dir"
    return out


# -- the Drive side -----------------------------------------------------------------------------


class DriveView:
    """One admin listing of an account (every file, trashed too, whichever client made it)."""

    def __init__(self, files: list[dict[str, Any]], folder: str = FOLDER) -> None:
        self.files = files
        self.by_id = {f["id"]: f for f in files}
        self.folder_parts = folder.split("/")
        self._paths: dict[str, str | None] = {}
        self._live: dict[str, list[dict[str, Any]]] | None = None

    def full_path(self, fid: str) -> list[str]:
        parts, f, seen = [], self.by_id[fid], set()
        while True:
            parts.append(f["name"])
            seen.add(f["id"])
            parent = (f.get("parents") or [None])[0]
            if parent not in self.by_id or parent in seen:
                break
            f = self.by_id[parent]
        return list(reversed(parts))

    def ancestor_ids(self, fid: str) -> list[str]:
        out, f = [], self.by_id[fid]
        while True:
            parent = (f.get("parents") or [None])[0]
            if parent not in self.by_id or parent in out:
                return out
            out.append(parent)
            f = self.by_id[parent]

    def rel(self, fid: str) -> str | None:
        """The item's path inside the backup folder, or None when it is elsewhere (or the folder)."""
        if fid not in self._paths:
            parts = self.full_path(fid)
            n = len(self.folder_parts)
            self._paths[fid] = "/".join(parts[n:]) if parts[:n] == self.folder_parts and len(parts) > n else None
        return self._paths[fid]

    def alive(self, fid: str) -> bool:
        """Neither the item nor a folder above it is in the trash."""
        f, seen = self.by_id.get(fid), set()
        while f is not None and f["id"] not in seen:
            if f["trashed"]:
                return False
            seen.add(f["id"])
            f = self.by_id.get((f.get("parents") or [None])[0])
        return True

    def live(self) -> dict[str, list[dict[str, Any]]]:
        """Path inside the backup folder → its live items (no trashed folder on the way)."""
        if self._live is None:
            self._live = {}
            for f in self.files:
                r = self.rel(f["id"])
                if r is not None and self.alive(f["id"]):
                    self._live.setdefault(r, []).append(f)
        return self._live

    def root_ids(self) -> list[str]:
        """Live folders at the backup folder's own path."""
        n = len(self.folder_parts)
        return [f["id"] for f in self.files if not f["trashed"] and f["mimeType"] == FOLDER_MIME
                and self.full_path(f["id"]) == self.folder_parts[:n]]


class OtherClient:
    """Drive v3 REST as another client of the same account sees it: `full` is the Drive web UI
    (full scope: sees and edits everything, its new files are invisible to the app), otherwise
    another copy of this app (same OAuth client, drive.file: its files are visible to the app)."""

    def __init__(self, url: str, email: str, *, full: bool) -> None:
        body: dict[str, Any] = {"email": email}
        if full:  # another app (its own OAuth client): what it creates, drive.file cannot see
            body["scopes"] = [FULL_DRIVE]
            body["client_id"] = requests.post(url + "_emulator/clients", json={"type": "installed"},
                                              timeout=30).json()["client_id"]
        acct = requests.post(url + "_emulator/accounts", json=body, timeout=30).json()
        self.url = url
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {acct['access_token']}"

    def _ok(self, resp: requests.Response) -> Any:
        if resp.status_code >= 400:
            raise AssertionError(f"other client: {resp.request.method} {resp.url}: {resp.status_code} {resp.text[:300]}")
        return resp.json() if resp.content else None

    def _multipart(self, meta: dict[str, Any], data: bytes) -> tuple[bytes, str]:
        b = "lifecycle-boundary-7f3a"
        body = (f"--{b}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{json.dumps(meta)}\r\n"
                f"--{b}\r\nContent-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{b}--".encode()
        return body, f"multipart/related; boundary={b}"

    def edit(self, fid: str, data: bytes, modified: str) -> dict[str, Any]:
        body, ctype = self._multipart({"modifiedTime": modified}, data)
        return self._ok(self.http.patch(f"{self.url}upload/drive/v3/files/{fid}", params={"uploadType": "multipart"},
                                        data=body, headers={"Content-Type": ctype}, timeout=60))

    def create(self, name: str, parent: str, data: bytes | None, modified: str) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": name, "parents": [parent], "modifiedTime": modified}
        if data is None:
            meta["mimeType"] = FOLDER_MIME
            return self._ok(self.http.post(f"{self.url}drive/v3/files", json=meta, timeout=60))
        body, ctype = self._multipart(meta, data)
        return self._ok(self.http.post(f"{self.url}upload/drive/v3/files", params={"uploadType": "multipart"},
                                       data=body, headers={"Content-Type": ctype}, timeout=60))

    def patch(self, fid: str, meta: dict[str, Any], **params: str) -> dict[str, Any]:
        return self._ok(self.http.patch(f"{self.url}drive/v3/files/{fid}", json=meta, params=params, timeout=60))

    def delete(self, fid: str) -> None:
        self._ok(self.http.delete(f"{self.url}drive/v3/files/{fid}", timeout=60))

    def revisions(self, fid: str) -> list[dict[str, Any]]:
        resp = self.http.get(f"{self.url}drive/v3/files/{fid}/revisions",
                             params={"fields": "revisions(id,md5Checksum,keepForever,modifiedTime)"}, timeout=60)
        if resp.status_code == 404:
            return []
        return self._ok(resp)["revisions"]

    def download(self, fid: str) -> bytes:
        resp = self.http.get(f"{self.url}drive/v3/files/{fid}", params={"alt": "media"}, timeout=60)
        self._ok(resp) if resp.status_code >= 400 else None
        return resp.content
