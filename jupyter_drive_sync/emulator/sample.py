"""Helpers that put a home in front of an emulator: a sample home, and a connected account.

Used by `jupyter-drive-sync demo`, Binder and the tests, so that "connect this home to that
emulator account" is written once. They talk to the emulator only through its admin API over
HTTP, so they work for an in-process emulator and a separately started one alike.
"""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path
from typing import Any

from ..core.settings import default_credentials_path
from ..auth.credentials import DRIVE_FILE_SCOPE, CredentialStore


def admin(url: str, method: str, route: str, body: dict[str, Any] | None = None) -> Any:
    """One admin-API call (`route` relative to the emulator root, e.g. `_emulator/accounts`)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url.rstrip("/") + "/" + route, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - loopback emulator only
        raw = resp.read()
    return json.loads(raw) if raw else None


def connect_home(url: str, home: Path, email: str, *, key: str | None = None,
                 **account: Any) -> dict[str, Any]:
    """Create (or reuse) `email` at the emulator and store its tokens as `home`'s credentials."""
    from google.oauth2.credentials import Credentials

    acct = admin(url, "POST", "_emulator/accounts", {"email": email, **account})
    web = admin(url, "GET", "_emulator/client_secrets.json")["web"]
    creds = Credentials(acct["access_token"], refresh_token=acct["refresh_token"],
                        token_uri=web["token_uri"], client_id=web["client_id"],
                        client_secret=web["client_secret"], scopes=[DRIVE_FILE_SCOPE])
    CredentialStore(default_credentials_path(home), key).save(creds)
    return acct


def _notebook(title: str, code: str) -> str:
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": [f"# {title}"]},
        {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": [code]},
    ]
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1)


def make_sample_home(home: Path) -> Path:
    """A small, realistic student home: notebooks, data, a nested project, and things that must
    NOT be backed up (a private key, checkpoints, caches) so the demo shows the excludes."""
    files = {
        "README.md": "Term work for Data 8.\n",
        "lab01/lab01.ipynb": _notebook("Lab 1: Expressions", "2 ** 10"),
        "lab02/lab02.ipynb": _notebook("Lab 2: Tables", "sum(range(10))"),
        "lab02/data/heights.csv": "name,height\nAda,170\nAlan,178\nGrace,165\n",
        "project/report.md": "# Final project\n\nFindings go here.\n",
        "project/src/analysis.py": "def mean(xs):\n    return sum(xs) / len(xs)\n",
        # excluded by the built-in rules: shown in the demo as "not uploaded"
        ".ssh/id_rsa": "-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-real-key\n-----END OPENSSH PRIVATE KEY-----\n",
        "lab01/.ipynb_checkpoints/lab01-checkpoint.ipynb": _notebook("Lab 1 (checkpoint)", "2 ** 10"),
        ".cache/pip/http/cached.bin": "cache\n",
    }
    for rel, text in files.items():
        path = home / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            path.write_text(text, encoding="utf-8")
    os.chmod(home / ".ssh", 0o700)
    os.chmod(home / ".ssh" / "id_rsa", 0o600)
    return home
