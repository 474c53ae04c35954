"""The `/upload/drive/v3/files[/{id}]` wire protocol: media, multipart and resumable uploads.

Content semantics belong to `DriveApi.files_create/files_update`; this module only gets the
bytes there. Bodies are staged on disk (bodies.py), resumable sessions persist across
restarts (resumable.py), and the resumable state machine follows Google's documented
protocol byte for byte (reference/drive-api-v3.md, "Resumable uploads").
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from .bodies import BodySpool, bad_request, read_multipart
from .context import EmulatorContext
from .drive_api import DriveApi
from .resumable import CONTENT_RANGE_RE, ChunkSink, UploadSession, UploadSessions
from .wire import DriveError, Request, Response

_PATH_RE = re.compile(r"/upload/drive/v3/files(?:/([^/]+))?/?")


def handle(req: Request, spool: BodySpool, api: DriveApi, ctx: EmulatorContext, sessions: UploadSessions,
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
        metadata, media, media_type = read_multipart(spool, req.headers.get("content-type", ""), sessions.tmp_dir)
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


def _commit(api: DriveApi, req: Request, file_id: str | None, metadata: dict[str, Any],
            media: bytes | Path | None, media_mime: str | None = None) -> Response:
    if file_id is None:
        return api.files_create(req, metadata, media, media_mime=media_mime)
    return api.files_update(req, file_id, metadata, media, media_mime=media_mime)


def _initiate(req: Request, spool: BodySpool, api: DriveApi, ctx: EmulatorContext, sessions: UploadSessions,
              file_id: str | None) -> Response:
    assert req.principal is not None
    raw = spool.read_bytes()
    try:
        metadata = json.loads(raw) if raw.strip() else {}
    except ValueError:
        raise bad_request("Metadata is not valid JSON.") from None
    if not isinstance(metadata, dict):
        raise bad_request("Metadata must be a JSON object.")
    length = req.headers.get("x-upload-content-length")
    total: int | None = None
    if length not in (None, ""):
        try:
            total = int(length)
        except ValueError:
            raise bad_request("Invalid X-Upload-Content-Length.", "X-Upload-Content-Length") from None
        if total < 0:
            raise bad_request("Invalid X-Upload-Content-Length.", "X-Upload-Content-Length")
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


def _session_request(req: Request, spool: BodySpool, api: DriveApi, sessions: UploadSessions,
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
            raise bad_request("Content-Range header required for a partial upload.", "Content-Range")
        start, total = 0, size
    else:
        m = CONTENT_RANGE_RE.fullmatch(header.strip())
        if not m:
            raise bad_request("Failed to parse Content-Range header.", "Content-Range")
        total = None if m.group(3) == "*" else int(m.group(3))
        if total is not None and s.total is not None and total != s.total:
            raise bad_request("Content-Range total does not match the upload's length.", "Content-Range")
        if m.group(1) is None:  # status query: "bytes */TOTAL" with an empty body
            if size:
                raise bad_request("A status query must have an empty body.", "Content-Range")
            if total is not None:
                s.total = total
            if s.total is not None and s.received == s.total:
                return _finalize(s, api, sessions)
            return _progress(s)
        start, end = int(m.group(1)), int(m.group(2))
        if end < start or (total is not None and end >= total):
            raise bad_request("Invalid Content-Range.", "Content-Range")
        if end - start + 1 != size:
            raise bad_request("Request body length does not match Content-Range.", "Content-Range")
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


def _finalize(s: UploadSession, api: DriveApi, sessions: UploadSessions) -> Response:
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
