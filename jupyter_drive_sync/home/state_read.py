"""Reading a home's state DB without a run: the status display, the account check, the
restore dialog's listing. Never creates, repairs or writes the DB (a status poll must not
change a home, nor wait long on a run's transaction), unlike `state_db.StateDB`."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Iterable

from .state_db import DB_NAME


def _open_read_only(state_dir: Path | str) -> sqlite3.Connection | None:
    """The home's state DB opened read-only (never created, repaired or written: a status poll
    must not change a home, nor wait long on a run's transaction); None when there is none."""
    path = Path(state_dir) / DB_NAME
    try:  # is_file() raises on a folder this user may not enter (another owner's state dir)
        return sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=5) if path.is_file() else None
    except (OSError, sqlite3.Error):
        return None


def read_state_meta(state_dir: Path | str, keys: Iterable[str]) -> dict[str, str]:
    """A few meta values of a home's state DB, read-only (for status displays); {} when none."""
    wanted = tuple(keys)
    conn = _open_read_only(state_dir) if wanted else None
    if conn is None:
        return {}
    try:
        marks = ",".join("?" * len(wanted))
        rows = conn.execute(f"SELECT key, value FROM meta WHERE key IN ({marks})", wanted).fetchall()
        return {k: v for k, v in rows if v is not None}
    except sqlite3.Error:
        return {}
    finally:
        conn.close()


def read_state_names(state_dir: Path | str) -> dict[str, str]:
    """Drive ID → the name (last part) of the path its row links it to, read-only; {} when none.
    How a listing names same-name twins as a restore would (`restore_names.safe_names`)."""
    conn = _open_read_only(state_dir)
    if conn is None:
        return {}
    try:
        rows = conn.execute("SELECT path, drive_id FROM entries WHERE drive_id IS NOT NULL").fetchall()
        return {drive_id: path.rpartition("/")[2] for path, drive_id in rows}
    except sqlite3.Error:
        return {}
    finally:
        conn.close()
