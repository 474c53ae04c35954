"""Accounts, OAuth clients, authorization codes and tokens of the emulator.

Everything but the short-lived authorization codes is persisted as one JSON file in the data
dir (written atomically), so an emulator restarted with the same `--data-dir` still accepts
the tokens it issued: the same behaviour a real Drive gives a nightly job.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .settings import EmulatorSettings
from .wire import DriveError, Principal

BUILTIN_CLIENT_ID = "1000000000000-emulator0drive0sync.apps.googleusercontent.com"
BUILTIN_CLIENT_SECRET = "GOCSPX-emulator-not-a-secret"
DRIVE_FILE_SCOPE = "https://www.googleapis.com/auth/drive.file"
CODE_LIFETIME_S = 600

_WWW_AUTHENTICATE = 'Bearer realm="https://accounts.google.com/", error="invalid_token"'


class OAuthError(Exception):
    """An OAuth endpoint error, answered as `{"error": ..., "error_description": ...}`."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


def invalid_credentials() -> DriveError:
    return DriveError(401, "authError", "Invalid Credentials", location="Authorization",
                      location_type="header", headers={"WWW-Authenticate": _WWW_AUTHENTICATE})


@dataclass(slots=True)
class Account:
    email: str
    display_name: str
    storage_quota_bytes: int
    daily_upload_cap_bytes: int


@dataclass(slots=True)
class OAuthClient:
    client_id: str
    client_secret: str
    redirect_uris: list[str] = field(default_factory=list)
    builtin: bool = False

    def accepts_redirect(self, uri: str) -> bool:
        """Registered URIs always; the built-in client also any loopback http(s) URI."""
        if uri in self.redirect_uris:
            return True
        if not self.builtin:
            return False
        try:
            parts = urlsplit(uri)
            _ = parts.port  # raises on a malformed port
        except ValueError:
            return False
        return parts.scheme in ("http", "https") and parts.hostname in ("127.0.0.1", "localhost", "::1")


@dataclass(slots=True)
class _Code:
    client_id: str
    email: str
    scope: str
    redirect_uri: str
    code_challenge: str | None
    code_challenge_method: str
    offline: bool
    expires_at: float


