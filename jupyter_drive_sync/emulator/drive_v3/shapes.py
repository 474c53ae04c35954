"""The JSON Drive prints for files, revisions and users, built from store records.

Full resources, as Google prints them with `fields=*`; `answer` trims them to the request's
`fields` selection, which is how every route replies.
"""

from __future__ import annotations

import hashlib
import urllib.parse
from typing import Any

from .. import fields
from ..context import EmulatorContext
from ..records import FileRec, RevRec, format_time
from ..wire import Principal, Response


def account_attr(ctx: EmulatorContext, email: str, attr: str, fallback: Any) -> Any:
    """An attribute of the account, or `fallback` for an unknown account (settings decide)."""
    try:
        acc = ctx.accounts.get(email)
    except Exception:  # unknown account: settings decide
        acc = None
    value = getattr(acc, attr, None) if acc is not None else None
    return fallback if value is None else value


def permission_id(email: str) -> str:
    return str(int(hashlib.sha256(email.lower().encode()).hexdigest()[:16], 16))[:20]


def user_json(ctx: EmulatorContext, email: str) -> dict[str, Any]:
    display = account_attr(ctx, email, "display_name", None) or email.split("@")[0]
    return {
        "kind": "drive#user",
        "displayName": display,
        "emailAddress": email,
        "me": True,
        "permissionId": permission_id(email),
    }


def file_json(ctx: EmulatorContext, rec: FileRec, p: Principal) -> dict[str, Any]:
    """The full File resource as Google prints it; `fields` trims it afterwards."""
    user = user_json(ctx, rec.owner)
    base = ctx.base_url or "http://127.0.0.1/"
    folder = rec.is_folder
    d: dict[str, Any] = {
        "kind": "drive#file",
        "id": rec.id,
        "name": rec.name,
        "mimeType": rec.mime_type,
        "starred": rec.starred,
        "trashed": rec.trashed,
        "explicitlyTrashed": rec.explicitly_trashed,
    }
    if rec.trashed and rec.trashed_ms is not None:
        d["trashedTime"] = format_time(rec.trashed_ms)
        d["trashingUser"] = user
    if rec.parent:
        d["parents"] = [rec.parent]
    if rec.description is not None:
        d["description"] = rec.description
    if rec.properties:
        d["properties"] = dict(rec.properties)
    app = rec.app_properties.get(p.client_id)
    if app:
        d["appProperties"] = dict(app)
    d.update(
        {
            "spaces": ["drive"],
            "version": str(rec.version),
            "webViewLink": f"{base}drive/folders/{rec.id}" if folder else f"{base}file/d/{rec.id}/view",
            "iconLink": f"{base}icons/{urllib.parse.quote(rec.mime_type, safe='')}",
            "hasThumbnail": False,
            "thumbnailVersion": "0",
            "viewedByMe": rec.viewed_by_me_ms is not None,
            "createdTime": format_time(rec.created_ms),
            "modifiedTime": format_time(rec.modified_ms),
            "modifiedByMeTime": format_time(rec.modified_by_me_ms or rec.modified_ms),
            "modifiedByMe": True,
            "owners": [user],
            "lastModifyingUser": user,
            "shared": False,
            "ownedByMe": True,
            "viewersCanCopyContent": True,
            "copyRequiresWriterPermission": False,
            "writersCanShare": True,
            "permissionIds": [permission_id(rec.owner)],
            "isAppAuthorized": rec.creator_client == p.client_id,
            "quotaBytesUsed": str(0 if folder else rec.quota_bytes),  # head + pinned revisions
            "capabilities": {
                "canAddChildren": folder,
                "canDelete": True,
                "canDownload": not folder,
                "canEdit": True,
                "canRename": True,
                "canTrash": not rec.is_root,
                "canUntrash": True,
                "canReadRevisions": not folder,
            },
        }
    )
    if rec.viewed_by_me_ms is not None:
        d["viewedByMeTime"] = format_time(rec.viewed_by_me_ms)
    if not folder and rec.head is not None:
        head = rec.head
        if rec.original_filename is not None:
            d["originalFilename"] = rec.original_filename
        if "." in rec.name and not rec.name.endswith("."):
            d["fileExtension"] = rec.name.rsplit(".", 1)[1]
            d["fullFileExtension"] = rec.name.split(".", 1)[1]
        d.update(
            {
                "webContentLink": f"{base}uc?id={rec.id}&export=download",
                "md5Checksum": head.md5,
                "sha1Checksum": head.sha1,
                "sha256Checksum": head.sha256,
                "size": str(head.size),
                "headRevisionId": head.id,
            }
        )
    return d


def revision_json(ctx: EmulatorContext, rec: FileRec, rev: RevRec) -> dict[str, Any]:
    d: dict[str, Any] = {
        "kind": "drive#revision",
        "id": rev.id,
        "mimeType": rev.mime_type,
        "modifiedTime": format_time(rev.modified_ms),
        "keepForever": rev.keep_forever,
        "published": False,
        "lastModifyingUser": user_json(ctx, rec.owner),
        "md5Checksum": rev.md5,
        "size": str(rev.size),
    }
    if rev.original_filename is not None:
        d["originalFilename"] = rev.original_filename
    return d


def answer(obj: dict[str, Any], tree: dict[str, Any] | None) -> Response:
    """200 with `obj` trimmed to the request's `fields` selection."""
    return Response.json(200, fields.apply(obj, tree))
