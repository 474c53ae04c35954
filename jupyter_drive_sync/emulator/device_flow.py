"""Google's OAuth 2.0 device flow ("TVs and Limited Input devices"), as the emulator answers it.

Sources: Google's "OAuth 2.0 for TV and Limited-Input Device Applications"
(developers.google.com/identity/protocols/oauth2/limited-input-device) and RFC 8628.

- `POST /device/code` (Google: `https://oauth2.googleapis.com/device/code`) with `client_id` and
  `scope` answers `{device_code, user_code, verification_url, expires_in, interval}`; Google spells
  the page `verification_url` (RFC 8628 says `verification_uri`) and gives 1800 s and 5 s.
- Only a client of type "TVs and Limited Input devices" may use it; any other gets
  `invalid_client` with Google's sentence (quoted in plugin.video.youtube issue 299).
- The flow accepts a limited set of scopes (the page's "Allowed scopes" section): the sign-in
  scopes and, for Drive, `drive.appdata` and `drive.file`; anything else is `invalid_scope`.
- The device polls the token endpoint with `grant_type=urn:ietf:params:oauth:grant-type:device_code`
  and gets `authorization_pending` (428) until the user decides on the verification page,
  `slow_down` (403) when it polls sooner than `interval` after its last poll (RFC 8628 §3.5: the
  interval then grows by 5 s for good), `access_denied` (403) when the user refused,
  `expired_token` (400) once `expires_in` has passed, and the tokens (with a refresh token) once.
- `GET /device` is the page the user types the code into (Google: `https://www.google.com/device`);
  `POST /device` with `user_code`, an account and `decision=allow|deny` decides, as a person would.

Grants in progress are short-lived and kept in memory only, like authorization codes. Every
time is read from the emulator's clock, so `POST /_emulator/clock` expires a code at once.
"""

from __future__ import annotations

import html
import secrets
import threading
from dataclasses import dataclass
from typing import Any

from .accounts import OAuthClient, OAuthError
from .context import EmulatorContext
from .web import BaseHandler

DEVICE_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"
DEVICE_CODE_LIFETIME_S = 1800  # Google's `expires_in`
POLL_INTERVAL_S = 5  # Google's `interval`
SLOW_DOWN_STEP_S = 5  # RFC 8628 §3.5
WRONG_CLIENT_TYPE = ("Only clients of type 'TVs and Limited Input devices' can use the OAuth 2.0 flow for "
                     "TV and Limited-Input Device Applications. Please create and use an appropriate client.")
# Google's "Allowed scopes" for this flow, the ones an app like this one could ask for (the list
# also names YouTube and other APIs' scopes, which the emulator does not serve).
ALLOWED_SCOPES = frozenset({
    "openid", "email", "profile",
    "https://www.googleapis.com/auth/userinfo.email",
    "https://www.googleapis.com/auth/userinfo.profile",
    "https://www.googleapis.com/auth/drive.appdata",
    "https://www.googleapis.com/auth/drive.file",
})
_USER_CODE_LETTERS = "BCDFGHJKLMNPQRSTVWXZ"  # no vowels: no words; no look-alike digits


@dataclass(slots=True)
class _Grant:
    client_id: str
    scope: str
    user_code: str
    expires_at: float
    interval: float
    last_poll: float | None = None
    email: str | None = None  # set when the user allowed
    denied: bool = False


