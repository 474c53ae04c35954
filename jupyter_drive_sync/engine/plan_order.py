"""The order a push carries its plan out in: what matters to the student first (pure, core only).

Under Google's write limit (about 3 writes per second per account) a first push of a home takes
minutes to hours, and it may stop part-way (the daily upload cap, a full Drive, a night's time
budget, a closed laptop). "work-first" makes what is on Drive at any moment the student's own
work rather than their datasets:

1. notebooks (`.ipynb`, any size);
2. code and text: source, markup, small tables and configuration — text-like names up to
   `TEXT_MAX_BYTES` (a 2 GB `.csv` or log is data, not work);
3. data and media: everything else.

Within a kind, the most recently modified file goes first (what the student touched last is
what they would miss first), then by path, so the order is deterministic. "path" keeps the
plan's own order (folders parents-first, then files by path).

A file needs its parent folder on Drive first. The push therefore runs in *waves*: the first
holds every folder that a notebook or a code-and-text file lies in, those files, and every
action that needs no upload (moves, metadata-only fixes, bookkeeping); the second holds the
remaining folders and the data and media. Trashes stay last (the executor runs them after all
waves), so nothing is removed from Drive before what replaces it is there.

Within a wave, a new folder is created just before the first action that needs it
(`folders_just_in_time`), not all of them up front: at ~3 writes/s, thirty folders first would
keep every notebook off Drive for ten seconds. Each folder is still one write, and still made
before anything inside it.
"""

from __future__ import annotations

from typing import Iterable

from ..core.model import Action, ActionKind
from ..core.options import PATH_ORDER, UPLOAD_ORDERS, WORK_FIRST

__all__ = ["CODE_AND_TEXT", "DATA_AND_MEDIA", "FOLDERS", "KINDS", "NOTEBOOKS", "ORDERS", "PATH_ORDER", "TEXT_MAX_BYTES",
           "WORK_FIRST", "action_kind", "check_order", "folders_just_in_time", "kind_of", "waves", "work_first_key"]

NOTEBOOKS = "notebooks"
CODE_AND_TEXT = "code and text"
DATA_AND_MEDIA = "data and media"
FOLDERS = "folders"
KINDS = (NOTEBOOKS, CODE_AND_TEXT, DATA_AND_MEDIA, FOLDERS)

ORDERS = UPLOAD_ORDERS  # (WORK_FIRST, PATH_ORDER): PushOptions.order

# Above this size a text-like file is data (a large .csv, .json or log), not hand-written work.
TEXT_MAX_BYTES = 1024 * 1024

NOTEBOOK_SUFFIXES = frozenset({".ipynb"})
TEXT_SUFFIXES = frozenset({
    # source code (the languages Jupyter kernels commonly run, and what builds them)
    ".py", ".pyi", ".pyx", ".r", ".rmd", ".qmd", ".jl", ".m", ".sql", ".sh", ".bash", ".zsh", ".ps1",
    ".c", ".h", ".cc", ".cpp", ".hpp", ".cxx", ".f", ".f90", ".f95", ".java", ".scala", ".kt", ".go",
    ".rs", ".js", ".mjs", ".ts", ".tsx", ".jsx", ".css", ".scss", ".html", ".htm", ".lua", ".pl",
    ".rb", ".php", ".swift", ".hs", ".ml", ".sas", ".do", ".stan", ".mod", ".nim", ".dart", ".vim",
    # prose and markup
    ".md", ".markdown", ".rst", ".tex", ".bib", ".sty", ".cls", ".txt", ".org", ".adoc",
    # small tables and configuration
    ".csv", ".tsv", ".json", ".yaml", ".yml", ".toml", ".ini", ".cfg", ".conf", ".xml", ".env.example",
})
TEXT_NAMES = frozenset({"makefile", "dockerfile", "readme", "license", "copying", "procfile", "gemfile",
                        "rakefile", "snakefile", "jenkinsfile", "vagrantfile"})

# actions that send a file's content or metadata to Drive (a file's own write)
_FILE_WRITES = (ActionKind.CREATE, ActionKind.UPDATE_CONTENT, ActionKind.UPDATE_MTIME)


