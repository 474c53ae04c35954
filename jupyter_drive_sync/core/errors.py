"""Errors that end a whole run, each mapped to one CLI exit status.

The exit statuses are a contract (scripts and the nightly hub job branch on them), so they are
defined once here and every entry point maps errors to them through `exit_code`.
Per-file trouble is never raised this far: it goes into the summary's `skipped`/`failed`.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_SOME_FAILED = 1  # the run finished but some files failed (or a run-ending error without its own status)
EXIT_USAGE = 2  # bad options or configuration, or an environment problem (EnvironmentProblem)
EXIT_NOT_CONNECTED = 3  # no stored grant, or the student must reconnect
EXIT_DRIVE_REFUSED = 4  # Drive storage full or the daily upload cap reached


class SyncError(Exception):
    """A run-ending error with a message a student can act on."""

    exit_code = EXIT_SOME_FAILED


class ConfigError(SyncError):
    """Bad options or configuration."""

    exit_code = EXIT_USAGE


class EnvironmentProblem(ConfigError):
    """The machine is in the way: a permission, a file of another owner, a full disk, too few
    file descriptors, a state DB of a newer version. Nothing the run can work around; the
    student or the admin must fix it, so it ends like a configuration error (exit 2)."""


class NotConnected(SyncError):
    """No stored credentials, or the user must reconnect (token revoked or expired for good)."""

    exit_code = EXIT_NOT_CONNECTED


class DriveRefused(SyncError):
    """Drive refused the run: storage full or the daily upload cap reached."""

    exit_code = EXIT_DRIVE_REFUSED


class AlreadyRunning(SyncError):
    """Another push or restore holds this home's lock."""

    exit_code = EXIT_SOME_FAILED

    def __init__(self, message: str, holder: dict | None = None) -> None:
        super().__init__(message)
        self.holder = holder or {}
