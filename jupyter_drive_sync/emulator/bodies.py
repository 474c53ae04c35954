"""Request bodies of uploads: staged on disk once large, and multipart/related parsing.

A body may be gigabytes, so it is never held whole in memory: `BodySpool` keeps small bodies
in memory and spills larger ones to a temp file, and a multipart body on disk is parsed
through an mmap, its media part copied out without loading it.
"""

from __future__ import annotations

import base64
import json
import mmap
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import IO, Any

from .wire import DriveError

MEMORY_LIMIT = 16 * 1024 * 1024  # bodies up to this stay in memory (one chunk of a resumable upload)
_COPY_BUF = 1024 * 1024


def bad_request(message: str, location: str | None = None) -> DriveError:
    return DriveError(400, "badRequest", message, location=location,
                      location_type="header" if location else None)


class BodySpool:
    """A request body: in memory while small, then spilled to a named temp file."""

    def __init__(self, tmp_dir: Path, memory_limit: int = MEMORY_LIMIT) -> None:
        self._tmp_dir = tmp_dir
        self._limit = memory_limit
        self._chunks: list[bytes] = []
        self._file: IO[bytes] | None = None
        self.path: Path | None = None
        self.size = 0

    def write(self, chunk: bytes) -> None:
        if self._file is None and self.size + len(chunk) > self._limit:
            self._tmp_dir.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix="body-", dir=self._tmp_dir)
            self._file = os.fdopen(fd, "w+b")
            self.path = Path(name)
            for c in self._chunks:
                self._file.write(c)
            self._chunks = []
        if self._file is not None:
            self._file.write(chunk)
        else:
            self._chunks.append(chunk)
        self.size += len(chunk)

    @property
    def in_memory(self) -> bool:
        return self._file is None

    def read_bytes(self) -> bytes:
        if self._file is None:
            if len(self._chunks) > 1:
                self._chunks = [b"".join(self._chunks)]
            return self._chunks[0] if self._chunks else b""
        self._file.flush()
        self._file.seek(0)
        return self._file.read()

    def copy_to(self, dest: IO[bytes]) -> None:
        if self._file is None:
            for c in self._chunks:
                dest.write(c)
            return
        self._file.flush()
        self._file.seek(0)
        shutil.copyfileobj(self._file, dest, _COPY_BUF)

    def media(self) -> bytes | Path:
        """The whole body for DriveApi: bytes when small, else the staged file's path."""
        if self._file is None:
            return self.read_bytes()
        self._file.flush()
        assert self.path is not None
        return self.path

    def clear(self) -> None:
        self.close()
        self._chunks, self.size = [], 0

    def close(self) -> None:
        self._chunks = []
        if self._file is not None:
            self._file.close()
            self._file = None
        if self.path is not None:
            try:
                self.path.unlink()
            except FileNotFoundError:  # DriveApi may have moved it into its blob store
                pass
            self.path = None


# ---- multipart/related --------------------------------------------------------------------------

def _boundary(content_type: str) -> str | None:
    m = re.search(r'boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))', content_type, re.IGNORECASE)
    return (m.group(1) or m.group(2)) if m else None


def _parse_part_headers(raw: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in raw.replace(b"\r\n", b"\n").split(b"\n"):
        name, sep, value = line.partition(b":")
        if sep:
            headers[name.strip().decode("latin-1").lower()] = value.strip().decode("latin-1")
    return headers


def parse_multipart_related(buf: Any, boundary: str) -> list[tuple[dict[str, str], int, int]]:
    """Parts of a multipart/related body as (headers, content start, content end) offsets.

    The line ending is taken from the first delimiter line, so both CRLF bodies and the bare-LF
    bodies googleapiclient sends parse exactly, binary content included. `buf` is bytes or mmap.
    """
    delim = b"--" + boundary.encode("latin-1")
    pos = buf.find(delim)
    if pos < 0:
        raise bad_request("Multipart body has no boundary delimiter.")
    after = pos + len(delim)
    eol = b"\r\n" if buf[after:after + 2] == b"\r\n" else b"\n"
    parts: list[tuple[dict[str, str], int, int]] = []
    while True:
        if buf[after:after + 2] == b"--":  # close delimiter
            return parts
        if buf[after:after + len(eol)] != eol:
            raise bad_request("Malformed multipart delimiter line.")
        head_start = after + len(eol)
        blank = buf.find(eol + eol, head_start - len(eol))
        if blank < 0:
            raise bad_request("Multipart part without header terminator.")
        if blank < head_start:  # a part with no headers at all
            headers, content_start = {}, head_start + len(eol)
        else:
            headers = _parse_part_headers(bytes(buf[head_start:blank]))
            content_start = blank + 2 * len(eol)
        nxt = buf.find(eol + delim, content_start - len(eol))
        if nxt < 0:
            raise bad_request("Multipart body is not terminated.")
        parts.append((headers, content_start, max(nxt, content_start)))
        after = nxt + len(eol) + len(delim)


def read_multipart(spool: BodySpool, content_type: str, tmp_dir: Path) -> tuple[dict[str, Any], bytes | Path, str | None]:
    """(metadata, media, media content type) of a multipart/related upload body."""
    if not content_type.lower().startswith("multipart/related"):
        raise bad_request("Multipart upload requires Content-Type multipart/related.", "Content-Type")
    boundary = _boundary(content_type)
    if not boundary:
        raise bad_request("Multipart Content-Type has no boundary.", "Content-Type")
    mm: mmap.mmap | None = None
    try:
        if spool.in_memory:
            buf: Any = spool.read_bytes()
        else:
            staged = spool.media()  # flushes the spool's buffered tail before the file is mapped
            assert isinstance(staged, Path)
            with open(staged, "rb") as f:
                mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            buf = mm
        parts = parse_multipart_related(buf, boundary)
        if len(parts) != 2:
            raise bad_request(f"Multipart upload needs exactly 2 parts (metadata, media), got {len(parts)}.")
        (meta_headers, ms, me), (media_headers, ds, de) = parts
        try:
            metadata = json.loads(bytes(buf[ms:me]) or b"{}")
        except ValueError:
            raise bad_request("Metadata part is not valid JSON.") from None
        if not isinstance(metadata, dict):
            raise bad_request("Metadata part must be a JSON object.")
        encoding = media_headers.get("content-transfer-encoding", "binary").lower()
        media: bytes | Path
        if encoding == "base64":
            media = base64.b64decode(bytes(buf[ds:de]))
        elif mm is None:
            media = bytes(buf[ds:de])
        else:
            fd, name = tempfile.mkstemp(prefix="media-", dir=tmp_dir)
            with os.fdopen(fd, "wb") as out:
                for off in range(ds, de, _COPY_BUF):
                    out.write(mm[off:min(de, off + _COPY_BUF)])
            media = Path(name)
        return metadata, media, media_headers.get("content-type")
    finally:
        if mm is not None:
            mm.close()
