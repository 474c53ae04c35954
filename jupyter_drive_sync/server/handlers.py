"""REST routes of the server extension (a contract: routes and JSON bodies never change).

Thin: the work is in the service object (service.py), the sign-in flow and the job runner.

Every verb is `@tornado.web.authenticated` then `@authorized` on the `drive-sync` resource;
POSTs go through APIHandler's XSRF check. Errors are translated in one place per handler
family: JSON for the API, a small HTML page for the two browser pages (consent start and
callback), never a traceback.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import secrets
from types import TracebackType
from typing import Any, Callable, TypeVar

import tornado.web
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import httputil

from ..auth.credentials import CredentialsError
from ..auth.flow import OAuthError
from ..core.errors import ConfigError, NotConnected, SyncError
from ..core.settings import under_jupyterhub
from ..engine.drive_browse import NothingToRestore, restorable_subpath
from .jobs import JobConflict, error_kind
from .prompt import CHOICES
from .service import DriveSyncService

T = TypeVar("T")

log = logging.getLogger(__name__)

AUTH_RESOURCE = "drive-sync"
EXPECTED = (OAuthError, JobConflict, SyncError, CredentialsError)
MAX_JSON_BODY_BYTES = 64 * 1024  # every body is a few short strings; the UI sends < 5 KiB


def _refuse_constant(name: str) -> Any:
    """NaN and Infinity are not JSON (Python's parser accepts them by default)."""
    raise ValueError(f"{name} is not JSON")


def translate(exc: BaseException | None, status: int) -> tuple[int, dict[str, Any]]:
    """The one mapping from an exception to (HTTP status, JSON body)."""
    if isinstance(exc, JobConflict):
        return 409, {"error": "already_running", "message": str(exc), "job": exc.job.to_dict()}
    if isinstance(exc, OAuthError):
        return (503 if exc.kind == "not_configured" else 400), {"error": exc.kind, "message": exc.message}
    if isinstance(exc, (NotConnected, CredentialsError)):
        return 409, {"error": "needs_reauth", "message": str(exc)}
    if isinstance(exc, ConfigError):
        return 503, {"error": "config", "message": str(exc)}
    if isinstance(exc, SyncError):
        return 502, {"error": error_kind(exc), "message": str(exc)}
    if isinstance(exc, tornado.web.HTTPError):
        return exc.status_code, {"message": exc.log_message or exc.reason or "error"}
    if exc is not None:
        return 500, {"message": "Unhandled error"}
    return status, {"message": httputil.responses.get(status, "error")}


class _ServiceMixin(ExtensionHandlerMixin):
    auth_resource = AUTH_RESOURCE

    def initialize(self, name: str, service: DriveSyncService) -> None:  # type: ignore[override]
        super().initialize(name)
        self.service = service

    def log_exception(self, typ: type[BaseException] | None, value: BaseException | None,
                      tb: TracebackType | None) -> None:
        """Expected errors (a bad request, a revoked grant) are one info line, not a traceback."""
        if isinstance(value, EXPECTED):
            log.info("drive-sync: %s: %s", type(value).__name__, value)
        else:
            super().log_exception(typ, value, tb)  # type: ignore[misc]

    @property
    def user_key(self) -> str:
        """Who is signed in to Jupyter: the OAuth state is bound to this."""
        user = self.current_user
        return str(getattr(user, "username", None) or user)

    def browser_origin(self) -> str:
        """The origin the browser used to reach this server (for the standalone redirect URI)."""
        proto = self.request.protocol
        if under_jupyterhub():
            # The hub's proxy terminates TLS; it tells us the scheme it saw. Only used to
            # build a redirect URI that Google checks against its registered list anyway.
            proto = self.request.headers.get("X-Forwarded-Proto", proto).split(",")[0].strip() or proto
        return f"{proto}://{self.request.host}"

    async def off_loop(self, fn: Callable[..., T], *args: Any) -> T:
        """Run blocking work (network, disk) in a thread; the IOLoop keeps serving."""
        return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


class DriveSyncAPIHandler(_ServiceMixin, APIHandler):
    """JSON API base: one error translator for every route."""

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = (kwargs.get("exc_info") or (None, None, None))[1]
        status, body = translate(exc, status_code)
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))

    def write_json(self, body: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))

    def json_object(self, expected: str = "{}") -> dict[str, Any]:
        """The request body as a JSON object (an empty body is `{}`); anything else is a 400.

        Bodies come from any script holding the student's cookie: one that is not JSON, too
        large, nested too deep for the parser (RecursionError) or not an object is refused
        with one sentence, never a 500.
        """
        raw = self.request.body or b""
        if len(raw) > MAX_JSON_BODY_BYTES:
            raise tornado.web.HTTPError(400, f"request body too large (at most {MAX_JSON_BODY_BYTES} bytes)")
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw, parse_constant=_refuse_constant)
        except (ValueError, RecursionError):
            body = None
        if not isinstance(body, dict):
            raise tornado.web.HTTPError(400, f"expected a JSON object {expected}")
        return body


