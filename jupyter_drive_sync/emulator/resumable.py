"""Resumable upload sessions: their records, their part files, and chunks streamed into them.

Each session is a JSON record plus a `.part` file under `<data_dir>/uploads`, so a restarted
emulator resumes it from the last acknowledged byte, as Google does for about a week.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import re
import secrets
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .clock import EmulatorClock
from .wire import Principal, Response

SESSION_LIFETIME_S = 7 * 24 * 3600  # Google: "about a week"
CONTENT_RANGE_RE = re.compile(r"bytes\s+(?:\*|(\d+)-(\d+))/(\*|\d+)")


@dataclass
class UploadSession:
    id: str
    email: str
    client_id: str
    scopes: list[str]
    method: str  # "POST" create or "PATCH" update
    path: str
    file_id: str | None
    query: dict[str, list[str]]
    headers: dict[str, str]
    metadata: dict[str, Any]
    total: int | None
    media_mime: str | None = None
    received: int = 0
    created: float = field(default_factory=time.time)
    result: dict[str, Any] | None = None  # final {status, headers, body} once complete

    def principal(self) -> Principal:
        return Principal(self.email, self.client_id, frozenset(self.scopes))


class UploadSessions:
    """Resumable sessions: JSON record + `.part` file each under `<data_dir>/uploads`."""

    def __init__(self, data_dir: Path, clock: EmulatorClock | None = None) -> None:
        self._clock = clock or EmulatorClock()  # sessions expire on the emulator's clock
        self.dir = Path(data_dir) / "uploads"
        self.tmp_dir = Path(data_dir) / "tmp"  # where request bodies are staged
        self.dir.mkdir(parents=True, exist_ok=True)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._sessions: dict[str, UploadSession] = {}
        self._busy: set[str] = set()  # sessions with a chunk streaming in right now
        self._load()

    def _load(self) -> None:
        now = self._clock.time()
        for meta in self.dir.glob("*.json"):
            try:
                s = UploadSession(**json.loads(meta.read_text("utf-8")))
            except (ValueError, TypeError):
                continue
            if now - s.created > SESSION_LIFETIME_S:
                self._remove_files(s.id)
                continue
            part = self.part_path(s.id)
            if s.result is None:
                # bytes beyond the last acknowledged chunk (a chunk cut off by a crash) do not count
                s.received = min(s.received, part.stat().st_size) if part.exists() else 0
            self._sessions[s.id] = s

    def part_path(self, upload_id: str) -> Path:
        return self.dir / f"{upload_id}.part"

    def _save(self, s: UploadSession) -> None:
        tmp = self.dir / f".{s.id}.json.tmp"
        tmp.write_text(json.dumps(asdict(s)), "utf-8")
        os.replace(tmp, self.dir / f"{s.id}.json")

    def _remove_files(self, upload_id: str) -> None:
        for p in (self.part_path(upload_id), self.dir / f"{upload_id}.json"):
            try:
                p.unlink()
            except FileNotFoundError:
                pass

    def create(self, **kw: Any) -> UploadSession:
        now = self._clock.time()
        with self._lock:
            for old in [s for s in self._sessions.values() if now - s.created > SESSION_LIFETIME_S]:
                del self._sessions[old.id]
                self._remove_files(old.id)
            s = UploadSession(id="ADPycd" + secrets.token_urlsafe(48), created=now, **kw)
            self.part_path(s.id).touch()
            self._sessions[s.id] = s
            self._save(s)
            return s

    def get(self, upload_id: str) -> UploadSession | None:
        s = self._sessions.get(upload_id)
        if s is not None and self._clock.time() - s.created > SESSION_LIFETIME_S:
            self.discard(s)
            return None
        return s

    def principal(self, upload_id: str) -> Principal | None:
        s = self.get(upload_id)
        return s.principal() if s is not None else None

    def acknowledge(self, s: UploadSession, size: int) -> None:
        """A chunk is in: advance and persist the received offset (what a restart resumes from)."""
        s.received += size
        with self._lock:
            self._save(s)

    def open_sink(self, upload_id: str, content_range: str | None) -> "ChunkSink | None":
        """Stream a chunk straight into the part file when it starts where the session stands.

        Anything unusual (status query, wrong offset, a concurrent PUT) returns None and the
        body goes to a spool instead, to be judged by `_session_request`.
        """
        s = self.get(upload_id)
        if s is None or s.result is not None or not content_range or s.id in self._busy:
            return None
        m = CONTENT_RANGE_RE.fullmatch(content_range.strip())
        if not m or m.group(1) is None or int(m.group(1)) != s.received:
            return None
        self._busy.add(s.id)
        return ChunkSink(self, s)

    def release(self, s: UploadSession) -> None:
        self._busy.discard(s.id)

    def busy(self, s: UploadSession) -> bool:
        return s.id in self._busy

    async def wait_idle(self, upload_id: str, limit_s: float = 30.0) -> None:
        """Wait until no other chunk of this session is being written (a client retrying fast)."""
        waited = 0.0
        while upload_id in self._busy and waited < limit_s:
            await asyncio.sleep(0.002)
            waited += 0.002

    def complete(self, s: UploadSession, resp: Response) -> None:
        """Remember the final answer: a status query after a lost response must get it again."""
        s.result = {"status": resp.status, "headers": dict(resp.headers),
                    "body": resp.body.decode("utf-8", "replace")}
        try:
            self.part_path(s.id).unlink()
        except FileNotFoundError:
            pass
        with self._lock:
            self._save(s)

    def discard(self, s: UploadSession) -> None:
        with self._lock:
            self._sessions.pop(s.id, None)
            self._remove_files(s.id)


_WRITER = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="upload-writer")


class ChunkSink:
    """A chunk body written to the session's part file by a writer thread while it arrives.

    File writes release the GIL, so they overlap with receiving the rest of the chunk; the part
    file is cut back to the acknowledged offset first, so a chunk that is never acknowledged
    (dropped connection, injected fault, bad range) leaves no trace.
    """

    def __init__(self, sessions: UploadSessions, s: UploadSession) -> None:
        self.sessions = sessions
        self.session = s
        self.size = 0
        self._file = open(sessions.part_path(s.id), "r+b")
        self._file.truncate(s.received)
        self._file.seek(s.received)
        self._last: concurrent.futures.Future[Any] | None = None

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        self._last = _WRITER.submit(self._file.write, chunk)

    async def flush(self) -> None:
        """Wait until every byte received so far is in the file."""
        if self._last is not None:
            await asyncio.wrap_future(_WRITER.submit(self._file.flush))

    def close(self) -> None:
        """Close the file after the queued writes; only then may another chunk touch it."""
        done = _WRITER.submit(self._file.close)
        done.add_done_callback(lambda _: self.sessions.release(self.session))
