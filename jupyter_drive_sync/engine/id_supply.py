"""Pre-generated Drive IDs for a push's creates: handed out, recorded as pending, and replaced
when Drive refuses one.

An ID from `files.generateIds` is recorded as *pending* before its create, so a retry or a rerun
creates with the same ID and never a second copy. But Drive refuses an ID for good once its file
was deleted for good, or when it was generated for (or used under) another account: `400 The
provided file ID is not usable.` Kept, such an ID would fail its path on every run and that path
would never be backed up again; so a refused ID is dropped and replaced, within the same run,
by a fresh one (recorded as pending first, like any other).
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Iterable

from ..core.model import Action, ActionKind, StateEntry
from ..drive.client import DriveClient
from ..drive.errors import DriveApiError, NotFound
from ..home.state_db import StateDB


def id_refused(result: object, drive_id: str | None) -> bool:
    """Whether a create's error means Drive will never accept `drive_id` for it.

    `400 ... not usable` says so. A `409 fileIdInUse` whose file this sign-in then cannot see
    (the client's get answers 404 naming that very ID) means the same: the ID is another
    account's file, and creating with it can never succeed.
    """
    if not isinstance(result, DriveApiError) or not drive_id:
        return False
    if result.status == 400 and "not usable" in result.message.lower():
        return True
    return isinstance(result, NotFound) and drive_id in result.message


class IdSupply:
    """Fresh IDs for one push (thread-safe): spare ones generated along with the root folder's
    first, then `generateIds` calls; and the replacement of refused pending IDs."""

    def __init__(self, client: DriveClient, db: StateDB, spare: Iterable[str] = ()) -> None:
        self.client = client
        self.db = db
        self._spare = list(spare)
        self._lock = threading.Lock()

    def take(self, n: int) -> list[str]:
        """`n` IDs nobody used yet."""
        with self._lock:
            ids, self._spare = self._spare[:n], self._spare[n:]
        if len(ids) < n:
            ids += self.client.generate_ids(n - len(ids))
        return ids

    def renew(self, actions: list[Action]) -> dict[str, Action]:
        """New IDs for creates whose pending ID Drive refused: each recorded as pending (replacing
        the refused one, and any resumable session started under it) before it is used. By path."""
        if not actions:
            return {}
        fresh = [replace(a, drive_id=i) for a, i in zip(actions, self.take(len(actions)))]
        for a in fresh:
            self.db.drop_upload_session(a.path)
        self.db.record_pending(
            StateEntry(path=a.path, drive_id=a.drive_id, is_dir=a.kind is ActionKind.MKDIR,
                       local_size=a.local.size, local_mtime_ns=a.local.mtime_ns)
            for a in fresh if a.local is not None and a.drive_id is not None
        )
        return {a.path: a for a in fresh}
