"""files.create, files.update, files.copy, files.delete and files.emptyTrash.

Content arrives already staged (uploads.py) and goes into the blob store before the store
lock is taken, so hashing a large file never holds up other requests; the blob stays pinned
until the record that uses it is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import fields
from ..context import EmulatorContext
from ..records import FOLDER_MIME, ID_RE, Blob, FileRec, RevRec, now_ms, parse_time
from ..store import DriveStore
from ..wire import DriveError, Principal, Request, Response
from .access import Access, caller, lookup, parent_folder, resolve, visible
from .metadata import GOOGLE_APPS, apply_props, check_body, check_pin_count, with_keep
from .params import bool_arg, invalid
from .shapes import account_attr, answer, file_json


class FileWrites:
    """The calls that change files; every one answers in Google's envelope, errors included."""

    def __init__(self, ctx: EmulatorContext) -> None:
        self.ctx = ctx

    @property
    def store(self) -> DriveStore:
        return self.ctx.files

    # ============================================================ quota

    def check_upload_allowed(self, principal: Principal, size: int) -> None:
        """Refuse an upload of `size` bytes that would overfill the Drive or pass the daily cap."""
        email = principal.email
        settings = self.ctx.settings
        limit = int(account_attr(self.ctx, email, "storage_quota_bytes", settings.storage_quota_bytes))
        cap = int(account_attr(self.ctx, email, "daily_upload_cap_bytes", settings.daily_upload_cap_bytes))
        used, _ = self.store.usage(email)
        if size > 0 and used + size > limit:
            raise DriveError(
                403, "storageQuotaExceeded", "The user's Drive storage quota has been exceeded.", domain="usageLimits"
            )
        if size > 0 and self.store.uploaded_today(email) + size > cap:
            raise DriveError(403, "userRateLimitExceeded", "User rate limit exceeded.", domain="usageLimits")

    # ============================================================ create

    def create(
        self, req: Request, metadata: dict, media: bytes | Path | None, media_mime: str | None = None
    ) -> Response:
        """files.create (metadata only, or with media from uploads.py); honours body `id`."""
        try:
            p, acc = caller(req)
            acc.require_write()
            metadata = check_body(metadata if metadata is not None else {}, update=False)
            tree = fields.selection(req.arg("fields"), "File")
            keep = bool_arg(req, "keepRevisionForever")
            mime = metadata.get("mimeType") or media_mime or "application/octet-stream"
            is_folder = mime == FOLDER_MIME
            if media is not None and (is_folder or mime.startswith(GOOGLE_APPS)):
                raise invalid("Media upload is not supported for this file type.", reason="badContent")
            blob = self.store.blobs.ingest(None if is_folder else media)
        except DriveError as err:
            return err.to_response()
        try:
            with self.store.lock:
                return self._create_locked(p, acc, metadata, blob, mime, keep, media is not None, tree)
        except DriveError as err:
            return err.to_response()
        finally:
            self.store.blobs.unpin(blob)

    def _create_locked(
        self, p: Principal, acc: Access, metadata: dict[str, Any], blob: Blob, mime: str,
        keep: bool, has_media: bool, tree: Any,
    ) -> Response:
        store = self.store
        file_id = metadata.get("id")
        if file_id is not None:
            if not isinstance(file_id, str) or not ID_RE.match(file_id):
                raise invalid("The provided file ID is not usable.", reason="invalid")
            # Google (reference/drive-api-v3.md, "Google's limits and rules", row "pre-generated
            # IDs"): an ID is generated for the requesting account; reusing one whose file exists
            # is 409 fileIdInUse; an ID whose file was deleted for good, or that was generated
            # for or used under another account, is refused: 400 "The provided file ID is not usable."
            status = store.id_status(file_id)
            existing = store.get(file_id) if status == "file" else None
            if existing is not None and existing.owner == p.email:
                raise DriveError(409, "fileIdInUse", "A file already exists with the provided ID.")
            if status != "generated" or store.generated_owner(file_id) != p.email:
                raise invalid("The provided file ID is not usable.", reason="invalid")
        else:
            file_id = store.new_id()
        parents = metadata.get("parents") or ["root"]
        if not isinstance(parents, list) or not all(isinstance(x, str) for x in parents):
            raise invalid("Invalid value for: parents")
        if len(parents) > 1:
            raise DriveError(403, "cannotAddParent", "Increasing the number of parents is not allowed.")
        parent = parent_folder(store, p, acc, parents[0])
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
        apply_props(rec, metadata, p.client_id)
        if not rec.is_folder:
            rec.revisions.append(self._new_revision(rec, blob, keep))
        with store.transaction():  # one commit for the file and the day's upload volume
            store.write(rec)
            if has_media:
                store.add_uploaded(p.email, blob.size)
        return answer(file_json(self.ctx, rec, p), tree)

    def _new_revision(self, rec: FileRec, blob: Blob, keep: bool) -> RevRec:
        return RevRec(
            id=self.store.new_revision_id({r.id for r in rec.revisions}), md5=blob.md5, sha1=blob.sha1,
            sha256=blob.sha256, size=blob.size, modified_ms=rec.modified_ms, keep_forever=keep,
            mime_type=rec.mime_type, original_filename=rec.original_filename,
        )

    # ============================================================ update

    def update(self, req: Request, file_id: str, metadata: dict, media: bytes | Path | None,
               media_mime: str | None = None) -> Response:
        """files.update: metadata patch, optional new content (a new revision), moves, trash."""
        blob: Blob | None = None
        try:
            p, acc = caller(req)
            acc.require_write()
            metadata = check_body(metadata if metadata is not None else {}, update=True)
            tree = fields.selection(req.arg("fields"), "File")
            keep = bool_arg(req, "keepRevisionForever")
            if media is not None:
                blob = self.store.blobs.ingest(media)
            with self.store.lock:
                return self._update_locked(req, p, acc, file_id, metadata, blob, media_mime, keep, tree)
        except DriveError as err:
            return err.to_response()
        finally:
            if blob is not None:
                self.store.blobs.unpin(blob)

    def _update_locked(
        self, req: Request, p: Principal, acc: Access, file_id: str, metadata: dict[str, Any],
        blob: Blob | None, media_mime: str | None, keep: bool, tree: Any,
    ) -> Response:
        store = self.store
        old = lookup(store, p, acc, file_id, write=True)
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
                raise invalid("The MIME type of a folder cannot be changed.", reason="badRequest")
            rec.mime_type, touched = new_mime, True
        if "starred" in metadata:
            rec.starred = metadata["starred"]
        if metadata.get("viewedByMeTime"):
            rec.viewed_by_me_ms = parse_time(metadata["viewedByMeTime"])
        if metadata.get("createdTime"):
            rec.created_ms = parse_time(metadata["createdTime"])
        before = (dict(rec.properties), {k: dict(v) for k, v in rec.app_properties.items()})
        apply_props(rec, metadata, p.client_id)
        if before != (rec.properties, rec.app_properties):
            touched = True
        self._move(p, acc, rec, req.arg("addParents"), req.arg("removeParents"))
        if blob is not None:
            if rec.is_folder or rec.mime_type.startswith(GOOGLE_APPS):
                raise invalid("Media upload is not supported for this file type.", reason="badContent")
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
            rec.revisions[-1] = with_keep(rec.revisions[-1], True)
        check_pin_count(rec)
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
        return answer(file_json(self.ctx, store.get(rec.id) or rec, p), tree)

    def _move(self, p: Principal, acc: Access, rec: FileRec, add: str | None, remove: str | None) -> None:
        adds = [resolve(self.store, p, x.strip()) for x in (add or "").split(",") if x.strip()]
        removes = {resolve(self.store, p, x.strip()) for x in (remove or "").split(",") if x.strip()}
        if not adds and not removes:
            return
        if rec.is_root:
            raise DriveError(403, "cannotMoveRoot", "The root folder cannot be moved.")
        # Google (reference/drive-api-v3.md, "File resource": `parents` has one element, moved
        # only with addParents/removeParents): an item of My Drive has exactly one parent, so an
        # addParents without the matching removeParents is 403 cannotAddParent, never a 2nd parent.
        current = {rec.parent} if rec.parent else set()
        new = (current - removes) | set(adds)
        if len(new) > 1:
            raise DriveError(403, "cannotAddParent", "Increasing the number of parents is not allowed.")
        if not new:
            raise DriveError(403, "cannotRemoveParent", "A file must keep one parent.")
        (target,) = new
        if target != rec.parent:
            parent = parent_folder(self.store, p, acc, target)
            if parent.id == rec.id or self.store.is_ancestor(rec.id, parent.id):
                raise invalid("A folder cannot be moved into itself or its descendants.", reason="invalidParent")
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

    # ============================================================ copy and delete

    def copy(self, req: Request, file_id: str, metadata: dict) -> Response:
        """files.copy: a new file with the source's head content and the given metadata."""
        p, acc = caller(req)
        with self.store.lock:
            src = lookup(self.store, p, acc, file_id)
            if src.is_folder:
                raise DriveError(403, "cannotCopyFile", "This file cannot be copied by the user.")
            head = src.head
        body = dict(metadata or {})
        body.setdefault("name", f"Copy of {src.name}")
        body.setdefault("mimeType", src.mime_type)
        if "parents" not in body and src.parent:
            body["parents"] = [src.parent]
        # The blob path already holds this content, so ingest hashes it and leaves it in place.
        media = self.store.blobs.path(head.sha256) if head else b""
        return self.create(req, body, media)

    def delete(self, req: Request, file_id: str) -> Response:
        p, acc = caller(req)
        with self.store.lock:
            rec = lookup(self.store, p, acc, file_id, write=True)
            if rec.is_root:
                raise DriveError(403, "cannotDeleteRoot", "The root folder cannot be deleted.")
            self.store.delete([rec] + self.store.descendants(rec.id))
        return Response(204)

    def empty_trash(self, req: Request) -> Response:
        p, acc = caller(req)
        acc.require_write()
        with self.store.lock:
            doomed: dict[str, FileRec] = {}
            for rec in self.store.owned(p.email):
                if rec.trashed and visible(rec, p, acc) and (acc.write_all or rec.creator_client == p.client_id):
                    doomed[rec.id] = rec
                    for child in self.store.descendants(rec.id):
                        doomed[child.id] = child
            self.store.delete(list(doomed.values()))
        return Response(204)
