"""What a home's status shows, read the same way by the server's status route and the CLI's `status`.

Status must never change a home: it reads the state DB read-only, reads the record of the last
job the server ran, and probes the home lock without taking it. The small JSON records the
server keeps beside the state DB (the last job, the first-login prompt's answer) are read and
written here too, so the record format has one owner.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from ..auth.connection import check_connection
from ..core.errors import ConfigError
from ..core.settings import SyncSettings, folder_name
from ..home.excludes import KIND_TEXT, OWN_STATE, SECRETS
from ..home.lock import HomeLock
from ..home.private_dir import ensure_private_dir, read_small_json
from ..home.state_db import META_LAST_PUSH, META_LAST_PUSH_TIME, META_ROOT_FOLDER_ID
from ..home.state_read import read_state_meta
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


# ---------------------------------------------------------------- what a push left out, and why

# Each entry of a push summary's `skipped` (and `failed`) gets a `category`, so that every UI
# tells a rule followed from a real problem without guessing at words: a backup that did all it
# should is green, and what it left out on purpose is listed apart from what went wrong.
ON_PURPOSE = "on_purpose"  # a rule kept it off Drive: secrets, own state, links, sockets, pipes, devices
NOTICE = "notice"  # worth knowing, nothing lost: an account switch, a copy the student moved on Drive
PROBLEM = "problem"  # something of the student's is not on Drive and should be (the default)

# Reason prefixes, from the modules that write them: home/excludes.py (KIND_TEXT), home/scan.py
# (`_kind_of`, "disappeared during the scan"), engine/remote_changes.py (MOVED_OUT, LET_GO_DELETED,
# STRANDED: written out here, as importing that module would pull the Drive client into `status`),
# engine/remote_root.py, engine/account_check.py (`note`) and engine/executor.py.
# tests/engine/test_skipped_categories.py runs real pushes and checks those modules' own
# constants, so a reworded reason shows up there, not as a wrong colour in the UI.
_ON_PURPOSE_PREFIXES = (
    KIND_TEXT[SECRETS],
    KIND_TEXT[OWN_STATE],
    "symbolic link (not followed)",
    "socket (not a regular file)",
    "named pipe (FIFO, not read)",
    "device file (not read)",
    "not a regular file or folder",
)
_NOTICE_PREFIXES = (
    "another Google account is connected",
    "moved out of the backup folder on Drive",
    "renamed or moved on Drive after it was deleted here",
    "moved on Drive out of a folder that was then trashed or deleted there",
    "another item with this name was added to this Drive folder",
    "disappeared during the scan",
    "disappeared before it could be uploaded",
    "replaced by a non-folder during the scan",
    "changed while it was being uploaded",
)
_NOTICE_WORDS = (" Drive folders are called ", " items with this name already on Drive; adopted ")
MAX_FOLDER_CHECKS = 2000  # lstat calls per summary; beyond it an entry counts as a file


def skip_category(reason: str) -> str:
    """ON_PURPOSE, NOTICE or PROBLEM for one `skipped` reason; an unknown reason is a PROBLEM, so
    a new kind of trouble is never hidden as green."""
    if reason.startswith(_ON_PURPOSE_PREFIXES):
        return ON_PURPOSE
    if reason.startswith(_NOTICE_PREFIXES) or any(w in reason for w in _NOTICE_WORDS):
        return NOTICE
    return PROBLEM


def _is_folder(home: Path | None, rel: str) -> bool:
    """Whether `rel` is a folder in the home now (never following a link)."""
    if home is None or not rel or rel == "." or rel.startswith("/") or ".." in rel.split("/"):
        return False
    try:
        return stat.S_ISDIR(os.lstat(home / rel).st_mode)
    except (OSError, ValueError):
        return False


def categorize_summary(summary: dict[str, Any] | None, home: Path | str | None) -> dict[str, Any] | None:
    """A copy of a push summary whose `skipped` and `failed` entries carry `category` and
    `is_folder` (the `{path, reason}` keys are kept as they are: the `push --json` contract)."""
    if not isinstance(summary, dict):
        return summary
    root = Path(home) if home is not None else None
    checks = 0
    out = dict(summary)
    for key in ("skipped", "failed"):
        entries = summary.get(key)
        if not isinstance(entries, list):
            continue
        annotated = []
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            entry = dict(entry)
            reason = str(entry.get("reason") or entry.get("error") or "")
            entry["category"] = PROBLEM if key == "failed" else skip_category(reason)
            if "is_folder" not in entry:
                checks += 1
                entry["is_folder"] = checks <= MAX_FOLDER_CHECKS and _is_folder(root, str(entry.get("path") or ""))
            annotated.append(entry)
        out[key] = annotated
    return out


def categorize_job(job: dict[str, Any], home: Path | str | None) -> dict[str, Any]:
    """A job's JSON with its push summary categorized (a restore's is left as it is)."""
    if job.get("kind", "push") == "push" and isinstance(job.get("summary"), dict):
        job = {**job, "summary": categorize_summary(job["summary"], home)}
    return job


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


def read_last_push(state_dir: Path | str, home: Path | str | None = None) -> dict[str, Any] | None:
    """The newer of: the state DB's last push (any entry point) and the server's last job,
    its summary's entries categorized (see `categorize_summary`; `home`: to tell folders).

    The state DB records successful runs by the CLI and the nightly job too; the job record
    also keeps runs that ended early (e.g. "reconnect"), which the DB never sees.
    """
    last = _read_last_push(state_dir)
    if last is not None and isinstance(last.get("summary"), dict):
        last["summary"] = categorize_summary(last["summary"], home)
    return last


def _read_last_push(state_dir: Path | str) -> dict[str, Any] | None:
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
    last = read_last_push(settings.state_dir, settings.home)
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
