"""The nightly run's report: one JSON line per user, then a summary line.

Both ways of running the night (the homes-root runner and the Kubernetes dispatcher) write the
same format, and the dispatcher reads back the line each per-PVC Job left in its termination
message, so the statuses, their exit codes and the line format live here, once.
"""

from __future__ import annotations

import json
import threading
from typing import Any, Iterable, TextIO

from ..core.errors import EXIT_DRIVE_REFUSED, EXIT_NOT_CONNECTED, EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE

# Statuses of a user's report line. Only these say "someone must act"; not being connected,
# a home busy with the user's own push, or a skip by design is not a failure of the run.
# `config_error`: the admin must fix the hub's settings (the student cannot); `needs_reconnect`:
# the student must sign in again. A `partial` line with `"continues": true` and no failed file
# only ran out of its nightly time budget: nobody acts, the next night continues it.
FAILURE_STATUSES = frozenset({"failed", "needs_reconnect", "drive_refused", "error", "partial", "timeout",
                              "config_error"})
# The exit status of a one-home run (`hub --home`, inside a per-PVC Job), as `push` would exit.
EXIT_CODES = {
    "ok": EXIT_OK, "not_connected": EXIT_OK, "busy": EXIT_OK, "skipped": EXIT_OK,
    "partial": EXIT_SOME_FAILED, "error": EXIT_SOME_FAILED, "failed": EXIT_SOME_FAILED,
    "needs_reconnect": EXIT_NOT_CONNECTED, "drive_refused": EXIT_DRIVE_REFUSED, "config_error": EXIT_USAGE,
}
TERMINATION_LIMIT = 4000  # Kubernetes keeps at most 4096 bytes of a termination message

_emit_lock = threading.Lock()


def is_failure(status: str) -> bool:
    return status in FAILURE_STATUSES


def continues(line: dict[str, Any]) -> bool:
    """A push stopped by its nightly time budget with nothing failed: tomorrow continues it."""
    summary = line.get("summary") or {}
    return line.get("status") == "partial" and bool(line.get("continues")) and not summary.get("failed")


def needs_action(line: dict[str, Any]) -> bool:
    """Whether someone must act on this user line (a budget-stopped push needs nobody)."""
    return is_failure(str(line.get("status"))) and not continues(line)


def exit_code(status: str, line: dict[str, Any] | None = None) -> int:
    """How a one-home run ends for a report status (unknown statuses count as failures).

    A push that only ran out of time ends 0: inside a per-PVC Job a failure would be retried at
    once (backoffLimit), holding the volume again instead of leaving the rest to the next night."""
    if line is not None and continues(line):
        return EXIT_OK
    return EXIT_CODES.get(status, EXIT_SOME_FAILED)


def run_exit_code(lines: Iterable[dict[str, Any]]) -> int:
    """How a whole night ends: 2 when the admin must fix the configuration (it blocks everyone
    it touches), else 1 when anyone needs action, else 0."""
    acting = [ln for ln in lines if needs_action(ln)]
    if any(ln.get("status") == "config_error" for ln in acting):
        return EXIT_USAGE
    return EXIT_SOME_FAILED if acting else EXIT_OK


def emit(out: TextIO, line: dict[str, Any]) -> None:
    """Write one JSON line, whole, even when several push threads finish at once."""
    text = json.dumps(line, separators=(",", ":"), default=str) + "\n"
    with _emit_lock:
        out.write(text)
        out.flush()


def count_by_status(lines: Iterable[dict[str, Any]]) -> dict[str, int]:
    """status → number of user lines, for the summary line."""
    counts: dict[str, int] = {}
    for line in lines:
        counts[line["status"]] = counts.get(line["status"], 0) + 1
    return counts


def compact(line: dict[str, Any], limit: int = TERMINATION_LIMIT) -> str:
    """The line as JSON within `limit` bytes, dropping detail before identity and status."""
    text = json.dumps(line, separators=(",", ":"), default=str)
    if len(text.encode()) <= limit:
        return text
    slim = {k: v for k, v in line.items() if k != "summary"}
    if "summary" in line:
        slim["summary"] = {k: v for k, v in line["summary"].items() if k != "failed_sample"}
    if "reason" in slim:
        slim["reason"] = str(slim["reason"])[:500]
    return json.dumps(slim, separators=(",", ":"), default=str)[:limit]


def parse_line(message: str) -> dict[str, Any] | None:
    """The report line at the end of a termination message (None if there is none)."""
    try:
        report = json.loads(message.splitlines()[-1]) if message else None
    except ValueError:
        return None
    return report if isinstance(report, dict) else None
