"""The `/upload/drive/v3/files[/{id}]` wire protocol: media, multipart and resumable uploads.

Content semantics belong to `DriveApi.files_create/files_update`; this module only gets the
bytes there. Bodies are staged on disk (never whole in memory), resumable sessions persist
across restarts, and the resumable state machine follows Google's documented protocol byte
for byte (reference/drive-api-v3.md, "Resumable uploads").
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import json
import mmap
import os
import re
import secrets
import shutil
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from .wire import DriveError, Principal, Request, Response

if TYPE_CHECKING:
    from .context import EmulatorContext

MEMORY_LIMIT = 16 * 1024 * 1024  # bodies up to this stay in memory (one chunk of a resumable upload)
SESSION_LIFETIME_S = 7 * 24 * 3600  # Google: "about a week"
_COPY_BUF = 1024 * 1024
_PATH_RE = re.compile(r"/upload/drive/v3/files(?:/([^/]+))?/?")
_RANGE_RE = re.compile(r"bytes\s+(?:\*|(\d+)-(\d+))/(\*|\d+)")


def _bad_request(message: str, location: str | None = None) -> DriveError:
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
        raise _bad_request("Multipart body has no boundary delimiter.")
    after = pos + len(delim)
    eol = b"\r\n" if buf[after:after + 2] == b"\r\n" else b"\n"
    parts: list[tuple[dict[str, str], int, int]] = []
    while True:
        if buf[after:after + 2] == b"--":  # close delimiter
            return parts
        if buf[after:after + len(eol)] != eol:
            raise _bad_request("Malformed multipart delimiter line.")
        head_start = after + len(eol)
        blank = buf.find(eol + eol, head_start - len(eol))
        if blank < 0:
            raise _bad_request("Multipart part without header terminator.")
        if blank < head_start:  # a part with no headers at all
            headers, content_start = {}, head_start + len(eol)
        else:
            headers = _parse_part_headers(bytes(buf[head_start:blank]))
            content_start = blank + 2 * len(eol)
        nxt = buf.find(eol + delim, content_start - len(eol))
        if nxt < 0:
            raise _bad_request("Multipart body is not terminated.")
        parts.append((headers, content_start, max(nxt, content_start)))
        after = nxt + len(eol) + len(delim)


def _multipart(spool: BodySpool, content_type: str, tmp_dir: Path) -> tuple[dict[str, Any], bytes | Path, str | None]:
    """(metadata, media, media content type) of a multipart/related upload body."""
    if not content_type.lower().startswith("multipart/related"):
        raise _bad_request("Multipart upload requires Content-Type multipart/related.", "Content-Type")
    boundary = _boundary(content_type)
    if not boundary:
        raise _bad_request("Multipart Content-Type has no boundary.", "Content-Type")
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
            raise _bad_request(f"Multipart upload needs exactly 2 parts (metadata, media), got {len(parts)}.")
        (meta_headers, ms, me), (media_headers, ds, de) = parts
        try:
            metadata = json.loads(bytes(buf[ms:me]) or b"{}")
        except ValueError:
            raise _bad_request("Metadata part is not valid JSON.") from None
        if not isinstance(metadata, dict):
            raise _bad_request("Metadata part must be a JSON object.")
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


# ---- resumable sessions -------------------------------------------------------------------------

@dataclass
class UploadSession:
    id: str
    email: str
    client_id: str
    scopes: list[str]
    method: str  # "POST" create or "PATCH" update
    path: str
    file_id: str | None
    query: dict[str, list[str]]
    headers: dict[str, str]
    metadata: dict[str, Any]
    total: int | None
    media_mime: str | None = None
    received: int = 0
    created: float = field(default_factory=time.time)
    result: dict[str, Any] | None = None  # final {status, headers, body} once complete

    def principal(self) -> Principal:
        return Principal(self.email, self.client_id, frozenset(self.scopes))


class UploadSessions:
    """Resumable sessions: JSON record + `.part` file each under `<data_dir>/uploads`."""

    def __init__(self, ctx: "EmulatorContext") -> None:
        self.dir = Path(ctx.settings.data_dir) / "uploads"
        self.tmp_dir = Path(ctx.settings.data_dir) / "tmp"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._sessions: dict[str, UploadSession] = {}
        self._busy: set[str] = set()  # sessions with a chunk streaming in right now
        self._load()

    def _load(self) -> None:
        now = time.time()
        for meta in self.dir.glob("*.json"):
            try:
                s = UploadSession(**json.loads(meta.read_text("utf-8")))
            except (ValueError, TypeError):
                continue
            if now - s.created > SESSION_LIFETIME_S:
                self._remove_files(s.id)
                continue
            part = self.part_path(s.id)
            if s.result is None:
                # bytes beyond the last acknowledged chunk (a chunk cut off by a crash) do not count
                s.received = min(s.received, part.stat().st_size) if part.exists() else 0
            self._sessions[s.id] = s

    def part_path(self, upload_id: str) -> Path:
        return self.dir / f"{upload_id}.part"

    def _save(self, s: UploadSession) -> None:
        tmp = self.dir / f".{s.id}.json.tmp"
        tmp.write_text(json.dumps(asdict(s)), "utf-8")
        os.replace(tmp, self.dir / f"{s.id}.json")

    def _remove_files(self, upload_id: str) -> None:
        for p in (self.part_path(upload_id), self.dir / f"{upload_id}.json"):
            try:
                p.unlink()
            except FileNotFoundError:
                pass

    def create(self, **kw: Any) -> UploadSession:
        now = time.time()
        with self._lock:
            for old in [s for s in self._sessions.values() if now - s.created > SESSION_LIFETIME_S]:
                del self._sessions[old.id]
                self._remove_files(old.id)
            s = UploadSession(id="ADPycd" + secrets.token_urlsafe(48), **kw)
            self.part_path(s.id).touch()
            self._sessions[s.id] = s
            self._save(s)
            return s

    def get(self, upload_id: str) -> UploadSession | None:
        s = self._sessions.get(upload_id)
        if s is not None and time.time() - s.created > SESSION_LIFETIME_S:
            self.discard(s)
            return None
        return s

    def principal(self, upload_id: str) -> Principal | None:
        s = self.get(upload_id)
        return s.principal() if s is not None else None

    def acknowledge(self, s: UploadSession, size: int) -> None:
        """A chunk is in: advance and persist the received offset (what a restart resumes from)."""
        s.received += size
        with self._lock:
            self._save(s)

    def open_sink(self, upload_id: str, content_range: str | None) -> "ChunkSink | None":
        """Stream a chunk straight into the part file when it starts where the session stands.

        Anything unusual (status query, wrong offset, a concurrent PUT) returns None and the
        body goes to a spool instead, to be judged by `_session_request`.
        """
        s = self.get(upload_id)
        if s is None or s.result is not None or not content_range or s.id in self._busy:
            return None
        m = _RANGE_RE.fullmatch(content_range.strip())
        if not m or m.group(1) is None or int(m.group(1)) != s.received:
            return None
        self._busy.add(s.id)
        return ChunkSink(self, s)

    def release(self, s: UploadSession) -> None:
        self._busy.discard(s.id)

    def busy(self, s: UploadSession) -> bool:
        return s.id in self._busy

    async def wait_idle(self, upload_id: str, limit_s: float = 30.0) -> None:
        """Wait until no other chunk of this session is being written (a client retrying fast)."""
        waited = 0.0
        while upload_id in self._busy and waited < limit_s:
            await asyncio.sleep(0.002)
            waited += 0.002

    def complete(self, s: UploadSession, resp: Response) -> None:
        """Remember the final answer: a status query after a lost response must get it again."""
        s.result = {"status": resp.status, "headers": dict(resp.headers),
                    "body": resp.body.decode("utf-8", "replace")}
        try:
            self.part_path(s.id).unlink()
        except FileNotFoundError:
            pass
        with self._lock:
            self._save(s)

    def discard(self, s: UploadSession) -> None:
        with self._lock:
            self._sessions.pop(s.id, None)
            self._remove_files(s.id)


_WRITER = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="upload-writer")


class ChunkSink:
    """A chunk body written to the session's part file by a writer thread while it arrives.

    File writes release the GIL, so they overlap with receiving the rest of the chunk; the part
    file is cut back to the acknowledged offset first, so a chunk that is never acknowledged
    (dropped connection, injected fault, bad range) leaves no trace.
    """

    def __init__(self, sessions: UploadSessions, s: UploadSession) -> None:
        self.sessions = sessions
        self.session = s
        self.size = 0
        self._file = open(sessions.part_path(s.id), "r+b")
        self._file.truncate(s.received)
        self._file.seek(s.received)
        self._last: concurrent.futures.Future[Any] | None = None

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        self._last = _WRITER.submit(self._file.write, chunk)

    async def flush(self) -> None:
        """Wait until every byte received so far is in the file."""
        if self._last is not None:
            await asyncio.wrap_future(_WRITER.submit(self._file.flush))

    def close(self) -> None:
        """Close the file after the queued writes; only then may another chunk touch it."""
        done = _WRITER.submit(self._file.close)
        done.add_done_callback(lambda _: self.sessions.release(self.session))


# ---- the protocol -------------------------------------------------------------------------------

def handle(req: Request, spool: BodySpool, api: Any, ctx: "EmulatorContext", sessions: UploadSessions,
           sink: ChunkSink | None = None) -> Response:
    """Any request under /upload/drive/v3/files (req.principal set, quota already charged).

    `sink`: the body was already streamed into the session's part file (see `open_sink`).
    """
    upload_id = req.arg("upload_id")
    if upload_id:
        return _session_request(req, spool, api, sessions, upload_id, sink)
    m = _PATH_RE.fullmatch(req.path)
    if not m:
        raise DriveError(404, "notFound", "Not Found")
    file_id = m.group(1)
    if (req.method, file_id is None) not in (("POST", True), ("PATCH", False)):
        raise DriveError(405, "badRequest", f"Method {req.method} not allowed on {req.path}")
    upload_type = req.arg("uploadType")
    if upload_type == "resumable":
        return _initiate(req, spool, api, ctx, sessions, file_id)
    if upload_type == "media":
        return _commit(api, req, file_id, {}, spool.media(), _mime(req.headers.get("content-type")))
    if upload_type == "multipart":
        metadata, media, media_type = _multipart(spool, req.headers.get("content-type", ""), sessions.tmp_dir)
        try:
            return _commit(api, req, file_id, metadata, media, _mime(media_type))
        finally:
            if isinstance(media, Path):
                try:
                    media.unlink()
                except FileNotFoundError:
                    pass
    raise DriveError(400, "badRequest", f"Invalid upload type: {upload_type!r}",
                     location="uploadType", location_type="parameter")


def _mime(content_type: str | None) -> str | None:
    """The media type of a Content-Type header value (DriveApi uses it when metadata has none)."""
    value = (content_type or "").split(";")[0].strip()
    return value or None


def _commit(api: Any, req: Request, file_id: str | None, metadata: dict[str, Any],
            media: bytes | Path | None, media_mime: str | None = None) -> Response:
    if file_id is None:
        return api.files_create(req, metadata, media, media_mime=media_mime)
    return api.files_update(req, file_id, metadata, media, media_mime=media_mime)


def _initiate(req: Request, spool: BodySpool, api: Any, ctx: "EmulatorContext", sessions: UploadSessions,
              file_id: str | None) -> Response:
    assert req.principal is not None
    raw = spool.read_bytes()
    try:
        metadata = json.loads(raw) if raw.strip() else {}
    except ValueError:
        raise _bad_request("Metadata is not valid JSON.") from None
    if not isinstance(metadata, dict):
        raise _bad_request("Metadata must be a JSON object.")
    length = req.headers.get("x-upload-content-length")
    total: int | None = None
    if length not in (None, ""):
        try:
            total = int(length)
        except ValueError:
            raise _bad_request("Invalid X-Upload-Content-Length.", "X-Upload-Content-Length") from None
        if total < 0:
            raise _bad_request("Invalid X-Upload-Content-Length.", "X-Upload-Content-Length")
        api.check_upload_allowed(req.principal, total)
    if file_id is not None:  # updating: the file must exist and be visible now, not at the end
        probe = Request("GET", f"/drive/v3/files/{file_id}", {"fields": ["id"]}, {}, b"", req.principal)
        found = api.handle(probe)
        if found.status != 200:
            return found
    query = {k: v for k, v in req.query.items() if k != "upload_id"}
    s = sessions.create(email=req.principal.email, client_id=req.principal.client_id,
                        scopes=sorted(req.principal.scopes), method=req.method, path=req.path,
                        file_id=file_id, query=query,
                        headers={k: v for k, v in req.headers.items() if k != "authorization"},
                        metadata=metadata, total=total,
                        media_mime=_mime(req.headers.get("x-upload-content-type")))
    path = "upload/drive/v3/files" + (f"/{file_id}" if file_id else "")
    location = f"{ctx.base_url}{path}?uploadType=resumable&upload_id={s.id}"
    return Response(200, {"Location": location, "X-GUploader-UploadID": s.id, "Content-Length": "0"})


def _progress(s: UploadSession) -> Response:
    headers = {"Content-Length": "0", "X-GUploader-UploadID": s.id}
    if s.received > 0:
        headers["Range"] = f"bytes=0-{s.received - 1}"
    return Response(308, headers)


def _stored_result(s: UploadSession) -> Response:
    r = s.result or {}
    return Response(int(r["status"]), dict(r["headers"]), str(r["body"]).encode("utf-8"))


def _session_request(req: Request, spool: BodySpool, api: Any, sessions: UploadSessions,
                     upload_id: str, sink: ChunkSink | None = None) -> Response:
    s = sessions.get(upload_id)
    if s is None:
        raise DriveError(404, "notFound", "Upload session not found or expired.")
    if req.method not in ("PUT", "POST"):
        raise DriveError(405, "badRequest", f"Method {req.method} not allowed on an upload session")
    if s.result is not None:
        return _stored_result(s)
    size = sink.size if sink is not None else spool.size
    header = req.headers.get("content-range")
    if header is None:
        # The whole content in one request (a zero-byte file is exactly this, with no body).
        if s.received != 0 or (s.total is not None and s.total != size):
            raise _bad_request("Content-Range header required for a partial upload.", "Content-Range")
        start, total = 0, size
    else:
        m = _RANGE_RE.fullmatch(header.strip())
        if not m:
            raise _bad_request("Failed to parse Content-Range header.", "Content-Range")
        total = None if m.group(3) == "*" else int(m.group(3))
        if total is not None and s.total is not None and total != s.total:
            raise _bad_request("Content-Range total does not match the upload's length.", "Content-Range")
        if m.group(1) is None:  # status query: "bytes */TOTAL" with an empty body
            if size:
                raise _bad_request("A status query must have an empty body.", "Content-Range")
            if total is not None:
                s.total = total
            if s.total is not None and s.received == s.total:
                return _finalize(s, api, sessions)
            return _progress(s)
        start, end = int(m.group(1)), int(m.group(2))
        if end < start or (total is not None and end >= total):
            raise _bad_request("Invalid Content-Range.", "Content-Range")
        if end - start + 1 != size:
            raise _bad_request("Request body length does not match Content-Range.", "Content-Range")
    if total is not None:
        s.total = total
    if start != s.received:
        return _progress(s)  # the client resends from the Range we report
    if size:
        if sink is None and sessions.busy(s):
            return _progress(s)  # another chunk's bytes are still being written: resend later
        if sink is None:
            with open(sessions.part_path(s.id), "r+b") as part:
                part.truncate(s.received)  # drop bytes of any chunk that was never acknowledged
                part.seek(s.received)
                spool.copy_to(part)
        sessions.acknowledge(s, size)
    if s.total is not None and s.received >= s.total:
        return _finalize(s, api, sessions)
    return _progress(s)


def _finalize(s: UploadSession, api: Any, sessions: UploadSessions) -> Response:
    req = Request(s.method, s.path, dict(s.query), dict(s.headers), b"", s.principal())
    part = sessions.part_path(s.id)
    with open(part, "r+b") as f:
        f.truncate(s.received)
    try:
        resp = _commit(api, req, s.file_id, dict(s.metadata), part, s.media_mime)
    except DriveError:
        sessions.discard(s)
        raise
    if resp.status >= 400:
        sessions.discard(s)
        return resp
    sessions.complete(s, resp)
    return resp
