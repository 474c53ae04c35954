"""Walk a home and say what it holds: path → (kind, size, mtime, inode), stat only.

This is the hot path of a no-op push (20,000 files must cost little more than a bare
`os.scandir` + `lstat` walk), so the loop does one `lstat` per entry and a dict lookup for the
exclude rules, nothing else. It never follows a symlink and never leaves the home: every
`stat` is `follow_symlinks=False`, and only real directories are descended into.

Anything the walk refuses is reported as `Skipped(path, reason)`, never raised: a run must not
crash on a strange file.
"""

from __future__ import annotations

import hashlib
import os
import stat as st_mod
from pathlib import Path
from typing import BinaryIO, Iterable, Mapping

from .excludes import Excludes, rule_key
from .fs_guards import open_beneath
from ..core.model import (
    MTIME_MAX_NS, MTIME_MIN_NS, RESTORE_PART_SUFFIX, EntryStatus, LocalEntry, Skipped, Snapshot, StateEntry,
    clamp_mtime_ns,
)
from ..core.settings import STATE_DIR_REL

MD5_READ_SIZE = 1024 * 1024

_S_ISDIR = st_mod.S_ISDIR
_S_ISREG = st_mod.S_ISREG


def display_path(rel: str) -> str:
    """A printable, JSON-safe form of a relative path whose name may not be valid UTF-8."""
    try:
        rel.encode("utf-8")
        return rel
    except UnicodeEncodeError:
        return os.fsencode(rel).decode("utf-8", "backslashreplace")


def _kind_of(mode: int) -> str:
    if st_mod.S_ISLNK(mode):
        return "symbolic link (not followed)"
    if st_mod.S_ISSOCK(mode):
        return "socket (not a regular file)"
    if st_mod.S_ISFIFO(mode):
        return "named pipe (FIFO, not read)"
    if st_mod.S_ISCHR(mode) or st_mod.S_ISBLK(mode):
        return "device file (not read)"
    return "not a regular file or folder"


def mode_allows_read(mode: int, uid: int, gid: int, *, is_dir: bool, euid: int, groups: frozenset[int]) -> bool:
    """Whether the permission bits let `euid` read a file (or list and enter a directory).

    Root reads everything (DAC override), so for uid 0 the answer is always yes; a file root
    still cannot open (root-squashed NFS) fails at upload time and is reported there.
    """
    if euid == 0:
        return True
    if uid == euid:
        need = st_mod.S_IRUSR | (st_mod.S_IXUSR if is_dir else 0)
    elif gid in groups:
        need = st_mod.S_IRGRP | (st_mod.S_IXGRP if is_dir else 0)
    else:
        need = st_mod.S_IROTH | (st_mod.S_IXOTH if is_dir else 0)
    return mode & need == need


def _confirm_unreadable(path: str, is_dir: bool) -> bool:
    """Second opinion from the kernel (ACLs may grant what the mode bits deny); rare path."""
    want = os.R_OK | (os.X_OK if is_dir else 0)
    kwargs = {"effective_ids": True} if os.access in os.supports_effective_ids else {}
    try:
        return not os.access(path, want, follow_symlinks=False, **kwargs)
    except (NotImplementedError, OSError):
        return not os.access(path, want)


