"""Query parameters, JSON bodies and page tokens, checked and answered the way Drive does."""

from __future__ import annotations

import base64
import json
import urllib.parse
from typing import Any

from ..wire import DriveError, Request


def invalid(message: str, location: str | None = None, reason: str = "invalid") -> DriveError:
    return DriveError(400, reason, message, location=location, location_type="parameter" if location else None)


def not_writable(message: str = "The resource body includes fields which are not directly writable.") -> DriveError:
    return DriveError(403, "fieldNotWritable", message)


def bool_arg(req: Request, name: str, default: bool = False) -> bool:
    raw = req.arg(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise invalid(f"Invalid value '{raw}'. Values must match the following regular expression: '(true|false)'", name)


def int_arg(req: Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = req.arg(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid(f"Invalid value '{raw}'. Values must match the following regular expression: '-?\\d+'", name) from None
    if not lo <= value <= hi:
        raise invalid(f"Invalid value '{raw}'. Values must be within the range: [{lo}, {hi}]", name)
    return value


def encode_token(obj: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_token(token: str) -> dict[str, Any]:
    try:
        pad = "=" * (-len(token) % 4)
        obj = json.loads(base64.urlsafe_b64decode(token + pad))
        if not isinstance(obj, dict):
            raise ValueError
        return obj
    except (ValueError, TypeError):
        raise invalid("Invalid Value", "pageToken") from None


def json_body(req: Request) -> Any:
    if not req.body or not req.body.strip():
        return {}
    ctype = req.headers.get("content-type", "")
    if ctype.startswith("application/x-www-form-urlencoded"):
        return {}
    try:
        return json.loads(req.body)
    except (ValueError, UnicodeDecodeError):
        raise DriveError(400, "parseError", "Parse Error") from None


def merge_form_query(req: Request) -> None:
    """A long GET arrives as POST + X-HTTP-Method-Override with the query as a form body."""
    if req.method.upper() == "GET" and req.body and req.headers.get("content-type", "").startswith(
        "application/x-www-form-urlencoded"
    ):
        for key, values in urllib.parse.parse_qs(req.body.decode("utf-8", "replace"), keep_blank_values=True).items():
            req.query.setdefault(key, []).extend(values)
        req.body = b""
