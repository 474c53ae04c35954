"""Whose problem a failed nightly push is: the student's (reconnect) or the admin's (configuration).

A wrong or missing encryption key, a credentials file the job's user may not read, or an OAuth
client that Google no longer knows breaks every student's backup at once, and no student can
fix it by reconnecting; the report must send the admin to the hub's settings instead of telling
hundreds of students to reconnect. Only a grant Google revoked or expired for good, or a stored
file that is corrupt or empty, is the student's to fix.
"""

from __future__ import annotations

from typing import Any, Iterator

from ..auth.credentials import KeyMismatch
from ..core.errors import EnvironmentProblem, NotConnected, SyncError
from ..core.settings import CLIENT_SECRETS_ENV, KEY_ENV

CONFIG_ERROR = "config_error"
NEEDS_RECONNECT = "needs_reconnect"

# The token endpoint's answers that mean the OAuth client itself is refused (RFC 6749 §5.2), not
# the student's grant: the client was deleted or its secret reset in the Cloud console.
_CLIENT_ERRORS = ("invalid_client", "unauthorized_client", "deleted_client")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and what caused it, outermost first (a cycle-safe walk)."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        yield cur
        cur = cur.__cause__ or cur.__context__


def _token_endpoint_error(exc: BaseException) -> str | None:
    """The OAuth `error` code a token refresh failed with, if the failure came from one.

    google-auth's RefreshError carries the endpoint's JSON as its second argument (google/oauth2/
    _client.py, `_handle_error_response`) and "error: description" as its first."""
    for e in _chain(exc):
        if type(e).__name__ != "RefreshError":
            continue
        data = e.args[1] if len(e.args) > 1 else None
        if isinstance(data, dict) and isinstance(data.get("error"), str):
            return data["error"]
        text = str(e.args[0]) if e.args else ""
        return text.split(":", 1)[0].strip() or None
    return None


def key_advice(detail: str) -> str:
    return (f"{detail}. The admin must give this job the same {KEY_ENV} as the single-user servers "
            "(the student does not need to reconnect)")


def classify(exc: BaseException) -> tuple[str, str]:
    """(status, reason) for a push that ended with `exc`, when it is a connection or configuration
    problem; ("error", text) for anything else the caller did not sort out itself."""
    for e in _chain(exc):
        if isinstance(e, KeyMismatch):
            return CONFIG_ERROR, key_advice(str(e).rstrip("."))
    oauth_error = _token_endpoint_error(exc)
    if oauth_error in _CLIENT_ERRORS:
        return CONFIG_ERROR, (
            f"Google refused the OAuth client this sign-in was made with ({oauth_error}): the client was "
            "deleted or its secret reset in the Google Cloud console. The admin must restore the client "
            "(or configure the new one); students reconnect only once the hub uses a working client")
    if isinstance(exc, NotConnected):
        for e in _chain(exc):
            if isinstance(e, PermissionError) or "permission denied" in str(e):
                return CONFIG_ERROR, (f"{exc}. The nightly job runs as a user that may not read the student's "
                                      "credentials: the admin must run it as the home's owner (or root)")
        return NEEDS_RECONNECT, str(exc)
    if isinstance(exc, EnvironmentProblem):
        # the machine as the job finds it (permissions, owners, a full disk, an older image than the
        # state DB): the admin's setup. A symlink a student planted is not one (a plain ConfigError):
        # it stays an `error` for someone to look at.
        return CONFIG_ERROR, str(exc)
    return "error", str(exc) if isinstance(exc, SyncError) else f"{type(exc).__name__}: {exc}"


def client_secrets_problem(settings: Any) -> str | None:
    """Why the configured OAuth client secrets cannot be read (None when fine or not configured).

    A push does not need them (each stored sign-in carries its client), but the single-user
    servers do, to let students connect at all: a broken mount is worth one line to the admin."""
    try:
        settings.load_client_config()
    except SyncError as exc:
        return f"{exc} (set with --client-secrets or {CLIENT_SECRETS_ENV}); students cannot connect until it is fixed"
    return None
