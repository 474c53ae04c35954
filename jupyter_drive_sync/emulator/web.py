"""The tornado handler base every emulator route shares (Drive, OAuth, admin pages).

Apart from the shell (server.py) so the OAuth and admin routes can build on it without
importing the shell that mounts them.
"""

from __future__ import annotations

from typing import Any

import tornado.web

from .context import EmulatorContext
from .faults import DRIVE_PREFIXES, route_template
from .wire import DriveError, Response


class BaseHandler(tornado.web.RequestHandler):
    """Common to every route: stats by route, JSON errors, no ETag magic."""

    ctx: EmulatorContext

    def initialize(self, ctx: EmulatorContext, **_: Any) -> None:
        self.ctx = ctx

    def prepare(self) -> Any:
        path = self.request.path
        if not path.startswith(DRIVE_PREFIXES) and not path.startswith("/_emulator/stats"):
            self.ctx.stats.count_request(self.request.method or "GET", route_template("", path))
        return None

    def compute_etag(self) -> str | None:
        return None

    def check_xsrf_cookie(self) -> None:  # OAuth and admin forms are posted cross-origin on purpose
        return None

    def write_json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        self.send_response(Response.json(status, obj, headers))

    def send_response(self, resp: Response) -> None:
        self.set_status(resp.status)
        if not any(k.lower() == "content-type" for k in resp.headers):
            self.clear_header("Content-Type")
        for key, value in resp.headers.items():
            self.set_header(key, value)
        if resp.body and resp.status not in (204, 304):
            self.write(resp.body)
        self.finish()

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        reason = {400: "badRequest", 404: "notFound", 405: "badRequest", 413: "badRequest"}.get(
            status_code, "backendError")
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(DriveError(status_code, reason, self._reason).envelope())

    def drop_connection(self) -> None:
        """Close the TCP connection without an answer (faults `reset` and `lost-after-commit`)."""
        conn = self.request.connection
        if conn is not None:
            conn.close()  # type: ignore[attr-defined]
        self._finished = True  # tell tornado not to write a response on the closed stream


class NotFoundHandler(BaseHandler):
    def prepare(self) -> None:
        super().prepare()
        raise tornado.web.HTTPError(404)
