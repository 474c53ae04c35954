"""The Drive API client: the only module that imports googleapiclient (DESIGN §4).

Google and the emulator go through exactly the same code: the service is built from the
bundled discovery document with its root URLs rewritten to `api_root`, so files, uploads and
batches all reach the same host (reference/drive-api-v3.md, trap 1).

Every request runs with `num_retries=0` inside `retry.RetryPolicy.call`, paced by a shared
`Pacer`. Each thread gets its own `httplib2.Http` + `AuthorizedHttp` + service, because
httplib2 is not thread-safe. Creates carry pre-generated IDs, so a retry after a lost answer
meets `409 fileIdInUse` and turns into a `get`: no duplicates, ever.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import http.client
import io
import json
import logging
import mimetypes
import os
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Any, BinaryIO, Callable, Iterator, Protocol, Sequence

import google_auth_httplib2
import googleapiclient
import httplib2
from google.auth.exceptions import RefreshError
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build_from_document
from googleapiclient.errors import HttpError
from googleapiclient.http import MediaIoBaseDownload, MediaIoBaseUpload

from ..core.settings import GOOGLE_API_ROOT  # one definition, in config
from ..core import model
from .pacing import Pacer
from .retry import (
    DailyCapReached,
    DriveApiError,
    NeedsReauth,
    NotFound,
    RetryPolicy,
    StorageFull,
    error_from_refresh,
    error_from_response,
    is_rate_limited,
    is_retryable,
)

__all__ = [
    "GOOGLE_API_ROOT",
    "FOLDER_MIME",
    "DriveClient",
    "DriveFile",
    "NewFolder",
    "NewEmptyFile",
    "ResumeSlot",
    "DriveApiError",
    "NeedsReauth",
    "StorageFull",
    "DailyCapReached",
    "NotFound",
    "to_rfc3339",
    "from_rfc3339",
    "escape_q",
    "mime_type_for",
]

log = logging.getLogger(__name__)

FOLDER_MIME = model.FOLDER_MIME
FILE_FIELDS = "id,name,mimeType,parents,md5Checksum,size,modifiedTime,trashed,headRevisionId"
CHUNK_GRANULE = 256 * 1024
MAX_BATCH = 100
MAX_GENERATE_IDS = 1000
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_RESUMABLE_RESTARTS = 3


# -- values ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DriveFile:
    """A Drive file or folder, reduced to the fields the sync needs (`FILE_FIELDS`)."""

    id: str
    name: str
    mime_type: str
    parents: tuple[str, ...]
    md5: str | None
    size: int | None
    modified_ms: int
    trashed: bool
    head_revision: str | None

    @property
    def is_folder(self) -> bool:
        return self.mime_type == FOLDER_MIME

    @property
    def parent_id(self) -> str | None:
        return self.parents[0] if self.parents else None

    @classmethod
    def from_api(cls, d: dict[str, Any]) -> "DriveFile":
        size = d.get("size")
        return cls(
            id=d["id"],
            name=d.get("name", ""),
            mime_type=d.get("mimeType", ""),
            parents=tuple(d.get("parents") or ()),
            md5=d.get("md5Checksum"),
            size=int(size) if size is not None else None,
            modified_ms=from_rfc3339(d["modifiedTime"]) if d.get("modifiedTime") else 0,
            trashed=bool(d.get("trashed", False)),
            head_revision=d.get("headRevisionId"),
        )


@dataclass(frozen=True)
class NewFolder:
    """A folder to create with a pre-generated ID."""

    id: str
    name: str
    parent_id: str
    modified_ms: int


@dataclass(frozen=True)
class NewEmptyFile:
    """A 0-byte file to create with a pre-generated ID. It needs no media, so its create is a
    metadata-only call, and those fit in a batch (media never does)."""

    id: str
    name: str
    parent_id: str
    modified_ms: int
    mime_type: str  # what an upload of the file would carry: `mime_type_for(local_path)`


class ResumeSlot(Protocol):
    """Where one file's resumable session URI outlives the process (push keeps it in the state
    DB), so that a run killed mid-upload is continued by the next run from the byte Drive has,
    instead of sending the whole file again. Only consulted for resumable uploads."""

    def saved(self) -> str | None:
        """The session URI an earlier run started for this very file version, if any."""

    def started(self, uri: str) -> None:
        """Drive granted a new session: remember it before any byte is sent."""

    def finished(self) -> None:
        """The upload completed (or its session is gone): forget the URI."""


# -- helpers -----------------------------------------------------------------------------------


def to_rfc3339(ms: int) -> str:
    """Milliseconds since the epoch → `2024-01-01T12:00:00.123Z` (what Drive stores, to the ms)."""
    dt = _EPOCH + timedelta(milliseconds=int(ms))
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def from_rfc3339(value: str) -> int:
    """RFC 3339 (`Z` or offset, 0–9 fraction digits) → milliseconds since the epoch."""
    s = value.strip()
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    frac = ""
    if "." in s:
        head, rest = s.split(".", 1)
        digits = ""
        while rest and rest[0].isdigit():
            digits, rest = digits + rest[0], rest[1:]
        frac, s = digits, head + rest
    dt = datetime.fromisoformat(s)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    whole = (dt - _EPOCH) // timedelta(seconds=1)
    return whole * 1000 + int((frac + "000")[:3])


def mime_type_for(path: Path | str) -> str:
    """The MIME type an upload of `path` carries (guessed from its name), so a file created
    without media (an empty one, in a batch) gets the same type as one uploaded alone."""
    return mimetypes.guess_type(str(path))[0] or "application/octet-stream"


def escape_q(value: str) -> str:
    """Escape a string literal for a Drive `q` (backslash first, then the quote)."""
    return value.replace("\\", "\\\\").replace("'", "\\'")


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


class _ChunkReader(MediaIoBaseUpload):
    """Reads a file one chunk at a time as *bytes*, never as a stream.

    With a stream, googleapiclient sends a one-shot `_StreamSlice`: any replay (httplib2's
    silent reconnect, AuthorizedHttp's retry after a 401) then carries an empty body under a
    full Content-Length (trap 2). A bytes chunk can be re-sent as often as needed, and memory
    stays bounded by the chunk size.
    """

    def has_stream(self) -> bool:
        return False

    def getbytes(self, begin: int, length: int) -> bytes:
        # Never past the size announced at the start, even if the file grows meanwhile.
        return super().getbytes(begin, max(0, min(length, self.size() - begin)))


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
class _ThreadState:
    http: google_auth_httplib2.AuthorizedHttp
    service: Any
    files: Any


# -- the client --------------------------------------------------------------------------------


class DriveClient:
    """Everything the sync does on Drive, retried and paced. Safe to share between threads.

    Errors: DriveApiError (and NotFound) for what failed for good; NeedsReauth, StorageFull
    and DailyCapReached end a run (they are also errors.NotConnected / errors.DriveRefused).
    `progress(n)` callbacks get the bytes of *this* file that Drive has confirmed so far
    (cumulative, never decreasing, ending at the file size).
    """

    def __init__(
        self,
        credentials: Credentials,
        *,
        api_root: str = GOOGLE_API_ROOT,
        pacer: Pacer | None = None,
        chunk_size: int = 8 * 1024 * 1024,
        multipart_limit: int = 5 * 1024 * 1024,
        on_credentials_refreshed: Callable[[Credentials], None] | None = None,
        http_timeout: float = 60,
        retry: RetryPolicy | None = None,
    ) -> None:
        if chunk_size <= 0 or chunk_size % CHUNK_GRANULE:
            raise ValueError(f"chunk_size must be a positive multiple of {CHUNK_GRANULE} bytes")
        self.credentials = credentials
        self.api_root = api_root if api_root.endswith("/") else api_root + "/"
        # No pacer given: one of its own, so even a lone client backs off together on rate limits.
        self.pacer = pacer if pacer is not None else Pacer()
        self.chunk_size = chunk_size
        self.multipart_limit = multipart_limit
        self.http_timeout = http_timeout
        self.retry = retry or RetryPolicy()
        self._on_refreshed = on_credentials_refreshed
        self._local = threading.local()
        self._lock = threading.Lock()
        self._cred_lock = threading.Lock()
        self._all_https: list[httplib2.Http] = []
        self._last_token = credentials.token
        self._save_failed_warned = False
        self._bytes_sent = 0
        discovery_document(self.api_root)  # parse once, up front, in the constructing thread

    # -- plumbing --------------------------------------------------------------------------

    @property
    def bytes_sent(self) -> int:
        """Media bytes sent so far by this client, resends included (for summaries and tests)."""
        with self._lock:
            return self._bytes_sent

    def _count(self, n: int) -> None:
        with self._lock:
            self._bytes_sent += n

    def _state(self) -> _ThreadState:
        st = getattr(self._local, "state", None)
        if st is None:
            raw = _DriveHttp(self._count, timeout=self.http_timeout)
            authed = google_auth_httplib2.AuthorizedHttp(self.credentials, http=raw)
            service = build_from_document(discovery_document(self.api_root), http=authed)
            st = _ThreadState(authed, service, service.files())
            self._local.state = st
            with self._lock:
                self._all_https.append(raw)
        return st

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

    def __enter__(self) -> "DriveClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _ensure_token(self) -> None:
        """Refresh an expired token once, under a lock, instead of in every thread at once."""
        if self.credentials.valid:
            return
        with self._cred_lock:
            if not self.credentials.valid:
                self.credentials.refresh(google_auth_httplib2.Request(self._state().http.http))

    def _note_refresh(self) -> None:
        """Write a refreshed token back (best effort: a read-only Secret must not stop a push)."""
        token = self.credentials.token
        if token == self._last_token:
            return
        with self._cred_lock:
            if token == self._last_token:
                return
            self._last_token = token
            if self._on_refreshed is None:
                return
            try:
                self._on_refreshed(self.credentials)
            except Exception as exc:  # noqa: BLE001
                if not self._save_failed_warned:
                    self._save_failed_warned = True
                    log.warning("could not save the refreshed Google token (%s: %s); continuing with it in memory",
                                type(exc).__name__, getattr(exc, "strerror", None) or "error")

    @staticmethod
    def _translate(exc: BaseException) -> BaseException:
        if isinstance(exc, HttpError):
            return error_from_response(exc.resp.status, exc.resp, exc.content)
        if isinstance(exc, RefreshError):
            return error_from_refresh(exc)
        return exc

    def _call(self, make: Callable[[_ThreadState], Any], *, cost: float = 1.0, what: str = "Drive call") -> Any:
        """Run one request (built fresh per attempt by `make`) with retries and pacing."""

        def attempt() -> Any:
            try:
                self._ensure_token()
                return make(self._state())
            finally:
                self._note_refresh()

        return self.retry.call(attempt, pacer=self.pacer, cost=cost, translate=self._translate, what=what)

    # -- account and ids -------------------------------------------------------------------

    def about_email(self) -> str:
        res = self._call(lambda st: st.service.about().get(fields="user(emailAddress)").execute(num_retries=0),
                         what="about.get")
        return res.get("user", {}).get("emailAddress", "")

    def generate_ids(self, count: int) -> list[str]:
        """`count` fresh file IDs, in calls of at most 1000 (unused IDs cost nothing)."""
        ids: list[str] = []
        while len(ids) < count:
            n = min(MAX_GENERATE_IDS, count - len(ids))
            res = self._call(
                lambda st, n=n: st.files.generateIds(count=n, space="drive", type="files").execute(num_retries=0),
                what="files.generateIds",
            )
            ids.extend(res.get("ids", [])[:n])
        return ids

    # -- reads -----------------------------------------------------------------------------

    def get(self, file_id: str) -> DriveFile:
        """The file's metadata; NotFound if it is gone for good or invisible to this app."""
        res = self._call(lambda st: st.files.get(fileId=file_id, fields=FILE_FIELDS).execute(num_retries=0),
                         what="files.get")
        return DriveFile.from_api(res)

    def _list(self, q: str) -> Iterator[DriveFile]:
        token: str | None = None
        while True:
            res = self._call(
                lambda st, token=token: st.files.list(
                    q=q, pageSize=1000, pageToken=token,
                    fields=f"nextPageToken,files({FILE_FIELDS})",
                ).execute(num_retries=0),
                what="files.list",
            )
            for f in res.get("files", []):
                yield DriveFile.from_api(f)
            token = res.get("nextPageToken")
            if not token:
                return

    def list_children(self, folder_id: str) -> Iterator[DriveFile]:
        """Everything not trashed directly inside `folder_id`, all pages."""
        return self._list(f"'{escape_q(folder_id)}' in parents and trashed = false")

    def find_folders(self, name: str, parent_id: str) -> list[DriveFile]:
        """Folders called `name` in `parent_id` (not trashed); names are not unique on Drive."""
        q = (f"name = '{escape_q(name)}' and '{escape_q(parent_id)}' in parents "
             f"and mimeType = '{FOLDER_MIME}' and trashed = false")
        return list(self._list(q))

    def start_page_token(self) -> str:
        res = self._call(lambda st: st.service.changes().getStartPageToken().execute(num_retries=0),
                         what="changes.getStartPageToken")
        return str(res["startPageToken"])

    def list_changes(self, page_token: str, *, max_pages: int | None = None) -> tuple[list[model.RemoteChange], str]:
        """Every change since `page_token` (all pages) and the token to start from next time.

        With `max_pages`, stop after that many pages and return the position reached (the
        next page's token), so a caller can read a long feed in part and the rest later.
        """
        changes: list[model.RemoteChange] = []
        token = page_token
        pages = 0
        fields = f"nextPageToken,newStartPageToken,changes(changeType,fileId,removed,time,file({FILE_FIELDS}))"
        while True:
            res = self._call(
                lambda st, token=token: st.service.changes().list(
                    pageToken=token, pageSize=1000, includeRemoved=True, fields=fields,
                ).execute(num_retries=0),
                what="changes.list",
            )
            for ch in res.get("changes", []):
                if ch.get("changeType", "file") != "file" or not ch.get("fileId"):
                    continue
                changes.append(_remote_change(ch))
            if res.get("newStartPageToken"):
                return changes, str(res["newStartPageToken"])
            token = res.get("nextPageToken")
            if not token:  # defensive: a feed that ends without a new token restarts where it was
                return changes, page_token
            pages += 1
            if max_pages is not None and pages >= max_pages:
                return changes, str(token)

    def download(self, file_id: str, dest: BinaryIO, *, progress: Callable[[int], None] | None = None) -> None:
        """Stream the content into `dest` in chunks, resuming a failed chunk where it stopped."""
        st = self._state()
        request = st.files.get_media(fileId=file_id)
        downloader = MediaIoBaseDownload(dest, request, chunksize=self.chunk_size)
        done = False
        while not done:
            status, done = self._call(lambda _st: downloader.next_chunk(num_retries=0), what="files.get_media")
            if progress is not None and status is not None:
                progress(int(status.resumable_progress))

    # -- writes ----------------------------------------------------------------------------

    def create_folders(self, items: Sequence[NewFolder]) -> dict[str, DriveFile | DriveApiError]:
        """Create folders with their pre-generated IDs, in batches of ≤ 100, parents first.

        Result per folder ID: the DriveFile, or the DriveApiError it finally failed with.
        Retryable part errors are retried in the next batch round; `409 fileIdInUse` (an
        earlier attempt did create it) becomes a `get`. Run-ending errors (NeedsReauth,
        StorageFull, DailyCapReached) are raised, not returned.
        """
        results: dict[str, DriveFile | DriveApiError] = {}
        pending = {f.id: f for f in items}
        while pending:
            # A layer: folders whose parent is not itself waiting in this call.
            layer = [f for f in pending.values() if f.parent_id not in pending]
            if not layer:  # a cycle: cannot happen with real paths; fail them rather than loop
                for f in pending.values():
                    results[f.id] = DriveApiError(0, "invalidParent", f"parent cycle at {f.name!r}")
                break
            bodies = {f.id: {"id": f.id, "name": f.name, "mimeType": FOLDER_MIME, "parents": [f.parent_id],
                             "modifiedTime": to_rfc3339(f.modified_ms)} for f in layer}
            in_use = self._create_batched(bodies, results)
            results.update(self.get_many(in_use))
            for f in layer:
                del pending[f.id]
            # Children of folders that failed cannot be created: say why instead of sending them.
            failed = {fid for fid, r in results.items() if isinstance(r, DriveApiError)}
            while True:
                orphans = [f for f in pending.values() if f.parent_id in failed]
                if not orphans:
                    break
                for f in orphans:
                    results[f.id] = DriveApiError(0, "parentNotCreated", f"parent folder of {f.name!r} was not created")
                    failed.add(f.id)
                    del pending[f.id]
        return results

    def create_empty_files(self, items: Sequence[NewEmptyFile]) -> dict[str, DriveFile | DriveApiError]:
        """Create 0-byte files with their pre-generated IDs, metadata only, in batches of ≤ 100.

        One request per hundred files instead of one upload each (a folder of 50,000 empty
        files). Results, retries and run-ending errors as in `create_folders`. A `409
        fileIdInUse` is settled like `create_file` does: the existing file is fetched (the
        fetches batched too) and accepted if it is empty, untrashed and has this modifiedTime;
        otherwise it is made so (an earlier attempt may have uploaded an older, non-empty
        version under this ID).
        """
        results: dict[str, DriveFile | DriveApiError] = {}
        by_id = {f.id: f for f in items}
        bodies = {f.id: {"id": f.id, "name": f.name, "mimeType": f.mime_type, "parents": [f.parent_id],
                         "modifiedTime": to_rfc3339(f.modified_ms)} for f in items}
        in_use = self._create_batched(bodies, results)
        for fid, existing in self.get_many(in_use).items():
            if isinstance(existing, DriveApiError):
                results[fid] = existing
                continue
            try:
                results[fid] = self._settle_empty(by_id[fid], existing)
            except (NeedsReauth, StorageFull, DailyCapReached):
                raise
            except DriveApiError as err:
                results[fid] = err
        return results

    def get_many(self, file_ids: Sequence[str]) -> dict[str, DriveFile | DriveApiError]:
        """`get` for many IDs, in batches of ≤ 100: per ID the DriveFile or its error (NotFound...)."""
        calls = {fid: (lambda st, fid=fid: st.files.get(fileId=fid, fields=FILE_FIELDS)) for fid in file_ids}
        return {fid: r if isinstance(r, DriveApiError) else DriveFile.from_api(r)
                for fid, r in self._batch(calls, what="batch files.get").items()}

    def _settle_empty(self, item: NewEmptyFile, existing: DriveFile) -> DriveFile:
        """An earlier attempt created `item`'s ID: make sure it is the empty version we mean."""
        if existing.size == 0 and existing.modified_ms == item.modified_ms and not existing.trashed:
            return existing
        if existing.size == 0:
            return self.update_metadata(item.id, modified_ms=item.modified_ms,
                                        trashed=False if existing.trashed else None)
        body: dict[str, Any] = {"modifiedTime": to_rfc3339(item.modified_ms)}
        if existing.trashed:
            body["trashed"] = False
        media = MediaIoBaseUpload(io.BytesIO(b""), mimetype=item.mime_type, resumable=False)
        res = self._call(
            lambda st: st.files.update(fileId=item.id, body=body, media_body=media,
                                       fields=FILE_FIELDS).execute(num_retries=0),
            what="upload (multipart)",
        )
        return DriveFile.from_api(res)

    def _create_batched(self, bodies: dict[str, dict[str, Any]],
                        results: dict[str, DriveFile | DriveApiError]) -> list[str]:
        """Metadata-only `files.create` of each body (keyed by its ID) in batches; fills
        `results` and returns the IDs that answered `409 fileIdInUse` (already created)."""
        calls = {fid: (lambda st, body=body: st.files.create(body=body, fields=FILE_FIELDS))
                 for fid, body in bodies.items()}
        in_use: list[str] = []
        for fid, r in self._batch(calls, what="batch files.create").items():
            if isinstance(r, DriveApiError):
                if r.status == 409 and r.reason == "fileIdInUse":
                    in_use.append(fid)
                else:
                    results[fid] = r
            else:
                results[fid] = DriveFile.from_api(r)
        return in_use

    def _batch(self, calls: dict[str, Callable[[_ThreadState], Any]], *,
               what: str) -> dict[str, dict[str, Any] | DriveApiError]:
        """Run calls (key → builder of one request) in batch requests of ≤ 100 parts.

        Per key: the JSON answer, or the DriveApiError it finally failed with. The batch request
        itself is retried like any call (a retry after a lost answer meets 409s, which the
        callers settle); parts that failed retryably go again in the next round, after a
        backoff; a batch that fails for good fails each of its parts. Run-ending errors
        (NeedsReauth, StorageFull, DailyCapReached) are raised.
        """
        results: dict[str, dict[str, Any] | DriveApiError] = {}
        keys = list(calls)
        for start in range(0, len(keys), MAX_BATCH):
            self._batch_rounds({k: calls[k] for k in keys[start:start + MAX_BATCH]}, results, what)
        return results

    def _batch_rounds(self, todo: dict[str, Callable[[_ThreadState], Any]],
                      results: dict[str, dict[str, Any] | DriveApiError], what: str) -> None:
        round_no = 0
        while todo:
            round_no += 1
            # Short request ids: a 33-char Drive ID makes the part's Content-ID header long
            # enough for the MIME generator to fold it, which not every server unfolds.
            order = list(todo)
            answers: dict[str, Any] = {}
            part_errors: dict[str, DriveApiError] = {}

            def callback(request_id: str, response: Any, exception: Exception | None) -> None:
                key = order[int(request_id)]
                if exception is None:
                    answers[key] = response
                    return
                err = self._translate(exception)
                if not isinstance(err, DriveApiError):
                    err = DriveApiError(0, type(err).__name__, str(err), retryable=True)
                part_errors[key] = err

            def send(st: _ThreadState) -> None:
                answers.clear()  # only the attempt that got an answer counts
                part_errors.clear()
                batch = st.service.new_batch_http_request(callback=callback)
                for n, key in enumerate(order):
                    batch.add(todo[key](st), request_id=str(n))
                batch.execute(http=st.http)

            try:
                self._call(send, cost=len(order), what=what)
            except (NeedsReauth, StorageFull, DailyCapReached):
                raise
            except DriveApiError as err:
                for key in order:
                    results[key] = err
                return
            for key, response in answers.items():
                results[key] = response
                del todo[key]
            retry_later: list[DriveApiError] = []
            for key, err in part_errors.items():
                if isinstance(err, (NeedsReauth, StorageFull, DailyCapReached)):
                    raise err
                if is_retryable(err) and round_no < self.retry.max_tries:
                    retry_later.append(err)
                else:
                    results[key] = err
                    del todo[key]
            if todo and retry_later:
                if any(is_rate_limited(e) for e in retry_later):
                    self.pacer.throttled()  # the batch itself was fine; some calls in it were not
                worst = max(retry_later, key=lambda e: e.retry_after or 0.0)
                self.retry.sleep(self.retry.delay(round_no, worst))

    def create_file(
        self,
        *,
        file_id: str,
        name: str,
        parent_id: str,
        local_path: Path,
        size: int,
        modified_ms: int,
        progress: Callable[[int], None] | None = None,
        source: BinaryIO | None = None,
        resume: ResumeSlot | None = None,
    ) -> DriveFile:
        """Upload a new file under its pre-generated ID.

        A 409 fileIdInUse means an earlier attempt got there: the existing file is returned,
        after updating its content if that attempt uploaded another version (size or time differ).
        `source`: read from this open file (the caller opened it safely) instead of `local_path`,
        which then only names it (MIME type). `resume`: continue/remember a resumable session
        across runs (see ResumeSlot).
        """
        body = {"id": file_id, "name": name, "parents": [parent_id], "modifiedTime": to_rfc3339(modified_ms)}
        try:
            return self._upload(
                lambda st, media: st.files.create(body=body, media_body=media, fields=FILE_FIELDS),
                local_path, size, progress, source, resume,
            )
        except DriveApiError as err:
            if not (err.status == 409 and err.reason == "fileIdInUse"):
                raise
        existing = self.get(file_id)
        if existing.size == size and existing.modified_ms == modified_ms and not existing.trashed:
            if progress is not None:
                progress(size)
            return existing
        return self.update_content(file_id, local_path, size, modified_ms, untrash=existing.trashed, progress=progress,
                                   source=source, resume=resume)

    def update_content(
        self,
        file_id: str,
        local_path: Path,
        size: int,
        modified_ms: int,
        *,
        untrash: bool = False,
        progress: Callable[[int], None] | None = None,
        source: BinaryIO | None = None,
        resume: ResumeSlot | None = None,
    ) -> DriveFile:
        """Upload new content by ID (Drive keeps the previous revision); `source` as in create_file."""
        body: dict[str, Any] = {"modifiedTime": to_rfc3339(modified_ms)}
        if untrash:
            body["trashed"] = False
        return self._upload(
            lambda st, media: st.files.update(fileId=file_id, body=body, media_body=media, fields=FILE_FIELDS),
            local_path, size, progress, source, resume,
        )

    def update_metadata(self, file_id: str, *, modified_ms: int | None = None, trashed: bool | None = None) -> DriveFile:
        """Change modifiedTime and/or trashed without uploading anything."""
        body: dict[str, Any] = {}
        if modified_ms is not None:
            body["modifiedTime"] = to_rfc3339(modified_ms)
        if trashed is not None:
            body["trashed"] = trashed
        res = self._call(
            lambda st: st.files.update(fileId=file_id, body=body, fields=FILE_FIELDS).execute(num_retries=0),
            what="files.update",
        )
        return DriveFile.from_api(res)

    def pin_revision(self, file_id: str, revision_id: str) -> None:
        """Keep a revision forever (before overwriting someone's Drive-side edit)."""
        self._call(
            lambda st: st.service.revisions().update(
                fileId=file_id, revisionId=revision_id, body={"keepForever": True}, fields="id,keepForever",
            ).execute(num_retries=0),
            what="revisions.update",
        )

    # -- uploads ---------------------------------------------------------------------------

    def _upload(
        self,
        make: Callable[[_ThreadState, MediaIoBaseUpload], Any],
        local_path: Path,
        size: int,
        progress: Callable[[int], None] | None,
        source: BinaryIO | None = None,
        resume: ResumeSlot | None = None,
    ) -> DriveFile:
        mime = mime_type_for(local_path)
        if source is not None:
            source.seek(0)
        with open(local_path, "rb") if source is None else contextlib.nullcontext(source) as fh:
            actual = _fd_size(fh)
            if max(size, actual) <= self.multipart_limit:
                media = MediaIoBaseUpload(fh, mimetype=mime, resumable=False)
                res = self._call(lambda st: make(st, media).execute(num_retries=0), what="upload (multipart)")
                if progress is not None:
                    progress(actual)
                return DriveFile.from_api(res)
            return self._resumable(make, fh, mime, progress, resume)

    def _resumable(
        self,
        make: Callable[[_ThreadState, MediaIoBaseUpload], Any],
        fh: IO[bytes],
        mime: str,
        progress: Callable[[int], None] | None,
        resume: ResumeSlot | None = None,
    ) -> DriveFile:
        """Resumable upload, chunk by chunk; a failed chunk is resumed with `next_chunk()` again.

        After an error googleapiclient asks the server where it stands (`bytes */TOTAL`) before
        sending more, so only what the server lacks is sent again. Failures without progress are
        bounded by the retry policy; an expired or unknown session (404) restarts the upload.
        With `resume`, a session an earlier run left unfinished is asked the same question and
        continued, and a new session is remembered as soon as Drive grants it.
        """
        saved = resume.saved() if resume is not None else None
        for restart in range(_RESUMABLE_RESTARTS + 1):
            media = _ChunkReader(fh, mimetype=mime, chunksize=self.chunk_size, resumable=True)
            request = make(self._state(), media)
            response = None
            best = 0
            failures = 0
            if saved is not None:
                uri, saved = saved, None
                done = self._continue_session(request, uri, media.size())
                if request.resumable_uri is None and resume is not None:
                    resume.finished()  # gone, or complete (below): either way not worth keeping
                if done is not None:  # the earlier run had sent it all; only the answer was lost
                    if progress is not None:
                        progress(media.size())
                    return DriveFile.from_api(done)
                if request.resumable_uri is not None and progress is not None and request.resumable_progress:
                    best = request.resumable_progress
                    progress(best)
            remembered = request.resumable_uri
            try:
                while response is None:
                    before = request.resumable_progress

                    def step(st: _ThreadState) -> Any:
                        return request.next_chunk(http=st.http, num_retries=0)

                    try:
                        status, response = self._call_once(step, what="upload chunk")
                    except DriveApiError as err:
                        if isinstance(err, NotFound) and request.resumable_uri is not None:
                            raise _SessionLost() from err
                        if not err.retryable:
                            raise
                        failures = self._backoff(failures, err)
                        continue
                    except Exception as exc:  # noqa: BLE001 - transport trouble: resume
                        if not is_retryable(exc):
                            raise
                        failures = self._backoff(failures, exc)
                        continue
                    finally:
                        if resume is not None and request.resumable_uri not in (None, remembered):
                            remembered = request.resumable_uri
                            resume.started(remembered)
                    if request.resumable_progress > before or response is not None:
                        failures = 0
                    if status is not None and progress is not None and status.resumable_progress > best:
                        best = status.resumable_progress
                        progress(best)
            except _SessionLost:
                if restart >= _RESUMABLE_RESTARTS:
                    raise DriveApiError(404, "uploadSessionLost", "the resumable upload session expired repeatedly")
                log.info("resumable upload session lost; starting a new one")
                continue
            if resume is not None:
                resume.finished()
            if progress is not None:
                progress(media.size())
            return DriveFile.from_api(response)
        raise AssertionError("unreachable")

    def _continue_session(self, request: Any, uri: str, total: int) -> dict[str, Any] | None:
        """Ask an earlier run's session how much Drive holds (`Content-Range: bytes */TOTAL`).

        Positions `request` (a fresh resumable request for the same file) at Drive's offset and
        returns None; returns the file resource if that session had already completed; leaves
        `request` untouched (a new session will be started) if the session is gone (404/410).
        """

        def query(st: _ThreadState) -> tuple[int, Any]:
            resp, content = st.http.request(uri, "PUT", headers={"Content-Range": f"bytes */{total}",
                                                                 "Content-Length": "0"})
            if resp.status in (200, 201):
                return 0, json.loads(content)
            if resp.status == 308:
                held = resp.get("range")
                return (int(held.rsplit("-", 1)[1]) + 1 if held else 0), None
            raise HttpError(resp, content, uri=uri)

        try:
            offset, done = self._call(query, what="upload status")
        except DriveApiError as err:
            if err.status in (404, 410) or err.retryable:
                log.info("an earlier run's upload session cannot be continued (%s); starting a new one", err.reason)
                return None
            raise
        if done is not None:
            return done
        request.resumable_uri = uri
        request.resumable_progress = offset
        log.info("continuing an earlier run's upload at byte %d of %d", offset, total)
        return None

    def _call_once(self, make: Callable[[_ThreadState], Any], *, what: str) -> Any:
        """One paced attempt, errors translated; the caller decides about retrying."""
        self.pacer.acquire(1.0)
        ok, limited = False, False
        try:
            self._ensure_token()
            result = make(self._state())
            ok = True
            return result
        except Exception as raw:  # noqa: BLE001
            exc = self._translate(raw)
            limited = is_rate_limited(exc)
            if exc is raw:
                raise
            raise exc from raw
        finally:
            self.pacer.report(ok=ok, rate_limited=limited)
            self._note_refresh()

    def _backoff(self, failures: int, exc: BaseException) -> int:
        failures += 1
        if failures >= self.retry.max_tries:
            raise exc
        wait = self.retry.delay(failures, exc)
        log.info("upload chunk failed (%s); resuming in %.1fs", getattr(exc, "reason", type(exc).__name__), wait)
        self.retry.sleep(wait)
        return failures


class _SessionLost(Exception):
    """The resumable session is gone (404): start a new one."""


def _fd_size(fh: IO[bytes]) -> int:
    return os.fstat(fh.fileno()).st_size


def _remote_change(ch: dict[str, Any]) -> model.RemoteChange:
    f = ch.get("file") or {}
    removed = bool(ch.get("removed", False))
    if removed or not f:
        return model.RemoteChange(drive_id=ch["fileId"], removed=True)
    parents = f.get("parents") or []
    size = f.get("size")
    return model.RemoteChange(
        drive_id=ch["fileId"],
        removed=False,
        trashed=bool(f.get("trashed", False)),
        md5=f.get("md5Checksum"),
        size=int(size) if size is not None else None,
        modified_ms=from_rfc3339(f["modifiedTime"]) if f.get("modifiedTime") else 0,
        head_revision=f.get("headRevisionId"),
        name=f.get("name"),
        parent_id=parents[0] if parents else None,
    )
