"""The machine's errors met in the tool's own folder, put in words once.

Permissions, another owner, a full disk, no descriptor left: the lock, the state DB and the
credentials all meet them, and the student or admin needs one sentence saying what is in the
way and who can fix it, not a traceback. `environment_problem` and `state_db_problem` turn them
into an EnvironmentProblem (exit 2); anything else is left to the caller.
"""

from __future__ import annotations

import errno
import os
import resource
import sqlite3
import stat
from pathlib import Path

from ..core.errors import EnvironmentProblem

_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


# errno values that say "the machine is in the way" rather than "this file is odd"
_NO_ACCESS = frozenset({errno.EACCES, errno.EPERM})
_NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})
_NO_DESCRIPTORS = frozenset({errno.EMFILE, errno.ENFILE})
ENVIRONMENT_ERRNOS = _NO_ACCESS | _NO_SPACE | _NO_DESCRIPTORS | {errno.EROFS, errno.ENOMEM}


def environment_problem(exc: OSError, what: str, path: Path | str | None = None) -> EnvironmentProblem | None:
    """`exc` as one sentence a student or admin can act on, or None when it is not a problem of
    the machine (then the caller handles it as before).

    `what` names the thing ("the state DB"); `path` is where (the errno's own file name is often
    only the last component, when the file was opened relative to its folder). For a permission
    problem, the owner of the file (or of the nearest folder above it this run can see) is
    named: a run of the wrong user (root's nightly job, an admin's `sudo`) is the usual cause.
    """
    code = exc.errno
    if code not in ENVIRONMENT_ERRNOS:
        return None
    where = str(path if path is not None else (exc.filename or ""))
    at = f" {where}" if where else ""
    if code in _NO_ACCESS:
        text = f"cannot open {what}{at}: permission denied{_owner_hint(where)}"
    elif code in _NO_SPACE:
        text = f"cannot write {what}{at}: no space left on the device (or the disk quota is used up); free some space"
    elif code in _NO_DESCRIPTORS:
        text = f"cannot open {what}{at}: too many open files; raise the limit (`ulimit -n`, now {_nofile_limit()})"
    elif code == errno.EROFS:
        text = f"cannot write {what}{at}: the file system is read-only"
    else:
        text = f"cannot open {what}{at}: out of memory"
    return EnvironmentProblem(text)


# SQLite's primary result codes (https://sqlite.org/rescode.html) of a machine in the way.
# SQLITE_CORRUPT and SQLITE_NOTADB are not among them: such a file is moved aside by the caller.
_SQLITE_PERM, _SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_NOMEM, _SQLITE_READONLY = 3, 5, 6, 7, 8
_SQLITE_IOERR, _SQLITE_FULL, _SQLITE_CANTOPEN = 10, 13, 14
_SQLITE_ENVIRONMENT = frozenset({_SQLITE_PERM, _SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_NOMEM, _SQLITE_READONLY,
                                 _SQLITE_IOERR, _SQLITE_FULL, _SQLITE_CANTOPEN})


def sqlite_problem(exc: sqlite3.Error, path: Path | str) -> EnvironmentProblem | None:
    """A SQLite error on the state DB `path` as one sentence, or None when the file itself is bad
    (not a database, corrupt, another schema: the caller moves it aside).

    SQLite says "unable to open database file" for a permission, another owner, or no
    descriptor left alike, on the DB or its -wal/-shm files; opening them here finds which.
    """
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    if primary not in _SQLITE_ENVIRONMENT:
        return None
    if primary == _SQLITE_FULL:
        return environment_problem(OSError(errno.ENOSPC, "full"), "the state DB", path)
    if primary == _SQLITE_CANTOPEN and _short_of_descriptors():  # SQLite's own descriptors are closed again by now
        return environment_problem(OSError(errno.EMFILE, "too many"), "the state DB", path)
    for candidate in (Path(path), Path(f"{path}-wal"), Path(f"{path}-shm"), Path(path).parent):
        try:
            fd = os.open(candidate, (os.O_RDONLY if candidate == Path(path).parent else os.O_RDWR)
                         | os.O_NOFOLLOW | os.O_NONBLOCK | _O_CLOEXEC)
        except FileNotFoundError:
            continue
        except OSError as probe:
            problem = environment_problem(probe, "the state DB", candidate)
            if problem is not None:
                return problem
            continue
        os.close(fd)
    if primary == _SQLITE_CANTOPEN:
        return None  # nothing of the machine: odd side files (a symlink as -wal), moved aside with the DB
    if primary in (_SQLITE_BUSY, _SQLITE_LOCKED):
        what = "another process keeps the state DB busy"
    else:
        what = f"SQLite says {exc}"
    return EnvironmentProblem(f"cannot use the state DB {path}: {what}")


def state_db_problem(exc: OSError | sqlite3.Error, path: Path | str) -> EnvironmentProblem | None:
    """An error opening the state DB `path` (or its folder) as one sentence when the machine is
    in the way; None when the file itself is bad (the caller moves it aside) or for other errors."""
    if isinstance(exc, sqlite3.Error):
        return sqlite_problem(exc, path)
    if exc.errno in _NO_ACCESS and not os.path.lexists(path):
        return environment_problem(exc, "drive-sync's state folder", Path(path).parent)
    return environment_problem(exc, "the state DB", path)


def raise_if_machine_problem(exc: BaseException | None, path: Path | str) -> None:
    """Raise the EnvironmentProblem that a SQLite error on the state DB `path` is, if it is one
    (a write that failed on a full disk: every later write would fail too, so it ends the run)."""
    if isinstance(exc, sqlite3.OperationalError):
        problem = sqlite_problem(exc, path)
        if problem is not None:
            raise problem from None


def _owner_hint(where: str) -> str:
    """" (it belongs to uid N, this run is uid M: ...)" for the file, or the nearest folder above
    it this run can see, when another user owns it; its mode when it is ours; "" otherwise."""
    if not where:
        return ""
    me = os.geteuid()
    p = Path(where)
    for candidate in (p, *p.parents):
        try:
            st = os.lstat(candidate)
        except OSError:
            continue
        if st.st_uid == me:
            if candidate == p:
                return f" (mode {stat.S_IMODE(st.st_mode):o}, this run is uid {me})"
            return ""  # a folder of ours above it: the trouble is below, unseen
        this = "it belongs" if candidate == p else f"{candidate} belongs"
        return f" ({this} to uid {st.st_uid}, this run is uid {me}: the admin must give it back, e.g. chown)"
    return ""


def _short_of_descriptors(needed: int = 4) -> bool:
    """Whether this process has fewer than `needed` descriptors left (a DB with its -wal and
    -shm files, and the folder they are in)."""
    try:
        in_use = len(os.listdir("/proc/self/fd"))
        limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (OSError, ValueError):
        return False
    return limit != resource.RLIM_INFINITY and in_use + needed > limit


def _nofile_limit() -> str:
    try:
        return str(resource.getrlimit(resource.RLIMIT_NOFILE)[0])
    except (OSError, ValueError):
        return "unknown"
