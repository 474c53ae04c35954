"""Which paths of a home are never sent to Drive, and why.

Three layers, checked in this order:

1. always excluded: the tool's own state dir and well-known secrets. Nothing can re-include them.
2. excluded by default: caches and environments. Configurable (pass other `defaults`), and a
   user can re-include one with a negated rule (`!.cache`) in `~/.drivesyncignore`.
3. the user's own rules from `~/.drivesyncignore`, gitignore syntax (pathspec's matcher).

The scan calls `Excludes.why(rel, is_dir)` once per directory entry, so the built-in layers are
one dict lookup keyed by the entry's name; only user rules cost a regex pass. A directory that
is excluded is pruned by the scan: nothing below it is ever looked at.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:  # imported when a home has user rules: most have none, and pathspec costs ~25 ms
    from pathspec import GitIgnoreSpec

from ..core.settings import STATE_DIR_REL

IGNORE_FILE_NAME = ".drivesyncignore"
MAX_IGNORE_FILE_BYTES = 1024 * 1024

# A rule is a relative POSIX path. "/x/y" (leading slash) is anchored at the home; "x" or
# "x/y" without a leading slash matches at any depth, like a gitignore rule would.
ALWAYS_EXCLUDED: tuple[tuple[str, str], ...] = (
    ("/" + STATE_DIR_REL, "drive-sync's own state"),
    (".ssh", "secrets"),
    (".gnupg", "secrets"),
    (".netrc", "secrets"),
    (".git-credentials", "secrets"),
    (".config/gcloud", "secrets"),
    (".config/rclone", "secrets"),
    (".aws", "secrets"),
    (".kube", "secrets"),
    (".docker/config.json", "secrets"),
    # Jupyter's own secrets: server tokens and kernel keys (runtime/jpserver-*.json,
    # kernel-*.json), the notebook-trust signing key and its database.
    ("/.local/share/jupyter/runtime", "secrets"),
    ("/.local/share/jupyter/notebook_secret", "secrets"),
    ("/.local/share/jupyter/nbsignatures.db", "secrets"),
    (".ipython/profile_default/security", "secrets"),
)

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


@dataclass(frozen=True, slots=True)
class _Rule:
    parts: tuple[str, ...]  # path components of the rule, e.g. (".config", "gcloud")
    anchored: bool
    reason: str
    overridable: bool  # a user's negated rule may re-include it


def _parse_rule(rule: str, reason: str, overridable: bool) -> _Rule:
    anchored = rule.startswith("/")
    parts = tuple(p for p in rule.strip("/").split("/") if p)
    if not parts:
        raise ValueError(f"empty exclude rule: {rule!r}")
    return _Rule(parts, anchored, reason, overridable)


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
        for text, reason in ALWAYS_EXCLUDED if always else ():
            self._add(_parse_rule(text, f"always excluded ({reason})", overridable=False))
        for text in DEFAULT_EXCLUDES if defaults is None else defaults:
            try:
                self._add(_parse_rule(text, "excluded by default", overridable=True))
            except ValueError as exc:
                self.problems.append(str(exc))
        self._user_lines: list[str] = []
        self._user: GitIgnoreSpec | None = None
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
        self._by_name.setdefault(rule.parts[-1], []).append(rule)

    def _compile_user(self, lines: list[str], source: str) -> None:
        from pathspec import GitIgnoreSpec

        good: list[str] = []
        for number, line in enumerate(lines, 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                GitIgnoreSpec.from_lines([line])
            except Exception as exc:  # pathspec raises its own error types per bad pattern
                self.problems.append(f"{source}: rule {number} {line!r} ignored: {exc}")
                continue
            good.append(line)
        if good:
            self._user_lines = good
            self._user = GitIgnoreSpec.from_lines(good)

    @property
    def names(self) -> frozenset[str] | dict[str, list[_Rule]]:
        """Entry names some built-in rule ends with; a name not in here can only match user rules."""
        return self._by_name

    @property
    def has_user_rules(self) -> bool:
        return self._user is not None

    def why(self, rel: str, is_dir: bool) -> str | None:
        """Reason `rel` (POSIX, relative to the home, no leading slash) is excluded, or None."""
        rules = self._by_name.get(rel.rpartition("/")[2])
        if rules is not None:
            for rule in rules:
                if self._rule_matches(rule, rel) and not (rule.overridable and self._user_negates(rel, is_dir)):
                    return f"{rule.reason}: {'/'.join(rule.parts)}"
        if self._user is not None:
            result = self._user.check_file(rel + "/" if is_dir else rel)
            if result.include:
                return f"excluded by {IGNORE_FILE_NAME}: {self._user_lines[result.index].strip()}"
        return None

    def secrets_among(self, excluded: Iterable[str]) -> list[tuple[str, str]]:
        """The excluded paths that are secrets, with a reason a student can read.

        Push lists these in `skipped` so a student sees that their keys were left out on
        purpose; caches and the tool's own state stay silent (nothing of theirs is missing).
        """
        out = []
        for rel in excluded:
            reason = self.why(rel, True) or self.why(rel, False)
            if reason and reason.startswith("always excluded (secrets)"):
                out.append((rel, "a secret (keys, tokens, passwords): never uploaded"))
        return out

    def is_excluded(self, rel: str, is_dir: bool) -> bool:
        return self.why(rel, is_dir) is not None

    @staticmethod
    def _rule_matches(rule: _Rule, rel: str) -> bool:
        if len(rule.parts) == 1:
            return not rule.anchored or "/" not in rel
        suffix = "/".join(rule.parts)
        if rule.anchored:
            return rel == suffix
        return rel == suffix or rel.endswith("/" + suffix)

    def _user_negates(self, rel: str, is_dir: bool) -> bool:
        if self._user is None:
            return False
        return self._user.check_file(rel + "/" if is_dir else rel).include is False
