"""files.get (metadata or content, byte ranges too) and files.list (`q`, orderBy, paging)."""

from __future__ import annotations

import hashlib
import re
from typing import Any, Callable

from .. import fields
from ..context import EmulatorContext
from ..query import compile_query
from ..records import FileRec
from ..store import DriveStore
from ..wire import DriveError, Request, Response
from .access import caller, lookup, not_found, resolve, visible
from .metadata import GOOGLE_APPS
from .params import decode_token, encode_token, int_arg, invalid
from .shapes import answer, file_json

_ORDER_KEYS = {
    "folder", "modifiedTime", "name", "name_natural", "createdTime", "quotaBytesUsed",
    "recency", "starred", "viewedByMeTime", "modifiedByMeTime", "sharedWithMeTime",
}
_RANGE_RE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$")


class FileReads:
    """The calls that read files."""

    def __init__(self, ctx: EmulatorContext) -> None:
        self.ctx = ctx

    @property
    def store(self) -> DriveStore:
        return self.ctx.files

    def get_file(self, req: Request, file_id: str) -> Response:
        p, acc = caller(req)
        if req.arg("alt") == "media":
            with self.store.lock:
                rec = lookup(self.store, p, acc, file_id)
                if rec.is_folder or rec.mime_type.startswith(GOOGLE_APPS) or rec.head is None:
                    raise DriveError(
                        403, "fileNotDownloadable",
                        "Only files with binary content can be downloaded. Use Export with Docs Editors files.",
                        location="alt", location_type="parameter",
                    )
                head = rec.head
            return download(self.store, req, head.sha256, head.size, rec.mime_type, rec.id)
        tree = fields.selection(req.arg("fields"), "File")
        with self.store.lock:
            rec = lookup(self.store, p, acc, file_id)
            return answer(file_json(self.ctx, rec, p), tree)

    def list_files(self, req: Request) -> Response:
        p, acc = caller(req)
        page_size = int_arg(req, "pageSize", 100, 1, 1000)
        tree = fields.selection(req.arg("fields"), "FileList")
        spaces = {s.strip() for s in (req.arg("spaces") or "drive").split(",") if s.strip()}
        if not spaces <= {"drive", "appDataFolder", "photos"}:
            raise invalid("Invalid Value", "spaces")
        corpora = req.arg("corpora") or "user"
        if corpora not in ("user", "domain", "drive", "allDrives"):
            raise invalid("Invalid Value", "corpora")
        order = _parse_order(req.arg("orderBy"))
        q_text = req.arg("q")
        with self.store.lock:
            query = compile_query(
                q_text, resolve_id=lambda i: resolve(self.store, p, i), email=p.email, client_id=p.client_id
            )
            if "drive" not in spaces:
                candidates: list[FileRec] = []
            elif query.parent_hint is not None:
                candidates = [r for pid in query.parent_hint for r in self.store.children(pid)]
            else:
                candidates = self.store.owned(p.email)
            matches = [
                r for r in candidates if not r.is_root and visible(r, p, acc) and query.match(r)
            ]
            _sort(matches, order)
            offset = 0
            token = req.arg("pageToken")
            signature = hashlib.sha1(f"{q_text}|{req.arg('orderBy')}".encode()).hexdigest()[:8]
            if token:
                state = decode_token(token)
                if state.get("s") != signature or not isinstance(state.get("o"), int) or state["o"] < 0:
                    raise invalid("Invalid Value", "pageToken")
                offset = state["o"]
            page = matches[offset : offset + page_size]
            out: dict[str, Any] = {"kind": "drive#fileList", "incompleteSearch": False}
            if offset + page_size < len(matches):
                out["nextPageToken"] = encode_token({"o": offset + page_size, "s": signature})
            out["files"] = [file_json(self.ctx, r, p) for r in page]
        return answer(out, tree)


def download(store: DriveStore, req: Request, sha256: str, size: int, mime: str, file_id: str) -> Response:
    """Content, or one byte range of it (206 + Content-Range; 416 when unsatisfiable)."""
    headers = {"Content-Type": mime, "Accept-Ranges": "bytes", "Content-Disposition": "attachment"}
    rng = _parse_range(req.headers.get("range"), size)
    try:
        if rng is None:
            return Response(200, headers, store.blobs.read(sha256))
        if rng == "unsatisfiable":
            return DriveError(
                416, "requestedRangeNotSatisfiable", "Request range not satisfiable",
                headers={"Content-Range": f"bytes */{size}"},
            ).to_response()
        start, end = rng
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        return Response(206, headers, store.blobs.read(sha256, start, end - start + 1))
    except FileNotFoundError:
        raise not_found(file_id) from None


def _parse_range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """(start, end) inclusive, 'unsatisfiable', or None (serve everything) for a Range header."""
    if not header:
        return None
    m = _RANGE_RE.match(header)
    if not m or (not m.group(1) and not m.group(2)):
        return None  # unsupported syntax (e.g. several ranges): ignore it, as HTTP allows
    first, last = m.group(1), m.group(2)
    if first:
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
        if last and int(last) < start:
            return None
        if start >= size:
            return "unsatisfiable"
        return start, end
    suffix = int(last)
    if suffix == 0 or size == 0:
        return "unsatisfiable"
    return max(0, size - suffix), size - 1


def _parse_order(raw: str | None) -> list[tuple[str, bool]]:
    if not raw:
        return []
    out = []
    for item in raw.split(","):
        words = item.split()
        if not words or len(words) > 2 or words[0] not in _ORDER_KEYS or (len(words) == 2 and words[1] != "desc"):
            raise invalid("Invalid Value", "orderBy")
        out.append((words[0], len(words) == 2))
    return out


_SORT_KEYS: dict[str, Callable[[FileRec], Any]] = {
    "folder": lambda r: 0 if r.is_folder else 1,
    "modifiedTime": lambda r: r.modified_ms,
    "recency": lambda r: r.modified_ms,
    "modifiedByMeTime": lambda r: r.modified_by_me_ms or r.modified_ms,
    "name": lambda r: (r.name.casefold(), r.name),
    "name_natural": lambda r: [int(t) if t.isdigit() else t.casefold() for t in re.split(r"(\d+)", r.name)],
    "createdTime": lambda r: r.created_ms,
    "quotaBytesUsed": lambda r: r.quota_bytes,
    "starred": lambda r: r.starred,
    "viewedByMeTime": lambda r: r.viewed_by_me_ms or 0,
    "sharedWithMeTime": lambda r: 0,
}


def _sort(recs: list[FileRec], order: list[tuple[str, bool]]) -> None:
    """Sort by the orderBy keys (stable, last key first); ties and the default: creation order."""
    recs.sort(key=lambda r: (r.created_ms, r.id))
    for key, desc in reversed(order):
        recs.sort(key=_SORT_KEYS[key], reverse=desc)
