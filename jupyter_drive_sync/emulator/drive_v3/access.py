"""Who may see and change what: the caller's scopes, drive.file visibility, file lookups.

drive.file (the scope the product asks for) sees only the files its own OAuth client created;
the broader scopes see the whole account. Every route finds files through `lookup`, so a file
the caller may not see is a 404 everywhere, as on Google.
"""

from __future__ import annotations

from ..records import FileRec
from ..store import DriveStore
from ..wire import DriveError, Principal, Request
from .params import invalid

SCOPE_DRIVE = "https://www.googleapis.com/auth/drive"
SCOPE_FILE = "https://www.googleapis.com/auth/drive.file"
_READ_ALL_SCOPES = {
    SCOPE_DRIVE,
    "https://www.googleapis.com/auth/drive.readonly",
    "https://www.googleapis.com/auth/drive.metadata",
    "https://www.googleapis.com/auth/drive.metadata.readonly",
}


class Access:
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


def not_found(file_id: str) -> DriveError:
    return DriveError(404, "notFound", f"File not found: {file_id}.", location="fileId", location_type="parameter")


def caller(req: Request) -> tuple[Principal, Access]:
    """The request's principal and what it may do; 401 when the request carries none."""
    p = req.principal
    if p is None:
        raise DriveError(
            401, "required", "Login Required.", location="Authorization", location_type="header",
            headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'},
        )
    return p, Access(p)


def resolve(store: DriveStore, p: Principal, file_id: str) -> str:
    """`root` is the caller's My Drive; any other id is itself."""
    return store.root_id(p.email) if file_id == "root" else file_id


def visible(rec: FileRec, p: Principal, acc: Access) -> bool:
    if rec.owner != p.email:
        return False
    return acc.read_all or rec.is_root or rec.creator_client == p.client_id


def lookup(store: DriveStore, p: Principal, acc: Access, file_id: str, *, write: bool = False) -> FileRec:
    """The caller's view of a file: 404 when missing or invisible, 403 when read-only to them."""
    rec = store.get(resolve(store, p, file_id))
    if rec is None or not visible(rec, p, acc):
        raise not_found(file_id)
    if write:
        acc.require_write()
        if not (acc.write_all or rec.is_root or rec.creator_client == p.client_id):
            raise DriveError(
                403, "insufficientFilePermissions", "The user does not have sufficient permissions for this file."
            )
    return rec


def parent_folder(store: DriveStore, p: Principal, acc: Access, parent_id: str) -> FileRec:
    """A folder the caller may put files in (404 if invisible, 400 if not a folder)."""
    parent = store.get(resolve(store, p, parent_id))
    if parent is None or not visible(parent, p, acc):
        raise not_found(parent_id)
    if not parent.is_folder:
        raise invalid("The specified parent is not a folder.", reason="invalidParent")
    return parent