def kind_of(path: str, size: int = 0, is_dir: bool = False) -> str:
    """Which of KINDS `path` is (the progress events' `current_kind`, and the order's tiers)."""
    if is_dir:
        return FOLDERS
    name = path.rpartition("/")[2].lower()
    dot = name.rfind(".")
    suffix = name[dot:] if dot > 0 else ""
    if suffix in NOTEBOOK_SUFFIXES:
        return NOTEBOOKS
    if size <= TEXT_MAX_BYTES and (suffix in TEXT_SUFFIXES or name in TEXT_NAMES
                                   or (dot == 0 and name.count(".") == 1)):  # .bashrc, .gitignore
        return CODE_AND_TEXT
    return DATA_AND_MEDIA


def action_kind(a: Action) -> str:
    """The kind of what `a` works on (a folder action's: FOLDERS)."""
    local = a.local
    if local is None:
        return FOLDERS if a.kind is ActionKind.MKDIR else kind_of(a.path)
    return kind_of(a.path, local.size, local.is_dir)


_TIER = {NOTEBOOKS: 0, CODE_AND_TEXT: 1, DATA_AND_MEDIA: 2, FOLDERS: 0}


def work_first_key(a: Action) -> tuple[int, int, str]:
    """Sort key of a file action: its kind's tier, the newest first, then the path."""
    mtime = a.local.mtime_ns if a.local is not None else 0
    return _TIER[action_kind(a)], -mtime, a.path


def check_order(order: str) -> str:
    """`order` if it is one of ORDERS; else ValueError with the allowed values (one line)."""
    value = getattr(order, "value", order)
    if value not in ORDERS:
        raise ValueError(f"unknown upload order {value!r}; use one of: {', '.join(ORDERS)}")
    return str(value)


def _is_folder(a: Action) -> bool:
    return a.kind is ActionKind.MKDIR or (a.local is not None and a.local.is_dir)


def _ancestors(path: str) -> Iterable[str]:
    while "/" in path:
        path = path.rpartition("/")[0]
        yield path


def waves(actions: list[Action], order: str) -> list[list[Action]]:
    """The plan's actions, trashes left out, in the waves the executor runs one after another
    (each wave: its folders first, then its files in this order). See the module docstring."""
    live = [a for a in actions if a.kind is not ActionKind.TRASH]
    if check_order(order) == PATH_ORDER:
        return [live] if live else []
    later_files = [a for a in live if not _is_folder(a) and a.kind in _FILE_WRITES
                   and action_kind(a) == DATA_AND_MEDIA]
    later_ids = {id(a) for a in later_files}
    needed: set[str] = set()  # folders the first wave's files (and folders) lie in
    for a in live:
        if id(a) not in later_ids and not (a.kind is ActionKind.MKDIR):
            needed.update(_ancestors(a.path))
            if _is_folder(a):
                needed.add(a.path)
    later_folders = [a for a in live if a.kind is ActionKind.MKDIR and a.path not in needed]
    later_ids.update(id(a) for a in later_folders)
    first = [a for a in live if id(a) not in later_ids]
    first_folders = [a for a in first if _is_folder(a)]
    first_files = sorted((a for a in first if not _is_folder(a)), key=work_first_key)
    second = later_folders + sorted(later_files, key=work_first_key)
    return [w for w in (first_folders + first_files, second) if w]


# actions that put an item into a Drive folder, so the folder must exist before them
_PLACED = (ActionKind.CREATE, ActionKind.UPDATE_CONTENT, ActionKind.UPDATE_MTIME, ActionKind.MOVE)


def folders_just_in_time(folders: list[Action], actions: list[Action]) -> list[tuple[list[Action], Action | None]]:
    """Steps `(folders to create now, parents first; then this action)` for `actions` in their
    order: each of `folders` (MKDIRs) comes in the step of the first action that lies in it (or
    in a folder below it), once. The last step, `(the folders no action needed, None)`, is left
    out when there are none. Why: a push's first notebook should not wait behind every folder."""
    waiting = {a.path: a for a in folders}
    steps: list[tuple[list[Action], Action | None]] = []
    for a in actions:
        now: list[Action] = []
        if a.kind in _PLACED:
            for folder in reversed(list(_ancestors(a.path))):  # top-down
                f = waiting.pop(folder, None)
                if f is not None:
                    now.append(f)
        steps.append((now, a))
    rest = [a for a in folders if a.path in waiting]
    if rest:
        steps.append((rest, None))
    return steps
