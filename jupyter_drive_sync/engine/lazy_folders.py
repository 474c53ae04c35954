"""Folders just in time: under the work-first order (`plan_order`), each of a wave's new
folders is created by a pool task queued just before the first task that needs it, so the
first notebook is on Drive after its own folders, not after all of them.

Still one write per folder, a folder's task waiting for its parent's (parents first), pending
IDs known before any folder exists. Creating is the executor's (`make`): this only schedules.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Callable

from ..core.model import Action


class LazyFolders:
    """A wave's new folders (`plan_order.folders_just_in_time` says where each one goes)."""

    def __init__(self, folders: list[Action], folder_ids: dict[str, str], failed: set[str],
                 make: Callable[[list[Action]], bool]) -> None:
        """`make(chain)` creates the chain's folders (recording failures in `failed`); False
        when it did not start (out of time, run ending), so nothing was made."""
        self.folders = folders
        self.paths = {a.path for a in folders}
        self.failed = failed
        self._make = make
        self._tasks: dict[str, Future] = {}  # folder path -> the task creating it
        self._made: set[str] = set()
        for a in folders:
            folder_ids[a.path] = a.drive_id  # pending IDs: known before the folders exist

    def made(self, path: str) -> bool:
        """Whether the folder at `path` is on Drive as far as this wave knows (not one of its
        new folders, or created by now)."""
        return path not in self.paths or path in self._made

    def waits_for(self, a: Action) -> list[Future]:
        """The task that creates `a`'s parent folder, if it is one of the wave's new ones."""
        task = self._tasks.get(a.parent_path or "")
        return [task] if task is not None else []

    def submit(self, pool: ThreadPoolExecutor, chain: list[Action]) -> Future:
        """Queue the creation of `chain` (parents first), after the tasks making their parents.
        Tasks only ever wait for tasks queued before them, so the pool cannot deadlock."""
        inside = {a.path for a in chain}
        waits = list({id(t): t for a in chain if (a.parent_path or "") not in inside
                      for t in self.waits_for(a)}.values())
        task = pool.submit(self._create, chain, waits)
        for a in chain:
            self._tasks[a.path] = task
        return task

    def _create(self, chain: list[Action], waits: list[Future]) -> None:
        if waits:
            wait(waits)
        if self._make(chain):
            self._made.update(a.path for a in chain if a.path not in self.failed)
