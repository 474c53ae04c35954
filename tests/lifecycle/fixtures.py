"""What the lifecycle model's small deterministic tests (test_found_by_model.py,
test_lifecycle_regressions.py) set up the same way: a connected home, files with exact mtimes,
a lost state DB, Drive's time format. Written once here so that the two files cannot drift.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

from .harness import STATE_REL, USER, connect


def connected_home(root: Path, emulator_url: str, email: str) -> Path:
    """A new, empty `root/<USER>` whose credentials are a fresh grant of `email` on the emulator:
    a student's home as the model starts one."""
    home = root / USER
    home.mkdir(parents=True)
    connect(emulator_url, home, email)
    return home


def write(home: Path, rel: str, data: bytes, mtime: int) -> None:
    """Write `rel` (its folders made) with an exact mtime: "later" is then never a guess."""
    p = home / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    os.utime(p, (mtime, mtime))


def lose_state(home: Path) -> None:
    """Delete the state DB (and its WAL files), as a wiped volume or a new server would."""
    for p in (home / STATE_REL).glob("state.sqlite3*"):
        p.unlink()


def rfc3339(seconds: int) -> str:
    """`seconds` as Drive writes a modifiedTime (UTC, milliseconds)."""
    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
