"""File content, stored once per distinct SHA-256 under `blobs/` and reference-counted.

Revisions of any file and any account share a blob when their bytes are equal; a blob goes
away when the last revision referring to it does. The counts live in memory (the Drive store
rebuilds them from its records at start) and are changed under the store's lock.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
from collections import defaultdict
from pathlib import Path
from typing import Iterable

from .records import Blob

_CHUNK = 1 << 20


class BlobStore:
    """Content by SHA-256; `lock` is the Drive store's, so counts move with its indexes."""

    def __init__(self, blob_dir: Path, tmp_dir: Path, lock: threading.RLock) -> None:
        self.dir = blob_dir
        self.tmp_dir = tmp_dir  # same file system: staged content is renamed in, not copied
        self.lock = lock
        self._refs: dict[str, int] = defaultdict(int)

    def path(self, sha256: str) -> Path:
        return self.dir / sha256[:2] / sha256

    def add_ref(self, sha256: str) -> None:
        self._refs[sha256] += 1

    def drop_ref(self, sha256: str) -> None:
        self._refs[sha256] -= 1

    def collect(self, hashes: Iterable[str]) -> None:
        """Remove the blobs among `hashes` that nothing refers to any more."""
        for sha in hashes:
            if self._refs.get(sha, 0) <= 0:
                self._refs.pop(sha, None)
                try:
                    self.path(sha).unlink()
                except FileNotFoundError:
                    pass

    def ingest(self, media: bytes | Path | None) -> Blob:
        """Put content in the store (hashing as it streams); a Path is moved in when possible.

        The blob comes back *pinned* (one extra reference) so a concurrent delete of the same
        content cannot remove it before our revision refers to it: call `unpin` afterwards.
        """
        md5, sha1, sha256 = hashlib.md5(), hashlib.sha1(), hashlib.sha256()
        if media is None:
            media = b""
        if isinstance(media, (bytes, bytearray, memoryview)):
            data = bytes(media)
            md5.update(data), sha1.update(data), sha256.update(data)
            blob = Blob(sha256.hexdigest(), md5.hexdigest(), sha1.hexdigest(), len(data))
            self._pin(blob.sha256)
            dest = self.path(blob.sha256)
            if not dest.exists():
                dest.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(dir=self.tmp_dir)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                os.replace(tmp, dest)
            return blob
        src = Path(media)
        size = 0
        with open(src, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                size += len(chunk)
                md5.update(chunk), sha1.update(chunk), sha256.update(chunk)
        blob = Blob(sha256.hexdigest(), md5.hexdigest(), sha1.hexdigest(), size)
        self._pin(blob.sha256)
        dest = self.path(blob.sha256)
        if not dest.exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.replace(src, dest)
            except OSError:
                fd, tmp = tempfile.mkstemp(dir=self.tmp_dir)
                os.close(fd)
                shutil.copyfile(src, tmp)
                os.replace(tmp, dest)
        return blob

    def _pin(self, sha256: str) -> None:
        with self.lock:
            self._refs[sha256] += 1

    def unpin(self, blob: Blob) -> None:
        """Drop the pin `ingest` took; content no revision refers to is removed."""
        with self.lock:
            self._refs[blob.sha256] -= 1
            self.collect({blob.sha256})

    def read(self, sha256: str, start: int = 0, length: int | None = None) -> bytes:
        with open(self.path(sha256), "rb") as fh:
            fh.seek(start)
            return fh.read() if length is None else fh.read(length)