class DriveSyncPageHandler(_ServiceMixin, JupyterHandler):
    """Browser pages (the consent popup): errors are a small HTML page, not JSON."""

    nonce: str = ""

    @property
    def content_security_policy(self) -> str:
        # Nothing loads from anywhere; only our one inline script (by nonce) may run.
        if not self.nonce:
            self.nonce = secrets.token_urlsafe(16)
        return (
            "default-src 'none'; style-src 'unsafe-inline'; "
            f"script-src 'nonce-{self.nonce}'; frame-ancestors 'self'; base-uri 'none'; form-action 'none'"
        )

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = (kwargs.get("exc_info") or (None, None, None))[1]
        status, body = translate(exc, status_code)
        self.set_status(status)
        self.render_page(
            ok=False,
            title="Google Drive was not connected",
            message=body.get("message") or "Something went wrong.",
            error=body.get("error") or "error",
        )

    def render_page(self, *, ok: bool, title: str, message: str, error: str | None = None,
                    account: str | None = None) -> None:
        """A page that tells the opener (same origin only) how it went, then closes itself."""
        payload = {"type": "drive-sync:connected" if ok else "drive-sync:error",
                   "account": account, "error": error}
        # JSON inside <script>: escape "<" so a value can never close the tag.
        data = json.dumps(payload).replace("<", "\\u003c")
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header("Content-Security-Policy", self.content_security_policy)
        self.finish(
            "<!doctype html><html><head><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title></head><body style='font-family:sans-serif'>"
            f"<h3>{html.escape(title)}</h3><p>{html.escape(message)}</p>"
            "<p>You can close this window.</p>"
            f"<script nonce='{self.nonce}'>(function(){{var m={data};"
            "try{if(window.opener&&!window.opener.closed){"
            "window.opener.postMessage(m,window.location.origin);}}catch(e){}"
            + ("setTimeout(function(){window.close();},300);" if ok else "")
            + "})();</script></body></html>"
        )


# ---------------------------------------------------------------- routes


