"""The Drive v3 discovery document the emulator serves, and the schemas it validates against.

We serve the very document google-api-python-client bundles, with `rootUrl`, `baseUrl` and
`mtlsRootUrl` pointed at the emulator: then `build(..., discoveryServiceUrl=...)` sends list,
upload and batch calls here (trap 1 in reference/drive-api-v3.md). The same document's
`schemas` tell `fields.py` which field selections are valid, so we never drift from Google.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any


def _bundled_path() -> Path:
    import googleapiclient.discovery_cache as cache

    return Path(cache.__file__).parent / "documents" / "drive.v3.json"


@functools.lru_cache(maxsize=1)
def _bundled() -> dict[str, Any]:
    with open(_bundled_path(), encoding="utf-8") as fh:
        return json.load(fh)


@functools.lru_cache(maxsize=8)
def document(root_url: str) -> bytes:
    """The discovery document with every root pointed at `root_url` ("http://127.0.0.1:P/")."""
    if not root_url.endswith("/"):
        root_url += "/"
    doc = dict(_bundled())
    doc["rootUrl"] = root_url
    doc["mtlsRootUrl"] = root_url
    doc["baseUrl"] = root_url + doc.get("servicePath", "drive/v3/")
    return json.dumps(doc).encode("utf-8")


def schemas() -> dict[str, Any]:
    """Drive's resource schemas (File, FileList, Change, ...), keyed by name."""
    return _bundled()["schemas"]
