"""DriveApi: the semantics of every `/drive/v3/...` call, framework-free.

The tornado shell, the upload protocol and batch parts all end up here with a `wire.Request`,
so a call behaves the same whichever way it arrives. Behaviour follows
/work/shared/reference/drive-api-v3.md: Google's JSON shapes, error envelopes, the
drive.file visibility rule, generateIds + create-with-id, revisions, the changes feed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import urllib.parse
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from . import discovery, fields
from .query import compile_query
from .store import FOLDER_MIME, ID_RE, Blob, DriveStore, FileRec, RevRec, format_time, now_ms, parse_time
from .wire import DriveError, Principal, Request, Response

if TYPE_CHECKING:
    from .context import EmulatorContext

SCOPE_DRIVE = "https://www.googleapis.com/auth/drive"
SCOPE_FILE = "https://www.googleapis.com/auth/drive.file"
_READ_ALL_SCOPES = {
    SCOPE_DRIVE,
    "https://www.googleapis.com/auth/drive.readonly",
    "https://www.googleapis.com/auth/drive.metadata",
    "https://www.googleapis.com/auth/drive.metadata.readonly",
}
MAX_UPLOAD_SIZE = 5_497_558_138_880
PROP_LIMIT_BYTES = 124
APP_PROPS_PER_APP = 30
PROPS_TOTAL = 100
PINNED_LIMIT = 200
_GOOGLE_APPS = "application/vnd.google-apps."

_FILE_SCHEMA = discovery.schemas()["File"]["properties"]
# What a client may write: everything the schema doesn't call output-only (plus `kind`).
_FILE_WRITABLE = {k for k, v in _FILE_SCHEMA.items() if not v.get("description", "").startswith("Output only")}
_FILE_WRITABLE.add("kind")
_UPDATE_NOT_WRITABLE = {"id", "parents"}
_REVISION_WRITABLE = {"keepForever", "publishAuto", "published", "publishedOutsideDomain", "kind"}
_ORDER_KEYS = {
    "folder", "modifiedTime", "name", "name_natural", "createdTime", "quotaBytesUsed",
    "recency", "starred", "viewedByMeTime", "modifiedByMeTime", "sharedWithMeTime",
}

# /drive/v3/files/{id}/revisions/{rid} and friends, after the /drive/v3/ prefix.
_PREFIX = "/drive/v3/"


def _not_found(file_id: str) -> DriveError:
    return DriveError(404, "notFound", f"File not found: {file_id}.", location="fileId", location_type="parameter")


def _invalid(message: str, location: str | None = None, reason: str = "invalid") -> DriveError:
    return DriveError(400, reason, message, location=location, location_type="parameter" if location else None)


def _not_writable(message: str = "The resource body includes fields which are not directly writable.") -> DriveError:
    return DriveError(403, "fieldNotWritable", message)


def _bool_arg(req: Request, name: str, default: bool = False) -> bool:
    raw = req.arg(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise _invalid(f"Invalid value '{raw}'. Values must match the following regular expression: '(true|false)'", name)


def _int_arg(req: Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = req.arg(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _invalid(f"Invalid value '{raw}'. Values must match the following regular expression: '-?\\d+'", name) from None
    if not lo <= value <= hi:
        raise _invalid(f"Invalid value '{raw}'. Values must be within the range: [{lo}, {hi}]", name)
    return value


def _encode_token(obj: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode_token(token: str) -> dict[str, Any]:
    try:
        pad = "=" * (-len(token) % 4)
        obj = json.loads(base64.urlsafe_b64decode(token + pad))
        if not isinstance(obj, dict):
            raise ValueError
        return obj
    except (ValueError, TypeError):
        raise _invalid("Invalid Value", "pageToken") from None


class _Access:
    """What a principal's scopes allow: reading everything, writing everything, or its own files."""

    __slots__ = ("read_all", "write_all", "own")

    def __init__(self, p: Principal) -> None:
        self.read_all = bool(p.scopes & _READ_ALL_SCOPES)
        self.write_all = SCOPE_DRIVE in p.scopes
        self.own = SCOPE_FILE in p.scopes or self.write_all
        if not (self.read_all or self.own):
            raise DriveError(
                403, "insufficientPermissions", "Request had insufficient authentication scopes."
            )

    def require_write(self) -> None:
        if not (self.write_all or self.own):
            raise DriveError(
                403, "insufficientPermissions", "Request had insufficient authentication scopes."
            )


