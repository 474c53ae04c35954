"""The emulator's HTTP shell: tornado application, the generic Drive route handler, start/stop.

Drive semantics live in framework-free modules (drive_api, batch, uploads); this module turns
tornado requests into `wire.Request`s and applies what surrounds every Drive call on Google's
side: latency, injected faults, authentication, the quotas and write rate, request statistics.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs

import tornado.httpserver
import tornado.netutil
import tornado.web

from . import admin, batch, discovery, oauth, uploads
from .bodies import BodySpool
from .context import EmulatorContext, build_context
from .drive_api import DriveApi
from .faults import fault_error, route_template
from .resumable import ChunkSink, UploadSessions
from .settings import EmulatorSettings
from .web import BaseHandler, NotFoundHandler
from .wire import DriveError, Request, Response


log = logging.getLogger("jupyter_drive_sync.emulator")

MAX_BODY_SIZE = 8 * 1024**3  # bodies are staged on disk, so this may exceed memory
BODY_TIMEOUT_S = 600.0  # whole-body limit (tornado); the idle limit below catches short bodies
BODY_IDLE_TIMEOUT_S = 2.0  # no body byte for this long while some are missing -> 400 + close (trap 2)


class DiscoveryHandler(BaseHandler):
    """`GET /discovery/v1/apis/{api}/{version}/rest`: the Drive v3 document, pointed at us."""

    def get(self, api: str, version: str) -> None:
        if (api, version) != ("drive", "v3"):
            self.write_json(404, DriveError(404, "notFound", "Requested entity was not found.").envelope())
            return
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(discovery.document(self.ctx.base_url))


@tornado.web.stream_request_body
class DriveHandler(BaseHandler):
    """Every `/drive/v3`, `/upload/drive/v3` and `/batch/drive/v3` request."""

    SUPPORTED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

    def initialize(self, ctx: EmulatorContext, api: DriveApi, sessions: UploadSessions) -> None:
        self.ctx = ctx
        self.api = api
        self.sessions: UploadSessions = sessions
        self._spool: BodySpool | None = None
        self._sink: ChunkSink | None = None
        self._serving = False
        self._watchdog: asyncio.TimerHandle | None = None
        self._last_data = 0.0

    async def prepare(self) -> None:  # no by-route counting here: done after X-HTTP-Method-Override
        self._spool = BodySpool(self.sessions.tmp_dir)
        headers = self.request.headers
        if self.request.method == "PUT" and self.request.path.startswith("/upload/"):
            upload_id = self.get_query_argument("upload_id", None)
            if upload_id:  # a resumable chunk: stream it straight into the session's file
                await self.sessions.wait_idle(upload_id)
                self._sink = self.sessions.open_sink(upload_id, headers.get("Content-Range"))
        expects_body = int(headers.get("Content-Length", "0") or 0) > 0 or \
            "chunked" in headers.get("Transfer-Encoding", "").lower()
        if expects_body:
            self._last_data = time.monotonic()
            self._arm_watchdog()

    def _arm_watchdog(self) -> None:
        loop = asyncio.get_running_loop()
        self._watchdog = loop.call_later(min(0.5, BODY_IDLE_TIMEOUT_S), self._check_idle)

    def _check_idle(self) -> None:
        self._watchdog = None
        if self._finished:
            return
        if time.monotonic() - self._last_data < BODY_IDLE_TIMEOUT_S:
            self._arm_watchdog()
            return
        # A short body (e.g. a replayed, exhausted chunk stream): answer instead of hanging.
        self.set_header("Connection", "close")
        self.write_json(400, DriveError(400, "badRequest", "Request body shorter than its Content-Length.").envelope())

    def _cancel_watchdog(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None

    def data_received(self, chunk: bytes) -> None:
        self._last_data = time.monotonic()
        if self._sink is not None:
            self._sink.write(chunk)
        else:
            assert self._spool is not None
            self._spool.write(chunk)

    def _release(self, *, spool: bool) -> None:
        """Close the chunk sink and (unless a handler still reads it) the body spool; idempotent."""
        self._cancel_watchdog()
        if self._sink is not None:
            self._sink.close()
            self._sink = None
        if spool and self._spool is not None:
            self._spool.close()
            self._spool = None

    def on_connection_close(self) -> None:
        # While _serve runs it still owns the spool (the request is handled even if the client
        # left: a create must not turn into an empty one); its finally releases it.
        self._release(spool=not self._serving)
        super().on_connection_close()

    def on_finish(self) -> None:
        self._release(spool=not self._serving)

    async def get(self) -> None:
        self._serving = True
        try:
            await self._serve()
        finally:
            self._serving = False
            self._release(spool=True)

    post = put = patch = delete = get

    async def _serve(self) -> None:
        self._cancel_watchdog()
        ctx = self.ctx
        spool = self._spool
        assert spool is not None
        method = (self.request.method or "GET").upper()
        path = self.request.path
        query = parse_qs(self.request.query, keep_blank_values=True)
        headers = {k.lower(): v for k, v in self.request.headers.get_all()}
        sink = self._sink
        if sink is not None:
            await sink.flush()
        if path.startswith("/upload/"):
            ctx.stats.add_bytes(sink.size if sink is not None else spool.size)
        override = headers.get("x-http-method-override")
        if override:
            method = override.upper()
            if headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
                form = parse_qs(spool.read_bytes().decode("utf-8", "replace"), keep_blank_values=True)
                for key, values in form.items():
                    query.setdefault(key, []).extend(values)
                spool.clear()
        route = route_template(method, path)
        ctx.stats.count_request(method, route)

        latency_s = ctx.settings.request_latency_s(method)
        if latency_s > 0:
            await asyncio.sleep(latency_s)
        fault = ctx.faults.pick(f"{method} {route}")
        if fault == "reset":
            self.drop_connection()
            return
        if fault == "slow":
            await asyncio.sleep(ctx.faults.slow_s)
        injected = fault_error(fault) if fault else None
        if injected is not None:
            self.send_response(injected.to_response())
            return

        req = Request(method=method, path=path, query=query, headers=headers, body=b"")
        try:
            resp = self._handle(req, spool, sink)
        except DriveError as err:
            resp = err.to_response()
        except Exception:  # never a hang, never a traceback on the wire
            log.exception("unhandled error in %s %s", method, path)
            resp = DriveError(500, "backendError", "Backend Error").to_response()
        if fault == "hang-after-commit":  # held until faults change (a test kills the client meanwhile)
            held, waited = ctx.faults.generation, 0.0
            while ctx.faults.generation == held and waited < ctx.faults.slow_s:
                await asyncio.sleep(0.05)
                waited += 0.05
        if fault in ("lost-after-commit", "hang-after-commit"):
            self.drop_connection()
            return
        if self._finished:  # the client went away meanwhile
            return
        self.send_response(resp)

    def _handle(self, req: Request, spool: BodySpool, sink: ChunkSink | None) -> Response:
        ctx = self.ctx
        is_upload = req.path.startswith("/upload/")
        is_batch = req.path.startswith("/batch/")
        session_id = req.arg("upload_id") if is_upload else None
        if session_id:
            # The session URI is the capability (as on Google): no token needed for chunk PUTs,
            # which also spares clients the 401-replay of an exhausted chunk body (trap 2).
            req.principal = self.sessions.principal(session_id)
        else:
            req.principal = ctx.accounts.authenticate(req.headers.get("authorization"))
        if req.principal is not None and not is_batch:  # a batch is charged call by call
            ctx.limiter.admit(req.principal.email, req.method, req.path, upload_chunk=bool(session_id))
        if is_upload:
            return uploads.handle(req, spool, self.api, ctx, self.sessions, sink)
        req.body = spool.read_bytes()
        if is_batch:
            return batch.handle_batch(req, self.api, ctx)
        return self.api.handle(req)


def make_app(ctx: EmulatorContext) -> tornado.web.Application:
    api = DriveApi(ctx)
    sessions = UploadSessions(ctx.settings.data_dir, ctx.settings.clock)
    kw = {"ctx": ctx}
    routes: list[Any] = [
        (r"/(?:drive|upload|batch)/.*", DriveHandler, {"ctx": ctx, "api": api, "sessions": sessions}),
        (r"/discovery/v1/apis/([^/]+)/([^/]+)/rest", DiscoveryHandler, kw),
    ]
    routes += oauth.routes(ctx)
    routes += admin.routes(ctx)
    return tornado.web.Application(routes, default_handler_class=NotFoundHandler,
                                   default_handler_args=kw, compress_response=False, log_function=_log_request)


def _log_request(handler: tornado.web.RequestHandler) -> None:
    """Access log without query strings: they may carry tokens (`/revoke?token=`) or codes."""
    status = handler.get_status()
    level = logging.INFO if status < 400 else logging.WARNING if status < 500 else logging.ERROR
    access = logging.getLogger("tornado.access")
    if access.isEnabledFor(level):
        access.log(level, "%d %s %s %.2fms", status, handler.request.method, handler.request.path,
                   1000.0 * handler.request.request_time())


def _listen(app: tornado.web.Application, port: int) -> tuple[tornado.httpserver.HTTPServer, int]:
    sockets = tornado.netutil.bind_sockets(port, address="127.0.0.1")
    server = tornado.httpserver.HTTPServer(app, body_timeout=BODY_TIMEOUT_S, max_body_size=MAX_BODY_SIZE,
                                           idle_connection_timeout=300, xheaders=False)
    server.add_sockets(sockets)
    return server, sockets[0].getsockname()[1]


def _close_context(ctx: EmulatorContext) -> None:
    try:
        ctx.files.close()
    except Exception:  # pragma: no cover - best effort at shutdown
        log.exception("closing the Drive store")
    if not ctx.settings.persistent:
        shutil.rmtree(ctx.settings.data_dir, ignore_errors=True)


@dataclass
class RunningEmulator:
    """An emulator serving from its own IOLoop in a daemon thread (tests and the demo)."""

    url: str
    ctx: EmulatorContext
    _loop: asyncio.AbstractEventLoop
    _thread: threading.Thread
    _stop: Callable[[], None]

    @property
    def port(self) -> int:
        return int(self.url.rstrip("/").rsplit(":", 1)[1])

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop)
            self._thread.join(timeout=30)


def start_in_thread(settings: EmulatorSettings, port: int = 0) -> RunningEmulator:
    """Start an emulator on 127.0.0.1:`port` (0: any free port); returns once it is listening."""
    ready = threading.Event()
    box: dict[str, Any] = {}

    def main() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        stop_event = asyncio.Event()

        async def serve() -> None:
            try:
                ctx = build_context(settings)  # built on this thread: the store's connections live here
                server, bound = _listen(make_app(ctx), port)
                ctx.base_url = f"http://127.0.0.1:{bound}/"
            except BaseException as exc:
                box["error"] = exc
                ready.set()
                return
            box.update(ctx=ctx, loop=loop, stop=stop_event.set)
            ready.set()
            await stop_event.wait()
            server.stop()
            await server.close_all_connections()
            _close_context(ctx)

        try:
            loop.run_until_complete(serve())
        finally:
            loop.close()

    thread = threading.Thread(target=main, name="drive-emulator", daemon=True)
    thread.start()
    ready.wait()
    if "error" in box:
        raise box["error"]
    ctx = box["ctx"]
    return RunningEmulator(url=ctx.base_url, ctx=ctx, _loop=box["loop"], _thread=thread, _stop=box["stop"])


def run(port: int, data_dir: str | Path | None, profile: str = "fast", **setting_overrides: Any) -> int:
    """The `jupyter-drive-sync emulator` command: serve until SIGINT/SIGTERM, then exit 0.

    `setting_overrides`: `EmulatorSettings` fields; None means "not given", so the profile's
    value stays (`--profile google --write-rate 5` changes only the write rate).
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("tornado.access").setLevel(logging.WARNING)
    persistent = data_dir is not None
    directory = Path(data_dir) if persistent else Path(tempfile.mkdtemp(prefix="drive-emulator-"))
    try:
        settings = EmulatorSettings.for_profile(profile, data_dir=directory, persistent=persistent,
                                                **setting_overrides)
    except (TypeError, ValueError) as exc:
        print(f"emulator: {exc}", file=sys.stderr)
        if not persistent:
            shutil.rmtree(directory, ignore_errors=True)
        return 2

    async def serve() -> None:
        ctx = build_context(settings)
        try:
            server, bound = _listen(make_app(ctx), port)
        except BaseException:
            _close_context(ctx)
            raise
        ctx.base_url = f"http://127.0.0.1:{bound}/"
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        print(f"Drive emulator listening on http://127.0.0.1:{bound}", flush=True)
        try:
            await stop.wait()
        finally:
            server.stop()
            await server.close_all_connections()
            _close_context(ctx)

    try:
        asyncio.run(serve())
    except OSError as exc:
        print(f"emulator: cannot listen on 127.0.0.1:{port}: {exc}", file=sys.stderr)
        if not persistent:
            shutil.rmtree(directory, ignore_errors=True)
        return 2
    return 0