class StatusHandler(DriveSyncAPIHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json(await self.off_loop(self.service.status))


class AuthStartHandler(DriveSyncPageHandler):
    """302 to the consent page. The target is built here; no user-supplied redirect exists."""

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        redirect = self.service.redirect_uri(self.browser_origin(), self.base_url)
        url = self.service.auth.start(self.user_key, redirect)
        self.service.sign_in_started()
        self.set_header("Cache-Control", "no-store")
        self.redirect(url, status=302)


class OAuthCallbackHandler(DriveSyncPageHandler):
    """Google sends the browser here (via the hub's user-redirect under JupyterHub)."""

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        try:
            pending = self.service.auth.check_callback(
                self.user_key, self.get_query_argument("state", None), self.get_query_argument("error", None)
            )
            email = await self.off_loop(self.service.auth.finish, pending, self.get_query_argument("code", None))
        except OAuthError as exc:
            # The main window learns it from the page's message, or from status if that is lost.
            self.service.sign_in_failed(exc.kind, exc.message)
            raise
        self.service.sign_in_done()
        self.render_page(
            ok=True,
            title="Google Drive is connected",
            message=f"Backing up to {email}." if email else "Google Drive is connected.",
            account=email or None,
        )


class PushHandler(DriveSyncAPIHandler):
    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        self.json_object()  # nothing is read from it, but a malformed body is a 400 like on every route
        job = self.service.jobs.start_push()  # JobConflict → 409 {job} via the translator
        self.write_json({"job": self.service.job_json(job)}, status=202)


class PushJobHandler(DriveSyncAPIHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, job_id: str) -> None:
        job = self.service.jobs.get(job_id)
        if job is None:
            raise tornado.web.HTTPError(404, "no such job")
        self.write_json({"job": self.service.job_json(job)})


class RestoreHandler(DriveSyncAPIHandler):
    """`{path, overwrite}` → 202 {job}; 409 with the running job (push or restore) if busy."""

    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.json_object("{path, overwrite}")
        # Only a missing key or null means the default: `false`, `0` or `[]` is a bad request,
        # not "restore everything".
        path, overwrite = body.get("path"), body.get("overwrite")
        path = "" if path is None else path
        overwrite = "never" if overwrite is None else overwrite
        if not isinstance(path, str) or not isinstance(overwrite, str):
            raise tornado.web.HTTPError(400, "path and overwrite must be strings")
        try:
            job = self.service.start_restore(path, overwrite)  # JobConflict → 409 {job}
        except ValueError as exc:
            raise tornado.web.HTTPError(400, f"bad restore request: {exc}") from exc
        self.write_json({"job": self.service.job_json(job)}, status=202)


class RemoteHandler(DriveSyncAPIHandler):
    """What Drive holds under the user's folder at `?path=` (folders first), for the restore dialog."""

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        path = self.get_query_argument("path", "")
        try:
            restorable_subpath(path)  # a secret folder is not browsed either
        except ValueError as exc:
            raise tornado.web.HTTPError(400, f"bad path: {exc}") from exc
        try:
            listing = await self.off_loop(self.service.remote, path)
        except NothingToRestore as exc:
            raise tornado.web.HTTPError(404, str(exc)) from exc
        self.write_json(listing)


class DisconnectHandler(DriveSyncAPIHandler):
    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        self.json_object()
        removed = await self.off_loop(self.service.disconnect)
        self.write_json({"connected": False, "removed": removed})


class PromptHandler(DriveSyncAPIHandler):
    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        choice = self.json_object("{choice}").get("choice")
        if not isinstance(choice, str) or choice not in CHOICES:
            raise tornado.web.HTTPError(400, f"choice must be one of: {', '.join(CHOICES)}")
        self.service.prompt.remember(choice)
        self.write_json({"choice": choice, "prompt": False})


def route_table(kwargs: dict[str, Any]) -> list[tuple[str, type, dict[str, Any]]]:
    """The extension's routes (ExtensionApp prefixes base_url). A restore job is read like a
    push job (`push/<id>`); `restore/<id>` is the same thing under the name the UI expects."""
    return [
        (r"/drive-sync/status", StatusHandler, kwargs),
        (r"/drive-sync/auth/start", AuthStartHandler, kwargs),
        (r"/drive-sync/oauth2callback", OAuthCallbackHandler, kwargs),
        (r"/drive-sync/push", PushHandler, kwargs),
        (r"/drive-sync/push/([A-Za-z0-9_-]+)", PushJobHandler, kwargs),
        (r"/drive-sync/restore", RestoreHandler, kwargs),
        (r"/drive-sync/restore/([A-Za-z0-9_-]+)", PushJobHandler, kwargs),
        (r"/drive-sync/remote", RemoteHandler, kwargs),
        (r"/drive-sync/disconnect", DisconnectHandler, kwargs),
        (r"/drive-sync/prompt", PromptHandler, kwargs),
    ]
