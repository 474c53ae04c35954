"""File metadata a client sends: which fields it may write, their types, and the property limits.

Checked against the same discovery document Google's clients use, so an unknown or
output-only field fails here as it fails against the real service.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from .. import discovery
from ..records import FileRec, RevRec, parse_time
from ..wire import DriveError
from .params import invalid, not_writable

PROP_LIMIT_BYTES = 124
APP_PROPS_PER_APP = 30
PROPS_TOTAL = 100
PINNED_LIMIT = 200
GOOGLE_APPS = "application/vnd.google-apps."  # Docs, Sheets...: no binary content

FILE_SCHEMA = discovery.schemas()["File"]["properties"]
# What a client may write: everything the schema doesn't call output-only (plus `kind`).
_FILE_WRITABLE = {k for k, v in FILE_SCHEMA.items() if not v.get("description", "").startswith("Output only")}
_FILE_WRITABLE.add("kind")
_UPDATE_NOT_WRITABLE = {"id", "parents"}
REVISION_WRITABLE = {"keepForever", "publishAuto", "published", "publishedOutsideDomain", "kind"}


def check_body(metadata: Any, *, update: bool) -> dict[str, Any]:
    """The File body of a create or update, validated (non-string property values are
    stringified in place, as Google does)."""
    if not isinstance(metadata, dict):
        raise invalid("Invalid JSON payload received.", reason="badRequest")
    for key in metadata:
        if key not in FILE_SCHEMA:
            raise invalid(f'Invalid JSON payload received. Unknown name "{key}": Cannot find field.')
        if update and key == "parents":
            raise not_writable(
                "The parents field is not directly writable in update requests. "
                "Use the addParents and removeParents parameters instead."
            )
        if key not in _FILE_WRITABLE or (update and key in _UPDATE_NOT_WRITABLE):
            raise not_writable()
    for key in ("name", "mimeType", "description", "originalFilename"):
        if key in metadata and metadata[key] is not None and not isinstance(metadata[key], str):
            raise invalid(f"Invalid value for: {key}")
    for key in ("trashed", "starred"):
        if key in metadata and not isinstance(metadata[key], bool):
            raise invalid(f"Invalid value for: {key}")
    for key in ("modifiedTime", "createdTime", "viewedByMeTime", "modifiedByMeTime"):
        if key in metadata and metadata[key] is not None:
            if not isinstance(metadata[key], str):
                raise invalid(f"Invalid value for: {key}")
            try:
                parse_time(metadata[key])
            except ValueError:
                raise invalid(f'Invalid value for: Invalid format: "{metadata[key]}"') from None
    for key in ("properties", "appProperties"):
        value = metadata.get(key)
        if value is None:
            continue
        if not isinstance(value, dict):
            raise invalid(f"Invalid value for: {key}")
        for k, v in value.items():
            if not k:
                raise invalid("Property keys must not be empty.")
            if v is not None and not isinstance(v, str):
                v = json.dumps(v) if not isinstance(v, (int, float, bool)) else str(v).lower()
                value[k] = v
            if v is not None and len(k.encode()) + len(v.encode()) > PROP_LIMIT_BYTES:
                raise invalid(
                    f"The size of the property key and value ({k}) exceeds the limit of {PROP_LIMIT_BYTES} bytes."
                )
    return metadata


def _merge_props(current: dict[str, str], patch: dict[str, Any]) -> dict[str, str]:
    out = dict(current)
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = v
    return out


def apply_props(rec: FileRec, metadata: dict[str, Any], client_id: str) -> None:
    """Merge `properties` and this client's `appProperties` into `rec` (None deletes a key)."""
    if metadata.get("properties") is not None:
        rec.properties = _merge_props(rec.properties, metadata["properties"])
    if metadata.get("appProperties") is not None:
        mine = _merge_props(rec.app_properties.get(client_id, {}), metadata["appProperties"])
        if len(mine) > APP_PROPS_PER_APP:
            raise invalid(f"The file has more than {APP_PROPS_PER_APP} private properties for this app.")
        if mine:
            rec.app_properties[client_id] = mine
        else:
            rec.app_properties.pop(client_id, None)
    total = len(rec.properties) + sum(len(m) for m in rec.app_properties.values())
    if total > PROPS_TOTAL:
        raise invalid(f"The file has more than {PROPS_TOTAL} properties.")


def check_pin_count(rec: FileRec) -> None:
    if sum(1 for r in rec.revisions if r.keep_forever) > PINNED_LIMIT:
        raise DriveError(
            403, "cannotKeepRevisionForever",
            f"A file can have at most {PINNED_LIMIT} revisions marked keep forever.",
        )


def with_keep(rev: RevRec, keep: bool) -> RevRec:
    return replace(rev, keep_forever=keep)
