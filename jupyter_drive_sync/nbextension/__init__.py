"""The classic notebook (nbclassic) tree-page extension: the same prompt and "Sync now" button.

The wheel installs `static/` as `share/jupyter/nbextensions/jupyter_drive_sync/` and `tree.json`
as `etc/jupyter/nbconfig/tree.d/jupyter_drive_sync.json`, which enables it with no extra step.
"""

from __future__ import annotations

from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"


def _jupyter_nbextension_paths() -> list[dict[str, str]]:
    """For `jupyter nbclassic-extension install --py jupyter_drive_sync.nbextension` (development)."""
    return [
        {
            "section": "tree",
            "src": str(STATIC_DIR),
            "dest": "jupyter_drive_sync",
            "require": "jupyter_drive_sync/main",
        }
    ]