class DeviceGrants:
    """Device codes waiting for the user's decision; thread-safe."""

    def __init__(self, ctx: EmulatorContext) -> None:
        self._ctx = ctx
        self._lock = threading.Lock()
        self._by_device: dict[str, _Grant] = {}

    def start(self, client: OAuthClient, scope: str) -> dict[str, Any]:
        """A new device code for `client` (already authenticated by id), or OAuthError."""
        if client.type != "tv":
            raise OAuthError(401, "invalid_client", WRONG_CLIENT_TYPE)
        scopes = scope.split()
        if not scopes or not set(scopes) <= ALLOWED_SCOPES:
            raise OAuthError(400, "invalid_scope", "Some requested scopes were invalid.")
        now = self._ctx.accounts.now()
        device_code = "AH-1Ng" + secrets.token_urlsafe(48)
        with self._lock:
            self._by_device = {d: g for d, g in self._by_device.items() if g.expires_at + 3600 > now}
            taken = {g.user_code for g in self._by_device.values()}
            user_code = _new_user_code(taken)
            self._by_device[device_code] = _Grant(client.client_id, " ".join(scopes), user_code,
                                                  now + DEVICE_CODE_LIFETIME_S, POLL_INTERVAL_S)
        return {"device_code": device_code, "user_code": user_code,
                "verification_url": self._ctx.base_url + "device",
                "expires_in": DEVICE_CODE_LIFETIME_S, "interval": POLL_INTERVAL_S}

    def poll(self, device_code: str, client: OAuthClient) -> dict[str, Any]:
        """The token endpoint's answer to one poll: tokens, or the OAuthError to send."""
        now = self._ctx.accounts.now()
        with self._lock:
            grant = self._by_device.get(device_code or "")
            if grant is None or grant.client_id != client.client_id:
                raise OAuthError(400, "invalid_grant", "Malformed auth code.")
            if now >= grant.expires_at:
                raise OAuthError(400, "expired_token", "Expired device code.")
            too_soon = grant.last_poll is not None and now - grant.last_poll < grant.interval
            grant.last_poll = now
            if too_soon:
                grant.interval += SLOW_DOWN_STEP_S
                raise OAuthError(403, "slow_down", "Polling too frequently.")
            if grant.denied:
                del self._by_device[device_code]
                raise OAuthError(403, "access_denied", "Forbidden")
            if grant.email is None:
                raise OAuthError(428, "authorization_pending", "Precondition Required")
            del self._by_device[device_code]  # the tokens are handed out once
            email, scope = grant.email, grant.scope
        return self._ctx.accounts.mint_tokens(email, client.client_id, scope, offline=True)

    def pending(self, user_code: str) -> _Grant | None:
        """The live grant a user typed the code of (case and dashes as typed are forgiven)."""
        wanted = "".join(c for c in user_code.upper() if c.isalnum())
        now = self._ctx.accounts.now()
        with self._lock:
            for grant in self._by_device.values():
                if grant.user_code.replace("-", "") == wanted and now < grant.expires_at \
                        and grant.email is None and not grant.denied:
                    return grant
        return None

    def decide(self, user_code: str, email: str | None) -> bool:
        """The user allowed (with `email`) or denied (`email` None); False if the code is unknown."""
        grant = self.pending(user_code)
        if grant is None:
            return False
        with self._lock:
            if email is None:
                grant.denied = True
            else:
                grant.email = email.lower()
        return True


def _new_user_code(taken: set[str]) -> str:
    while True:
        letters = "".join(secrets.choice(_USER_CODE_LETTERS) for _ in range(8))
        code = f"{letters[:4]}-{letters[4:]}"
        if code not in taken:
            return code


def routes(ctx: EmulatorContext, grants: DeviceGrants) -> list[Any]:
    """`/device/code` (the device asks) and `/device` (the user's page); the token endpoint
    (emulator/oauth.py) hands device-code polls to `grants.poll`."""

    class DeviceCodeHandler(BaseHandler):
        def post(self) -> None:
            client = ctx.accounts.client(self.get_body_argument("client_id", None))
            try:
                if client is None:
                    raise OAuthError(401, "invalid_client", "The OAuth client was not found.")
                out = grants.start(client, self.get_body_argument("scope", ""))
            except OAuthError as err:
                return self._json(err.status, err.body())
            self._json(200, out)

        def _json(self, status: int, obj: Any) -> None:
            self.set_status(status)
            self.set_header("Cache-Control", "no-store")
            self.finish(obj)

    class VerificationPage(BaseHandler):
        def get(self) -> None:
            self._page(self.get_argument("user_code", ""))

        def post(self) -> None:
            code = self.get_body_argument("user_code", "")
            if self.get_body_argument("decision", "") != "allow":
                ok = grants.decide(code, None)
                return self._page(code, "" if ok else "That code is not valid or has expired.",
                                  done="You denied access." if ok else "")
            email = (self.get_body_argument("new_email", "") or self.get_body_argument("email", "")).strip()
            if grants.pending(code) is None:
                return self._page(code, "That code is not valid or has expired.")
            try:
                if not ctx.accounts.exists(email):
                    ctx.accounts.create(email)
            except ValueError as exc:
                return self._page(code, str(exc))
            grants.decide(code, email)
            self._page(code, done="Access allowed. You can go back to your device.")

        def _page(self, code: str, error: str = "", done: str = "") -> None:
            e = html.escape
            self.set_header("Content-Type", "text/html; charset=UTF-8")
            self.set_header("Cache-Control", "no-store")
            if done:
                return self.finish(f'<!doctype html><meta charset="utf-8"><title>Device - Drive emulator</title>'
                                   f'<p id="done">{e(done)}</p>')
            options = "".join(f'<option value="{e(a.email)}">{e(a.email)}</option>' for a in ctx.accounts.list())
            self.finish(f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Device - Drive emulator</title></head><body>
<h1>Drive emulator: connect a device</h1>
{f'<p id="error">{e(error)}</p>' if error else ''}
<form method="post" action="/device">
<p><label>Enter the code shown on your device: <input name="user_code" value="{e(code)}"></label></p>
<p><label>Account: <select name="email">{options}</select></label></p>
<p><label>or another email: <input name="new_email" type="email"></label></p>
<button type="submit" name="decision" value="allow" id="allow">Allow</button>
<button type="submit" name="decision" value="deny" id="deny">Deny</button>
</form></body></html>""")

    kw = {"ctx": ctx}
    return [
        (r"/(?:o/oauth2/)?device/code", DeviceCodeHandler, kw),
        (r"/device", VerificationPage, kw),
    ]
