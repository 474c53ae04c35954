"""Files that were empty at the scan: created in batch requests, metadata only (no media), up
to Drive's limit of calls per batch, each with its pending ID.

Each is stat'ed again first, reached as an upload would reach it (no symlink on the way): one
that grew since goes the normal way (an upload), one gone or unreadable is reported as an
upload would report it.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import Future, wait
from dataclasses import replace
from typing import Any, Callable, Mapping

from ..core.model import Action, LocalEntry, StateEntry, clamp_mtime_ns, ns_to_ms
from ..drive.errors import DriveApiError
from ..drive.types import NewEmptyFile, mime_type_for
from ..home.fs_guards import open_beneath
from .executor_base import RUN_ENDING, ExecutorBase, synced_row
from .id_supply import id_refused
from .lazy_folders import LazyFolders

log = logging.getLogger(__name__)

EMPTY_BATCH = 100  # empty files per batch request (Drive's limit on calls in a batch)


class EmptyFileBatches(ExecutorBase):
    """The executor's steps for files that were empty at the scan."""

    def _empties_when_placed(self, group: list[Action], waits: list[Future], lazy: LazyFolders | None,
                             parent_id: Callable[[Action], str | None]) -> None:
        """A batch of empty files, those whose folder is on Drive (see `_empty_batch`)."""
        if waits:
            wait(waits)
        placed = [(a, pid) for a in group if (pid := self._placed_in(a, [], lazy, parent_id)) is not None]
        if placed:
            self._unless_ending(self._empty_batch, placed, gets_ahead=True)

    def _empty_batch(self, group: list[tuple[Action, str]]) -> None:
        """Create files that were empty at the scan in one batch request (metadata only).

        Each is stat'ed again first (safely, as an upload would open it): one that is no longer
        empty goes the normal way (an upload), one that is gone or unreadable is reported as an
        upload would report it. Drive gets the mtime seen now, and the state DB records what
        Drive confirmed, as for any create.
        """
        still_empty: list[tuple[Action, LocalEntry]] = []
        items: list[NewEmptyFile] = []
        grown: list[tuple[Action, str]] = []
        for a, pid in group:
            st = self.guard(a, lambda a=a: self._restat(a))
            if st is None:
                continue
            if st.st_size:
                grown.append((a, pid))
                continue
            assert a.drive_id is not None
            mtime_ns = clamp_mtime_ns(st.st_mtime_ns)  # as the scan sees it
            still_empty.append((a, LocalEntry(a.path, False, 0, mtime_ns, st.st_ino)))
            items.append(NewEmptyFile(a.drive_id, a.path.rpartition("/")[2], pid, ns_to_ms(mtime_ns),
                                      mime_type_for(self.home / a.path)))
        if items:
            self.report.emit("uploading", still_empty[0][0].path)
            results = self._create_empties(items)
            refused = [a for a, _ in still_empty if id_refused(results.get(a.drive_id), a.drive_id)]
            if refused:  # fresh IDs for those, and one more batch (see id_supply)
                renewed = self.ids.renew(refused)
                by_id = {f.id: f for f in items}
                retry = [replace(by_id[a.drive_id], id=renewed[a.path].drive_id) for a in refused]
                still_empty = [(renewed.get(a.path, a), local) for a, local in still_empty]
                results.update(self._create_empties(retry))
            self._record_empties(still_empty, results)
        for a, pid in grown:
            self.guard(a, lambda a=a, pid=pid: self._file(a, pid))

    def _create_empties(self, items: list[NewEmptyFile]) -> dict[str, Any]:
        """One batch of empty-file creates: per ID the DriveFile or the error (run-ending ones raise)."""
        try:
            return self.client.create_empty_files(items)
        except RUN_ENDING:
            raise
        except Exception as exc:  # noqa: BLE001 - as guard does, for each file of the batch
            if not isinstance(exc, DriveApiError):
                log.exception("unexpected error creating %d empty files", len(items))
            return {f.id: exc for f in items}

    def _record_empties(self, created: list[tuple[Action, LocalEntry]], results: Mapping[str, Any]) -> None:
        """Record what the batch confirmed (one transaction), report what it did not."""
        rows: list[StateEntry] = []
        done: list[tuple[Action, LocalEntry]] = []
        for a, local in created:
            r = results.get(a.drive_id or "")
            if r is None:
                self.report.fail(a.path, "not created")
            elif isinstance(r, Exception):
                self.report.fail(a.path, str(r) if isinstance(r, DriveApiError) else f"{type(r).__name__}: {r}")
            else:
                rows.append(synced_row(a.path, r, local))
                done.append((a, local))
        self.db.record_synced_many(rows)
        self.report.files_confirmed(len(done))
        for a, _ in done:
            self.report.count(a)
        if done:
            self.report.emit("uploading", done[-1][0].path)
        for a, local in done:
            if self._changed_since(a.path, local):
                self.report.skip(a.path, "changed while it was being uploaded: Drive has the empty version seen "
                                         "then; the next push sends it again")

    def _restat(self, a: Action) -> os.stat_result | None:
        """The file's stat now, reached the way an upload reaches it (no symlink on the way);
        None, reported, if it is no longer a regular file beneath the home."""
        fh = self._open_source(a)
        if fh is None:
            return None
        with fh:
            return os.fstat(fh.fileno())

    def _changed_since(self, path: str, local: LocalEntry) -> bool:
        """Whether `path` no longer matches `local` (quietly False if it cannot be looked at)."""
        try:
            with open_beneath(self.home, path) as fh:
                st = os.fstat(fh.fileno())
        except OSError:  # NotBeneath too
            return False
        return (st.st_size, clamp_mtime_ns(st.st_mtime_ns)) != (local.size, local.mtime_ns)
