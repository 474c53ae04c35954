"""How requests reach Drive: one HTTP connection and service per thread, built from the bundled
discovery document.

Google and the emulator go through exactly the same code: the service is built from the
bundled discovery document with its root URLs rewritten to `api_root`, so files, uploads and
batches all reach the same host (reference/drive-api-v3.md, trap 1). Each thread gets its own
`httplib2.Http` + `AuthorizedHttp` + service, because httplib2 is not thread-safe.
"""

from __future__ import annotations

import copy
import functools
import http.client
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import google_auth_httplib2
import googleapiclient
import httplib2
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build_from_document

__all__ = ["ThreadState", "ThreadTransports", "discovery_document"]


@functools.lru_cache(maxsize=1)
def _bundled_discovery() -> dict[str, Any]:
    path = Path(googleapiclient.__file__).parent / "discovery_cache" / "documents" / "drive.v3.json"
    return json.loads(path.read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=8)
def discovery_document(api_root: str) -> str:
    """The bundled Drive v3 document with every root pointed at `api_root` (trap 1)."""
    root = api_root if api_root.endswith("/") else api_root + "/"
    doc = copy.deepcopy(_bundled_discovery())
    doc["rootUrl"] = root
    doc["mtlsRootUrl"] = root
    doc["baseUrl"] = root + doc.get("servicePath", "drive/v3/")
    return json.dumps(doc)


class _DriveHttp(httplib2.Http):
    """httplib2.Http for Drive: 308 is not a redirect; counts upload bytes we send."""

    def __init__(self, counter: Callable[[int], None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._count = counter
        # Resumable uploads answer 308 "Resume Incomplete" without a Location: not a redirect
        # (googleapiclient's own build_http() does the same).
        self.redirect_codes = self.redirect_codes - {308}

    def request(self, uri, method="GET", body=None, headers=None, *args, **kwargs):  # type: ignore[override]
        if body is not None and method in ("PUT", "POST") and "/upload/" in str(uri):
            if isinstance(body, (bytes, str)):
                self._count(len(body))
        return super().request(uri, method, body, headers, *args, **kwargs)

    def _conn_request(self, conn, request_uri, method, body, headers):  # type: ignore[override]
        # httplib2 silently re-sends a request whose connection closed before the answer. For
        # a chunk PUT that re-sends the whole chunk even when the server already stored it;
        # failing instead lets next_chunk() ask the server what it has (`bytes */TOTAL`) and
        # send only the rest.
        if method == "PUT" and body:
            conn = _NoReplayConnection(conn)
        return super()._conn_request(conn, request_uri, method, body, headers)


class _NoReplayConnection:
    """A connection whose 'closed without an answer' is an error, not a cue to replay."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    def getresponse(self) -> Any:
        try:
            return self._conn.getresponse()
        except (http.client.BadStatusLine, http.client.ResponseNotReady) as exc:
            raise ConnectionResetError(f"connection closed before the answer ({type(exc).__name__})") from exc


@dataclass
class ThreadState:
    """One thread's authorized HTTP object and the service (and its `files()`) built on it."""

    http: google_auth_httplib2.AuthorizedHttp
    service: Any
    files: Any


class ThreadTransports:
    """Hands each thread its own ThreadState, made on first use, and closes them all at the end."""

    def __init__(self, credentials: Credentials, api_root: str, http_timeout: float) -> None:
        self.credentials = credentials
        self.api_root = api_root
        self.http_timeout = http_timeout
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all_https: list[httplib2.Http] = []
        self._bytes_sent = 0
        discovery_document(api_root)  # parse once, up front, in the constructing thread

    @property
    def bytes_sent(self) -> int:
        """Media bytes sent so far over these connections, resends included."""
        with self._lock:
            return self._bytes_sent

    def _count(self, n: int) -> None:
        with self._lock:
            self._bytes_sent += n

    def state(self) -> ThreadState:
        """This thread's connection and service."""
        st = getattr(self._local, "state", None)
        if st is None:
            raw = _DriveHttp(self._count, timeout=self.http_timeout)
            authed = google_auth_httplib2.AuthorizedHttp(self.credentials, http=raw)
            service = build_from_document(discovery_document(self.api_root), http=authed)
            st = ThreadState(authed, service, service.files())
            self._local.state = st
            with self._lock:
                self._all_https.append(raw)
        return st

    def auth_request(self) -> google_auth_httplib2.Request:
        """What google-auth refreshes a token through: this thread's plain (unauthorized) Http."""
        return google_auth_httplib2.Request(self.state().http.http)

    def close(self) -> None:
        """Close every thread's connections (they reopen on next use)."""
        with self._lock:
            https, self._all_https = self._all_https, []
        for h in https:
            try:
                h.close()
            except Exception:  # noqa: BLE001 - closing is best effort
                pass
        self._local = threading.local()
