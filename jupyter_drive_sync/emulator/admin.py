"""The emulator's admin API (`/_emulator/...`, a contract) and its HTML overview page.

Not part of Drive: tests, benchmarks and the demo use it to create accounts, read every file
of an account, count requests, tune limits, move the clock and inject faults. Bound to
127.0.0.1 like the rest.
"""

from __future__ import annotations

import html
import json
from collections import defaultdict
from datetime import datetime, timezone
from typing import Any, Callable
from urllib.parse import unquote

from .accounts import BUILTIN_CLIENT_ID, DRIVE_FILE_SCOPE
from .context import EmulatorContext
from .records import FOLDER_MIME
from .web import BaseHandler

_MAX_ROWS = 3000  # per account on the HTML page; beyond that the page says how many were left out


class _AdminError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def routes(ctx: EmulatorContext) -> list[Any]:
    class Admin(BaseHandler):
        def body_json(self) -> dict[str, Any]:
            if not self.request.body.strip():
                return {}
            try:
                obj = json.loads(self.request.body)
            except ValueError:
                raise _AdminError(400, "body is not JSON") from None
            if not isinstance(obj, dict):
                raise _AdminError(400, "body must be a JSON object")
            return obj

        def reply(self, obj: Any, status: int = 200) -> None:
            self.set_status(status)
            self.set_header("Content-Type", "application/json; charset=UTF-8")
            self.finish(json.dumps(obj))

        def _handle_request_exception(self, e: BaseException) -> None:
            if isinstance(e, _AdminError):
                self.reply({"error": str(e)}, e.status)
            else:
                super()._handle_request_exception(e)

    class Accounts(Admin):
        def get(self) -> None:
            self.reply({"accounts": [_account_json(a) for a in ctx.accounts.list()]})

        def post(self) -> None:
            body = self.body_json()
            email = body.get("email")
            if not isinstance(email, str):
                raise _AdminError(400, "email required")
            scopes = body.get("scopes", [DRIVE_FILE_SCOPE])
            scope = " ".join(scopes) if isinstance(scopes, list) else str(scopes)
            client_id = body.get("client_id") or BUILTIN_CLIENT_ID
            if ctx.accounts.client(client_id) is None:
                raise _AdminError(400, f"unknown client_id {client_id}")
            try:
                acct = ctx.accounts.create(email, display_name=body.get("display_name"),
                                           storage_quota_bytes=_opt_int(body, "storage_quota_bytes"),
                                           daily_upload_cap_bytes=_opt_int(body, "daily_upload_cap_bytes"))
            except ValueError as exc:
                raise _AdminError(400, str(exc)) from None
            tokens = ctx.accounts.mint_tokens(acct.email, client_id, scope)
            self.reply({"email": acct.email, "refresh_token": tokens["refresh_token"],
                        "access_token": tokens["access_token"], "expires_in": tokens["expires_in"],
                        "scope": scope, "client_id": client_id, "token_uri": f"{ctx.base_url}token"})

    class Account(Admin):
        def get(self, email: str) -> None:
            try:
                self.reply(_account_json(ctx.accounts.get(unquote(email))))
            except KeyError:
                raise _AdminError(404, "no such account") from None

        def patch(self, email: str) -> None:
            body = self.body_json()
            try:
                acct = ctx.accounts.update(unquote(email), display_name=body.get("display_name"),
                                           storage_quota_bytes=_opt_int(body, "storage_quota_bytes"),
                                           daily_upload_cap_bytes=_opt_int(body, "daily_upload_cap_bytes"))
            except KeyError:
                raise _AdminError(404, "no such account") from None
            self.reply(_account_json(acct))

    class AccountFiles(Admin):
        def get(self, email: str) -> None:
            email = unquote(email)
            if not ctx.accounts.exists(email):
                raise _AdminError(404, "no such account")
            self.reply({"files": ctx.files.all_files(email.lower())})

    class ClientSecrets(Admin):
        def get(self) -> None:
            client = ctx.accounts.client(self.get_argument("client_id", BUILTIN_CLIENT_ID))
            if client is None:
                raise _AdminError(404, "no such client")
            self.reply(client.secrets_document(ctx.base_url))  # {"web": {...}} or {"installed": {...}}

    class Clients(Admin):
        def post(self) -> None:
            """A new client `{"redirect_uris", "type": "web"|"installed"}`, or with `client_id`:
            more redirect URIs for an existing web client. 400 for what Google's console refuses."""
            body = self.body_json()
            uris = body.get("redirect_uris", [])
            if not isinstance(uris, list) or not all(isinstance(u, str) for u in uris):
                raise _AdminError(400, "redirect_uris must be a list of strings")
            try:
                if body.get("client_id"):
                    client = ctx.accounts.client(body["client_id"])
                    if client is None:
                        raise _AdminError(404, "no such client")
                    for uri in uris:
                        ctx.accounts.add_redirect_uri(client.client_id, uri)
                else:
                    client = ctx.accounts.create_client(uris, str(body.get("type") or "web"))
            except ValueError as exc:
                raise _AdminError(400, str(exc)) from None
            self.reply({"client_id": client.client_id, "client_secret": client.client_secret,
                        "type": client.type, "redirect_uris": client.redirect_uris,
                        "client_secrets": client.secrets_document(ctx.base_url)})

    class Stats(Admin):
        def get(self) -> None:
            self.reply(ctx.stats.snapshot())

    class StatsReset(Admin):
        def post(self) -> None:
            ctx.stats.reset()
            self.reply(ctx.stats.snapshot())

    class Faults(Admin):
        def get(self) -> None:
            self.reply(ctx.faults.snapshot())

        def post(self) -> None:
            body = self.body_json()
            try:
                slow_ms = body.get("slow_ms")
                ctx.faults.configure(float(body.get("rate", 0.0)), body.get("kinds"), body.get("seed"),
                                     slow_s=None if slow_ms is None else float(slow_ms) / 1000.0,
                                     routes=body.get("routes"))
            except (TypeError, ValueError) as exc:
                raise _AdminError(400, str(exc)) from None
            self.reply(ctx.faults.snapshot())

    class Consent(Admin):
        def post(self) -> None:
            body = self.body_json()
            auto = body.get("auto")
            ctx.accounts.set_consent(None if auto is None else bool(auto), body.get("email"))
            self.reply({"auto": ctx.accounts.consent_is_automatic(), "email": ctx.accounts.default_email})

    class Settings(Admin):
        """Read, or change live, the latency, limits and token lifetimes (benchmarks, tests).

        All or nothing: one bad value (or an unknown name) changes nothing and answers 400.
        """

        def get(self) -> None:
            self.reply(_settings_json(ctx))

        def post(self) -> None:
            body = self.body_json()
            unknown = sorted(set(body) - set(_TUNABLE))
            if unknown:
                raise _AdminError(400, f"not tunable: {unknown}; tunable: {sorted(_TUNABLE)}")
            try:
                values = {name: _TUNABLE[name](value) for name, value in body.items()}
            except (TypeError, ValueError) as exc:
                raise _AdminError(400, str(exc)) from None
            for name, value in values.items():
                setattr(ctx.settings, name, value)
            ctx.limiter.reconfigure()  # rates and quotas take effect at once, buckets full
            self.reply(_settings_json(ctx))

    class Clock(Admin):
        """`POST {"advance_seconds": N}` moves the emulator's clock forward (token expiry,
        resumable-session expiry, revision purge, rate buckets); answers the new time."""

        def get(self) -> None:
            self.reply(_clock_json(ctx))

        def post(self) -> None:
            body = self.body_json()
            seconds = body.get("advance_seconds")
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
                raise _AdminError(400, "advance_seconds (a number of seconds >= 0) required")
            try:
                ctx.settings.clock.advance(seconds)
            except ValueError as exc:
                raise _AdminError(400, str(exc)) from None
            self.reply(_clock_json(ctx))

    class Index(BaseHandler):
        def get(self) -> None:
            self.set_header("Content-Type", "text/html; charset=UTF-8")
            refresh = self.get_argument("refresh", "")
            self.finish(render_index(ctx, int(refresh) if refresh.isdigit() else None))

    kw = {"ctx": ctx}
    return [
        (r"/", Index, kw),
        (r"/_emulator/accounts", Accounts, kw),
        (r"/_emulator/accounts/([^/]+)", Account, kw),
        (r"/_emulator/accounts/([^/]+)/files", AccountFiles, kw),
        (r"/_emulator/client_secrets\.json", ClientSecrets, kw),
        (r"/_emulator/clients", Clients, kw),
        (r"/_emulator/stats", Stats, kw),
        (r"/_emulator/stats/reset", StatsReset, kw),
        (r"/_emulator/faults", Faults, kw),
        (r"/_emulator/consent", Consent, kw),
        (r"/_emulator/settings", Settings, kw),
        (r"/_emulator/clock", Clock, kw),
    ]


