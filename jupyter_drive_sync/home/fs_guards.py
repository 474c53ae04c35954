"""File-system guards: reach files of a home without ever following a symlink out of it.

A home belongs to its user, who may swap any folder for a symlink at any moment, also between
a scan and the read or write that follows it. An ordinary `open()` of `home/a/b` would then
read or write outside the home (for a privileged hub job, any file of the machine). So every
path below the home is reached one component at a time, each opened with O_NOFOLLOW relative
to its parent's descriptor: a symlink anywhere on the way is a refusal, never a redirection.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO, Callable

_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | _O_CLOEXEC
# O_NONBLOCK: a FIFO put where a file was cannot block the reader.
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | _O_CLOEXEC


class NotBeneath(OSError):
    """The path no longer leads to a regular file inside the home without a symlink on the way."""


def open_beneath(home: Path | str, rel: str) -> BinaryIO:
    """Open `home/rel` for reading without following any symlink on the way.

    The scan only saw real folders, but a folder may be swapped for a symlink between the scan
    and the read. The result must be a regular file. Raises NotBeneath, or FileNotFoundError /
    PermissionError as usual.
    """
    home_str = os.path.realpath(os.fspath(home))  # the home itself may be a symlink (scan notes it)
    parts = rel.split("/")
    fd = os.open(home_str, _DIR_FLAGS)
    try:
        for part in parts[:-1]:
            try:
                nfd = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise NotBeneath(exc.errno, "a symbolic link or file replaced a folder on its path "
                                                "since the scan (not followed)") from None
                raise
            os.close(fd)
            fd = nfd
        try:
            ffd = os.open(parts[-1], _FILE_FLAGS, dir_fd=fd)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise NotBeneath(exc.errno, "replaced by a symbolic link since the scan (not followed)") from None
            raise
    finally:
        os.close(fd)
    try:
        if not stat.S_ISREG(os.fstat(ffd).st_mode):
            raise NotBeneath(errno.EINVAL, "no longer a regular file")
        return os.fdopen(ffd, "rb")
    except BaseException:
        os.close(ffd)
        raise


def open_file_at(dir_fd: int, name: str) -> BinaryIO:
    """Open `name` in the folder `dir_fd` for unbuffered reading; a symlink there is refused (ELOOP)."""
    fd = os.open(name, _FILE_FLAGS, dir_fd=dir_fd)
    return os.fdopen(fd, "rb", buffering=0)


class Blocked(Exception):
    """Something that is not a real folder stands where a folder must be."""


class HomeFS:
    """Folders of one home, reached only through O_NOFOLLOW directory descriptors."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.fd = os.open(home, os.O_RDONLY | os.O_DIRECTORY | _O_CLOEXEC)  # the home itself may be a link

    def close(self) -> None:
        os.close(self.fd)

    def _describe(self, dir_fd: int, name: str, rel: str) -> str:
        shown = os.fsencode(rel).decode("utf-8", "backslashreplace")  # printable even if not UTF-8
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except OSError:
            return f"cannot open the folder {shown}"
        if stat.S_ISLNK(st.st_mode):
            return f"a symbolic link is in the way at {shown} (not followed)"
        return f"a file is in the way at {shown}"

    def open_dir(self, rel: str, *, create: bool = False, created: list[str] | None = None) -> int | None:
        """A descriptor for folder `rel` (None if missing and not `create`); Blocked if a
        component is a symlink or not a folder. Folders made on the way are added to `created`."""
        fd = os.dup(self.fd)
        done = ""
        try:
            for part in (rel.split("/") if rel else []):
                done = f"{done}/{part}" if done else part
                try:
                    nfd = os.open(part, _DIR_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        os.close(fd)
                        return None
                    try:
                        os.mkdir(part, 0o777, dir_fd=fd)
                        if created is not None:
                            created.append(done)
                    except FileExistsError:
                        pass
                    try:
                        nfd = os.open(part, _DIR_FLAGS, dir_fd=fd)
                    except OSError as exc:
                        raise Blocked(self._describe(fd, part, done)) from exc
                except OSError as exc:
                    if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
                        raise Blocked(self._describe(fd, part, done)) from exc
                    raise
                os.close(fd)
                fd = nfd
        except BaseException:
            os.close(fd)
            raise
        return fd


def create_part_file(dir_fd: int, name: str) -> int:
    """A fresh, empty temporary file `name` in the folder `dir_fd`, for writing.

    A leftover of a killed run is removed first (unlink never follows a symlink); the create is
    exclusive and refuses a symlink, so a link put there meanwhile is never written through.
    """
    try:
        os.unlink(name, dir_fd=dir_fd)
    except FileNotFoundError:
        pass
    return os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | _O_CLOEXEC, 0o666, dir_fd=dir_fd)


def unlink_quietly(dir_fd: int, name: str) -> None:
    """Remove `name` from the folder `dir_fd` if it can be (a cleanup: never fails)."""
    try:
        os.unlink(name, dir_fd=dir_fd)
    except OSError:
        pass


def sweep_parts(dir_fd: int, is_part: Callable[[str], bool]) -> None:
    """Remove a killed restore's temporary files (`is_part` names) from one folder; never a
    link's target."""
    try:
        with os.scandir(dir_fd) as it:
            names = [e.name for e in it if is_part(e.name) and e.is_file(follow_symlinks=False)]
    except OSError:
        return
    for name in names:
        unlink_quietly(dir_fd, name)
