"""Errors that end a whole run, each mapped to one CLI exit status (DESIGN §6, contract).

Per-file trouble is never raised this far: it goes into the summary's `skipped`/`failed`.
"""

from __future__ import annotations


class SyncError(Exception):
    """A run-ending error with a message a student can act on."""

    exit_code = 1


class ConfigError(SyncError):
    """Bad options or configuration (exit 2)."""

    exit_code = 2


class NotConnected(SyncError):
    """No stored credentials, or the user must reconnect (token revoked or expired for good) (exit 3)."""

    exit_code = 3


class DriveRefused(SyncError):
    """Drive refused the run: storage full or the daily upload cap reached (exit 4)."""

    exit_code = 4


class AlreadyRunning(SyncError):
    """Another push or restore holds this home's lock."""

    exit_code = 1

    def __init__(self, message: str, holder: dict | None = None) -> None:
        super().__init__(message)
        self.holder = holder or {}
