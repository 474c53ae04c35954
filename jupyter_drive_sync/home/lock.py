"""One push or restore per home at a time, across processes and hosts sharing the home.

A `flock` on `push.lock` beside the state DB: the kernel drops it when the holder dies, so a
crashed run never leaves a home locked, and the holder's pid, kind and start time in the file
let a refused caller (or status) say who is running.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import stat
import time
from pathlib import Path
from typing import Any

from ..core.errors import AlreadyRunning
from .machine_errors import environment_problem
from .private_dir import UnsafeStateDir, give_entries_to_folder_owner, match_folder_owner, open_private_dir

LOCK_NAME = "push.lock"


class HomeLock:
    """One push (or restore) per home at a time, across processes: `fcntl.flock` on
    `push.lock` beside the state DB. The holder writes its pid, kind and start time into the
    file so that a refused caller can say who holds it. The kernel drops the lock when the
    holder dies, so a crashed run never leaves the home locked.

    Also exclusive within one process (each acquire opens its own file description).
    """

    def __init__(self, state_dir: Path | str, *, kind: str = "push") -> None:
        self.state_dir = Path(state_dir)
        self.path = self.state_dir / LOCK_NAME
        self.kind = kind
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def _open(self) -> int:
        """The lock file, opened through the state dir's descriptor (no symlink followed on the
        way); anything but a regular file of its own there (a FIFO, a symlink, a hard link) is replaced.

        A folder or lock file this run may not open (another owner: an admin's run as root), a
        full disk or no descriptor left is an EnvironmentProblem that names the path and its
        owner. A lock file of another owner is never replaced: its owner may hold it right now.
        """
        try:
            dfd = open_private_dir(self.state_dir)
        except UnsafeStateDir:
            raise
        except OSError as exc:
            raise _problem(exc, "drive-sync's state folder", self.state_dir) from None
        try:
            return self._open_in(dfd)
        except UnsafeStateDir:
            raise
        except OSError as exc:
            raise _problem(exc, "the home's lock file", self.path) from None
        finally:
            os.close(dfd)

    def _open_in(self, dfd: int) -> int:
        """The lock file in the state dir `dfd`, a regular file (see `_open`)."""
        for _ in range(3):
            try:
                fd = os.open(LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                             0o600, dir_fd=dfd)
            except OSError as exc:
                if exc.errno not in (errno.ELOOP, errno.ENXIO, errno.EISDIR):
                    raise
            else:
                st = os.fstat(fd)
                if stat.S_ISREG(st.st_mode) and st.st_nlink == 1:  # a hard link (to a file of root's?) is replaced
                    try:
                        match_folder_owner(fd, dfd)  # a run as root: the file stays the student's
                    except BaseException:
                        os.close(fd)
                        raise
                    return fd
                os.close(fd)
            try:
                os.unlink(LOCK_NAME, dir_fd=dfd)  # unlink never follows a symlink
            except IsADirectoryError:
                os.rmdir(LOCK_NAME, dir_fd=dfd)
            except FileNotFoundError:
                pass
        raise OSError(errno.EINVAL, "cannot make the home's lock file a regular file", str(self.path))

    def try_acquire(self) -> bool:
        """Take the lock if it is free; False (and nothing held) if another holder has it."""
        if self._fd is not None:
            raise RuntimeError("this HomeLock is already held")
        fd = self._open()
        try:
            _flock_unless_held(fd)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        info = {"pid": os.getpid(), "kind": self.kind, "started": time.time(), "host": os.uname().nodename}
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(info).encode(), 0)
        except OSError as exc:  # a full disk: closing drops the lock again
            os.close(fd)
            raise _problem(exc, "the home's lock file", self.path) from None
        self._fd = fd
        return True

    def acquire(self, *, timeout: float = 0.0, poll: float = 0.1) -> "HomeLock":
        """Take the lock, waiting up to `timeout` seconds; raise `AlreadyRunning` with the holder."""
        deadline = time.monotonic() + max(0.0, timeout)
        while not self.try_acquire():
            if time.monotonic() >= deadline:
                holder = self._read_info()
                what = f"{holder.get('kind', 'a push')} (pid {holder.get('pid', '?')})" if holder else "another run"
                raise AlreadyRunning(f"{what} is already running for this home", holder)
            time.sleep(poll)
        return self

    def release(self) -> None:
        """Let go of the lock; a run as root first gives what it left in the state dir back to
        the home's owner (see private_dir.give_entries_to_folder_owner), while no run can start."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)
        except OSError:
            pass
        if os.geteuid() == 0:
            try:
                dfd = open_private_dir(self.state_dir, create=False)
            except OSError:
                pass
            else:
                try:
                    give_entries_to_folder_owner(dfd)
                finally:
                    os.close(dfd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    def holder(self) -> dict[str, Any] | None:
        """Who holds the lock, as its holder wrote it; None when the lock is free.

        Probes with a shared non-blocking flock, for status displays; an acquirer that meets
        such a probe tries again (`_flock_unless_held`) instead of reporting the home busy.
        """
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None  # not a lock file anything could hold (the next acquire replaces it)
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return _parse_info(os.pread(fd, 4096, 0))
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)

    def _read_info(self) -> dict[str, Any]:
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            return {}
        try:
            return _parse_info(os.pread(fd, 4096, 0)) if stat.S_ISREG(os.fstat(fd).st_mode) else {}
        finally:
            os.close(fd)

    def __enter__(self) -> "HomeLock":
        if self._fd is None:
            self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


_PROBE_GRACE_S = 1.0  # a status probe holds its shared lock for microseconds


def _flock_unless_held(fd: int) -> None:
    """Take the exclusive lock, or raise BlockingIOError if another run holds it.

    A failed exclusive attempt may only mean that a status probe (`holder()`, a shared lock
    held for an instant) was looking: then a shared attempt succeeds, and we try again instead
    of telling a nightly run that the home is busy when nothing runs.
    """
    deadline = time.monotonic() + _PROBE_GRACE_S
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                raise  # an exclusive holder: a real run
            fcntl.flock(fd, fcntl.LOCK_UN)
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.001)


def _problem(exc: OSError, what: str, path: Path) -> OSError | Exception:
    """The EnvironmentProblem that says `exc` in words, or `exc` itself when it is not one."""
    return environment_problem(exc, what, path) or exc


def _parse_info(data: bytes) -> dict[str, Any]:
    try:
        info = json.loads(data.decode())
    except (ValueError, UnicodeDecodeError):
        return {}
    return info if isinstance(info, dict) else {}
