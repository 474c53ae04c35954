"""Drive names → safe local paths, for a restore (pure: no I/O, core imports only).

Drive allows what a home folder cannot hold: duplicate names in one folder, '/', '..', names
longer than a file system allows, names that are not valid Unicode. Every Drive name goes
through here before anything local is touched, so the rest of a restore only ever sees one
safe, distinct name per folder, and the same Drive folder always maps to the same local names.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass
from typing import Generic, Iterable, Mapping, Protocol, TypeVar

from ..core.model import RESTORE_PART_SUFFIX

GOOGLE_APPS_PREFIX = "application/vnd.google-apps."
MAX_NAME_BYTES = 255
MAX_EXT_BYTES = 32


class RemoteItem(Protocol):
    """What naming reads of a Drive file (the Drive client's `DriveFile` has these)."""

    @property
    def id(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def mime_type(self) -> str: ...

    @property
    def age_key(self) -> tuple[int, int, str]: ...  # oldest first: made, then modified, then ID

    @property
    def is_folder(self) -> bool: ...


def split_subpath(path: str | None) -> list[str]:
    """A user-supplied sub-path → its parts; ValueError for anything that could leave the home."""
    text = path or ""
    if "\x00" in text:
        raise ValueError("the path contains a NUL character")
    if text.startswith("/"):
        raise ValueError("the path must be relative to the home folder")
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ValueError("the path must not contain '..'")
    return parts


def join(rel: str, name: str) -> str:
    """`name` inside the home-relative folder `rel` ("" is the home)."""
    return f"{rel}/{name}" if rel else name


def is_part_name(name: str) -> bool:
    """A restore's temporary file (`.<name>.drive-sync-part`): never pushed, removed on rerun."""
    return name.startswith(".") and name.endswith(RESTORE_PART_SUFFIX)


def part_name(name: str) -> str:
    """The temporary name a file is downloaded under beside its target (kept within the
    file system's name length: a long name is replaced by a hash of it)."""
    tmp = f".{name}{RESTORE_PART_SUFFIX}"
    if len(tmp.encode("utf-8")) <= MAX_NAME_BYTES:
        return tmp
    return f".{hashlib.sha1(name.encode('utf-8')).hexdigest()[:20]}{RESTORE_PART_SUFFIX}"


def _cut_bytes(text: str, limit: int) -> str:
    return text.encode("utf-8")[:max(0, limit)].decode("utf-8", "ignore")


def with_tag(name: str, tag: str, limit: int = MAX_NAME_BYTES) -> str:
    """`name` with `~tag` before its extension, shortened to `limit` bytes (extension kept)."""
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem or not ext or len(ext.encode("utf-8")) > MAX_EXT_BYTES:
        stem, ext = name, ""
    suffix = f"~{tag}" + (f".{ext}" if ext else "")
    return _cut_bytes(stem, limit - len(suffix.encode("utf-8"))) + suffix


def _tag(key: str, n: int = 8) -> str:
    return hashlib.sha1(key.encode("utf-8", "surrogatepass")).hexdigest()[:n]


def clean_name(name: str, key: str) -> tuple[str, list[str]]:
    """A Drive name → a safe single local name component, and why it had to change.

    `key` (the Drive ID) makes shortened names unique and stable across runs.
    """
    reasons: list[str] = []
    text = name.encode("utf-8", "replace").decode("utf-8")  # lone surrogates from JSON
    if text != name:
        reasons.append("name is not valid Unicode")
    text = unicodedata.normalize("NFC", text)
    if "/" in text:
        text = text.replace("/", "_")
        reasons.append("name contains '/'")
    if "\x00" in text:
        text = text.replace("\x00", "_")
        reasons.append("name contains a NUL character")
    if text in ("", ".", ".."):
        text = "_" + (text or "unnamed")
        reasons.append(f"{name!r} is not a usable file name")
    elif is_part_name(text):
        text += "_"
        reasons.append("name looks like a restore's temporary file")
    if len(text.encode("utf-8")) > MAX_NAME_BYTES:
        text = with_tag(text, _tag(key))
        reasons.append(f"name longer than {MAX_NAME_BYTES} bytes (shortened)")
    return text, reasons


Item = TypeVar("Item", bound=RemoteItem)


@dataclass
class Named(Generic[Item]):
    """One child of a Drive folder and the local name it restores to (None: not restorable)."""

    file: Item
    local: str | None
    renamed: str | None = None  # why the local name differs from Drive's
    skipped: str | None = None  # why it is not restored


def safe_names(children: Iterable[Item], known: Mapping[str, str] | None = None) -> list[Named[Item]]:
    """Map one Drive folder's children to distinct, safe local names (deterministic).

    Drive allows duplicate names, '/', '..' and very long names; a folder holds at most one of
    each local name. On a clash (the same name, or the same after NFC normalisation), the item
    the state DB links to that very name keeps it (`known`: Drive ID → the name of its row's
    path), so a later edit on Drive never swaps which twin is which; then the item whose name
    needed no change, then the oldest (`age_key`: made first), as push's adoption picks when the
    home holds nothing that tells them apart; the others get a `~<hash of their ID>` tag
    before the extension.
    """
    names = known or {}
    out: list[Named[Item]] = []
    groups: dict[str, list[tuple[Named[Item], bool]]] = {}
    for f in children:
        if f.mime_type.startswith(GOOGLE_APPS_PREFIX) and not f.is_folder:
            why = ("a Drive shortcut: not restored" if f.mime_type.endswith(".shortcut")
                   else "Google Docs format: open it in Drive")
            out.append(Named(f, None, skipped=why))
            continue
        local, reasons = clean_name(f.name, f.id)
        named = Named(f, local, renamed="; ".join(reasons) or None)
        out.append(named)
        groups.setdefault(local, []).append((named, local == f.name))
    taken = set(groups)
    for local, members in groups.items():
        if len(members) < 2:
            continue
        members.sort(key=lambda m: (names.get(m[0].file.id) != local, not m[1], m[0].file.age_key))
        for named, _ in members[1:]:
            n = 8
            new = with_tag(local, _tag(named.file.id, n))
            while new in taken and n < 40:
                n += 4
                new = with_tag(local, _tag(named.file.id, n))
            taken.add(new)
            named.local = new
            why = "another item in this Drive folder has the same name"
            if named.file.name != local or any(m[0].file.name != local for m in members):
                why += " (after Unicode normalisation)" if _nfc_clash(members) else ""
            named.renamed = "; ".join(filter(None, [named.renamed, why]))
    return out


def _nfc_clash(members: list[tuple[Named[Item], bool]]) -> bool:
    names = {m[0].file.name for m in members}
    return len(names) > 1 and len({unicodedata.normalize("NFC", n) for n in names}) < len(names)


def match_child(children: Iterable[Item], local: str, known: Mapping[str, str] | None = None) -> Item | None:
    """The Drive child that restores to the local name `local` (None: there is none)."""
    return next((n.file for n in safe_names(children, known) if n.local == local), None)
