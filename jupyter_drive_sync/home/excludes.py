"""Which paths of a home are never sent to Drive, and why.

Three layers, checked in this order:

1. always excluded: the tool's own state dir and well-known secrets. Nothing can re-include them.
2. excluded by default: caches and environments. Configurable (pass other `defaults`), and a
   user can re-include one with a negated rule (`!.cache`) in `~/.drivesyncignore`.
3. the user's own rules from `~/.drivesyncignore`, gitignore syntax (pathspec's matcher).

`why(rel, is_dir)` judges the whole relative path: a rule matches the path itself or any folder
above it (`.ssh/authorized_keys` is inside `.ssh`), so a caller that did not walk down from the
home — a restore of one sub-path, a Drive listing — gets the same answer as push's scan, which
prunes an excluded folder and never looks below it. Push and restore share this one matcher;
`never_synced()` is its secrets-and-own-state layer alone, for restore.

Layer 1 compares names the way a case-insensitive or normalising file system would see them
(`rule_key`: case folded, NFKC, zero-width and other invisible format characters dropped,
trailing dots and spaces dropped), because on such a mount (SMB, Azure Files, macOS) `.SSH` or
`.ssh.` from Drive *is* `~/.ssh`. Layer 2 matches names exactly: a student's `VENV` folder is
theirs, not a cache. The built-in rules are keyed by the folded last name, so the scan's
pre-check is one dict lookup per entry; only user rules cost a regex pass.
"""

from __future__ import annotations

import os
import re
import stat
import time
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

if TYPE_CHECKING:  # imported when a home has user rules: most have none, and pathspec costs ~25 ms
    from pathspec import GitIgnoreSpec

from ..core.errors import ConfigError
from ..core.settings import STATE_DIR_REL

IGNORE_FILE_NAME = ".drivesyncignore"
MAX_IGNORE_FILE_BYTES = 1024 * 1024
# Bounds on the user's rules, so that no ignore file can stall a push or a hub slot. pathspec
# matches each rule with a backtracking regex, checked against every entry of the home: the
# cost grows with the number of rules, and with a power of the path's length for each `*` or
# `**` of a rule (`**/a/**/a/**/b` against a/a/a/... takes minutes per path).
MAX_USER_RULES = 500  # a long .gitignore has ~150
MAX_RULE_CHARS = 1024
MAX_WILDCARDS = 3  # runs of `*` in one rule (`**` counts once)
MAX_COSTLY_RULES = 20  # rules with two or more wildcards
USER_RULES_BUDGET_S = 120.0  # matching time over a whole scan; beyond it the run ends (IgnoreRulesTooSlow)
_WILDCARD_RUN = re.compile(r"\*+")
_ESCAPED = re.compile(r"\\.")


class IgnoreRulesTooSlow(ConfigError):
    """The user's rules, each within the bounds, still took too long on this home (exit 2)."""

OWN_STATE = "drive-sync's own state"
SECRETS = "secrets"

# A rule is a relative POSIX path. "/x/y" (leading slash) is anchored at the home; "x" or
# "x/y" without a leading slash matches at any depth, like a gitignore rule would.
ALWAYS_EXCLUDED: tuple[tuple[str, str], ...] = (
    ("/" + STATE_DIR_REL, OWN_STATE),
    (".ssh", SECRETS),
    (".gnupg", SECRETS),
    (".netrc", SECRETS),
    (".git-credentials", SECRETS),
    (".config/gcloud", SECRETS),
    (".config/rclone", SECRETS),
    (".aws", SECRETS),
    (".kube", SECRETS),
    (".docker/config.json", SECRETS),
    # Jupyter's own secrets: server tokens and kernel keys (runtime/jpserver-*.json,
    # kernel-*.json), the notebook-trust signing key and its database.
    ("/.local/share/jupyter/runtime", SECRETS),
    ("/.local/share/jupyter/notebook_secret", SECRETS),
    ("/.local/share/jupyter/nbsignatures.db", SECRETS),
    (".ipython/profile_default/security", SECRETS),
)