class AccountStore:
    """Accounts and OAuth state; thread-safe; `authenticate` does no I/O (it is on every request)."""

    def __init__(self, settings: EmulatorSettings) -> None:
        self._settings = settings  # shared and live: the admin API may change the token lifetime
        self._lock = threading.RLock()
        self._path = Path(settings.data_dir) / "accounts.json"
        self._accounts: dict[str, dict[str, Any]] = {}
        self._clients: dict[str, OAuthClient] = {}
        self._codes: dict[str, _Code] = {}
        # token -> {email, client_id, scope, family, expires_at?}
        self._access: dict[str, dict[str, Any]] = {}
        self._refresh: dict[str, dict[str, Any]] = {}
        self.auto_consent: bool | None = None  # None: follow settings.auto_consent
        self.default_email: str | None = None
        self._load()
        self._clients[BUILTIN_CLIENT_ID] = OAuthClient(
            BUILTIN_CLIENT_ID, BUILTIN_CLIENT_SECRET,
            self._clients.get(BUILTIN_CLIENT_ID, OAuthClient("", "")).redirect_uris, builtin=True)

    # ---- persistence -------------------------------------------------------------------------

    def _load(self) -> None:
        try:
            data = json.loads(self._path.read_text("utf-8"))
        except FileNotFoundError:
            return
        self._accounts = data.get("accounts", {})
        self._clients = {c["client_id"]: OAuthClient(**c) for c in data.get("clients", [])}
        self._access = data.get("access_tokens", {})
        self._refresh = data.get("refresh_tokens", {})
        self.auto_consent = data.get("auto_consent")
        self.default_email = data.get("default_email")

    def _save(self) -> None:
        """Write the whole state to a temp file and rename it over the old one (atomic)."""
        now = time.time()
        self._access = {t: r for t, r in self._access.items() if r["expires_at"] > now}
        data = {
            "accounts": self._accounts,
            "clients": [asdict(c) for c in self._clients.values()],
            "access_tokens": self._access,
            "refresh_tokens": self._refresh,
            "auto_consent": self.auto_consent,
            "default_email": self.default_email,
        }
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_name(f".{self._path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self._path)

    # ---- accounts ----------------------------------------------------------------------------

    def _account(self, rec: dict[str, Any]) -> Account:
        s = self._settings
        quota = rec.get("storage_quota_bytes")
        cap = rec.get("daily_upload_cap_bytes")
        return Account(
            email=rec["email"],
            display_name=rec.get("display_name") or rec["email"].split("@")[0],
            storage_quota_bytes=s.storage_quota_bytes if quota is None else int(quota),
            daily_upload_cap_bytes=s.daily_upload_cap_bytes if cap is None else int(cap),
        )

    def get(self, email: str) -> Account:
        """The account; KeyError when it does not exist."""
        with self._lock:
            return self._account(self._accounts[email.lower()])

    def exists(self, email: str) -> bool:
        with self._lock:
            return email.lower() in self._accounts

    def list(self) -> list[Account]:
        with self._lock:
            return [self._account(r) for r in sorted(self._accounts.values(), key=lambda r: r["email"])]

    def create(self, email: str, *, display_name: str | None = None, storage_quota_bytes: int | None = None,
               daily_upload_cap_bytes: int | None = None) -> Account:
        """Create the account, or update the given attributes of an existing one (idempotent)."""
        email = email.strip().lower()
        if "@" not in email or len(email) > 254 or any(c.isspace() for c in email):
            raise ValueError(f"not an email address: {email!r}")
        with self._lock:
            rec = self._accounts.setdefault(email, {"email": email, "created": time.time()})
            for key, value in (("display_name", display_name), ("storage_quota_bytes", storage_quota_bytes),
                               ("daily_upload_cap_bytes", daily_upload_cap_bytes)):
                if value is not None:
                    rec[key] = value
            self._save()
            return self._account(rec)

    def update(self, email: str, **fields: Any) -> Account:
        """Change quotas or display name of an existing account (KeyError if unknown)."""
        with self._lock:
            if email.lower() not in self._accounts:
                raise KeyError(email)
            return self.create(email, **{k: v for k, v in fields.items() if v is not None})

    # ---- clients -----------------------------------------------------------------------------

    def client(self, client_id: str | None) -> OAuthClient | None:
        with self._lock:
            return self._clients.get(client_id or "")

    def create_client(self, redirect_uris: list[str] | None = None) -> OAuthClient:
        """A new OAuth client (drive.file visibility is per client: tests need several)."""
        with self._lock:
            n = secrets.randbelow(10**12)
            client = OAuthClient(
                client_id=f"{n:012d}-{secrets.token_hex(16)}.apps.googleusercontent.com",
                client_secret="GOCSPX-" + secrets.token_urlsafe(21),
                redirect_uris=list(redirect_uris or []),
            )
            self._clients[client.client_id] = client
            self._save()
            return client

    def add_redirect_uri(self, client_id: str, uri: str) -> None:
        with self._lock:
            client = self._clients[client_id]
            if uri not in client.redirect_uris:
                client.redirect_uris.append(uri)
                self._save()

    def check_client(self, client_id: str | None, client_secret: str | None) -> OAuthClient:
        client = self.client(client_id)
        if client is None or client_secret is None or not hmac.compare_digest(
                client.client_secret.encode(), client_secret.encode()):
            raise OAuthError(401, "invalid_client", "The OAuth client was not found.")
        return client

    # ---- tokens ------------------------------------------------------------------------------

    def _mint_access(self, email: str, client_id: str, scope: str, family: str) -> dict[str, Any]:
        lifetime = int(self._settings.token_lifetime_s)
        token = "ya29.emu-" + secrets.token_urlsafe(40)
        self._access[token] = {"email": email, "client_id": client_id, "scope": scope, "family": family,
                               "expires_at": time.time() + lifetime}
        return {"access_token": token, "expires_in": lifetime, "scope": scope, "token_type": "Bearer"}

    def mint_tokens(self, email: str, client_id: str = BUILTIN_CLIENT_ID, scope: str = DRIVE_FILE_SCOPE,
                    *, offline: bool = True) -> dict[str, Any]:
        """A fresh grant: access token (+ refresh token when offline), as the token endpoint answers."""
        with self._lock:
            if email.lower() not in self._accounts:
                raise KeyError(email)
            if client_id not in self._clients:
                raise KeyError(client_id)
            email = email.lower()
            family = secrets.token_hex(8)
            out = self._mint_access(email, client_id, scope, family)
            if offline:
                refresh = "1//emu-" + secrets.token_urlsafe(48)
                self._refresh[refresh] = {"email": email, "client_id": client_id, "scope": scope, "family": family}
                out["refresh_token"] = refresh
            self._save()
            return out

    def issue_code(self, *, client_id: str, email: str, scope: str, redirect_uri: str,
                   code_challenge: str | None, code_challenge_method: str | None, offline: bool) -> str:
        with self._lock:
            now = time.time()
            self._codes = {c: r for c, r in self._codes.items() if r.expires_at > now}
            code = "4/emu-" + secrets.token_urlsafe(32)
            self._codes[code] = _Code(client_id, email.lower(), scope, redirect_uri, code_challenge or None,
                                      (code_challenge_method or "plain"), offline, now + CODE_LIFETIME_S)
            return code

    def redeem_code(self, code: str, client: OAuthClient, redirect_uri: str | None,
                    code_verifier: str | None) -> dict[str, Any]:
        """Exchange an authorization code (single use, bound to client and redirect_uri, PKCE-checked)."""
        with self._lock:
            rec = self._codes.pop(code or "", None)  # single use: gone whatever happens next
            if rec is None or rec.expires_at <= time.time() or rec.client_id != client.client_id:
                raise OAuthError(400, "invalid_grant", "Malformed auth code.")
            if redirect_uri != rec.redirect_uri:
                raise OAuthError(400, "redirect_uri_mismatch", "Bad Request")
            if rec.code_challenge is not None:
                if not code_verifier:
                    raise OAuthError(400, "invalid_grant", "Missing code verifier.")
                if rec.code_challenge_method == "S256":
                    digest = hashlib.sha256(code_verifier.encode("ascii", "replace")).digest()
                    computed = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
                else:
                    computed = code_verifier
                if not hmac.compare_digest(computed.encode(), rec.code_challenge.encode()):
                    raise OAuthError(400, "invalid_grant", "Invalid code verifier.")
            if rec.email not in self._accounts:
                raise OAuthError(400, "invalid_grant", "Token has been expired or revoked.")
            return self.mint_tokens(rec.email, rec.client_id, rec.scope, offline=rec.offline)

    def refresh(self, refresh_token: str, client: OAuthClient, scope: str | None) -> dict[str, Any]:
        """A new access token for a live refresh token; `scope` (if sent) is echoed exactly."""
        with self._lock:
            rec = self._refresh.get(refresh_token or "")
            if rec is None or rec["client_id"] != client.client_id:
                raise OAuthError(400, "invalid_grant", "Token has been expired or revoked.")
            granted = set(rec["scope"].split())
            if scope and not set(scope.split()) <= granted:
                raise OAuthError(400, "invalid_scope", "Some requested scopes were invalid.")
            out = self._mint_access(rec["email"], rec["client_id"], scope or rec["scope"], rec["family"])
            self._save()
            return out

    def revoke(self, token: str) -> bool:
        """Revoke a token and every token of its grant (refresh token and its access tokens)."""
        with self._lock:
            rec = self._access.get(token) or self._refresh.get(token)
            if rec is None:
                return False
            family = rec["family"]
            self._access = {t: r for t, r in self._access.items() if r["family"] != family}
            self._refresh = {t: r for t, r in self._refresh.items() if r["family"] != family}
            self._save()
            return True

    def token_info(self, token: str) -> dict[str, Any] | None:
        with self._lock:
            rec = self._access.get(token)
            if rec is None or rec["expires_at"] <= time.time():
                return None
            return dict(rec)

    def authenticate(self, authorization_header: str | None) -> Principal:
        """The caller of a Drive request, from `Authorization: Bearer <token>`, or 401."""
        if not authorization_header:
            raise invalid_credentials()
        scheme, _, token = authorization_header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise invalid_credentials()
        rec = self._access.get(token.strip())  # dict read: atomic under the GIL, no lock needed
        if rec is None or rec["expires_at"] <= time.time():
            raise invalid_credentials()
        return Principal(rec["email"], rec["client_id"], frozenset(rec["scope"].split()))

    # ---- consent mode (admin) ----------------------------------------------------------------

    def set_consent(self, auto: bool | None, email: str | None) -> None:
        with self._lock:
            self.auto_consent = auto
            self.default_email = email.lower() if email else None
            self._save()

    def consent_is_automatic(self) -> bool:
        return self.auto_consent if self.auto_consent is not None else bool(self._settings.auto_consent)
