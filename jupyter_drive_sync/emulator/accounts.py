"""Accounts, OAuth clients, authorization codes and tokens of the emulator.

Everything but the short-lived authorization codes is persisted as one JSON file in the data
dir (written atomically), so an emulator restarted with the same `--data-dir` still accepts
the tokens it issued: the same behaviour a real Drive gives a nightly job.

The clients follow Google's rules for their type, always: a `web` client accepts only the
redirect URIs registered for it, character for character; an `installed` (Desktop) client only
a loopback redirect, on any port. Refresh tokens follow Google's rules too: at most 100 per
account and client, expired after six months unused, and (`refresh_token_lifetime_s`) after
a fixed lifetime, as for apps in "Testing" status.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
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
# "tv": Google's "TVs and Limited Input devices" type, the only one its device flow accepts
# (emulator/device_flow.py); it has no redirect at all.
CLIENT_TYPES = ("web", "installed", "tv")
# The redirect URIs registered for the built-in web client: a standalone Jupyter server on its
# default port. Anything else (another port, a hub) is registered through POST /_emulator/clients,
# as an admin adds "Authorized redirect URIs" to a web client in Google's console.
BUILTIN_REDIRECT_URIS = ("http://localhost:8888/drive-sync/oauth2callback",
                         "http://127.0.0.1:8888/drive-sync/oauth2callback")
# Google: "There is currently a limit of 100 refresh tokens per Google Account per OAuth 2.0
# client ID. If the limit is reached, creating a new refresh token automatically invalidates the
# oldest refresh token without warning." And a refresh token "has not been used for six months"
# has expired. (Google's OAuth 2.0 overview, "Refresh token expiration"; reference/drive-api-v3.md,
# "refresh tokens".)
REFRESH_TOKENS_PER_CLIENT = 100
REFRESH_TOKEN_IDLE_S = 183 * 24 * 3600
EXPIRED_OR_REVOKED = "Token has been expired or revoked."  # Google's invalid_grant text
_LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")

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


def _split(uri: str) -> Any:
    """`urlsplit`, or None for what no browser could follow (a bad port, no host)."""
    try:
        parts = urlsplit(uri)
        _ = parts.port  # raises on a malformed port
    except ValueError:
        return None
    return parts if parts.hostname else None


def is_loopback_redirect(uri: str) -> bool:
    """A Desktop client's redirect: plain http to 127.0.0.1, [::1] or localhost, any port.

    Google's "OAuth 2.0 for Mobile & Desktop Apps", loopback IP address option: the redirect is
    `http://127.0.0.1:port` or `http://[::1]:port` (localhost also works), the port chosen when
    the app runs; the loopback-migration guide keeps this flow for desktop apps only.
    """
    parts = _split(uri)
    return (parts is not None and parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS
            and "@" not in parts.netloc and not parts.fragment)


def redirect_uri_problem(uri: str) -> str | None:
    """Why Google's console would refuse `uri` as a web client's authorized redirect URI, or None.

    Google's "Using OAuth 2.0 for Web Server Applications", "Redirect URI validation rules":
    HTTPS only (localhost URIs, including loopback IPs, exempt); no raw IP host but loopback; no
    userinfo, no fragment, no wildcard, no path traversal, no whitespace or control characters.
    """
    if not uri or any(c.isspace() or ord(c) < 0x20 or c == "\x7f" for c in uri):
        return "must not be empty or contain whitespace or control characters"
    if "*" in uri:
        return "must not contain a wildcard"
    parts = _split(uri)
    if parts is None or parts.scheme not in ("http", "https"):
        return "must be an absolute http(s) URI with a host"
    if "@" in parts.netloc:
        return "must not contain userinfo"
    if parts.fragment or uri.endswith("#"):
        return "must not contain a fragment"
    if "/.." in parts.path or "\\.." in parts.path:
        return "must not contain a path traversal"
    loopback = parts.hostname in _LOOPBACK_HOSTS
    if parts.scheme == "http" and not loopback:
        return "must use https (only localhost may use http)"
    if not loopback and all(c.isdigit() or c in ".:" for c in parts.hostname):
        return "must not be a raw IP address (only a loopback one)"
    return None


@dataclass(slots=True)
class OAuthClient:
    client_id: str
    client_secret: str
    redirect_uris: list[str] = field(default_factory=list)
    builtin: bool = False
    type: str = "web"  # "web" | "installed" (Google's "Desktop app") | "tv" (limited-input device)

    def accepts_redirect(self, uri: str) -> bool:
        """Web: a registered URI, exactly. Installed: any loopback http URI, whatever the port."""
        if self.type == "installed":
            return is_loopback_redirect(uri)
        if self.type == "tv":  # signs in by device code only
            return False
        return uri in self.redirect_uris

    def secrets_document(self, base_url: str) -> dict[str, Any]:
        """The client-secrets JSON Google's console downloads for this client, endpoints here."""
        # A Desktop client's download lists "http://localhost" (its loopback redirect); a web
        # client's lists its authorized redirect URIs.
        # A TV client's download has the same `installed` section, with no redirect URI.
        uris = ["http://localhost"] if self.type == "installed" else list(self.redirect_uris)
        return {"installed" if self.type == "tv" else self.type: {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "project_id": "drive-emulator",
            "auth_uri": f"{base_url}o/oauth2/auth",
            "token_uri": f"{base_url}token",
            "revoke_uri": f"{base_url}revoke",
            "auth_provider_x509_cert_url": f"{base_url}oauth2/v1/certs",
            "redirect_uris": uris,
        }}


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
        # token -> {email, client_id, scope, family, expires_at}
        self._access: dict[str, dict[str, Any]] = {}
        # token -> {email, client_id, scope, family, issued_at, last_used}, oldest first
        self._refresh: dict[str, dict[str, Any]] = {}
        self.auto_consent: bool | None = None  # None: follow settings.auto_consent
        self.default_email: str | None = None
        self._load()
        # (email, client_id) -> its refresh tokens, oldest first; revoked ones are dropped lazily
        self._issued: dict[tuple[str, str], list[str]] = {}
        for token, rec in self._refresh.items():
            self._issued.setdefault((rec["email"], rec["client_id"]), []).append(token)
        saved = self._clients.get(BUILTIN_CLIENT_ID, OAuthClient("", "")).redirect_uris
        self._clients[BUILTIN_CLIENT_ID] = OAuthClient(
            BUILTIN_CLIENT_ID, BUILTIN_CLIENT_SECRET,
            list(BUILTIN_REDIRECT_URIS) + [u for u in saved if u not in BUILTIN_REDIRECT_URIS],
            builtin=True, type="web")

    def now(self) -> float:
        """The emulator's time (`POST /_emulator/clock` moves it): every expiry here reads it."""
        return self._settings.clock.time()

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
        now = self.now()
        for rec in self._refresh.values():  # written before tokens had an age: from now on
            rec.setdefault("issued_at", now)
            rec.setdefault("last_used", rec["issued_at"])
        self.auto_consent = data.get("auto_consent")
        self.default_email = data.get("default_email")

    def _save(self) -> None:
        """Write the whole state to a temp file and rename it over the old one (atomic)."""
        now = self.now()
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
            rec = self._accounts.setdefault(email, {"email": email, "created": self.now()})
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

    def create_client(self, redirect_uris: list[str] | None = None, client_type: str = "web") -> OAuthClient:
        """A new OAuth client (drive.file visibility is per client: tests need several).

        ValueError for what Google's console refuses: an unknown type, a redirect URI that breaks
        Google's rules, or any redirect URI for a Desktop client (it has none to register).
        """
        uris = list(redirect_uris or [])
        self._check_redirect_uris(client_type, uris)
        with self._lock:
            n = secrets.randbelow(10**12)
            client = OAuthClient(
                client_id=f"{n:012d}-{secrets.token_hex(16)}.apps.googleusercontent.com",
                client_secret="GOCSPX-" + secrets.token_urlsafe(21),
                redirect_uris=list(dict.fromkeys(uris)),
                type=client_type,
            )
            self._clients[client.client_id] = client
            self._save()
            return client

    def add_redirect_uri(self, client_id: str, uri: str) -> None:
        """Authorize one more redirect URI for a web client (KeyError, ValueError as above)."""
        with self._lock:
            client = self._clients[client_id]
            self._check_redirect_uris(client.type, [uri])
            if uri not in client.redirect_uris:
                client.redirect_uris.append(uri)
                self._save()

    @staticmethod
    def _check_redirect_uris(client_type: str, uris: list[str]) -> None:
        if client_type not in CLIENT_TYPES:
            raise ValueError(f"type must be one of {', '.join(CLIENT_TYPES)}")
        if client_type in ("installed", "tv") and uris:
            raise ValueError("an installed (Desktop) or TV client has no redirect URIs to register: "
                             "a Desktop client may use a loopback redirect on any port, a TV one none")
        for uri in uris:
            problem = redirect_uri_problem(uri)
            if problem:
                raise ValueError(f"invalid redirect URI {uri!r}: {problem}")

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
                               "expires_at": self.now() + lifetime}
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
                now = self.now()
                self._refresh[refresh] = {"email": email, "client_id": client_id, "scope": scope, "family": family,
                                          "issued_at": now, "last_used": now}
                self._issued.setdefault((email, client_id), []).append(refresh)
                self._cap_refresh_tokens(email, client_id)
                out["refresh_token"] = refresh
            self._save()
            return out

    def _cap_refresh_tokens(self, email: str, client_id: str) -> None:
        """Keep the newest 100 refresh tokens of this account and client; the oldest go silently."""
        mine = [t for t in self._issued.get((email, client_id), []) if t in self._refresh]
        for token in mine[: max(0, len(mine) - REFRESH_TOKENS_PER_CLIENT)]:
            del self._refresh[token]
        self._issued[(email, client_id)] = mine[-REFRESH_TOKENS_PER_CLIENT:]

    def issue_code(self, *, client_id: str, email: str, scope: str, redirect_uri: str,
                   code_challenge: str | None, code_challenge_method: str | None, offline: bool) -> str:
        with self._lock:
            now = self.now()
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
            if rec is None or rec.expires_at <= self.now() or rec.client_id != client.client_id:
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
                raise OAuthError(400, "invalid_grant", EXPIRED_OR_REVOKED)
            return self.mint_tokens(rec.email, rec.client_id, rec.scope, offline=rec.offline)

    def refresh(self, refresh_token: str, client: OAuthClient, scope: str | None) -> dict[str, Any]:
        """A new access token for a live refresh token; `scope` (if sent) is echoed exactly."""
        with self._lock:
            rec = self._refresh.get(refresh_token or "")
            if rec is None:
                raise OAuthError(400, "invalid_grant", EXPIRED_OR_REVOKED)
            if rec["client_id"] != client.client_id:
                # A live token presented by another client: Google answers 401 unauthorized_client
                # (observed: prasmussen/gdrive issue 375, googleapis/google-auth-library-python
                # issue 1561), not the invalid_grant of a dead token: an admin who swapped the
                # OAuth client is told apart from a student who revoked access.
                raise OAuthError(401, "unauthorized_client", "Unauthorized")
            now = self.now()
            lifetime = int(self._settings.refresh_token_lifetime_s or 0)
            too_old = lifetime > 0 and now - rec["issued_at"] >= lifetime  # a "Testing" app's week
            if too_old or now - rec["last_used"] >= REFRESH_TOKEN_IDLE_S:
                del self._refresh[refresh_token]  # expired for good, as revoked
                self._save()
                raise OAuthError(400, "invalid_grant", EXPIRED_OR_REVOKED)
            rec["last_used"] = now
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
            if rec is None or rec["expires_at"] <= self.now():
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
        if rec is None or rec["expires_at"] <= self.now():
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
