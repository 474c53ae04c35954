"""Where a user's Google OAuth credentials live between runs (DESIGN §5).

The file is the authorized-user JSON of `Credentials.to_json()` (refresh token, client id and
secret, token URI, and the current access token with its expiry so that a run does not have to
refresh at once), mode 0600 in a 0700 directory, written atomically; Fernet-encrypted when the
hub configures a key, in which case the file is not JSON at all.

Two traps handled here: `Credentials.from_authorized_user_info` resets `token_uri` to Google's
(trap 3), and `with_token_uri` returns a copy that forgets the expiry.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from google.oauth2.credentials import Credentials

log = logging.getLogger(__name__)

DRIVE_FILE_SCOPE = "https://www.googleapis.com/auth/drive.file"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
GOOGLE_REVOKE_URI = "https://oauth2.googleapis.com/revoke"
_GOOGLE_OAUTH_HOSTS = frozenset({"oauth2.googleapis.com", "accounts.google.com", "www.googleapis.com"})


class CredentialsError(Exception):
    """The stored credentials cannot be used as they are (bad key, corrupt file, bad config)."""


class RevokeError(CredentialsError):
    """The revoke endpoint could not be reached or refused for a reason other than a dead token."""


class CredentialStore:
    """Load, save and delete one user's credentials file."""

    def __init__(self, path: Path | str, key: bytes | str | None = None) -> None:
        self.path = Path(path)
        self._fernet = _make_fernet(key)

    @property
    def encrypted(self) -> bool:
        return self._fernet is not None

    def exists(self) -> bool:
        return self.path.is_file()

    def load(self) -> Credentials | None:
        """The stored credentials, or None when there is no file; CredentialsError if unreadable."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except PermissionError as exc:
            raise CredentialsError(f"cannot read the credentials file {self.path}: permission denied") from exc
        info = self._decode(raw)
        return credentials_from_info(info)

    def save(self, creds: Credentials) -> None:
        """Write atomically: a temporary file in the same directory (0600), fsync, rename.

        A reader (the nightly job, the server) sees either the old file or the new one, never
        half of one. Raises OSError when the location is not writable (e.g. a read-only
        Kubernetes Secret mount); DriveClient turns that into one warning for refreshed tokens.
        """
        data = creds.to_json().encode("utf-8")
        if self._fernet is not None:
            data = self._fernet.encrypt(data)
        parent = self.path.parent
        _ensure_private_dir(parent)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=parent)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        _fsync_dir(parent)

    def delete(self) -> bool:
        """Forget the credentials; True if a file was removed."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        _fsync_dir(self.path.parent)
        return True

    def _decode(self, raw: bytes) -> dict:
        if self._fernet is not None:
            try:
                raw = self._fernet.decrypt(raw)
            except InvalidToken as exc:
                if raw.lstrip().startswith(b"{"):
                    raise CredentialsError(
                        f"{self.path} is not encrypted but an encryption key is configured; "
                        "reconnect Google Drive to store it encrypted"
                    ) from exc
                raise CredentialsError(
                    f"cannot decrypt {self.path}: wrong encryption key (or the file is corrupt)"
                ) from exc
        try:
            info = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            if self._fernet is None:
                raise CredentialsError(
                    f"{self.path} is not JSON: it is probably encrypted and no encryption key is configured"
                ) from exc
            raise CredentialsError(f"{self.path} is corrupt") from exc
        if not isinstance(info, dict) or not info.get("refresh_token"):
            raise CredentialsError(f"{self.path} holds no refresh token; reconnect Google Drive")
        return info


def credentials_from_info(info: dict) -> Credentials:
    """Authorized-user info → Credentials, keeping the saved token URI, access token and expiry."""
    try:
        creds = Credentials.from_authorized_user_info(info, scopes=info.get("scopes"))
    except ValueError as exc:
        raise CredentialsError(f"incomplete credentials: {exc}") from exc
    token_uri = info.get("token_uri") or GOOGLE_TOKEN_URI
    expiry = creds.expiry
    creds = creds.with_token_uri(token_uri)  # trap 3: the loader always says Google's
    creds.expiry = expiry  # ... and the copy drops the expiry (None would mean "never expires")
    return creds


def revoke_uri_for(token_uri: str | None) -> str:
    """Google's revoke endpoint for Google token URIs; `<origin>/revoke` for anything else (the emulator)."""
    if not token_uri:
        return GOOGLE_REVOKE_URI
    parts = urllib.parse.urlsplit(token_uri)
    if parts.hostname in _GOOGLE_OAUTH_HOSTS:
        return GOOGLE_REVOKE_URI
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/revoke", "", ""))


def revoke(creds: Credentials, revoke_uri: str | None = None, *, timeout: float = 30.0) -> bool:
    """Revoke the grant (the refresh token, which also kills its access tokens).

    True: revoked now. False: the token was already invalid (nothing left to revoke).
    RevokeError: the endpoint could not be reached or answered otherwise. The token travels in
    the POST body, not the URL, so it does not end up in access logs.
    """
    token = creds.refresh_token or creds.token
    if not token:
        return False
    uri = revoke_uri or revoke_uri_for(creds.token_uri)
    body = urllib.parse.urlencode({"token": token}).encode("ascii")
    req = urllib.request.Request(
        uri, data=body, method="POST", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - http(s) URI from config
            resp.read()
            return True
    except urllib.error.HTTPError as exc:
        if exc.code == 400:
            return False  # invalid_token: already revoked or expired
        raise RevokeError(f"revoking the Google token failed: HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise RevokeError(f"cannot reach {uri} to revoke the Google token: {type(exc).__name__}") from None


def _make_fernet(key: bytes | str | None) -> Fernet | None:
    if key is None:
        return None
    if isinstance(key, str):
        key = key.strip().encode("ascii", "replace")
    key = key.strip()
    if not key:
        return None
    try:
        return Fernet(key)
    except (ValueError, TypeError) as exc:
        raise CredentialsError(
            "the credentials encryption key must be a Fernet key (32 url-safe base64-encoded bytes; "
            "make one with `python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`)"
        ) from exc


STATE_DIR_NAME = "drive_sync"  # <home>/.local/share/jupyter/drive_sync (DESIGN §5)


def _ensure_private_dir(path: Path) -> None:
    """Create missing directories as 0700; tighten an existing one only if it is the tool's own.

    Any other existing directory (a home, /tmp, a Secret mount) is left as it is: the file
    itself is 0600 either way, and changing a user's home permissions is not ours to do.
    """
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=0o700)
        except FileExistsError:
            pass
        os.chmod(d, 0o700)
    if not missing and path.name == STATE_DIR_NAME:
        st = path.stat()
        if st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) & 0o077:
            try:
                os.chmod(path, 0o700)
            except OSError:
                pass


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