def _at_least_zero(kind: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def read(value: Any) -> Any:
        if isinstance(value, bool):
            raise TypeError(f"expected a number, got {value!r}")
        number = kind(value)
        if not number >= 0:  # also refuses NaN
            raise ValueError(f"expected a number >= 0, got {value!r}")
        return number
    return read


def _optional(read: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: None if value is None else read(value)


# What `POST /_emulator/settings` may change while the emulator runs, and how each is read.
_TUNABLE: dict[str, Callable[[Any], Any]] = {
    "latency_ms": _at_least_zero(float),
    "write_latency_ms": _optional(_at_least_zero(float)),  # null: writes take latency_ms too
    "quota_per_minute": _at_least_zero(int),
    "project_quota_per_minute": _at_least_zero(int),
    "write_rate": _at_least_zero(float),
    "write_burst": _at_least_zero(int),
    "token_lifetime_s": _at_least_zero(int),
    "refresh_token_lifetime_s": _at_least_zero(int),
}


def _settings_json(ctx: EmulatorContext) -> dict[str, Any]:
    s = ctx.settings
    out: dict[str, Any] = {"profile": s.profile}
    out.update({name: getattr(s, name) for name in _TUNABLE if hasattr(s, name)})
    out["clock_offset_s"] = s.clock.offset
    return out


def _clock_json(ctx: EmulatorContext) -> dict[str, Any]:
    now = ctx.settings.clock.time()
    iso = datetime.fromtimestamp(now, tz=timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {"now": iso, "epoch_seconds": now, "offset_seconds": ctx.settings.clock.offset}


def _opt_int(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _AdminError(400, f"{key} must be an integer") from None


def _account_json(acct: Any) -> dict[str, Any]:
    return {"email": acct.email, "display_name": acct.display_name,
            "storage_quota_bytes": acct.storage_quota_bytes,
            "daily_upload_cap_bytes": acct.daily_upload_cap_bytes}


def _human(size: Any) -> str:
    if size in (None, ""):
        return ""
    n = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(size)


def render_index(ctx: EmulatorContext, refresh_s: int | None = None) -> str:
    """Accounts and their folder trees; every name escaped (names are user data)."""
    e = html.escape
    out = ['<!doctype html><html><head><meta charset="utf-8"><title>Drive emulator</title>']
    if refresh_s:
        out.append(f'<meta http-equiv="refresh" content="{refresh_s}">')
    out.append("<style>body{font-family:sans-serif;margin:2em}ul{list-style:none;padding-left:1.2em}"
               ".meta{color:#666;font-size:.85em;margin-left:.6em}.trashed{color:#999;text-decoration:line-through}"
               "</style></head><body><h1>Drive emulator</h1>")
    out.append(f"<p>API root <code>{e(ctx.base_url)}</code> &middot; "
               f'<a href="/_emulator/stats">stats</a> &middot; <a href="/_emulator/client_secrets.json">client secrets</a> '
               f'&middot; <a href="?refresh=5">auto-refresh</a></p>')
    accounts = ctx.accounts.list()
    if not accounts:
        out.append("<p>No accounts yet.</p>")
    for acct in accounts:
        files = ctx.files.all_files(acct.email)
        out.append(f"<h2>{e(acct.display_name)} &lt;{e(acct.email)}&gt;</h2>")
        out.append(f'<p class="meta">{len(files)} items</p>')
        out.append(_render_tree(files))
    out.append("</body></html>")
    return "".join(out)


def _render_tree(files: list[dict[str, Any]]) -> str:
    e = html.escape
    ids = {f["id"] for f in files}
    children: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
    for f in files:
        parents = [p for p in (f.get("parents") or []) if p in ids]
        children[parents[0] if parents else None].append(f)
    for kids in children.values():
        kids.sort(key=lambda f: (f.get("mimeType") != FOLDER_MIME, str(f.get("name", "")).lower()))
    out: list[str] = []
    rows = 0
    seen: set[str] = set()

    def walk(parent: str | None) -> None:
        nonlocal rows
        out.append("<ul>")
        for f in children.get(parent, []):
            if f["id"] in seen:
                continue
            seen.add(f["id"])
            rows += 1
            if rows > _MAX_ROWS:
                break
            folder = f.get("mimeType") == FOLDER_MIME
            cls = ' class="trashed"' if f.get("trashed") else ""
            icon = "&#128193;" if folder else "&#128196;"
            meta = " ".join(x for x in (_human(f.get("size")) if not folder else "",
                                        e(str(f.get("modifiedTime") or "")),
                                        "(trashed)" if f.get("trashed") else "") if x)
            out.append(f'<li><span{cls}>{icon} {e(str(f.get("name", "")))}</span>'
                       f'<span class="meta">{meta}</span>')
            if folder:
                walk(f["id"])
            out.append("</li>")
        out.append("</ul>")

    walk(None)
    if rows > _MAX_ROWS:
        out.append(f'<p class="meta">… {len(files) - _MAX_ROWS} more not shown</p>')
    return "".join(out)
