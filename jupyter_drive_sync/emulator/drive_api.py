"""DriveApi: every `/drive/v3/...` call, routed to its resource in `drive_v3/`.

The tornado shell, the upload protocol and batch parts all end up here with a `wire.Request`,
so a call behaves the same whichever way it arrives. Behaviour follows
/work/shared/reference/drive-api-v3.md: Google's JSON shapes, error envelopes, the
drive.file visibility rule, generateIds + create-with-id, revisions, the changes feed.
"""

from __future__ import annotations

import urllib.parse
from pathlib import Path
from typing import Callable

from .context import EmulatorContext
from .drive_v3.about import About
from .drive_v3.changes import Changes
from .drive_v3.files_read import FileReads
from .drive_v3.files_write import FileWrites
from .drive_v3.params import invalid, json_body, merge_form_query
from .drive_v3.revisions import Revisions
from .store import DriveStore
from .wire import DriveError, Principal, Request, Response

_PREFIX = "/drive/v3/"


class DriveApi:
    """Drive v3 over one emulator's store: `handle` routes; uploads call the file writes directly."""

    def __init__(self, ctx: EmulatorContext) -> None:
        self.ctx = ctx
        self._about = About(ctx)
        self._changes = Changes(ctx)
        self._reads = FileReads(ctx)
        self._writes = FileWrites(ctx)
        self._revisions = Revisions(ctx)

    @property
    def store(self) -> DriveStore:
        return self.ctx.files

    # ---- entry points of the upload protocol (media already staged) ----------------------------

    def files_create(self, req: Request, metadata: dict, media: bytes | Path | None,
                     media_mime: str | None = None) -> Response:
        return self._writes.create(req, metadata, media, media_mime)

    def files_update(self, req: Request, file_id: str, metadata: dict, media: bytes | Path | None,
                     media_mime: str | None = None) -> Response:
        return self._writes.update(req, file_id, metadata, media, media_mime)

    def check_upload_allowed(self, principal: Principal, size: int) -> None:
        """Refuse (403) an upload that would overfill the Drive or pass the daily cap."""
        self._writes.check_upload_allowed(principal, size)

    # ---- routing --------------------------------------------------------------------------------

    def handle(self, req: Request) -> Response:
        """Answer any /drive/v3/... request; errors come back in Google's envelope."""
        try:
            return self._route(req)
        except DriveError as err:
            return err.to_response()

    def _route(self, req: Request) -> Response:
        merge_form_query(req)
        if not req.path.startswith(_PREFIX):
            raise DriveError(404, "notFound", "Not Found")
        parts = [urllib.parse.unquote(s) for s in req.path[len(_PREFIX):].split("/")]
        if parts and parts[-1] == "":
            parts.pop()
        method = req.method.upper()
        alt = req.arg("alt", "json")
        if alt not in ("json", "media"):
            raise invalid(f"Invalid value '{alt}'. Values must match the following regular expression: '(json|media)'", "alt")
        n = len(parts)
        table: list[tuple[str, tuple[str, ...], Callable[[], Response]]] = [
            ("GET", ("about",), lambda: self._about.about(req)),
            ("GET", ("changes", "startPageToken"), lambda: self._changes.start_page_token(req)),
            ("GET", ("changes",), lambda: self._changes.list_changes(req)),
            ("GET", ("files",), lambda: self._reads.list_files(req)),
            ("POST", ("files",), lambda: self._writes.create(req, json_body(req), None)),
            ("GET", ("files", "generateIds"), lambda: self._about.generate_ids(req)),
            ("DELETE", ("files", "trash"), lambda: self._writes.empty_trash(req)),
        ]
        for m, shape, fn in table:
            if m == method and tuple(parts) == shape:
                return fn()
        if n >= 2 and parts[0] == "files":
            file_id = parts[1]
            if n == 2:
                if method == "GET":
                    return self._reads.get_file(req, file_id)
                if method in ("PATCH", "PUT"):
                    return self._writes.update(req, file_id, json_body(req), None)
                if method == "DELETE":
                    return self._writes.delete(req, file_id)
            if n == 3 and parts[2] == "copy" and method == "POST":
                return self._writes.copy(req, file_id, json_body(req))
            if n == 3 and parts[2] == "revisions" and method == "GET":
                return self._revisions.list_revisions(req, file_id)
            if n == 4 and parts[2] == "revisions":
                rev_id = parts[3]
                if method == "GET":
                    return self._revisions.get_revision(req, file_id, rev_id)
                if method in ("PATCH", "PUT"):
                    return self._revisions.update_revision(req, file_id, rev_id, json_body(req))
                if method == "DELETE":
                    return self._revisions.delete_revision(req, file_id, rev_id)
        raise DriveError(404, "notFound", "Not Found")
