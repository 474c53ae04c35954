"""Framework-free request/response values and Google's error envelope.

The Drive routes are implemented against these, not against tornado, so that a batch part
and a top-level HTTP request go through exactly the same code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

# Google's canonical status names for the codes the emulator returns.
_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    412: "FAILED_PRECONDITION",
    416: "OUT_OF_RANGE",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the account, the OAuth client the token was minted for, its scopes."""

    email: str
    client_id: str
    scopes: frozenset[str]


@dataclass(slots=True)
class Request:
    method: str  # after X-HTTP-Method-Override
    path: str  # URL path without the query string, e.g. "/drive/v3/files/abc"
    query: dict[str, list[str]]  # parsed with blank values kept
    headers: dict[str, str]  # keys lower-cased
    body: bytes
    principal: Principal | None = None

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default


@dataclass(slots=True)
class Response:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @classmethod
    def json(cls, status: int, obj: Any, headers: dict[str, str] | None = None) -> "Response":
        hdrs = {"Content-Type": "application/json; charset=UTF-8"}
        hdrs.update(headers or {})
        return cls(status, hdrs, json.dumps(obj).encode("utf-8"))


class DriveError(Exception):
    """An error answered in Google's envelope; `reason` is what clients read (errors[0].reason)."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        *,
        domain: str = "global",
        location: str | None = None,
        location_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.domain = domain
        self.location = location
        self.location_type = location_type
        self.headers = headers or {}

    def envelope(self) -> dict[str, Any]:
        item: dict[str, Any] = {"domain": self.domain, "reason": self.reason, "message": self.message}
        if self.location:
            item["location"] = self.location
            item["locationType"] = self.location_type or "parameter"
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "errors": [item],
                "status": _STATUS_NAMES.get(self.code, "UNKNOWN"),
            }
        }

    def to_response(self) -> Response:
        return Response.json(self.code, self.envelope(), self.headers)
