"""Where a user's Google OAuth credentials live between runs.

The file is the authorized-user JSON of `Credentials.to_json()` (refresh token, client id and
secret, token URI, and the current access token with its expiry so that a run does not have to
refresh at once), mode 0600 in a 0700 directory, written atomically; Fernet-encrypted when the
hub configures a key, in which case the file is not JSON at all.

Two traps handled here: `Credentials.from_authorized_user_info` resets `token_uri` to Google's
(which would send the emulator's tokens to Google), and `with_token_uri` returns a copy that
forgets the expiry.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import secrets
import stat
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from google.oauth2.credentials import Credentials

from ..core.errors import EXIT_NOT_CONNECTED
from ..home.machine_errors import environment_problem
from ..home.private_dir import UnsafeStateDir, fsync_dir_fd, in_home_state_dir, match_folder_owner, open_private_dir

log = logging.getLogger(__name__)

DRIVE_FILE_SCOPE = "https://www.googleapis.com/auth/drive.file"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
GOOGLE_REVOKE_URI = "https://oauth2.googleapis.com/revoke"
MAX_CREDENTIALS_BYTES = 64 * 1024  # an authorized-user JSON is under 2 KB, encrypted under 3 KB
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
# Every Fernet token starts with version byte 0x80, which url-safe base64 writes as "gA".
_FERNET_PREFIX = b"gA"
_GOOGLE_OAUTH_HOSTS = frozenset({"oauth2.googleapis.com", "accounts.google.com", "www.googleapis.com"})


class CredentialsError(Exception):
    """The stored credentials cannot be used as they are (bad key, corrupt file, bad config)."""

    exit_code = EXIT_NOT_CONNECTED  # for the CLI: the home must be connected again


class KeyMismatch(CredentialsError):
    """The configured encryption key does not fit the stored file (missing, wrong, malformed, or a
    key set where the file is plain): the hub's configuration, which the admin fixes; a student's
    reconnect would not help (the nightly job tells it apart from a revoked grant)."""


class RevokeError(CredentialsError):
    """The revoke endpoint could not be reached or refused for a reason other than a dead token."""


class CredentialStore:
    """Load, save and delete one user's credentials file."""

    def __init__(self, path: Path | str, key: bytes | str | None = None) -> None:
        self.path = Path(path)
        self._fernet = _make_fernet(key)
        self._in_home = in_home_state_dir(self.path)  # the default place: a student's folder

    @property
    def encrypted(self) -> bool:
        return self._fernet is not None

    def exists(self) -> bool:
        return self.path.is_file()

    def load(self) -> Credentials | None:
        """The stored credentials, or None when there is no file; CredentialsError if unreadable.

        Read through a descriptor that is a regular file of bounded size, never a FIFO (which
        would block the run forever) nor, in a home, a symlink (see private_dir)."""
        try:
            raw = self._read()
        except FileNotFoundError:
            return None
        except PermissionError as exc:
            raise CredentialsError(f"cannot read the credentials file {self.path}: permission denied") from exc
        except UnsafeStateDir as exc:
            raise CredentialsError(str(exc)) from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise CredentialsError(
                    f"{self.path} is a symbolic link, which is not followed; reconnect Google Drive"
                ) from None
            problem = environment_problem(exc, "the credentials file", self.path)  # no descriptor left: not a reconnect
            if problem is not None:
                raise problem from None
            raise CredentialsError(f"cannot read the credentials file {self.path}: {exc.strerror or exc}") from None
        info = self._decode(raw)
        return credentials_from_info(info)

    def _read(self) -> bytes:
        flags = os.O_RDONLY | os.O_NONBLOCK | _O_CLOEXEC
        if self._in_home:
            dfd = open_private_dir(self.path.parent, create=False)
            try:
                fd = os.open(self.path.name, flags | os.O_NOFOLLOW, dir_fd=dfd)
            finally:
                os.close(dfd)
        else:
            fd = os.open(self.path, flags)  # an admin's path (a Secret mount is made of symlinks)
        with os.fdopen(fd, "rb") as fh:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise CredentialsError(f"{self.path} is not a regular file; reconnect Google Drive")
            data = fh.read(MAX_CREDENTIALS_BYTES + 1)
        if len(data) > MAX_CREDENTIALS_BYTES:
            raise CredentialsError(f"{self.path} is too large to be a credentials file")
        return data

    def save(self, creds: Credentials) -> None:
        """Write atomically: a temporary file in the same directory (0600), fsync, rename.

        A reader (the nightly job, the server) sees either the old file or the new one, never
        half of one. Raises OSError when the location is not writable (e.g. a read-only
        Kubernetes Secret mount); DriveClient turns that into one warning for refreshed tokens.
        In a home, the folder is reached without following a symlink (see private_dir), and
        the rename replaces whatever stood at the name (a symlink included) without following it.
        """
        data = creds.to_json().encode("utf-8")
        if self._fernet is not None:
            data = self._fernet.encrypt(data)
        dfd = open_private_dir(self.path.parent)  # in a home: no symlink followed (see private_dir)
        try:
            tmp = f".{self.path.name}.{secrets.token_hex(8)}.tmp"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | _O_CLOEXEC, 0o600, dir_fd=dfd)
            try:
                os.fchmod(fd, 0o600)
                match_folder_owner(fd, dfd)  # written by a run as root: still the student's
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, self.path.name, src_dir_fd=dfd, dst_dir_fd=dfd)
            except BaseException:
                try:
                    os.unlink(tmp, dir_fd=dfd)
                except OSError:
                    pass
                raise
            fsync_dir_fd(dfd)
        finally:
            os.close(dfd)

    def delete(self) -> bool:
        """Forget the credentials; True if a file was removed."""
        try:
            dfd = (open_private_dir(self.path.parent, create=False) if self._in_home
                   else os.open(self.path.parent, os.O_RDONLY | os.O_DIRECTORY | _O_CLOEXEC))
        except FileNotFoundError:
            return False
        try:
            os.unlink(self.path.name, dir_fd=dfd)  # a symlink there is removed, never followed
        except FileNotFoundError:
            return False
        else:
            fsync_dir_fd(dfd)
        finally:
            os.close(dfd)
        return True

    def _decode(self, raw: bytes) -> dict:
        if self._fernet is not None:
            try:
                raw = self._fernet.decrypt(raw)
            except InvalidToken as exc:
                if raw.lstrip().startswith(b"{") and _is_json(raw):  # stored plain by a server without the key
                    raise KeyMismatch(
                        f"{self.path} is not encrypted but an encryption key is configured; "
                        "reconnect Google Drive to store it encrypted"
                    ) from exc
                if not raw.lstrip().startswith(_FERNET_PREFIX):
                    raise CredentialsError(f"{self.path} is corrupt; reconnect Google Drive") from exc
                raise KeyMismatch(
                    f"cannot decrypt {self.path}: wrong encryption key (or the file is corrupt)"
                ) from exc
        try:
            info = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            if self._fernet is None and raw.lstrip().startswith(_FERNET_PREFIX):
                raise KeyMismatch(
                    f"{self.path} is encrypted and no encryption key is configured"
                ) from exc
            if self._fernet is None:
                raise CredentialsError(f"{self.path} is corrupt (not JSON); reconnect Google Drive") from exc
            raise CredentialsError(f"{self.path} is corrupt") from exc
        if not isinstance(info, dict) or not info.get("refresh_token"):
            raise CredentialsError(f"{self.path} holds no refresh token; reconnect Google Drive")
        return info


def _is_json(raw: bytes) -> bool:
    try:
        json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return False
    return True


def credentials_from_info(info: dict) -> Credentials:
    """Authorized-user info → Credentials, keeping the saved token URI, access token and expiry."""
    try:
        creds = Credentials.from_authorized_user_info(info, scopes=info.get("scopes"))
    except ValueError as exc:
        raise CredentialsError(f"incomplete credentials: {exc}") from exc
    token_uri = info.get("token_uri") or GOOGLE_TOKEN_URI
    expiry = creds.expiry
    creds = creds.with_token_uri(token_uri)  # the loader always says Google's
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
        raise KeyMismatch(
            "the credentials encryption key must be a Fernet key (32 url-safe base64-encoded bytes; "
            "make one with `python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`)"
        ) from exc