class DriveApi:
    """Drive v3 semantics over a DriveStore; `handle` routes, the rest are the operations."""

    def __init__(self, ctx: "EmulatorContext") -> None:
        self.ctx = ctx

    @property
    def store(self) -> DriveStore:
        return self.ctx.files

    # ============================================================ routing

    def handle(self, req: Request) -> Response:
        """Answer any /drive/v3/... request; errors come back in Google's envelope."""
        try:
            return self._route(req)
        except DriveError as err:
            return err.to_response()

    def _route(self, req: Request) -> Response:
        _merge_form_query(req)
        if not req.path.startswith(_PREFIX):
            raise DriveError(404, "notFound", "Not Found")
        parts = [urllib.parse.unquote(s) for s in req.path[len(_PREFIX):].split("/")]
        if parts and parts[-1] == "":
            parts.pop()
        method = req.method.upper()
        alt = req.arg("alt", "json")
        if alt not in ("json", "media"):
            raise _invalid(f"Invalid value '{alt}'. Values must match the following regular expression: '(json|media)'", "alt")
        n = len(parts)
        table: list[tuple[str, tuple[str, ...], Callable[..., Response]]] = [
            ("GET", ("about",), lambda: self.about_get(req)),
            ("GET", ("changes", "startPageToken"), lambda: self.changes_start_page_token(req)),
            ("GET", ("changes",), lambda: self.changes_list(req)),
            ("GET", ("files",), lambda: self.files_list(req)),
            ("POST", ("files",), lambda: self.files_create(req, _json_body(req), None)),
            ("GET", ("files", "generateIds"), lambda: self.files_generate_ids(req)),
            ("DELETE", ("files", "trash"), lambda: self.files_empty_trash(req)),
        ]
        for m, shape, fn in table:
            if m == method and tuple(parts) == shape:
                return fn()
        if n >= 2 and parts[0] == "files":
            file_id = parts[1]
            if n == 2:
                if method == "GET":
                    return self.files_get(req, file_id)
                if method in ("PATCH", "PUT"):
                    return self.files_update(req, file_id, _json_body(req), None)
                if method == "DELETE":
                    return self.files_delete(req, file_id)
            if n == 3 and parts[2] == "copy" and method == "POST":
                return self.files_copy(req, file_id, _json_body(req))
            if n == 3 and parts[2] == "revisions" and method == "GET":
                return self.revisions_list(req, file_id)
            if n == 4 and parts[2] == "revisions":
                rev_id = parts[3]
                if method == "GET":
                    return self.revisions_get(req, file_id, rev_id)
                if method in ("PATCH", "PUT"):
                    return self.revisions_update(req, file_id, rev_id, _json_body(req))
                if method == "DELETE":
                    return self.revisions_delete(req, file_id, rev_id)
        raise DriveError(404, "notFound", "Not Found")

    # ============================================================ helpers

    def _principal(self, req: Request) -> tuple[Principal, _Access]:
        p = req.principal
        if p is None:
            raise DriveError(
                401, "required", "Login Required.", location="Authorization", location_type="header",
                headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'},
            )
        return p, _Access(p)

    def _account_attr(self, email: str, attr: str, fallback: Any) -> Any:
        try:
            acc = self.ctx.accounts.get(email)
        except Exception:  # unknown account: settings decide
            acc = None
        value = getattr(acc, attr, None) if acc is not None else None
        return fallback if value is None else value

    def _user(self, email: str) -> dict[str, Any]:
        display = self._account_attr(email, "display_name", None) or email.split("@")[0]
        return {
            "kind": "drive#user",
            "displayName": display,
            "emailAddress": email,
            "me": True,
            "permissionId": _permission_id(email),
        }

    def _resolve(self, p: Principal, file_id: str) -> str:
        return self.store.root_id(p.email) if file_id == "root" else file_id

    def _visible(self, rec: FileRec, p: Principal, acc: _Access) -> bool:
        if rec.owner != p.email:
            return False
        return acc.read_all or rec.is_root or rec.creator_client == p.client_id

    def _lookup(self, p: Principal, acc: _Access, file_id: str, *, write: bool = False) -> FileRec:
        """The caller's view of a file: 404 when missing or invisible, 403 when read-only to them."""
        rec = self.store.get(self._resolve(p, file_id))
        if rec is None or not self._visible(rec, p, acc):
            raise _not_found(file_id)
        if write:
            acc.require_write()
            if not (acc.write_all or rec.is_root or rec.creator_client == p.client_id):
                raise DriveError(
                    403, "insufficientFilePermissions", "The user does not have sufficient permissions for this file."
                )
        return rec

    def _file_json(self, rec: FileRec, p: Principal) -> dict[str, Any]:
        """The full File resource as Google prints it; `fields` trims it afterwards."""
        user = self._user(rec.owner)
        base = self.ctx.base_url or "http://127.0.0.1/"
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
                "permissionIds": [_permission_id(rec.owner)],
                "isAppAuthorized": rec.creator_client == p.client_id,
                "quotaBytesUsed": str(0 if folder else rec.size),
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

    def _revision_json(self, rec: FileRec, rev: RevRec) -> dict[str, Any]:
        d: dict[str, Any] = {
            "kind": "drive#revision",
            "id": rev.id,
            "mimeType": rev.mime_type,
            "modifiedTime": format_time(rev.modified_ms),
            "keepForever": rev.keep_forever,
            "published": False,
            "lastModifyingUser": self._user(rec.owner),
            "md5Checksum": rev.md5,
            "size": str(rev.size),
        }
        if rev.original_filename is not None:
            d["originalFilename"] = rev.original_filename
        return d

    def _answer(self, obj: dict[str, Any], tree: dict[str, Any] | None) -> Response:
        return Response.json(200, fields.apply(obj, tree))

    # ============================================================ metadata validation

    def _check_body(self, metadata: Any, *, update: bool) -> dict[str, Any]:
        if not isinstance(metadata, dict):
            raise _invalid("Invalid JSON payload received.", reason="badRequest")
        for key in metadata:
            if key not in _FILE_SCHEMA:
                raise _invalid(f'Invalid JSON payload received. Unknown name "{key}": Cannot find field.')
            if update and key == "parents":
                raise _not_writable(
                    "The parents field is not directly writable in update requests. "
                    "Use the addParents and removeParents parameters instead."
                )
            if key not in _FILE_WRITABLE or (update and key in _UPDATE_NOT_WRITABLE):
                raise _not_writable()
        for key in ("name", "mimeType", "description", "originalFilename"):
            if key in metadata and metadata[key] is not None and not isinstance(metadata[key], str):
                raise _invalid(f"Invalid value for: {key}")
        for key in ("trashed", "starred"):
            if key in metadata and not isinstance(metadata[key], bool):
                raise _invalid(f"Invalid value for: {key}")
        for key in ("modifiedTime", "createdTime", "viewedByMeTime", "modifiedByMeTime"):
            if key in metadata and metadata[key] is not None:
                if not isinstance(metadata[key], str):
                    raise _invalid(f"Invalid value for: {key}")
                try:
                    parse_time(metadata[key])
                except ValueError:
                    raise _invalid(f'Invalid value for: Invalid format: "{metadata[key]}"') from None
        for key in ("properties", "appProperties"):
            value = metadata.get(key)
            if value is None:
                continue
            if not isinstance(value, dict):
                raise _invalid(f"Invalid value for: {key}")
            for k, v in value.items():
                if not k:
                    raise _invalid("Property keys must not be empty.")
                if v is not None and not isinstance(v, str):
                    v = json.dumps(v) if not isinstance(v, (int, float, bool)) else str(v).lower()
                    value[k] = v
                if v is not None and len(k.encode()) + len(v.encode()) > PROP_LIMIT_BYTES:
                    raise _invalid(
                        f"The size of the property key and value ({k}) exceeds the limit of {PROP_LIMIT_BYTES} bytes."
                    )
        return metadata

    @staticmethod
    def _merge_props(current: dict[str, str], patch: dict[str, Any]) -> dict[str, str]:
        out = dict(current)
        for k, v in patch.items():
            if v is None:
                out.pop(k, None)
            else:
                out[k] = v
        return out

    def _apply_props(self, rec: FileRec, metadata: dict[str, Any], client_id: str) -> None:
        if metadata.get("properties") is not None:
            rec.properties = self._merge_props(rec.properties, metadata["properties"])
        if metadata.get("appProperties") is not None:
            mine = self._merge_props(rec.app_properties.get(client_id, {}), metadata["appProperties"])
            if len(mine) > APP_PROPS_PER_APP:
                raise _invalid(f"The file has more than {APP_PROPS_PER_APP} private properties for this app.")
            if mine:
                rec.app_properties[client_id] = mine
            else:
                rec.app_properties.pop(client_id, None)
        total = len(rec.properties) + sum(len(m) for m in rec.app_properties.values())
        if total > PROPS_TOTAL:
            raise _invalid(f"The file has more than {PROPS_TOTAL} properties.")

    def _parent_folder(self, p: Principal, acc: _Access, parent_id: str) -> FileRec:
        parent = self.store.get(self._resolve(p, parent_id))
        if parent is None or not self._visible(parent, p, acc):
            raise _not_found(parent_id)
        if not parent.is_folder:
            raise _invalid("The specified parent is not a folder.", reason="invalidParent")
        return parent

    def _pin_count_ok(self, rec: FileRec) -> None:
        if sum(1 for r in rec.revisions if r.keep_forever) > PINNED_LIMIT:
            raise DriveError(
                403, "cannotKeepRevisionForever",
                f"A file can have at most {PINNED_LIMIT} revisions marked keep forever.",
            )

    # ============================================================ quota

    def check_upload_allowed(self, principal: Principal, size: int) -> None:
        """Refuse an upload of `size` bytes that would overfill the Drive or pass the daily cap."""
        email = principal.email
        limit = int(self._account_attr(email, "storage_quota_bytes", self.ctx.settings.storage_quota_bytes))
        cap = int(self._account_attr(email, "daily_upload_cap_bytes", self.ctx.settings.daily_upload_cap_bytes))
        used, _ = self.store.usage(email)
        if size > 0 and used + size > limit:
            raise DriveError(
                403, "storageQuotaExceeded", "The user's Drive storage quota has been exceeded.", domain="usageLimits"
            )
        if size > 0 and self.store.uploaded_today(email) + size > cap:
            raise DriveError(403, "userRateLimitExceeded", "User rate limit exceeded.", domain="usageLimits")

    # ============================================================ files

    def files_create(
        self, req: Request, metadata: dict, media: bytes | Path | None, media_mime: str | None = None
    ) -> Response:
        """files.create (metadata only, or with media from uploads.py); honours body `id`."""
        try:
            p, acc = self._principal(req)
            acc.require_write()
            metadata = self._check_body(metadata if metadata is not None else {}, update=False)
            tree = fields.selection(req.arg("fields"), "File")
            keep = _bool_arg(req, "keepRevisionForever")
            mime = metadata.get("mimeType") or media_mime or "application/octet-stream"
            is_folder = mime == FOLDER_MIME
            if media is not None and (is_folder or mime.startswith(_GOOGLE_APPS)):
                raise _invalid("Media upload is not supported for this file type.", reason="badContent")
            blob = self.store.ingest(None if is_folder else media)
        except DriveError as err:
            return err.to_response()
        try:
            with self.store.lock:
                return self._create_locked(p, acc, metadata, blob, mime, keep, media is not None, tree)
        except DriveError as err:
            return err.to_response()
        finally:
            self.store.unpin(blob)

    def _create_locked(
        self, p: Principal, acc: _Access, metadata: dict[str, Any], blob: Blob, mime: str,
        keep: bool, has_media: bool, tree: Any,
    ) -> Response:
        store = self.store
        file_id = metadata.get("id")
        if file_id is not None:
            if not isinstance(file_id, str) or not ID_RE.match(file_id):
                raise _invalid("The provided file ID is not usable.", reason="invalid")
            status = store.id_status(file_id)
            if status in ("file", "used"):
                raise DriveError(409, "fileIdInUse", "A file already exists with the provided ID.")
            if status is None or store.generated_owner(file_id) != p.email:
                raise _invalid("The provided file ID is not usable.", reason="invalid")
        else:
            file_id = store.new_id()
        parents = metadata.get("parents") or ["root"]
        if not isinstance(parents, list) or not all(isinstance(x, str) for x in parents):
            raise _invalid("Invalid value for: parents")
        if len(parents) > 1:
            raise DriveError(403, "cannotAddParent", "Increasing the number of parents is not allowed.")
        parent = self._parent_folder(p, acc, parents[0])
        if has_media:
            self.check_upload_allowed(p, blob.size)
        ts = now_ms()
        modified = parse_time(metadata["modifiedTime"]) if metadata.get("modifiedTime") else ts
        rec = FileRec(
            id=file_id,
            owner=p.email,
            name=metadata.get("name") or "Untitled",
            mime_type=mime,
            parent=parent.id,
            creator_client=p.client_id,
            created_ms=parse_time(metadata["createdTime"]) if metadata.get("createdTime") else ts,
            modified_ms=modified,
            modified_by_me_ms=modified,
            description=metadata.get("description"),
            starred=bool(metadata.get("starred", False)),
            original_filename=metadata.get("originalFilename") or (metadata.get("name") if has_media else None),
        )
        if metadata.get("viewedByMeTime"):
            rec.viewed_by_me_ms = parse_time(metadata["viewedByMeTime"])
        if metadata.get("trashed"):
            rec.trashed, rec.explicitly_trashed, rec.trashed_ms = True, True, ts
        self._apply_props(rec, metadata, p.client_id)
        if not rec.is_folder:
            rec.revisions.append(self._new_revision(rec, blob, keep))
        with store.transaction():  # one commit for the file and the day's upload volume
            store.write(rec)
            if has_media:
                store.add_uploaded(p.email, blob.size)
        return self._answer(self._file_json(rec, p), tree)

    def _new_revision(self, rec: FileRec, blob: Blob, keep: bool) -> RevRec:
        return RevRec(
            id=self.store.new_revision_id({r.id for r in rec.revisions}), md5=blob.md5, sha1=blob.sha1, sha256=blob.sha256, size=blob.size,
            modified_ms=rec.modified_ms, keep_forever=keep, mime_type=rec.mime_type,
            original_filename=rec.original_filename,
        )

    def files_update(self, req: Request, file_id: str, metadata: dict, media: bytes | Path | None,
                     media_mime: str | None = None) -> Response:
        """files.update: metadata patch, optional new content (a new revision), moves, trash."""
        blob: Blob | None = None
        try:
            p, acc = self._principal(req)
            acc.require_write()
            metadata = self._check_body(metadata if metadata is not None else {}, update=True)
            tree = fields.selection(req.arg("fields"), "File")
            keep = _bool_arg(req, "keepRevisionForever")
            if media is not None:
                blob = self.store.ingest(media)
            with self.store.lock:
                return self._update_locked(req, p, acc, file_id, metadata, blob, media_mime, keep, tree)
        except DriveError as err:
            return err.to_response()
        finally:
            if blob is not None:
                self.store.unpin(blob)

    def _update_locked(
        self, req: Request, p: Principal, acc: _Access, file_id: str, metadata: dict[str, Any],
        blob: Blob | None, media_mime: str | None, keep: bool, tree: Any,
    ) -> Response:
        store = self.store
        old = self._lookup(p, acc, file_id, write=True)
        rec = old.copy()
        ts = now_ms()
        touched = False  # a change that moves modifiedTime
        for key, attr in (("name", "name"), ("description", "description"), ("originalFilename", "original_filename")):
            if key in metadata and getattr(rec, attr) != metadata[key]:
                if key == "name" and not metadata[key]:
                    continue
                setattr(rec, attr, metadata[key])
                touched = True
        new_mime = metadata.get("mimeType") or (media_mime if blob is not None else None)
        if new_mime and new_mime != rec.mime_type:
            if rec.is_folder or new_mime == FOLDER_MIME:
                raise _invalid("The MIME type of a folder cannot be changed.", reason="badRequest")
            rec.mime_type, touched = new_mime, True
        if "starred" in metadata:
            rec.starred = metadata["starred"]
        if metadata.get("viewedByMeTime"):
            rec.viewed_by_me_ms = parse_time(metadata["viewedByMeTime"])
        if metadata.get("createdTime"):
            rec.created_ms = parse_time(metadata["createdTime"])
        before = (dict(rec.properties), {k: dict(v) for k, v in rec.app_properties.items()})
        self._apply_props(rec, metadata, p.client_id)
        if before != (rec.properties, rec.app_properties):
            touched = True
        self._move(p, acc, rec, req.arg("addParents"), req.arg("removeParents"))
        if blob is not None:
            if rec.is_folder or rec.mime_type.startswith(_GOOGLE_APPS):
                raise _invalid("Media upload is not supported for this file type.", reason="badContent")
            self.check_upload_allowed(p, blob.size)
            touched = True
        if metadata.get("modifiedTime"):
            rec.modified_ms = parse_time(metadata["modifiedTime"])
            rec.modified_by_me_ms = rec.modified_ms
        elif touched:
            rec.modified_ms = rec.modified_by_me_ms = ts
        if blob is not None:
            rec.revisions.append(self._new_revision(rec, blob, keep))
        elif keep and rec.revisions and not rec.revisions[-1].keep_forever:
            rec.revisions[-1] = _with_keep(rec.revisions[-1], True)
        self._pin_count_ok(rec)
        trash = metadata.get("trashed")
        with store.transaction():
            if trash is True and not (rec.trashed and rec.explicitly_trashed):
                self._set_trashed(rec, True, ts)
            elif trash is False and rec.trashed:
                self._set_trashed(rec, False, ts)
            if rec != old:
                store.write(rec)
            if blob is not None:
                store.add_uploaded(p.email, blob.size)
        return self._answer(self._file_json(store.get(rec.id) or rec, p), tree)

    def _move(self, p: Principal, acc: _Access, rec: FileRec, add: str | None, remove: str | None) -> None:
        adds = [self._resolve(p, x.strip()) for x in (add or "").split(",") if x.strip()]
        removes = {self._resolve(p, x.strip()) for x in (remove or "").split(",") if x.strip()}
        if not adds and not removes:
            return
        if rec.is_root:
            raise DriveError(403, "cannotMoveRoot", "The root folder cannot be moved.")
        current = {rec.parent} if rec.parent else set()
        new = (current - removes) | set(adds)
        if len(new) > 1:
            raise DriveError(403, "cannotAddParent", "Increasing the number of parents is not allowed.")
        if not new:
            raise DriveError(403, "cannotRemoveParent", "A file must keep one parent.")
        (target,) = new
        if target != rec.parent:
            parent = self._parent_folder(p, acc, target)
            if parent.id == rec.id or self.store.is_ancestor(rec.id, parent.id):
                raise _invalid("A folder cannot be moved into itself or its descendants.", reason="invalidParent")
            rec.parent = parent.id

    def _set_trashed(self, rec: FileRec, trashed: bool, ts: int) -> None:
        """Trash/untrash `rec` (not yet written) and cascade to its folder's descendants."""
        if rec.is_root:
            raise DriveError(403, "cannotTrashRoot", "The root folder cannot be trashed.")
        rec.trashed, rec.explicitly_trashed = trashed, trashed
        rec.trashed_ms = ts if trashed else None
        if not rec.is_folder:
            return
        for child in self.store.descendants(rec.id):
            if trashed and not child.trashed:
                c = child.copy()
                c.trashed, c.explicitly_trashed, c.trashed_ms = True, False, ts
                self.store.write(c)
            elif not trashed and child.trashed and not child.explicitly_trashed:
                c = child.copy()
                c.trashed, c.trashed_ms = False, None
                self.store.write(c)

    def files_get(self, req: Request, file_id: str) -> Response:
        p, acc = self._principal(req)
        if req.arg("alt") == "media":
            with self.store.lock:
                rec = self._lookup(p, acc, file_id)
                if rec.is_folder or rec.mime_type.startswith(_GOOGLE_APPS) or rec.head is None:
                    raise DriveError(
                        403, "fileNotDownloadable",
                        "Only files with binary content can be downloaded. Use Export with Docs Editors files.",
                        location="alt", location_type="parameter",
                    )
                head = rec.head
            return self._download(req, head.sha256, head.size, rec.mime_type, rec.id)
        tree = fields.selection(req.arg("fields"), "File")
        with self.store.lock:
            rec = self._lookup(p, acc, file_id)
            return self._answer(self._file_json(rec, p), tree)

    def _download(self, req: Request, sha256: str, size: int, mime: str, file_id: str) -> Response:
        """Content, or one byte range of it (206 + Content-Range; 416 when unsatisfiable)."""
        headers = {"Content-Type": mime, "Accept-Ranges": "bytes", "Content-Disposition": "attachment"}
        rng = _parse_range(req.headers.get("range"), size)
        try:
            if rng is None:
                return Response(200, headers, self.store.read_blob(sha256))
            if rng == "unsatisfiable":
                return DriveError(
                    416, "requestedRangeNotSatisfiable", "Request range not satisfiable",
                    headers={"Content-Range": f"bytes */{size}"},
                ).to_response()
            start, end = rng
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
            return Response(206, headers, self.store.read_blob(sha256, start, end - start + 1))
        except FileNotFoundError:
            raise _not_found(file_id) from None

    def files_delete(self, req: Request, file_id: str) -> Response:
        p, acc = self._principal(req)
        with self.store.lock:
            rec = self._lookup(p, acc, file_id, write=True)
            if rec.is_root:
                raise DriveError(403, "cannotDeleteRoot", "The root folder cannot be deleted.")
            self.store.delete([rec] + self.store.descendants(rec.id))
        return Response(204)

    def files_empty_trash(self, req: Request) -> Response:
        p, acc = self._principal(req)
        acc.require_write()
        with self.store.lock:
            doomed: dict[str, FileRec] = {}
            for rec in self.store.owned(p.email):
                if rec.trashed and self._visible(rec, p, acc) and (acc.write_all or rec.creator_client == p.client_id):
                    doomed[rec.id] = rec
                    for child in self.store.descendants(rec.id):
                        doomed[child.id] = child
            self.store.delete(list(doomed.values()))
        return Response(204)

    def files_generate_ids(self, req: Request) -> Response:
        p, acc = self._principal(req)
        count = _int_arg(req, "count", 10, 1, 1000)
        space = req.arg("space") or "drive"
        if space not in ("drive", "appDataFolder"):
            raise _invalid(f"Invalid value '{space}'.", "space")
        kind = req.arg("type") or "files"
        if kind not in ("files", "shortcuts"):
            raise _invalid(f"Invalid value '{kind}'.", "type")
        tree = fields.selection(req.arg("fields"), "GeneratedIds")
        ids = self.store.generate_ids(p.email, count)
        return self._answer({"kind": "drive#generatedIds", "space": space, "ids": ids}, tree)

    def files_copy(self, req: Request, file_id: str, metadata: dict) -> Response:
        """files.copy: a new file with the source's head content and the given metadata."""
        p, acc = self._principal(req)
        with self.store.lock:
            src = self._lookup(p, acc, file_id)
            if src.is_folder:
                raise DriveError(403, "cannotCopyFile", "This file cannot be copied by the user.")
            head = src.head
        body = dict(metadata or {})
        body.setdefault("name", f"Copy of {src.name}")
        body.setdefault("mimeType", src.mime_type)
        if "parents" not in body and src.parent:
            body["parents"] = [src.parent]
        # The blob path already holds this content, so ingest hashes it and leaves it in place.
        media = self.store.blob_path(head.sha256) if head else b""
        return self.files_create(req, body, media)

    def files_list(self, req: Request) -> Response:
        p, acc = self._principal(req)
        page_size = _int_arg(req, "pageSize", 100, 1, 1000)
        tree = fields.selection(req.arg("fields"), "FileList")
        spaces = {s.strip() for s in (req.arg("spaces") or "drive").split(",") if s.strip()}
        if not spaces <= {"drive", "appDataFolder", "photos"}:
            raise _invalid("Invalid Value", "spaces")
        corpora = req.arg("corpora") or "user"
        if corpora not in ("user", "domain", "drive", "allDrives"):
            raise _invalid("Invalid Value", "corpora")
        order = _parse_order(req.arg("orderBy"))
        q_text = req.arg("q")
        with self.store.lock:
            query = compile_query(
                q_text, resolve_id=lambda i: self._resolve(p, i), email=p.email, client_id=p.client_id
            )
            if "drive" not in spaces:
                candidates: list[FileRec] = []
            elif query.parent_hint is not None:
                candidates = [r for pid in query.parent_hint for r in self.store.children(pid)]
            else:
                candidates = self.store.owned(p.email)
            matches = [
                r for r in candidates if not r.is_root and self._visible(r, p, acc) and query.match(r)
            ]
            _sort(matches, order)
            offset = 0
            token = req.arg("pageToken")
            signature = hashlib.sha1(f"{q_text}|{req.arg('orderBy')}".encode()).hexdigest()[:8]
            if token:
                state = _decode_token(token)
                if state.get("s") != signature or not isinstance(state.get("o"), int) or state["o"] < 0:
                    raise _invalid("Invalid Value", "pageToken")
                offset = state["o"]
            page = matches[offset : offset + page_size]
            out: dict[str, Any] = {"kind": "drive#fileList", "incompleteSearch": False}
            if offset + page_size < len(matches):
                out["nextPageToken"] = _encode_token({"o": offset + page_size, "s": signature})
            out["files"] = [self._file_json(r, p) for r in page]
        return self._answer(out, tree)

    # ============================================================ revisions

    def _revision(self, rec: FileRec, rev_id: str) -> tuple[int, RevRec]:
        for i, rev in enumerate(rec.revisions):
            if rev.id == rev_id or (rev_id == "head" and i == len(rec.revisions) - 1):
                return i, rev
        raise DriveError(404, "notFound", f"Revision not found: {rev_id}.", location="revisionId",
                         location_type="parameter")

    def revisions_list(self, req: Request, file_id: str) -> Response:
        p, acc = self._principal(req)
        page_size = _int_arg(req, "pageSize", 200, 1, 1000)
        tree = fields.selection(req.arg("fields"), "RevisionList")
        offset = 0
        if req.arg("pageToken"):
            state = _decode_token(req.arg("pageToken") or "")
            offset = state.get("o", 0) if isinstance(state.get("o"), int) else 0
        with self.store.lock:
            rec = self._lookup(p, acc, file_id)
            revs = rec.revisions[offset : offset + page_size]
            out: dict[str, Any] = {"kind": "drive#revisionList"}
            if offset + page_size < len(rec.revisions):
                out["nextPageToken"] = _encode_token({"o": offset + page_size})
            out["revisions"] = [self._revision_json(rec, r) for r in revs]
        return self._answer(out, tree)

    def revisions_get(self, req: Request, file_id: str, rev_id: str) -> Response:
        p, acc = self._principal(req)
        media = req.arg("alt") == "media"
        tree = None if media else fields.selection(req.arg("fields"), "Revision")
        with self.store.lock:
            rec = self._lookup(p, acc, file_id)
            _, rev = self._revision(rec, rev_id)
            if not media:
                return self._answer(self._revision_json(rec, rev), tree)
        return self._download(req, rev.sha256, rev.size, rev.mime_type, file_id)

    def revisions_update(self, req: Request, file_id: str, rev_id: str, body: Any) -> Response:
        p, acc = self._principal(req)
        if not isinstance(body, dict):
            raise _invalid("Invalid JSON payload received.", reason="badRequest")
        for key in body:
            if key not in discovery.schemas()["Revision"]["properties"]:
                raise _invalid(f'Invalid JSON payload received. Unknown name "{key}": Cannot find field.')
            if key not in _REVISION_WRITABLE:
                raise _not_writable()
        if "keepForever" in body and not isinstance(body["keepForever"], bool):
            raise _invalid("Invalid value for: keepForever")
        tree = fields.selection(req.arg("fields"), "Revision")
        with self.store.lock:
            old = self._lookup(p, acc, file_id, write=True)
            i, rev = self._revision(old, rev_id)
            if "keepForever" in body and body["keepForever"] != rev.keep_forever:
                rec = old.copy()
                rec.revisions[i] = rev = _with_keep(rev, body["keepForever"])
                self._pin_count_ok(rec)
                self.store.write(rec, log_change=False)
                old = rec
            return self._answer(self._revision_json(old, rev), tree)

    def revisions_delete(self, req: Request, file_id: str, rev_id: str) -> Response:
        p, acc = self._principal(req)
        with self.store.lock:
            old = self._lookup(p, acc, file_id, write=True)
            i, _ = self._revision(old, rev_id)
            if i == len(old.revisions) - 1:
                raise DriveError(400, "cannotDeleteHeadRevision", "The head revision cannot be deleted.")
            rec = old.copy()
            del rec.revisions[i]
            self.store.write(rec, log_change=False)
        return Response(204)

    # ============================================================ changes and about

    def changes_start_page_token(self, req: Request) -> Response:
        self._principal(req)
        tree = fields.selection(req.arg("fields"), "StartPageToken")
        token = str(self.store.start_page_token())
        return self._answer({"kind": "drive#startPageToken", "startPageToken": token}, tree)

    def changes_list(self, req: Request) -> Response:
        p, acc = self._principal(req)
        raw = req.arg("pageToken")
        if raw is None or raw == "":
            raise DriveError(400, "required", "Required parameter: pageToken", location="pageToken",
                             location_type="parameter")
        try:
            token = int(raw)
            if token < 1:
                raise ValueError
        except ValueError:
            raise _invalid("Invalid Value", "pageToken") from None
        page_size = _int_arg(req, "pageSize", 100, 1, 1000)
        include_removed = _bool_arg(req, "includeRemoved", True)
        tree = fields.selection(req.arg("fields"), "ChangeList")
        with self.store.lock:
            entries: list[dict[str, Any]] = []
            last_seq = None
            more = False
            for file_id, seq, ts, client in self.store.changes_since(p.email, token):
                rec = self.store.get(file_id)
                if rec is not None and not self._visible(rec, p, acc):
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
                    entry["file"] = self._file_json(rec, p)
                entries.append(entry)
                last_seq = seq
            out: dict[str, Any] = {"kind": "drive#changeList"}
            if more and last_seq is not None:
                out["nextPageToken"] = str(last_seq + 1)
            else:
                out["newStartPageToken"] = str(self.store.start_page_token())
            out["changes"] = entries
        return self._answer(out, tree)

    def about_get(self, req: Request) -> Response:
        p, _ = self._principal(req)
        if not req.arg("fields"):
            raise DriveError(400, "required", "The 'fields' parameter is required for this method.",
                             location="fields", location_type="parameter")
        tree = fields.selection(req.arg("fields"), "About")
        limit = int(self._account_attr(p.email, "storage_quota_bytes", self.ctx.settings.storage_quota_bytes))
        used, trash = self.store.usage(p.email)
        about = {
            "kind": "drive#about",
            "user": self._user(p.email),
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
        return self._answer(about, tree)


# ================================================================ module helpers


def _with_keep(rev: RevRec, keep: bool) -> RevRec:
    return replace(rev, keep_forever=keep)


def _permission_id(email: str) -> str:
    return str(int(hashlib.sha256(email.lower().encode()).hexdigest()[:16], 16))[:20]


def _json_body(req: Request) -> Any:
    if not req.body or not req.body.strip():
        return {}
    ctype = req.headers.get("content-type", "")
    if ctype.startswith("application/x-www-form-urlencoded"):
        return {}
    try:
        return json.loads(req.body)
    except (ValueError, UnicodeDecodeError):
        raise DriveError(400, "parseError", "Parse Error") from None


def _merge_form_query(req: Request) -> None:
    """A long GET arrives as POST + X-HTTP-Method-Override with the query as a form body."""
    if req.method.upper() == "GET" and req.body and req.headers.get("content-type", "").startswith(
        "application/x-www-form-urlencoded"
    ):
        for key, values in urllib.parse.parse_qs(req.body.decode("utf-8", "replace"), keep_blank_values=True).items():
            req.query.setdefault(key, []).extend(values)
        req.body = b""


_RANGE_RE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$")


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
            raise _invalid("Invalid Value", "orderBy")
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
    "quotaBytesUsed": lambda r: r.size,
    "starred": lambda r: r.starred,
    "viewedByMeTime": lambda r: r.viewed_by_me_ms or 0,
    "sharedWithMeTime": lambda r: 0,
}


def _sort(recs: list[FileRec], order: list[tuple[str, bool]]) -> None:
    """Sort by the orderBy keys (stable, last key first); ties and the default: creation order."""
    recs.sort(key=lambda r: (r.created_ms, r.id))
    for key, desc in reversed(order):
        recs.sort(key=_SORT_KEYS[key], reverse=desc)
