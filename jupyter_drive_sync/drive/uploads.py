"""Uploading a file's content: one multipart request when small, a resumable session when large.

Large files go up in chunks (a multiple of 256 KiB), never read whole into memory. A failed
chunk is resumed with `next_chunk()`, which first asks Drive how much it holds, because the
library's own chunk retry re-sends an exhausted body (reference/drive-api-v3.md, trap 2). A
session can also outlive the process (see `ResumeSlot`), so a killed run is continued by the next.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
from pathlib import Path
from typing import IO, Any, BinaryIO, Callable

from googleapiclient.errors import HttpError
from googleapiclient.http import MediaIoBaseUpload

from .calls import DriveCalls
from .errors import DriveApiError, NotFound, is_retryable
from .transport import ThreadState
from .types import DriveFile, ResumeSlot, mime_type_for

__all__ = ["CHUNK_GRANULE", "MediaRequestMaker", "Uploader", "empty_media"]

log = logging.getLogger(__name__)

CHUNK_GRANULE = 256 * 1024
_RESUMABLE_RESTARTS = 3

MediaRequestMaker = Callable[[ThreadState, MediaIoBaseUpload], Any]
"""Builds the create or update request that carries the given media, with a thread's service."""


def empty_media(mime_type: str) -> MediaIoBaseUpload:
    """Zero bytes of content, for replacing a file's content with nothing in one small request."""
    return MediaIoBaseUpload(io.BytesIO(b""), mimetype=mime_type, resumable=False)


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


class Uploader:
    """Sends file content for the client's creates and updates, retried and paced by `calls`."""

    def __init__(self, calls: DriveCalls, *, chunk_size: int, multipart_limit: int) -> None:
        if chunk_size <= 0 or chunk_size % CHUNK_GRANULE:
            raise ValueError(f"chunk_size must be a positive multiple of {CHUNK_GRANULE} bytes")
        self.calls = calls
        self.chunk_size = chunk_size
        self.multipart_limit = multipart_limit

    def upload(
        self,
        make: MediaRequestMaker,
        local_path: Path,
        size: int,
        progress: Callable[[int], None] | None,
        source: BinaryIO | None = None,
        resume: ResumeSlot | None = None,
    ) -> DriveFile:
        """Send the content of `source` (or of `local_path`) with the request `make` builds."""
        mime = mime_type_for(local_path)
        if source is not None:
            source.seek(0)
        with open(local_path, "rb") if source is None else contextlib.nullcontext(source) as fh:
            actual = _fd_size(fh)
            if max(size, actual) <= self.multipart_limit:
                media = MediaIoBaseUpload(fh, mimetype=mime, resumable=False)
                res = self.calls.call(lambda st: make(st, media).execute(num_retries=0), what="upload (multipart)",
                                      writes=1, upload=True)
                if progress is not None:
                    progress(actual)
                return DriveFile.from_api(res)
            return self._resumable(make, fh, mime, progress, resume)

    def _resumable(
        self,
        make: MediaRequestMaker,
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
            request = make(self.calls.state(), media)
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

                    def step(st: ThreadState) -> Any:
                        return request.next_chunk(http=st.http, num_retries=0)

                    try:  # the first step also opens the session: a write (the chunks are not)
                        status, response = self.calls.call_once(
                            step, what="upload chunk", writes=0 if request.resumable_uri else 1, upload=True)
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

        def query(st: ThreadState) -> tuple[int, Any]:
            resp, content = st.http.request(uri, "PUT", headers={"Content-Range": f"bytes */{total}",
                                                                 "Content-Length": "0"})
            if resp.status in (200, 201):
                return 0, json.loads(content)
            if resp.status == 308:
                held = resp.get("range")
                return (int(held.rsplit("-", 1)[1]) + 1 if held else 0), None
            raise HttpError(resp, content, uri=uri)

        try:
            offset, done = self.calls.call(query, what="upload status")
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

    def _backoff(self, failures: int, exc: BaseException) -> int:
        """Count one more failure without progress; wait, or raise `exc` once tries run out."""
        retry = self.calls.retry
        failures += 1
        if failures >= retry.max_tries:
            raise exc
        wait = retry.delay(failures, exc)
        log.info("upload chunk failed (%s); resuming in %.1fs", getattr(exc, "reason", type(exc).__name__), wait)
        retry.sleep(wait)
        return failures


class _SessionLost(Exception):
    """The resumable session is gone (404): start a new one."""


def _fd_size(fh: IO[bytes]) -> int:
    return os.fstat(fh.fileno()).st_size
