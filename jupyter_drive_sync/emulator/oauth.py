"""Google's OAuth 2.0 endpoints, as google-auth and google-auth-oauthlib use them.

`GET /o/oauth2/auth` shows a consent page (or approves at once in automatic mode), `POST /token`
exchanges codes (PKCE), refresh tokens and device codes (the device flow: emulator/device_flow.py),
`POST /revoke` revokes a whole grant. Errors follow
Google's shapes so the client libraries raise what they raise against Google. The redirect URI
is checked as Google checks it, by the client's type (see `accounts.OAuthClient`): a redirect
Google would refuse gets Google's error page, never a redirect.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlencode, urlsplit, urlunsplit

from .accounts import OAuthClient, OAuthError
from .context import EmulatorContext
from .device_flow import DEVICE_GRANT_TYPE, DeviceGrants
from .device_flow import routes as device_routes
from .web import BaseHandler

_PENDING_LIFETIME_S = 1800
# Google blocked the out-of-band "copy this code" redirect for every client in January 2023
# (Google's "Out-Of-Band (OOB) flow Migration Guide").
_OOB_REDIRECTS = ("urn:ietf:wg:oauth:2.0:oob", "urn:ietf:wg:oauth:2.0:oob:auto", "oob")


def _redirect_with(uri: str, params: dict[str, str]) -> str:
    parts = urlsplit(uri)
    query = parts.query + ("&" if parts.query else "") + urlencode(params)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


class _Pending:
    """An authorization request waiting for the user's decision on the consent page."""

    def __init__(self, client: OAuthClient, args: dict[str, str], created: float) -> None:
        self.client = client
        self.args = args
        self.created = created