# What a student reads when a secret or our own state is left out (push: "never uploaded",
# restore: "never restored").
KIND_TEXT = {
    SECRETS: "a secret (keys, tokens, passwords)",
    OWN_STATE: "drive-sync's own state (credentials, state DB)",
}

DEFAULT_EXCLUDES: tuple[str, ...] = (
    "/.cache",
    ".ipynb_checkpoints",
    "__pycache__",
    "node_modules",
    ".venv",
    "venv",
    "/.conda",
    "/.local/lib",
    "/.npm",
    "/.yarn",
    "/.local/share/Trash",
)


# Characters a name can hold without showing them: format characters (zero-width (non-)joiners,
# bidi marks, BOM; HFS+ ignores these in names) and the other default-ignorable code points
# (variation selectors, the combining grapheme joiner, Hangul fillers, Mongolian selectors).
_INVISIBLE_CATEGORY = "Cf"
_INVISIBLE = frozenset(
    [0x034F, 0x115F, 0x1160, 0x180B, 0x180C, 0x180D, 0x180F, 0x3164, 0xFFA0, *range(0xFE00, 0xFE10)]
)


def rule_key(name: str) -> str:
    """One path component as a case-insensitive, normalising file system may see it.

    Used for the secrets and own-state rules, so that no spelling of `.ssh` from Drive can
    land in `~/.ssh` on a mount that folds case (SMB, Azure Files), normalises Unicode (macOS),
    ignores invisible characters (HFS+) or drops trailing dots and spaces (Windows servers).
    Folding too much only ever leaves a look-alike name out, never a secret in.
    """
    if name.isascii():  # nearly every name: no cache, which would cost more than this
        return name.lower().rstrip(". ")
    return _fold_unicode(name)


@lru_cache(maxsize=4096)
def _fold_unicode(name: str) -> str:
    text = unicodedata.normalize("NFKC", name)
    text = "".join(ch for ch in text
                   if ord(ch) not in _INVISIBLE and unicodedata.category(ch) != _INVISIBLE_CATEGORY)
    return unicodedata.normalize("NFKC", text.casefold()).rstrip(". ")


_UNKNOWN: Any = object()


@dataclass(frozen=True, slots=True)
class _Rule:
    text: str  # as written, e.g. ".config/gcloud" (shown in the reason)
    parts: tuple[str, ...]  # path components of the rule, e.g. (".config", "gcloud")
    keys: tuple[str, ...]  # the same, through rule_key
    anchored: bool
    reason: str
    kind: str | None  # SECRETS or OWN_STATE for the always-excluded rules, else None
    overridable: bool  # a user's negated rule may re-include it

    def matches(self, parts: list[str], keys: list[str], end: int) -> bool:
        """Whether the rule matches the path made of `parts[:end]` (`keys`: its rule_keys)."""
        n = len(self.parts)
        if end < n or (self.anchored and end != n):
            return False
        if self.kind is not None:  # secrets and own state: folded, see rule_key
            return tuple(keys[end - n:end]) == self.keys
        return tuple(parts[end - n:end]) == self.parts


def _parse_rule(rule: str, reason: str, overridable: bool, kind: str | None = None) -> _Rule:
    anchored = rule.startswith("/")
    parts = tuple(p for p in rule.strip("/").split("/") if p)
    if not parts:
        raise ValueError(f"empty exclude rule: {rule!r}")
    return _Rule("/".join(parts), parts, tuple(rule_key(p) for p in parts), anchored, reason, kind, overridable)