def scan(home: Path | str, excludes: Excludes | None, *, max_file_size: int) -> Snapshot:
    """Walk `home` and return every included file and folder, plus what was refused and why.

    If the home itself is a symlink it is resolved once, here, and a note says so; below it
    nothing is followed. Raises only if the home itself is missing or not a directory.
    """
    snap = Snapshot()
    entries = snap.entries
    skipped = snap.skipped
    excluded = snap.excluded
    home_str = os.fspath(home)
    if os.path.islink(home_str):
        real = os.path.realpath(home_str)
        snap.notes.append(f"the home {home_str} is a symbolic link; scanned its target {real}")
        home_str = real
    if not _S_ISDIR(os.stat(home_str).st_mode):
        raise NotADirectoryError(home_str)

    if excludes is None:
        excludes = Excludes(defaults=(), always=False)
    why = excludes.why
    by_name = excludes.names  # fast pre-check: built-in rules are keyed by the entry's folded name
    key = rule_key
    user_rules = excludes.has_user_rules
    euid = os.geteuid()
    groups = frozenset((os.getegid(), *os.getgroups()))
    check_perms = euid != 0
    limit = max_file_size
    # Per-entry work is the whole cost of a no-op push: local names for everything the loop
    # touches, and entries built with tuple.__new__ (LocalEntry is a NamedTuple) instead of
    # a Python-level constructor call.
    new_entry = tuple.__new__
    entry_cls = LocalEntry
    is_reg = _S_ISREG
    is_dir_mode = _S_ISDIR
    own_read = st_mod.S_IRUSR
    own_list = st_mod.S_IRUSR | st_mod.S_IXUSR
    part_suffix = RESTORE_PART_SUFFIX
    # mtimes the state DB and Drive cannot hold (after 2262, before 1677) are clamped to the
    # range's end, the same way every run (see core/model.py): one comparison per entry
    t_min, t_max, clamp = MTIME_MIN_NS, MTIME_MAX_NS, clamp_mtime_ns

    stack: list[tuple[str, str]] = [(home_str, "")]
    pop = stack.pop
    push = stack.append
    while stack:
        dir_abs, prefix = pop()
        try:
            it = os.scandir(dir_abs)
        except FileNotFoundError:
            skipped.append(Skipped(display_path(prefix[:-1]), "disappeared during the scan"))
            continue
        except NotADirectoryError:
            skipped.append(Skipped(display_path(prefix[:-1]), "replaced by a non-folder during the scan"))
            continue
        except OSError as exc:
            skipped.append(Skipped(display_path(prefix[:-1]), f"cannot list this folder: {exc.strerror or exc}"))
            continue
        try:
            with it:
                for entry in it:
                    name = entry.name
                    rel = prefix + name
                    if not name.isascii():
                        try:
                            name.encode("utf-8")
                        except UnicodeEncodeError:
                            skipped.append(Skipped(display_path(rel), "name is not valid UTF-8 (Drive names must be)"))
                            continue
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except FileNotFoundError:
                        skipped.append(Skipped(rel, "disappeared during the scan"))
                        continue
                    except OSError as exc:
                        skipped.append(Skipped(rel, f"cannot stat: {exc.strerror or exc}"))
                        continue
                    mode = st.st_mode
                    if is_reg(mode):
                        if name[0] == "." and name.endswith(part_suffix):
                            excluded.append(rel)
                            continue
                        if (user_rules or key(name) in by_name) and why(rel, False) is not None:
                            excluded.append(rel)
                            continue
                        if check_perms and (st.st_uid != euid or not mode & own_read) and not mode_allows_read(
                            mode, st.st_uid, st.st_gid, is_dir=False, euid=euid, groups=groups
                        ) and _confirm_unreadable(entry.path, False):
                            skipped.append(Skipped(rel, "not readable (permission denied)"))
                            continue
                        size = st.st_size
                        if size > limit:
                            skipped.append(Skipped(rel, f"larger than the size limit ({size} > {limit} bytes)"))
                            continue
                        mtime = st.st_mtime_ns
                        if not t_min <= mtime <= t_max:
                            mtime = clamp(mtime)
                        entries[rel] = new_entry(entry_cls, (rel, False, size, mtime, st.st_ino))
                    elif is_dir_mode(mode):
                        if (user_rules or key(name) in by_name) and why(rel, True) is not None:
                            excluded.append(rel)
                            continue
                        if check_perms and (st.st_uid != euid or mode & own_list != own_list) and not mode_allows_read(
                            mode, st.st_uid, st.st_gid, is_dir=True, euid=euid, groups=groups
                        ) and _confirm_unreadable(entry.path, True):
                            skipped.append(Skipped(rel, "folder not readable (permission denied)"))
                            continue
                        mtime = st.st_mtime_ns
                        if not t_min <= mtime <= t_max:
                            mtime = clamp(mtime)
                        entries[rel] = new_entry(entry_cls, (rel, True, 0, mtime, st.st_ino))
                        push((entry.path, rel + "/"))
                    else:
                        if (user_rules or key(name) in by_name) and why(rel, False) is not None:
                            excluded.append(rel)
                            continue
                        skipped.append(Skipped(rel, _kind_of(mode), other_kind=True))
        except OSError as exc:  # the directory read itself failed part-way (EIO, stale NFS handle)
            skipped.append(Skipped(display_path(prefix[:-1]), f"listing stopped early: {exc.strerror or exc}"))
    _drop_bare_state_ancestors(entries)
    return snap


