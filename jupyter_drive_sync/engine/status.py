"""What a home's status shows, read the same way by the server's status route and the CLI's `status`.

Status must never change a home: it reads the state DB read-only, reads the record of the last
job the server ran, and probes the home lock without taking it. The small JSON records the
server keeps beside the state DB (the last job, the first-login prompt's answer) are read and
written here too, so the record format has one owner.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..auth.connection import check_connection
from ..core.errors import ConfigError
from ..core.settings import SyncSettings, folder_name
from ..home.lock import HomeLock
from ..home.private_dir import ensure_private_dir, read_small_json
from ..home.state_db import META_LAST_PUSH, META_LAST_PUSH_TIME, META_ROOT_FOLDER_ID, read_state_meta
from .account_check import account_status

LAST_JOB_FILENAME = "last_job.json"  # the last push the server ran (a restore: last_restore.json)
# States of a job record (what `GET drive-sync/push/<id>` shows and `last_job.json` keeps).
QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"


# ---------------------------------------------------------------- small JSON records in the state dir


def read_record(state_dir: Path | str, filename: str) -> dict[str, Any]:
    """A JSON object kept in the state dir; {} when missing or unreadable (never blocks on a FIFO)."""
    data = read_small_json(Path(state_dir) / filename)
    return data if isinstance(data, dict) else {}


def write_record(state_dir: Path | str, filename: str, data: dict[str, Any]) -> None:
    """Replace a JSON record in the state dir atomically, so a reader never sees half of it."""
    path = Path(state_dir) / filename
    ensure_private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
    os.replace(tmp, path)


def job_record_filename(kind: str) -> str:
    """Where a finished job of `kind` is recorded: a restore is not a push, so status (which
    shows the last push) never mistakes one for the other."""
    return LAST_JOB_FILENAME if kind == "push" else f"last_{kind}.json"


def read_last_job(state_dir: Path | str) -> dict[str, Any] | None:
    """The last push the server ran (this process or an earlier one), as it recorded it."""
    data = read_small_json(Path(state_dir) / LAST_JOB_FILENAME)
    return data if isinstance(data, dict) else None


# ---------------------------------------------------------------- the state DB and the lock


def probe_home_lock(state_dir: Path | str) -> dict[str, Any] | None:
    """Who holds the home lock right now (the CLI, the nightly job); None when it is free."""
    return HomeLock(state_dir).holder()


def stored_root_folder_id(state_dir: Path | str) -> str | None:
    """The Drive ID of the home's backup folder, once a push has recorded it."""
    return read_state_meta(state_dir, (META_ROOT_FOLDER_ID,)).get(META_ROOT_FOLDER_ID) or None


def _state_db_last_push(state_dir: Path | str) -> dict[str, Any] | None:
    """The last push recorded in the state DB by any entry point (server, CLI, nightly job)."""
    meta = read_state_meta(state_dir, (META_LAST_PUSH, META_LAST_PUSH_TIME, META_ROOT_FOLDER_ID))
    if META_LAST_PUSH not in meta or META_LAST_PUSH_TIME not in meta:
        return None
    try:
        summary = json.loads(meta[META_LAST_PUSH])
        when = float(meta[META_LAST_PUSH_TIME])
    except ValueError:
        return None
    if isinstance(summary, dict) and not summary.get("root_folder_id") and meta.get(META_ROOT_FOLDER_ID):
        summary["root_folder_id"] = meta[META_ROOT_FOLDER_ID]
    return {
        "finished_at": when,
        "started_at": None,
        "ok": not (summary or {}).get("failed"),
        "summary": summary,
        "error": None,
        "source": "state",
    }


# ---------------------------------------------------------------- what status shows


def read_last_push(state_dir: Path | str) -> dict[str, Any] | None:
    """The newer of: the state DB's last push (any entry point) and the server's last job.

    The state DB records successful runs by the CLI and the nightly job too; the job record
    also keeps runs that ended early (e.g. "reconnect"), which the DB never sees.
    """
    theirs = _state_db_last_push(state_dir)
    ours = read_last_job(state_dir)
    if ours is not None:
        ours = {
            "finished_at": ours.get("finished_at"),
            "started_at": ours.get("started_at"),
            "ok": ours.get("state") == DONE,
            "summary": ours.get("summary"),
            "error": ours.get("error"),
            "source": "server",
        }
    if theirs and (not ours or float(theirs["finished_at"] or 0) > float(ours.get("finished_at") or 0) + 1e-3):
        return theirs
    return ours


def backup_folder(settings: SyncSettings) -> str:
    """The backup folder's path under My Drive, exactly as a push names it ("home/alice").

    A template that cannot be formatted is shown as written: status must answer anyway, and
    the push itself reports the configuration error.
    """
    try:
        return folder_name(settings.folder_template, settings.username)
    except ConfigError:
        return settings.folder_template


def root_folder_url(last: dict[str, Any] | None, folder_url_base: str | None = None) -> str | None:
    """A link to the home's folder: Google Drive's, or the emulator's tree view."""
    folder_id = ((last or {}).get("summary") or {}).get("root_folder_id")
    if not folder_id:
        return None
    if folder_url_base is not None:
        return f"{folder_url_base}#{folder_id}"
    return f"https://drive.google.com/drive/folders/{folder_id}"


def home_status(settings: SyncSettings, *, live: bool = True) -> dict[str, Any]:
    """What the CLI's `status` reports for a home: the server's status route, seen from a terminal."""
    conn = check_connection(settings, live=live)
    last = read_last_push(settings.state_dir)
    return {
        "home": str(settings.home),
        "connected": conn.connected,
        "account": conn.account,
        **account_status(settings.state_dir, conn.account),
        "needs_reauth": conn.needs_reauth,
        "problem": conn.problem,
        "folder": backup_folder(settings),
        "root_folder_id": ((last or {}).get("summary") or {}).get("root_folder_id"),
        "root_folder_url": root_folder_url(last),
        "last_push": last,
        "running": probe_home_lock(settings.state_dir),
    }
