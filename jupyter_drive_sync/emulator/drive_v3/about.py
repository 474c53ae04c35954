"""about.get and files.generateIds: account-wide calls that read or change no file."""

from __future__ import annotations

from .. import fields
from ..context import EmulatorContext
from ..wire import DriveError, Request, Response
from .access import caller
from .params import int_arg, invalid
from .shapes import account_attr, answer, user_json

MAX_UPLOAD_SIZE = 5_497_558_138_880


class About:
    def __init__(self, ctx: EmulatorContext) -> None:
        self.ctx = ctx

    def about(self, req: Request) -> Response:
        p, _ = caller(req)
        if not req.arg("fields"):
            raise DriveError(400, "required", "The 'fields' parameter is required for this method.",
                             location="fields", location_type="parameter")
        tree = fields.selection(req.arg("fields"), "About")
        limit = int(account_attr(self.ctx, p.email, "storage_quota_bytes", self.ctx.settings.storage_quota_bytes))
        used, trash = self.ctx.files.usage(p.email)
        about = {
            "kind": "drive#about",
            "user": user_json(self.ctx, p.email),
            "storageQuota": {
                "limit": str(limit), "usage": str(used), "usageInDrive": str(used), "usageInDriveTrash": str(trash),
            },
            "maxUploadSize": str(MAX_UPLOAD_SIZE),
            "appInstalled": True,
            "canCreateDrives": False,
            "canCreateTeamDrives": False,
            "importFormats": {},
            "exportFormats": {},
            "maxImportSizes": {},
            "folderColorPalette": [],
        }
        return answer(about, tree)

    def generate_ids(self, req: Request) -> Response:
        """Ids reserved for the caller, usable once each in a files.create body."""
        p, _ = caller(req)
        count = int_arg(req, "count", 10, 1, 1000)
        space = req.arg("space") or "drive"
        if space not in ("drive", "appDataFolder"):
            raise invalid(f"Invalid value '{space}'.", "space")
        kind = req.arg("type") or "files"
        if kind not in ("files", "shortcuts"):
            raise invalid(f"Invalid value '{kind}'.", "type")
        tree = fields.selection(req.arg("fields"), "GeneratedIds")
        ids = self.ctx.files.generate_ids(p.email, count)
        return answer({"kind": "drive#generatedIds", "space": space, "ids": ids}, tree)