def _drop_bare_state_ancestors(entries: dict) -> None:
    """Leave out `.local`, `.local/share`, `.local/share/jupyter` when they hold nothing but the
    tool's own (excluded) state dir: otherwise every student's Drive backup would grow three
    empty folders that are only there because this tool is installed."""
    if ".local" not in entries:
        return
    under_local = [k for k in entries if k.startswith(".local/")]
    parts = STATE_DIR_REL.split("/")
    for depth in range(len(parts) - 1, 0, -1):
        folder = "/".join(parts[:depth])
        prefix = folder + "/"
        if folder in entries and not any(k.startswith(prefix) for k in under_local):
            del entries[folder]
            under_local = [k for k in under_local if k != folder]


def md5_of(fh: BinaryIO) -> str:
    """md5 of what is left to read in `fh` (unbuffered), in 1 MiB pieces."""
    h = hashlib.md5(usedforsecurity=False)
    buf = bytearray(MD5_READ_SIZE)
    view = memoryview(buf)
    while True:
        n = fh.readinto(buf)
        if not n:
            break
        h.update(view[:n])
    return h.hexdigest()


def file_md5(path: Path | str) -> str:
    """md5 of a file's content, read in 1 MiB pieces; a symlink at `path` is refused (ELOOP)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb", buffering=0) as fh:
        return md5_of(fh)


def hash_candidates(home: Path | str, snapshot: Snapshot, state: Mapping[str, StateEntry],
                    also: Iterable[str] = (), known: Mapping[str, str] | None = None) -> dict[str, str]:
    """md5 of the files that may only have been touched: synced row, same size, other mtime.

    Also files that reappear at a path marked deleted with the same size, so that putting a
    file back costs a metadata update, not an upload; and the files of `also` (planning's own
    wishes: a renamed file's content, `engine.plan.paths_to_hash`). A file that cannot be read
    is left out (plan then treats it as changed and push reports the read error). `known`:
    md5s this run has already read (adoption), taken as they are instead of reading again.
    """
    home_str = os.fspath(home)
    if os.path.islink(home_str):
        home_str = os.path.realpath(home_str)
    out: dict[str, str] = dict(known or {})
    synced = EntryStatus.SYNCED
    # Rows in sync on both sides (a `StateRows` from the DB): the same (path, is_dir, size,
    # mtime) tuple means untouched; skip it without building the row.
    clean_get = (getattr(state, "clean", None) or {}).get
    for path, entry in snapshot.entries.items():
        if clean_get(path) == entry:
            continue
        row = state.get(path)
        if (
            row is None
            or path in out
            or entry.is_dir
            or row.is_dir
            or row.status is not synced
            or row.md5 is None
            or entry.size != row.local_size
            or (entry.mtime_ns == row.local_mtime_ns and not row.local_deleted)
        ):
            continue
        _hash_into(out, home_str, path)
    for path in also:
        if path not in out:
            _hash_into(out, home_str, path)
    return out


def _hash_into(out: dict[str, str], home_str: str, path: str) -> None:
    """md5 of `path` into `out`, reached as an upload reaches it; left out if it cannot be read."""
    try:
        with open_beneath(home_str, path) as fh:
            out[path] = md5_of(fh)
    except OSError:
        pass
