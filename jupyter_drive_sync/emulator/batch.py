"""`/batch/drive/v3`: multipart/mixed batches of up to 100 Drive calls.

Each part is an `application/http` request that goes through `DriveApi.handle` exactly like
a top-level call, authenticated by its own Authorization header when it carries one and
charged one quota unit. The response mirrors Google's: parts with `Content-ID:
<response-ORIGINAL>` and CRLF line endings, which is what googleapiclient's
`BatchHttpRequest._execute` / `_header_to_id` / `_deserialize_response` parse.
"""

from __future__ import annotations

import re
import secrets
import urllib.parse
from http import HTTPStatus
from .context import EmulatorContext
from .drive_api import DriveApi
from .wire import DriveError, Principal, Request, Response

MAX_PARTS = 100
_BOUNDARY_RE = re.compile(r'boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))', re.I)


def _bad(message: str) -> DriveError:
    return DriveError(400, "badRequest", message)


def _split_head(blob: bytes) -> tuple[bytes, bytes]:
    """Split headers from body at the first blank line (CRLF or bare LF)."""
    crlf, lf = blob.find(b"\r\n\r\n"), blob.find(b"\n\n")
    if crlf != -1 and (lf == -1 or crlf <= lf):
        return blob[:crlf], blob[crlf + 4 :]
    if lf != -1:
        return blob[:lf], blob[lf + 2 :]
    return blob, b""


def _headers(block: bytes) -> tuple[list[str], dict[str, str]]:
    lines = block.decode("utf-8", "replace").replace("\r\n", "\n").split("\n")
    out: dict[str, str] = {}
    last: str | None = None
    for line in lines:
        if line[:1] in (" ", "\t") and last is not None:
            # A folded header (obs-fold): googleapiclient's email generator wraps long
            # Content-ID values onto a continuation line; it belongs to the previous header.
            out[last] = f"{out[last]} {line.strip()}".strip()
        elif ":" in line:
            key, value = line.split(":", 1)
            last = key.strip().lower()
            out[last] = value.strip()
    return lines, out


def split_parts(body: bytes, boundary: str) -> list[bytes]:
    """The body parts of a multipart message (preamble and epilogue dropped)."""
    delim = b"--" + boundary.encode("latin-1")
    chunks = body.split(delim)
    parts = []
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break  # closing delimiter
        if chunk.startswith(b"\r\n"):
            chunk = chunk[2:]
        elif chunk.startswith(b"\n"):
            chunk = chunk[1:]
        # the line break before the next delimiter belongs to the delimiter
        if chunk.endswith(b"\r\n"):
            chunk = chunk[:-2]
        elif chunk.endswith(b"\n"):
            chunk = chunk[:-1]
        parts.append(chunk)
    return parts


def _inner_request(payload: bytes) -> Request:
    """Parse an application/http part: request line, headers, body."""
    head, body = _split_head(payload)
    lines, headers = _headers(head)
    request_line = lines[0].strip() if lines else ""
    bits = request_line.split()
    if len(bits) < 2:
        raise _bad("Invalid request line in batch part.")
    method, target = bits[0].upper(), bits[1]
    split = urllib.parse.urlsplit(target)
    length = headers.get("content-length")
    if length is not None and length.isdigit() and int(length) <= len(body):
        body = body[: int(length)]
    override = headers.get("x-http-method-override")
    return Request(
        method=(override or method).upper(),
        path=split.path,
        query=urllib.parse.parse_qs(split.query, keep_blank_values=True),
        headers=headers,
        body=body,
    )


def _http_part(resp: Response, content_id: str | None) -> bytes:
    try:
        phrase = HTTPStatus(resp.status).phrase
    except ValueError:
        phrase = "Unknown"
    out = [b"Content-Type: application/http"]
    if content_id:
        inner = content_id.strip()
        if inner.startswith("<") and inner.endswith(">"):
            inner = inner[1:-1]
        out.append(f"Content-ID: <response-{inner}>".encode("utf-8"))
    out.append(b"")
    out.append(f"HTTP/1.1 {resp.status} {phrase}".encode("ascii"))
    headers = dict(resp.headers)
    headers["Content-Length"] = str(len(resp.body))
    for key, value in headers.items():
        out.append(f"{key}: {value}".encode("utf-8"))
    out.append(b"")
    out.append(resp.body)
    return b"\r\n".join(out)


def _run_part(req: Request, part: bytes, api: DriveApi, ctx: EmulatorContext) -> tuple[Response, str | None]:
    head, payload = _split_head(part)
    _, outer = _headers(head)
    content_id = outer.get("content-id")
    try:
        inner = _inner_request(payload)
        auth = inner.headers.get("authorization")
        principal: Principal | None = ctx.accounts.authenticate(auth) if auth else req.principal
        if principal is None:
            raise DriveError(401, "required", "Login Required.", location="Authorization", location_type="header")
        inner.principal = principal
        ctx.limiter.admit(principal.email, inner.method, inner.path)  # each call counts, writes too
        if inner.path.startswith("/upload/"):
            raise _bad("Media requests cannot be used in a batch request.")
        if not inner.path.startswith("/drive/v3/"):
            raise DriveError(404, "notFound", "Not Found")
        return api.handle(inner), content_id
    except DriveError as err:
        return err.to_response(), content_id


def handle_batch(req: Request, api: DriveApi, ctx: EmulatorContext) -> Response:
    """Answer POST /batch/drive/v3: run each part in order, reply multipart/mixed."""
    try:
        ctype = req.headers.get("content-type", "")
        m = _BOUNDARY_RE.search(ctype)
        if not ctype.lower().startswith("multipart/mixed") or not m:
            raise _bad("Batch requests must be multipart/mixed with a boundary.")
        parts = split_parts(req.body, m.group(1) or m.group(2))
        if not parts:
            raise _bad("A batch request must contain at least one request.")
        if len(parts) > MAX_PARTS:
            raise _bad(f"A batch request cannot contain more than {MAX_PARTS} requests.")
    except DriveError as err:
        return err.to_response()
    boundary = "batch_" + secrets.token_urlsafe(18).replace("-", "A").replace("_", "B")
    chunks = []
    for part in parts:
        resp, content_id = _run_part(req, part, api, ctx)
        chunks.append(b"--" + boundary.encode() + b"\r\n" + _http_part(resp, content_id) + b"\r\n")
    body = b"".join(chunks) + b"--" + boundary.encode() + b"--\r\n"
    return Response(200, {"Content-Type": f"multipart/mixed; boundary={boundary}"}, body)
