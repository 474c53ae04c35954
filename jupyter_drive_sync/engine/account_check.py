"""Which Google account a home's state DB belongs to, and a fresh start when another one signs in.

Every Drive ID the state DB holds (synced rows, pending pre-generated IDs, resumable upload
sessions, the backup folder, the changes-feed token) means something to one Google account only.
Used against another account they fail on every file (`404 File not found`, `400 The provided
file ID is not usable`) and that account's Drive never receives the home. So push and restore
call `settle_account` before any stored ID is used: a different account gets a fresh state
(its own `home/<user>` folder is then found and adopted, or created), and switching back adopts
the first account's folder again, matching by path, so what it holds is not uploaded again.

Cheap in the steady state: the state DB keeps a fingerprint of the sign-in it last checked, so
only the first run after a (re)connection asks Drive who is signed in (one `about.get`). Accounts
are told apart by Drive's `permissionId` (stable if the address changes), else by address.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..home.state_db import (
    META_ACCOUNT_EMAIL,
    META_ACCOUNT_GRANT,
    META_ACCOUNT_PERMISSION_ID,
    StateDB,
)
from ..home.state_read import read_state_meta

if TYPE_CHECKING:  # status reads this module too, and must not pull in the HTTP client
    from google.oauth2.credentials import Credentials

    from ..drive.client import DriveClient

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AccountCheck:
    """The outcome of comparing the connected account with the one the state DB belongs to."""

    email: str | None  # the connected account (None: not asked, the sign-in was already checked)
    previous: str | None = None  # the account the state DB belonged to, when it was another one
    switched: bool = False  # the stored IDs belonged to another account
    fresh: bool = False  # the stored IDs were dropped (a dry run: would be) before anything used them

    def note(self) -> str | None:
        """One sentence for the push or restore summary when the account changed."""
        if not self.switched:
            return None
        now = self.email or "the connected account"
        was = self.previous or "the account this home was backed up to"
        return (f"another Google account is connected ({now}) than the one this home was backed up to "
                f"({was}): the backup now goes to {now}'s Google Drive, into its own backup folder (one "
                f"already there is taken over, matched by path, so nothing in it is uploaded again); {was}'s Drive "
                "is left as it is")


def grant_fingerprint(creds: Credentials) -> str | None:
    """A one-way fingerprint of the sign-in (the refresh token, else the access token): equal
    fingerprints mean the same grant, hence the same account, with no request to Drive."""
    secret = creds.refresh_token or creds.token
    if not secret:
        return None
    return hashlib.sha256(f"jupyter-drive-sync grant\0{secret}".encode()).hexdigest()


def _same_account(meta: dict[str, str], email: str, permission_id: str) -> bool | None:
    """True/False when the stored identity can be compared with the connected one; None when
    the state DB names no account."""
    stored_pid = meta.get(META_ACCOUNT_PERMISSION_ID)
    if stored_pid and permission_id:
        return stored_pid == permission_id
    stored_email = meta.get(META_ACCOUNT_EMAIL)
    if stored_email and email:
        return stored_email.casefold() == email.casefold()
    return None


def _holds_ids(db: StateDB) -> bool:
    return bool(db.root_folder_id or db.page_token or db.count() or db.upload_session_paths())


def settle_account(client: DriveClient, db: StateDB, *, dry_run: bool = False) -> AccountCheck:
    """Make sure the state DB's Drive IDs belong to the connected account, before any is used.

    Same sign-in as last checked: nothing to do, no request. Otherwise one `about.get`: the same
    account has its new sign-in recorded; another account (or a state DB holding IDs but naming
    no account, which cannot be trusted) gets a fresh state, in one transaction. A dry run
    changes nothing and reports what a real run would do.
    """
    fingerprint = grant_fingerprint(client.credentials)
    stored = {k: v for k in (META_ACCOUNT_EMAIL, META_ACCOUNT_PERMISSION_ID, META_ACCOUNT_GRANT)
              if (v := db.get_meta(k))}
    if fingerprint is not None and stored.get(META_ACCOUNT_GRANT) == fingerprint:
        return AccountCheck(email=stored.get(META_ACCOUNT_EMAIL))
    email, permission_id = client.about_user()
    same = _same_account(stored, email, permission_id)
    identity = {META_ACCOUNT_EMAIL: email, META_ACCOUNT_PERMISSION_ID: permission_id,
                META_ACCOUNT_GRANT: fingerprint or ""}
    identity = {k: v for k, v in identity.items() if v}
    if same is True or (same is None and not _holds_ids(db)):
        if not dry_run:
            for key, value in identity.items():
                db.set_meta(key, value)
        return AccountCheck(email=email or None)
    previous = stored.get(META_ACCOUNT_EMAIL)
    log.info("the state DB belonged to %s; %s is connected: starting a fresh state for it",
             previous or "an unknown account", email or "another account")
    if not dry_run:
        db.start_fresh(identity)
    return AccountCheck(email=email or None, previous=previous, switched=same is False, fresh=True)


def account_status(state_dir: Path | str, connected: str | None) -> dict[str, Any]:
    """For status (read-only): the account the home's backup state belongs to, and whether the
    connected account is another one (then the next push starts afresh in the connected
    account's Drive, and the last push shown went to the other one)."""
    backup = read_state_meta(state_dir, (META_ACCOUNT_EMAIL,)).get(META_ACCOUNT_EMAIL) or None
    changed = bool(connected and backup and connected.casefold() != backup.casefold())
    return {"backup_account": backup, "account_changed": changed}


def stored_ids_usable(state_dir: Path | str, creds: Credentials) -> bool:
    """Whether the state DB's IDs belong to this sign-in's account, read-only and with no request:
    the same sign-in was checked by a run, or the sign-in names the account the state belongs to.
    A reader that cannot settle the account (the restore dialog) trusts the stored backup folder
    only then, and otherwise looks the folder up by path in the connected Drive."""
    meta = read_state_meta(state_dir, (META_ACCOUNT_GRANT, META_ACCOUNT_EMAIL))
    fingerprint = grant_fingerprint(creds)
    if fingerprint is not None and meta.get(META_ACCOUNT_GRANT) == fingerprint:
        return True
    signed_in, stored = getattr(creds, "account", "") or "", meta.get(META_ACCOUNT_EMAIL) or ""
    return bool(signed_in and stored) and signed_in.casefold() == stored.casefold()
