"""Whether to offer the first-login "Back up your home to Google Drive?" dialog.

Notebook 7 loads the frontend on every page, so the answer must live on the server, or the
dialog would come back on each page. "never" lasts; "not now" lasts for this server session
only (it is stored with the session's id, so a restarted server asks again).
"""

from __future__ import annotations

import secrets
import threading
from pathlib import Path
from typing import Any

from ..engine.status import read_record, write_record

NOT_NOW = "not-now"
NEVER = "never"
CHOICES = (NOT_NOW, NEVER)
PROMPT_FILENAME = "prompt.json"


class PromptState:
    """The user's answer to the first-login dialog, kept in the home's state dir."""

    def __init__(self, state_dir: Path, *, enabled: bool = True, session_id: str | None = None) -> None:
        self.state_dir = Path(state_dir)
        self.path = self.state_dir / PROMPT_FILENAME
        self.enabled = enabled  # False: the admin turned the dialog off (prompt_default = "never")
        self.session_id = session_id or secrets.token_hex(8)
        self._lock = threading.Lock()

    def choice(self) -> str | None:
        """The answer that still applies: "never", "not-now" (this session), or None."""
        data = self._read()
        choice = data.get("choice")
        if choice == NEVER:
            return NEVER
        if choice == NOT_NOW and data.get("session") == self.session_id:
            return NOT_NOW
        return None

    def should_prompt(self, *, connected: bool) -> bool:
        return self.enabled and not connected and self.choice() is None

    def remember(self, choice: str) -> None:
        if choice not in CHOICES:
            raise ValueError(f"choice must be one of {', '.join(CHOICES)}")
        with self._lock:
            write_record(self.state_dir, PROMPT_FILENAME, {"choice": choice, "session": self.session_id})

    def reset(self) -> None:
        """Forget the answer (after a disconnect the user may want to be asked again)."""
        with self._lock:
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass

    def _read(self) -> dict[str, Any]:
        return read_record(self.state_dir, PROMPT_FILENAME)  # read on every status call
