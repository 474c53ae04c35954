"""Whether a home is connected to Google Drive: read, check, store and forget its grant.

The server's status route, the CLI's `status`/`disconnect` and both sign-in flows go through
here, so they agree on which credentials file a home uses and on what "must reconnect" means.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from google.auth.exceptions import RefreshError, TransportError
from google.auth.transport.requests import Request
from google.oauth2.credentials import Credentials

from ..core.errors import NotConnected
from ..core.settings import SyncSettings
from .credentials import CredentialsError, CredentialStore, RevokeError, revoke
from .flow import account_email

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Connection:
    connected: bool
    account: str | None = None
    needs_reauth: bool = False
    problem: str | None = None  # why the stored credentials cannot be used, for people


def credential_store(settings: SyncSettings) -> CredentialStore:
    """The home's credentials file, with the configured encryption key (a bad key raises)."""
    return CredentialStore(settings.credentials_file, settings.encryption_key)


def load_credentials(settings: SyncSettings) -> Credentials | None:
    return credential_store(settings).load()


def require_credentials(settings: SyncSettings) -> Credentials:
    """Stored credentials or NotConnected (for callers that must not go on without them)."""
    try:
        creds = load_credentials(settings)
    except CredentialsError as exc:
        raise NotConnected(str(exc)) from None
    if creds is None:
        raise NotConnected("Google Drive is not connected: run `jupyter-drive-sync auth`.")
    return creds


def check_connection(settings: SyncSettings, *, live: bool = True) -> Connection:
    """Is this home connected, and does Google still honour the grant?

    `live` refreshes the access token (one call to the token endpoint): that is the only way
    to notice a grant revoked from the Google account page. Blocking.
    """
    try:
        creds = load_credentials(settings)
    except CredentialsError as exc:
        return Connection(connected=True, needs_reauth=True, problem=str(exc))
    if creds is None:
        return Connection(connected=False)
    conn = Connection(connected=True, account=creds.account or None)
    if live:
        try:
            creds.refresh(Request())
        except RefreshError:
            conn.needs_reauth = True
            conn.problem = "Google no longer accepts this sign-in; reconnect Google Drive."
        except TransportError:
            pass  # offline is not a reason to ask for a new sign-in
        else:
            if not conn.account:  # a sign-in stored without its address: ask whose it is
                conn.account = account_email(creds, settings.api_root) or None
    return conn


def save_connection(settings: SyncSettings, creds: Credentials) -> str:
    """Read the account's email, then store the credentials (with the email as `account`)."""
    email = account_email(creds, settings.api_root)
    if email:
        creds = creds.with_account(email)
    credential_store(settings).save(creds)
    return email


def disconnect(settings: SyncSettings) -> bool:
    """Revoke the grant at Google and delete the credentials file; True if there was one.

    The file is deleted even when revoking fails (the user asked to forget it); the error is
    logged without the token.
    """
    store = credential_store(settings)
    try:
        creds = store.load()
    except CredentialsError:
        creds = None
    if creds is not None:
        try:
            revoke(creds)
        except RevokeError as exc:
            log.warning("%s", exc)
    return store.delete()
