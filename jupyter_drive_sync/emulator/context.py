"""The emulator's shared state: settings and the long-lived parts every handler needs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the parts import this module; only the type checker needs theirs
    from .accounts import AccountStore
    from .faults import FaultInjector, QuotaLimiter, Stats
    from .store import DriveStore

GIB = 1024**3


@dataclass(slots=True)
class EmulatorSettings:
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


@dataclass(slots=True)
class EmulatorContext:
    settings: EmulatorSettings
    accounts: "AccountStore"
    files: "DriveStore"
    faults: "FaultInjector"
    limiter: "QuotaLimiter"
    stats: "Stats"
    base_url: str = ""  # "http://127.0.0.1:<port>/" once listening