def routes(ctx: EmulatorContext) -> list[Any]:
    pending: dict[str, _Pending] = {}
    device_grants = DeviceGrants(ctx)

    class AuthHandler(BaseHandler):
        """`/o/oauth2/auth` (and Google's `/o/oauth2/v2/auth`)."""

        def get(self) -> None:
            args = {k: self.get_argument(k) for k in self.request.arguments}
            client = ctx.accounts.client(args.get("client_id"))
            if client is None:
                return self._error_page(401, "invalid_client", "The OAuth client was not found.")
            redirect_uri = args.get("redirect_uri", "")
            if not redirect_uri:
                return self._error_page(400, "invalid_request", "Missing required parameter: redirect_uri")
            if redirect_uri in _OOB_REDIRECTS:
                return self._error_page(400, "invalid_request",
                                        "The out-of-band (OOB) flow has been blocked in order to keep users "
                                        "secure. Follow the Out-of-Band (OOB) flow Migration Guide.")
            if not client.accepts_redirect(redirect_uri):
                return self._redirect_mismatch_page(client, redirect_uri)
            state = args.get("state")
            if args.get("response_type") != "code":
                return self._deny(redirect_uri, state, "unsupported_response_type")
            if not args.get("scope", "").strip():
                return self._deny(redirect_uri, state, "invalid_request")
            if args.get("code_challenge_method", "plain") not in ("plain", "S256"):
                return self._deny(redirect_uri, state, "invalid_request")
            if ctx.accounts.consent_is_automatic():
                email = self._automatic_email(args.get("login_hint"))
                if email:
                    return self._approve(client, args, email)
            now = ctx.accounts.now()
            for key in [k for k, p in pending.items() if now - p.created > _PENDING_LIFETIME_S]:
                del pending[key]
            consent_id = secrets.token_urlsafe(24)
            pending[consent_id] = _Pending(client, args, now)
            self._consent_page(consent_id, args)

        def post(self) -> None:
            """The consent form: Allow (with an account) or Deny."""
            p = pending.pop(self.get_body_argument("consent_id", ""), None)
            if p is None:
                return self._error_page(400, "invalid_request", "This consent page has expired; start again.")
            state = p.args.get("state")
            if self.get_body_argument("decision", "") != "allow":
                return self._deny(p.args["redirect_uri"], state, "access_denied")
            email = (self.get_body_argument("new_email", "") or self.get_body_argument("email", "")).strip()
            try:
                if not ctx.accounts.exists(email):
                    ctx.accounts.create(email)
            except ValueError as exc:
                return self._error_page(400, "invalid_request", str(exc))
            self._approve(p.client, p.args, email)

        def _automatic_email(self, hint: str | None) -> str | None:
            if hint:
                if not ctx.accounts.exists(hint):
                    try:
                        ctx.accounts.create(hint)
                    except ValueError:
                        return None
                return hint
            if ctx.accounts.default_email:
                if not ctx.accounts.exists(ctx.accounts.default_email):
                    ctx.accounts.create(ctx.accounts.default_email)
                return ctx.accounts.default_email
            accounts = ctx.accounts.list()
            return accounts[0].email if len(accounts) == 1 else None

        def _approve(self, client: OAuthClient, args: dict[str, str], email: str) -> None:
            code = ctx.accounts.issue_code(
                client_id=client.client_id, email=email, scope=args["scope"],
                redirect_uri=args["redirect_uri"], code_challenge=args.get("code_challenge"),
                code_challenge_method=args.get("code_challenge_method"),
                offline=args.get("access_type") == "offline")
            params = {"code": code}
            if "state" in args:
                params["state"] = args["state"]
            params["scope"] = args["scope"]
            self.redirect(_redirect_with(args["redirect_uri"], params))

        def _deny(self, redirect_uri: str, state: str | None, error: str) -> None:
            params = {"error": error}
            if state is not None:
                params["state"] = state
            self.redirect(_redirect_with(redirect_uri, params))

        def _error_page(self, status: int, error: str, message: str, heading: str = "") -> None:
            e = html.escape
            self.set_status(status)
            self.set_header("Content-Type", "text/html; charset=UTF-8")
            self.finish(f"<!doctype html><title>Error {status}: {e(error)}</title>"
                        + (f"<h1>{e(heading)}</h1><h2>Error {status}: {e(error)}</h2>" if heading
                           else f"<h1>Error {status}: {e(error)}</h1>")
                        + f"<p>{e(message)}</p>")

        def _redirect_mismatch_page(self, client: OAuthClient, redirect_uri: str) -> None:
            """Google's answer to a redirect the client may not use: an error page on Google's own
            site ("Access blocked: This app's request is invalid", "Error 400:
            redirect_uri_mismatch", the request's redirect_uri in its details), never a redirect."""
            if client.type == "installed":
                why = ("A Desktop app may only use a loopback redirect URI "
                       "(http://127.0.0.1:port, http://[::1]:port or http://localhost:port).")
            else:
                why = (f"The redirect URI in the request, {redirect_uri}, does not match the ones "
                       "authorized for the OAuth client. If you're the app developer, register the "
                       "redirect URI in the Google Cloud Console.")
            self._error_page(400, "redirect_uri_mismatch", f"{why} Request details: redirect_uri={redirect_uri}",
                             heading="Access blocked: This app's request is invalid")

        def _consent_page(self, consent_id: str, args: dict[str, str]) -> None:
            e = html.escape
            options = "".join(f'<option value="{e(a.email)}">{e(a.display_name)} &lt;{e(a.email)}&gt;</option>'
                              for a in ctx.accounts.list())
            hint = args.get("login_hint", "")
            scopes = "".join(f"<li><code>{e(s)}</code></li>" for s in args["scope"].split())
            self.set_header("Content-Type", "text/html; charset=UTF-8")
            self.set_header("Cache-Control", "no-store")
            self.finish(f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Sign in - Drive emulator</title>
<style>body{{font-family:sans-serif;max-width:32em;margin:3em auto}}button{{margin:.5em .5em 0 0;padding:.4em 1.2em}}</style>
</head><body>
<h1>Drive emulator: allow access?</h1>
<p>An application wants to access your (emulated) Google Drive with these scopes:</p><ul>{scopes}</ul>
<form method="post" action="/o/oauth2/auth">
<input type="hidden" name="consent_id" value="{e(consent_id)}">
<p><label>Account: <select name="email">{options}</select></label></p>
<p><label>or another email: <input name="new_email" type="email" value="{e(hint)}" placeholder="student@example.edu"></label></p>
<button type="submit" name="decision" value="allow" id="allow">Allow</button>
<button type="submit" name="decision" value="deny" id="deny">Deny</button>
</form></body></html>""")

    class TokenHandler(BaseHandler):
        """`POST /token`: authorization_code (PKCE), refresh_token and device_code grants."""

        def post(self) -> None:
            form = {k: v[-1] for k, v in parse_qs(self.request.body.decode("utf-8", "replace"),
                                                   keep_blank_values=True).items()}
            try:
                client = ctx.accounts.check_client(*self._client_credentials(form))
                grant = form.get("grant_type")
                if grant == "authorization_code":
                    out = ctx.accounts.redeem_code(form.get("code", ""), client, form.get("redirect_uri"),
                                                   form.get("code_verifier"))
                elif grant == "refresh_token":
                    out = ctx.accounts.refresh(form.get("refresh_token", ""), client, form.get("scope"))
                elif grant == DEVICE_GRANT_TYPE:
                    out = device_grants.poll(form.get("device_code", ""), client)
                else:
                    raise OAuthError(400, "unsupported_grant_type", f"Invalid grant_type: {grant}")
            except OAuthError as err:
                return self._json(err.status, err.body())
            self._json(200, out)

        def _client_credentials(self, form: dict[str, str]) -> tuple[str | None, str | None]:
            auth = self.request.headers.get("Authorization", "")
            if auth.lower().startswith("basic "):
                try:
                    raw = base64.b64decode(auth[6:].strip()).decode("utf-8")
                except (ValueError, UnicodeDecodeError):
                    raise OAuthError(401, "invalid_client", "Malformed Basic authorization.") from None
                client_id, _, secret = raw.partition(":")
                return unquote_plus(client_id), unquote_plus(secret)
            return form.get("client_id"), form.get("client_secret")

        def _json(self, status: int, obj: Any) -> None:
            self.set_status(status)
            self.set_header("Content-Type", "application/json; charset=utf-8")
            self.set_header("Cache-Control", "no-store")
            self.finish(json.dumps(obj))

    class RevokeHandler(BaseHandler):
        """`POST /revoke?token=...` (or form): revoke the grant; 400 invalid_token if unknown."""

        def post(self) -> None:
            token = self.get_argument("token", "")
            if not ctx.accounts.revoke(token):
                self.set_status(400)
                self.set_header("Content-Type", "application/json; charset=utf-8")
                return self.finish(json.dumps({"error": "invalid_token", "error_description": "Token expired or revoked"}))
            self.set_status(200)
            self.clear_header("Content-Type")
            self.finish()

        get = post

    class UserinfoHandler(BaseHandler):
        """`GET /oauth2/v2/userinfo` (and v3, openid): who the bearer token belongs to."""

        def get(self) -> None:
            auth = self.request.headers.get("Authorization", "")
            token = auth[7:].strip() if auth.lower().startswith("bearer ") else self.get_argument("access_token", "")
            info = ctx.accounts.token_info(token)
            if info is None:
                self.set_status(401)
                self.set_header("WWW-Authenticate", 'Bearer realm="https://accounts.google.com/", error="invalid_token"')
                return self.finish({"error": "invalid_token", "error_description": "Invalid Credentials"})
            acct = ctx.accounts.get(info["email"])
            subject = str(int(hashlib.sha256(acct.email.encode()).hexdigest()[:16], 16))
            self.finish({"id": subject, "sub": subject,
                         "email": acct.email, "verified_email": True, "email_verified": True,
                         "name": acct.display_name})

    kw = {"ctx": ctx}
    return [
        (r"/o/oauth2/(?:v2/)?auth", AuthHandler, kw),
        (r"/(?:o/oauth2/)?token", TokenHandler, kw),
        (r"/(?:o/oauth2/)?revoke", RevokeHandler, kw),
        (r"/(?:oauth2/v[23]/userinfo|v1/userinfo|openidconnect/userinfo)", UserinfoHandler, kw),
        *device_routes(ctx, device_grants),
    ]
