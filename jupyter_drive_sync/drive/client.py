"""DriveClient: everything the sync does on Drive, as one object safe to share between threads.

drive/ is the only package that talks to googleapiclient. The pieces behind this class each do
one job: `transport` (a connection and service per thread, from the bundled discovery document),
`calls` (token, pacing, retries for one request), `batch` (many small calls in one request),
`uploads` (multipart and resumable content), `errors` (what an answer means), `types` (values).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator, Sequence

from google.oauth2.credentials import Credentials
from googleapiclient.http import MediaIoBaseDownload

from ..core import model
from ..core.settings import GOOGLE_API_ROOT, resolve_write_rate
from .batch import run_batch
from .calls import DriveCalls, RequestMaker, WriteStats
from .errors import RUN_ENDING, DriveApiError
from .pacing import DEFAULT_WRITE_RATE, Pacer, WritePacer
from .retry import RetryPolicy
from .transport import ThreadTransports
from .types import (
    FILE_FIELDS,
    FOLDER_MIME,
    DriveFile,
    NewEmptyFile,
    NewFolder,
    ResumeSlot,
    drive_time_ms,
    escape_q,
    remote_change_from_api,
    to_rfc3339,
)
from .uploads import Uploader, empty_media

__all__ = ["DriveClient"]

MAX_GENERATE_IDS = 1000


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
        write_rate: float | None = None,
        write_burst: float | None = None,
    ) -> None:
        """`write_rate`: this account's writes per second (None: JUPYTER_DRIVE_SYNC_WRITE_RATE, else
        Google's documented 3/s; 0: unpaced), `write_burst` the writes let out at once (see pacing)."""
        rate = resolve_write_rate(write_rate)
        self.api_root = api_root if api_root.endswith("/") else api_root + "/"
        self.chunk_size = chunk_size
        self.multipart_limit = multipart_limit
        self.http_timeout = http_timeout
        self._transports = ThreadTransports(credentials, self.api_root, http_timeout)
        self._calls = DriveCalls(
            credentials, self._transports,
            # No pacer given: one of its own, so even a lone client backs off together on rate limits.
            pacer=pacer if pacer is not None else Pacer(),
            retry=retry or RetryPolicy(),
            write_pacer=WritePacer(DEFAULT_WRITE_RATE if rate is None else rate, burst=write_burst),
            on_credentials_refreshed=on_credentials_refreshed,
        )
        self._uploader = Uploader(self._calls, chunk_size=chunk_size, multipart_limit=multipart_limit)

    # -- plumbing --------------------------------------------------------------------------

    @property
    def credentials(self) -> Credentials:
        """The credentials every request uses (refreshed in place when the token expires)."""
        return self._calls.credentials

    @property
    def pacer(self) -> Pacer:
        return self._calls.pacer

    @pacer.setter
    def pacer(self, pacer: Pacer) -> None:
        self._calls.pacer = pacer

    @property
    def retry(self) -> RetryPolicy:
        return self._calls.retry

    @property
    def write_pacer(self) -> WritePacer:
        """This account's write pacer (its current rate is what a push's ETA counts on)."""
        return self._calls.write_pacer

    @property
    def write_stats(self) -> WriteStats:
        """Write calls sent so far and those Drive refused for rate (the push summary's counts)."""
        return self._calls.write_stats

    @property
    def bytes_sent(self) -> int:
        """Media bytes sent so far by this client, resends included (for summaries and tests)."""
        return self._transports.bytes_sent

    def _call(self, make: RequestMaker, *, what: str, writes: int = 0) -> Any:
        return self._calls.call(make, what=what, writes=writes)

    def close(self) -> None:
        """Close every thread's connections (they reopen on next use)."""
        self._transports.close()

    def __enter__(self) -> "DriveClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- account and ids -------------------------------------------------------------------

    def about_email(self) -> str:
        res = self._call(lambda st: st.service.about().get(fields="user(emailAddress)").execute(num_retries=0),
                         what="about.get")
        return res.get("user", {}).get("emailAddress", "")

    def about_user(self) -> tuple[str, str]:
        """The signed-in account as (emailAddress, permissionId): the permission ID stays the
        same if the account's address changes, so it is what tells two accounts apart."""
        res = self._call(
            lambda st: st.service.about().get(fields="user(emailAddress,permissionId)").execute(num_retries=0),
            what="about.get")
        user = res.get("user", {})
        return str(user.get("emailAddress", "")), str(user.get("permissionId", ""))

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

    def revision_modified_ms(self, file_id: str, revision_id: str) -> int:
        """When a revision's content was written: unlike the file's `modifiedTime`, which a
        rename moves too, this stays the time of the content."""
        res = self._call(
            lambda st: st.service.revisions().get(fileId=file_id, revisionId=revision_id,
                                                  fields="modifiedTime").execute(num_retries=0),
            what="revisions.get",
        )
        return drive_time_ms(res.get("modifiedTime"))

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

    def find_named(self, name: str, parent_id: str, *, folders_only: bool = False) -> list[DriveFile]:
        """Items (or only folders) called exactly `name` in `parent_id`, not trashed; names are
        not unique on Drive. Drive's `name = '...'` ignores case, so "Dana" would also find
        "dana"'s folder: the names are checked again here."""
        q = f"name = '{escape_q(name)}' and '{escape_q(parent_id)}' in parents and trashed = false"
        if folders_only:
            q += f" and mimeType = '{FOLDER_MIME}'"
        return [f for f in self._list(q) if f.name == name]

    def find_folders(self, name: str, parent_id: str) -> list[DriveFile]:
        """Folders called exactly `name` in `parent_id` (not trashed), see `find_named`."""
        return self.find_named(name, parent_id, folders_only=True)

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
                changes.append(remote_change_from_api(ch))
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
        st = self._calls.state()
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
            except RUN_ENDING:
                raise
            except DriveApiError as err:
                results[fid] = err
        return results

    def get_many(self, file_ids: Sequence[str]) -> dict[str, DriveFile | DriveApiError]:
        """`get` for many IDs, in batches of ≤ 100: per ID the DriveFile or its error (NotFound...)."""
        requests = {fid: (lambda st, fid=fid: st.files.get(fileId=fid, fields=FILE_FIELDS)) for fid in file_ids}
        return {fid: r if isinstance(r, DriveApiError) else DriveFile.from_api(r)
                for fid, r in run_batch(self._calls, requests, what="batch files.get").items()}

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
        media = empty_media(item.mime_type)
        res = self._call(
            lambda st: st.files.update(fileId=item.id, body=body, media_body=media,
                                       fields=FILE_FIELDS).execute(num_retries=0),
            what="upload (multipart)", writes=1,
        )
        return DriveFile.from_api(res)

    def _create_batched(self, bodies: dict[str, dict[str, Any]],
                        results: dict[str, DriveFile | DriveApiError]) -> list[str]:
        """Metadata-only `files.create` of each body (keyed by its ID) in batches; fills
        `results` and returns the IDs that answered `409 fileIdInUse` (already created)."""
        requests = {fid: (lambda st, body=body: st.files.create(body=body, fields=FILE_FIELDS))
                    for fid, body in bodies.items()}
        in_use: list[str] = []
        for fid, r in run_batch(self._calls, requests, what="batch files.create", writes=True).items():
            if isinstance(r, DriveApiError):
                if r.status == 409 and r.reason == "fileIdInUse":
                    in_use.append(fid)
                else:
                    results[fid] = r
            else:
                results[fid] = DriveFile.from_api(r)
        return in_use

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
            return self._uploader.upload(
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
        return self._uploader.upload(
            lambda st, media: st.files.update(fileId=file_id, body=body, media_body=media, fields=FILE_FIELDS),
            local_path, size, progress, source, resume,
        )

    def update_metadata(self, file_id: str, *, modified_ms: int | None = None, trashed: bool | None = None,
                        name: str | None = None, move_from: str | None = None,
                        move_to: str | None = None) -> DriveFile:
        """Change modifiedTime, trashed, the name and/or the parent (`move_from` → `move_to`)
        without uploading anything: one request, whatever a folder holds."""
        body: dict[str, Any] = {}
        if modified_ms is not None:
            body["modifiedTime"] = to_rfc3339(modified_ms)
        if trashed is not None:
            body["trashed"] = trashed
        if name is not None:
            body["name"] = name
        parents: dict[str, str] = {}
        if move_to is not None and move_to != move_from:
            parents = {"addParents": move_to, **({"removeParents": move_from} if move_from else {})}
        res = self._call(
            lambda st: st.files.update(fileId=file_id, body=body, fields=FILE_FIELDS, **parents).execute(
                num_retries=0),
            what="files.update", writes=1,
        )
        return DriveFile.from_api(res)

    def pin_revision(self, file_id: str, revision_id: str) -> None:
        """Keep a revision forever (before overwriting someone's Drive-side edit)."""
        self._call(
            lambda st: st.service.revisions().update(
                fileId=file_id, revisionId=revision_id, body={"keepForever": True}, fields="id,keepForever",
            ).execute(num_retries=0),
            what="revisions.update", writes=1,
        )

