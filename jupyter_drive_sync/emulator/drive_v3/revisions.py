"""revisions.list, .get (metadata or content), .update (keepForever) and .delete.

A revision is the content a file had after one upload. As on Google, `head` names the newest,
the newest cannot be deleted, and at most 200 of a file's revisions may be kept forever (the
discovery document, Revision.keepForever: "This can be set on a maximum of 200 revisions for a
file"; Google documents no error body for the 201st, so `cannotKeepRevisionForever` is ours).
Old unpinned revisions are purged on the emulator's clock before any of these calls looks at
them (`DriveStore.expire_revisions`; the rule and its source are in records.py).
"""

from __future__ import annotations

from typing import Any

from .. import discovery, fields
from ..context import EmulatorContext
from ..records import FileRec, RevRec
from ..store import DriveStore
from ..wire import DriveError, Request, Response
from .access import caller, lookup
from .files_read import download
from .metadata import REVISION_WRITABLE, check_pin_count, with_keep
from .params import decode_token, encode_token, int_arg, invalid, not_writable
from .shapes import answer, revision_json


def _revision(rec: FileRec, rev_id: str) -> tuple[int, RevRec]:
    for i, rev in enumerate(rec.revisions):
        if rev.id == rev_id or (rev_id == "head" and i == len(rec.revisions) - 1):
            return i, rev
    raise DriveError(404, "notFound", f"Revision not found: {rev_id}.", location="revisionId",
                     location_type="parameter")


class Revisions:
    def __init__(self, ctx: EmulatorContext) -> None:
        self.ctx = ctx

    @property
    def store(self) -> DriveStore:
        return self.ctx.files

    def _current(self, rec: FileRec) -> FileRec:
        """`rec` without the revisions Google would have purged by now."""
        return self.store.expire_revisions(rec.id) or rec

    def list_revisions(self, req: Request, file_id: str) -> Response:
        p, acc = caller(req)
        page_size = int_arg(req, "pageSize", 200, 1, 1000)
        tree = fields.selection(req.arg("fields"), "RevisionList")
        offset = 0
        if req.arg("pageToken"):
            state = decode_token(req.arg("pageToken") or "")
            offset = state.get("o", 0) if isinstance(state.get("o"), int) else 0
        with self.store.lock:
            rec = self._current(lookup(self.store, p, acc, file_id))
            revs = rec.revisions[offset : offset + page_size]
            out: dict[str, Any] = {"kind": "drive#revisionList"}
            if offset + page_size < len(rec.revisions):
                out["nextPageToken"] = encode_token({"o": offset + page_size})
            out["revisions"] = [revision_json(self.ctx, rec, r) for r in revs]
        return answer(out, tree)

    def get_revision(self, req: Request, file_id: str, rev_id: str) -> Response:
        p, acc = caller(req)
        media = req.arg("alt") == "media"
        tree = None if media else fields.selection(req.arg("fields"), "Revision")
        with self.store.lock:
            rec = self._current(lookup(self.store, p, acc, file_id))
            _, rev = _revision(rec, rev_id)
            if not media:
                return answer(revision_json(self.ctx, rec, rev), tree)
        return download(self.store, req, rev.sha256, rev.size, rev.mime_type, file_id)

    def update_revision(self, req: Request, file_id: str, rev_id: str, body: Any) -> Response:
        p, acc = caller(req)
        if not isinstance(body, dict):
            raise invalid("Invalid JSON payload received.", reason="badRequest")
        for key in body:
            if key not in discovery.schemas()["Revision"]["properties"]:
                raise invalid(f'Invalid JSON payload received. Unknown name "{key}": Cannot find field.')
            if key not in REVISION_WRITABLE:
                raise not_writable()
        if "keepForever" in body and not isinstance(body["keepForever"], bool):
            raise invalid("Invalid value for: keepForever")
        tree = fields.selection(req.arg("fields"), "Revision")
        with self.store.lock:
            old = self._current(lookup(self.store, p, acc, file_id, write=True))
            i, rev = _revision(old, rev_id)
            if "keepForever" in body and body["keepForever"] != rev.keep_forever:
                rec = old.copy()
                rec.revisions[i] = rev = with_keep(rev, body["keepForever"])
                check_pin_count(rec)
                self.store.write(rec, log_change=False)
                old = rec
            return answer(revision_json(self.ctx, old, rev), tree)

    def delete_revision(self, req: Request, file_id: str, rev_id: str) -> Response:
        p, acc = caller(req)
        with self.store.lock:
            old = self._current(lookup(self.store, p, acc, file_id, write=True))
            i, _ = _revision(old, rev_id)
            if i == len(old.revisions) - 1:
                raise DriveError(400, "cannotDeleteHeadRevision", "The head revision cannot be deleted.")
            rec = old.copy()
            del rec.revisions[i]
            self.store.write(rec, log_change=False)
        return Response(204)
