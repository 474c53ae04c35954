"""Every error kind the server can send has its words in the frontend (issue 15): the kinds are
collected from the server's source (server/jobs.py `error_kind`, server/handlers.py `translate`,
the OAuthError kinds of auth/, the `error_kind` of the engine's and the client's exceptions) and
must all be in labextension/src/errors.ts's SERVER_ERROR_KINDS, which the jest test walks one by
one (errors.spec.ts, "every error kind the server can send"), and in the nbextension's table."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from jupyter_drive_sync.core.errors import ConfigError, EnvironmentProblem, SyncError
from jupyter_drive_sync.drive.errors import DriveApiError, StorageFull
from jupyter_drive_sync.server.jobs import error_kind

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "jupyter_drive_sync"


def _strings(node: ast.AST) -> set[str]:
    """The strings an expression can evaluate to (an `a if test else b`'s test is not one)."""
    if isinstance(node, ast.IfExp):
        return _strings(node.body) | _strings(node.orelse)
    if isinstance(node, ast.BoolOp):
        return set().union(*(_strings(v) for v in node.values))
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    return set()


def server_kinds() -> set[str]:
    kinds: set[str] = set()
    jobs = ast.parse((PKG / "server/jobs.py").read_text())
    for fn in ast.walk(jobs):
        if isinstance(fn, ast.FunctionDef) and fn.name == "error_kind":
            for ret in ast.walk(fn):
                if isinstance(ret, ast.Return) and ret.value is not None:
                    kinds |= _strings(ret.value)
    handlers = ast.parse((PKG / "server/handlers.py").read_text())
    for d in ast.walk(handlers):
        if isinstance(d, ast.Dict):
            for k, v in zip(d.keys, d.values):
                if isinstance(k, ast.Constant) and k.value == "error" and v is not None:
                    kinds |= {s for s in _strings(v) if re.fullmatch(r"[a-z_]+", s)}
    for path in PKG.rglob("*.py"):
        if "emulator" in path.parts:
            continue  # the emulator's errors are Google's, seen by the client, never by the UI
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            # OAuthError("kind", ...) and `kind = "a" if ... else "b"` before one
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "OAuthError" and node.args:
                first = node.args[0]
                kinds |= {s for s in _strings(first) if re.fullmatch(r"[a-z_]+", s)}
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) in ("kind", "error_kind")
                                                    for t in node.targets):
                if path.parent.name in ("auth", "drive", "engine", "core"):
                    kinds |= {s for s in _strings(node.value) if re.fullmatch(r"[a-z_]+", s)}
    return kinds


def ts_kinds() -> set[str]:
    source = (ROOT / "labextension/src/errors.ts").read_text()
    block = re.search(r"SERVER_ERROR_KINDS[^=]*=\s*\{(.*?)\};", source, re.S)
    assert block, "SERVER_ERROR_KINDS not found in errors.ts"
    return set(re.findall(r"^\s*([a-z_]+):", block.group(1), re.M))


def classic_kinds() -> set[str]:
    source = (PKG / "nbextension/static/main.js").read_text()
    block = re.search(r"var KINDS = \{(.*?)\};", source, re.S)
    assert block, "KINDS not found in main.js"
    return set(re.findall(r"([a-z_]+):", block.group(1)))


def test_the_collection_finds_the_known_kinds() -> None:
    found = server_kinds()
    assert {"needs_reauth", "drive_full", "upload_cap", "drive_unreachable", "access_denied",
            "nothing_to_restore", "config", "internal", "already_running"} <= found, found


# The OAuth callback page's fallback when an error carries no kind: both frontends read any kind
# they do not know, on that page's message, as "the sign-in did not finish".
PAGE_FALLBACK = "error"


def test_every_server_kind_has_words_in_both_frontends() -> None:
    kinds = server_kinds() - {PAGE_FALLBACK}
    assert kinds - ts_kinds() == set(), "add these to SERVER_ERROR_KINDS in labextension/src/errors.ts"
    assert kinds - classic_kinds() == set(), "add these to KINDS in nbextension/static/main.js"


def test_drive_errors_get_their_own_kind() -> None:
    """Issue 15's "networkError ... (ServerNotFoundError)" is `drive_unreachable`, not a raw message."""
    unreachable = DriveApiError(0, "networkError", "Google Drive could not be reached after 8 tries "
                                                    "(ServerNotFoundError)")
    assert error_kind(unreachable) == "drive_unreachable"
    assert error_kind(DriveApiError(400, "badRequest", "Bad Request")) == "drive_error"
    assert error_kind(StorageFull(403, "storageQuotaExceeded", "full")) == "drive_full"
    assert error_kind(EnvironmentProblem("no space left on device")) == "environment"
    assert error_kind(ConfigError("no client id")) == "config"
    assert error_kind(SyncError("something else")) == "sync_error"
    assert error_kind(RuntimeError("bug")) == "internal"
