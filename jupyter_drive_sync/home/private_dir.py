"""The tool's own folder inside a home, reached without following any symbolic link.

The nightly job on shared storage (`hub --homes-root`) runs with access to every home, while a
student controls everything inside their own. A student who makes `.local` (or any folder down
to `.local/share/jupyter/drive_sync`, or `credentials.json` itself) a symlink into another home
must not steer that job into using the other student's credentials or state DB (their Drive
would be overwritten) or writing a refreshed token where the student can read it. So from the
home down, each component is opened relative to its parent's descriptor with O_NOFOLLOW; the
home itself may be a symlink (the admin names it).

Every folder the tool writes into (state DB, lock, credentials, the server's records) is made
here, by `open_private_dir`, so they all get the same modes: only the tool's own folder is
0700; folders above it are created with the usual mode, as anything else would make them.
A run as root (the nightly job, an admin's `sudo`) gives what it makes here to the home's
owner (`match_folder_owner`, `give_entries_to_folder_owner`): a root-owned lock or state DB
would lock the student's own server out.

The machine's errors met in this folder are put in words by `home/machine_errors.py`.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path
from typing import Any

from ..core.errors import ConfigError
from ..core.settings import STATE_DIR_REL

STATE_PARTS = tuple(STATE_DIR_REL.split("/"))
OWN_DIR_NAME = STATE_PARTS[-1]  # "drive_sync": a folder of this name is the tool's, so made private
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | _O_CLOEXEC


class UnsafeStateDir(ConfigError, OSError):
    """A symlink or a file stands where the tool's own folder (or one above it) must be.

    An OSError (as before) and a ConfigError, so the CLI prints one line (exit 2) and the
    server reports it in words instead of as an unexpected error.
    """


def split_state_path(path: Path | str) -> tuple[Path, tuple[str, ...]]:
    """(where the tool's own components start, those components).

    For `<home>/.local/share/jupyter/drive_sync` that is the home and the four names, all of
    which belong to the student; any other folder is taken as given, except its last name.
    """
    p = Path(path)
    n = len(STATE_PARTS)
    if len(p.parts) >= n and tuple(p.parts[-n:]) == STATE_PARTS:
        return Path(*p.parts[:-n]) if len(p.parts) > n else Path("."), STATE_PARTS
    return p.parent, (p.name,)


def in_home_state_dir(file_path: Path | str) -> bool:
    """Whether `file_path` is a file directly in a home's `.local/share/jupyter/drive_sync`."""
    parent = Path(file_path).parent
    return split_state_path(parent)[1] == STATE_PARTS


def _refuse(path: Path, exc: OSError) -> UnsafeStateDir:
    return UnsafeStateDir(
        errno.ENOTDIR,
        f"drive-sync keeps its state only in a real folder inside the home, but a symbolic link or "
        f"a file is in the way at {path} or a folder above it (not followed)",
        str(path),
    )


def open_private_dir(path: Path | str, *, create: bool = True) -> int:
    """A descriptor of folder `path`, which only its owner may enter (0700).

    In a home's state dir every folder from the home down is opened without following a
    symlink (UnsafeStateDir when a symlink or a file is in the way). Any other folder is an
    admin's choice (`--credentials` elsewhere; a Kubernetes Secret mount is made of symlinks)
    and is taken as given.

    Missing folders are created when `create`, else FileNotFoundError: the last one 0700, those
    above it with the usual mode. The last folder is made 0700 when we created it or it is the
    tool's own (`drive_sync`) and ours; any other existing folder (a home, /tmp, a mount) keeps
    its mode: the files in it are 0600 anyway, and a user's home permissions are not ours.
    """
    path = Path(path)
    base, names = split_state_path(path)
    if names != STATE_PARTS:
        fd, created = _open_as_given(path, create)
    else:
        fd, created = _open_without_symlinks(path, base, names, create)
    try:
        st = os.fstat(fd)
        ours = created or path.name == OWN_DIR_NAME
        if ours and stat.S_IMODE(st.st_mode) != 0o700 and st.st_uid == os.geteuid():
            try:
                os.fchmod(fd, 0o700)  # someone else's folder (a mount) is left as it is
            except OSError:
                if create:
                    raise  # a read-only place: reading may go on, writing will fail anyway
    except BaseException:
        os.close(fd)
        raise
    return fd


def match_folder_owner(fd: int, folder: int | Path | str) -> None:
    """Run as root (the nightly job on shared storage, an admin's `sudo`), give the file or
    folder open as `fd` to the owner of the folder it is in (a descriptor, or a path).

    What the tool writes in a home must stay the student's: a root-owned lock file or state DB
    would lock the student's own server out of its backups. Only ever by descriptor (no name is
    followed); a no-op for any other user, who cannot give files away anyway.
    """
    if os.geteuid() != 0:
        return
    owner = os.fstat(folder) if isinstance(folder, int) else os.stat(folder)
    st = os.fstat(fd)
    if (st.st_uid, st.st_gid) != (owner.st_uid, owner.st_gid) and not _hard_linked(st):
        os.fchown(fd, owner.st_uid, owner.st_gid)


def _hard_linked(st: os.stat_result) -> bool:
    """A file with another name elsewhere (a student's hard link to /etc/shadow, where the kernel
    allows it): root must never give it away."""
    return not stat.S_ISDIR(st.st_mode) and st.st_nlink > 1


def give_entries_to_folder_owner(dir_fd: int) -> None:
    """Run as root, give every entry directly in the folder `dir_fd` (the tool's own) to the
    folder's owner: what a root run left there (refreshed credentials, SQLite's side files, a
    DB moved aside, files of older versions run as root). Never follows a symlink."""
    if os.geteuid() != 0:
        return
    owner = os.fstat(dir_fd)
    for name in os.listdir(dir_fd):
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            if (st.st_uid, st.st_gid) != (owner.st_uid, owner.st_gid) and not _hard_linked(st):
                os.chown(name, owner.st_uid, owner.st_gid, dir_fd=dir_fd, follow_symlinks=False)
        except OSError:  # gone meanwhile, or a file system without owners
            continue


def ensure_private_dir(path: Path | str) -> Path:
    """Make sure folder `path` exists as `open_private_dir` leaves it; returns `path`."""
    os.close(open_private_dir(path))
    return Path(path)


def _open_as_given(path: Path, create: bool) -> tuple[int, bool]:
    """(descriptor, whether the last folder was created now) for a folder outside any home."""
    created = False
    if create and not path.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            path.mkdir(0o700)
            created = True
        except FileExistsError:
            pass
    return os.open(path, os.O_RDONLY | os.O_DIRECTORY | _O_CLOEXEC), created


def _open_without_symlinks(path: Path, base: Path, names: tuple[str, ...], create: bool) -> tuple[int, bool]:
    """(descriptor, whether the last folder was created now), walking down from `base` with
    O_NOFOLLOW (`base`, the home, may itself be a symlink: the admin names it)."""
    if create:
        base.mkdir(parents=True, exist_ok=True)
    created = False
    fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY | _O_CLOEXEC)
    try:
        for i, name in enumerate(names):
            last = ours = i == len(names) - 1
            try:
                nfd = os.open(name, _DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                try:  # folders above ours (.local, share) as anything else makes them; ours 0700
                    os.mkdir(name, 0o700 if last else 0o777, dir_fd=fd)
                    created, ours = last, True
                except FileExistsError:
                    pass
                try:
                    nfd = os.open(name, _DIR_FLAGS, dir_fd=fd)
                except OSError as exc:
                    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                        raise _refuse(path, exc) from None
                    raise
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise _refuse(path, exc) from None
                raise
            if create and ours:  # ours, or made now (by root, in a student's home): the student's
                try:
                    match_folder_owner(nfd, fd)
                except BaseException:
                    os.close(nfd)
                    raise
            os.close(fd)
            fd = nfd
    except BaseException:
        os.close(fd)
        raise
    return fd, created


def fsync_dir_fd(fd: int) -> None:
    """Make a rename in this folder survive a crash (best effort: some filesystems refuse)."""
    try:
        os.fsync(fd)
    except OSError:
        pass


def read_small_json(path: Path | str, limit: int = 1024 * 1024) -> Any:
    """The JSON in a small file of the state dir, or None if it is missing, not a regular file
    (a FIFO there would block the reader for good), larger than `limit` or not JSON."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | _O_CLOEXEC)
    except OSError:
        return None
    try:
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                return None
            data = fh.read(limit + 1)
    except OSError:
        return None
    if len(data) > limit:
        return None
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