def _read_ignore_file(path: Path) -> tuple[list[str], list[str]]:
    """Lines of the rule file, and problems found reading it (never raises).

    Opened with O_NOFOLLOW: the file lives in the home, and a symlink there must not make a
    privileged job read a file outside it.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        return [], []
    except OSError as exc:
        return [], [f"{IGNORE_FILE_NAME}: cannot read it ({exc.strerror or exc}); its rules are not applied"]
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return [], [f"{IGNORE_FILE_NAME}: not a regular file; its rules are not applied"]
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(MAX_IGNORE_FILE_BYTES + 1)
    except OSError as exc:
        return [], [f"{IGNORE_FILE_NAME}: cannot read it ({exc.strerror or exc}); its rules are not applied"]
    finally:
        os.close(fd)
    problems: list[str] = []
    if len(data) > MAX_IGNORE_FILE_BYTES:
        data = data[:MAX_IGNORE_FILE_BYTES]
        problems.append(f"{IGNORE_FILE_NAME}: larger than {MAX_IGNORE_FILE_BYTES} bytes; the rest is ignored")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("utf-8", errors="replace")
        problems.append(f"{IGNORE_FILE_NAME}: not valid UTF-8; undecodable bytes were replaced")
    return text.splitlines(), problems


class Excludes:
    """Answers "is this relative path (a directory or a file) excluded, and why?".

    `why()` returns None for included paths and a human-readable reason otherwise. Problems
    with the user's rule file are collected in `problems` (reported by push), never raised.
    """

    def __init__(
        self,
        *,
        defaults: Iterable[str] | None = None,
        user_rules: Iterable[str] = (),
        user_rules_source: str = IGNORE_FILE_NAME,
        always: bool = True,
    ) -> None:
        """`always=False` drops even the secrets rules: for tests and tools only, never a push."""
        self.problems: list[str] = []
        self._by_name: dict[str, list[_Rule]] = {}
        self._folder_rules: dict[str, _Rule | None] = {}  # folder → the built-in rule excluding it
        for text, kind in ALWAYS_EXCLUDED if always else ():
            self._add(_parse_rule(text, f"always excluded ({kind})", overridable=False, kind=kind))
        for text in DEFAULT_EXCLUDES if defaults is None else defaults:
            try:
                self._add(_parse_rule(text, "excluded by default", overridable=True))
            except ValueError as exc:
                self.problems.append(str(exc))
        self._user_lines: list[str] = []
        self._user: GitIgnoreSpec | None = None
        self._user_seconds = 0.0  # spent matching user rules (USER_RULES_BUDGET_S)
        self._compile_user(list(user_rules), user_rules_source)

    @classmethod
    def for_home(
        cls,
        home: Path | str,
        *,
        defaults: Iterable[str] | None = None,
        extra: Iterable[str] = (),
    ) -> "Excludes":
        """Built-in rules, then `extra` (config, gitignore syntax), then `~/.drivesyncignore`."""
        lines, problems = _read_ignore_file(Path(home) / IGNORE_FILE_NAME)
        ex = cls(defaults=defaults, user_rules=[*extra, *lines])
        ex.problems[:0] = problems
        return ex

    def _add(self, rule: _Rule) -> None:
        self._by_name.setdefault(rule.keys[-1], []).append(rule)

    def _compile_user(self, lines: list[str], source: str) -> None:
        if not lines:
            return
        from pathspec import GitIgnoreSpec

        good: list[str] = []
        costly = 0
        for number, line in enumerate(lines, 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if len(good) >= MAX_USER_RULES:
                self.problems.append(f"{source}: more than {MAX_USER_RULES} rules; rules from line {number} on "
                                     "are ignored")
                break
            wildcards = len(_WILDCARD_RUN.findall(_ESCAPED.sub("", line)))
            too_slow = _too_slow(line, wildcards, costly)
            if too_slow:
                self.problems.append(f"{source}: rule {number} {_shown(line)} ignored: {too_slow}")
                continue
            try:
                GitIgnoreSpec.from_lines([line])
            except Exception as exc:  # pathspec raises its own error types per bad pattern
                self.problems.append(f"{source}: rule {number} {_shown(line)} ignored: {exc}")
                continue
            good.append(line)
            costly += wildcards >= 2
        if good:
            self._user_lines = good
            self._user = GitIgnoreSpec.from_lines(good)

    @property
    def names(self) -> dict[str, list[_Rule]]:
        """The rule_key of every name some built-in rule ends with: an entry whose
        `rule_key(name)` is not in here can only match user rules (the scan's pre-check)."""
        return self._by_name

    @property
    def has_user_rules(self) -> bool:
        return self._user is not None

    def why(self, rel: str, is_dir: bool) -> str | None:
        """Reason `rel` (POSIX, relative to the home, no leading slash) is excluded, or None.

        The path itself and every folder above it are judged (see the module docstring)."""
        rule = self._builtin_rule(rel, is_dir)
        if rule is not None:
            return f"{rule.reason}: {rule.text}"
        if self._user is not None:
            result = self._check_user(rel, is_dir)
            if result.include:
                return f"excluded by {IGNORE_FILE_NAME}: {self._user_lines[result.index].strip()}"
        return None

    def _builtin_rule(self, rel: str, is_dir: bool) -> _Rule | None:
        """The first built-in rule (outermost folder first) that excludes `rel`, or None."""
        parent, _, name = rel.rpartition("/")
        if parent:
            rule = self._folder_rules.get(parent, _UNKNOWN)
            if rule is _UNKNOWN:  # each folder is judged once per Excludes, however many entries it holds
                rule = self._folder_rules[parent] = self._builtin_rule(parent, True)
            if rule is not None:
                return rule
        rules = self._by_name.get(rule_key(name))
        if rules is None:
            return None
        parts = rel.split("/")
        keys = [rule_key(p) for p in parts]
        end = len(parts)
        for rule in rules:
            if rule.matches(parts, keys, end) and not (rule.overridable and self._user_negates(rel, is_dir)):
                return rule
        return None

    def secrets_among(self, excluded: Iterable[str]) -> list[tuple[str, str]]:
        """The excluded paths that are secrets, with a reason a student can read.

        Push lists these in `skipped` so a student sees that their keys were left out on
        purpose; caches and the tool's own state stay silent (nothing of theirs is missing).
        """
        out = []
        for rel in excluded:
            rule = self._builtin_rule(rel, True)
            if rule is not None and rule.kind == SECRETS:
                out.append((rel, f"{KIND_TEXT[SECRETS]}: never uploaded"))
        return out

    def is_excluded(self, rel: str, is_dir: bool) -> bool:
        return self.why(rel, is_dir) is not None

    def _user_negates(self, rel: str, is_dir: bool) -> bool:
        if self._user is None:
            return False
        return self._check_user(rel, is_dir).include is False

    def _check_user(self, rel: str, is_dir: bool) -> Any:
        """pathspec's verdict of the user's rules on `rel`, within the run's time budget."""
        assert self._user is not None
        started = time.monotonic()
        result = self._user.check_file(rel + "/" if is_dir else rel)
        self._user_seconds += time.monotonic() - started
        if self._user_seconds > USER_RULES_BUDGET_S:
            raise IgnoreRulesTooSlow(
                f"{IGNORE_FILE_NAME}: its rules took more than {USER_RULES_BUDGET_S:g} s to apply to this home; "
                "simplify them (fewer rules, fewer `*` and `**`)")
        return result


def _too_slow(line: str, wildcards: int, costly_so_far: int) -> str | None:
    """Why a rule would cost too much to match (see MAX_USER_RULES and below), or None."""
    if len(line) > MAX_RULE_CHARS:
        return f"longer than {MAX_RULE_CHARS} characters"
    if wildcards > MAX_WILDCARDS:
        return f"more than {MAX_WILDCARDS} wildcards (`*`, `**`) make it too slow to match"
    if wildcards >= 2 and costly_so_far >= MAX_COSTLY_RULES:
        return f"more than {MAX_COSTLY_RULES} rules with two or more wildcards make matching too slow"
    return None


def _shown(line: str, limit: int = 80) -> str:
    """A rule as a problem line shows it: quoted, cut to `limit` characters."""
    return repr(line if len(line) <= limit else line[:limit] + "…")


@lru_cache(maxsize=1)
def _always_rules() -> Excludes:
    return Excludes(defaults=(), always=True)


def never_synced(rel: str, is_dir: bool) -> str | None:
    """Why `rel` never goes to Drive nor comes back from it — a secret or drive-sync's own
    state, as a student reads it — or None.

    The always-excluded layer of push's excludes, with the same matcher: restore asks it for the
    sub-path it was given, every folder it walks down and every file, whichever route asked.
    """
    rule = _always_rules()._builtin_rule(rel, is_dir)
    return None if rule is None or rule.kind is None else KIND_TEXT[rule.kind]
