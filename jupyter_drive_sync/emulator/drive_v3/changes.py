"""changes.getStartPageToken and changes.list: the account's change feed as the caller sees it.

A drive.file caller only hears of its own client's files (and of their removal), exactly the
visibility rule of files.list, so a feed never leaks another app's file names.
"""

from __future__ import annotations

from typing import Any

from .. import fields
from ..context import EmulatorContext
from ..records import format_time
from ..store import DriveStore
from ..wire import DriveError, Request, Response
from .access import caller, visible
from .params import bool_arg, int_arg, invalid
from .shapes import answer, file_json


class Changes:
    def __init__(self, ctx: EmulatorContext) -> None:
        self.ctx = ctx

    @property
    def store(self) -> DriveStore:
        return self.ctx.files

    def start_page_token(self, req: Request) -> Response:
        caller(req)
        tree = fields.selection(req.arg("fields"), "StartPageToken")
        token = str(self.store.start_page_token())
        return answer({"kind": "drive#startPageToken", "startPageToken": token}, tree)

    def list_changes(self, req: Request) -> Response:
        p, acc = caller(req)
        raw = req.arg("pageToken")
        if raw is None or raw == "":
            raise DriveError(400, "required", "Required parameter: pageToken", location="pageToken",
                             location_type="parameter")
        try:
            token = int(raw)
            if token < 1:
                raise ValueError
        except ValueError:
            raise invalid("Invalid Value", "pageToken") from None
        page_size = int_arg(req, "pageSize", 100, 1, 1000)
        include_removed = bool_arg(req, "includeRemoved", True)
        tree = fields.selection(req.arg("fields"), "ChangeList")
        with self.store.lock:
            entries: list[dict[str, Any]] = []
            last_seq = None
            more = False
            for file_id, seq, ts, client in self.store.changes_since(p.email, token):
                rec = self.store.get(file_id)
                if rec is not None and not visible(rec, p, acc):
                    continue
                if rec is None and not (acc.read_all or client == p.client_id):
                    continue
                if rec is None and not include_removed:
                    continue
                if len(entries) == page_size:
                    more = True
                    break
                entry: dict[str, Any] = {
                    "kind": "drive#change", "changeType": "file", "type": "file", "fileId": file_id,
                    "removed": rec is None, "time": format_time(ts),
                }
                if rec is not None:
                    entry["file"] = file_json(self.ctx, rec, p)
                entries.append(entry)
                last_seq = seq
            out: dict[str, Any] = {"kind": "drive#changeList"}
            if more and last_seq is not None:
                out["nextPageToken"] = str(last_seq + 1)
            else:
                out["newStartPageToken"] = str(self.store.start_page_token())
            out["changes"] = entries
        return answer(out, tree)
