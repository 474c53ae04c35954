"""The emulator's settings: what the command line, the tests and the admin API may tune.

Kept apart from the parts that read them (accounts, the Drive store, the shell), so every
part can take the settings without knowing about the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

GIB = 1024**3


@dataclass(slots=True)
class EmulatorSettings:
    """Mutable on purpose: `POST /_emulator/settings` changes latency, quota or token lifetime live."""

    data_dir: Path
    persistent: bool  # False: data_dir is a temporary directory removed on exit
    latency_ms: float = 0.0
    quota_per_minute: int = 0  # per-user quota units per minute; 0 = unlimited
    fault_rate: float = 0.0
    seed: int | None = None
    storage_quota_bytes: int = 15 * GIB  # default per account; admin API may set one per account
    daily_upload_cap_bytes: int = 750 * GIB
    token_lifetime_s: int = 3600
    auto_consent: bool = False  # True: /o/oauth2/auth approves at once (scripted tests)
