"""The emulator's long-lived parts, built once per emulator and handed to every handler.

Each part gets only what it needs (the settings) when it is made, so the context is built in
one go, complete, and no part has to reach back into it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .accounts import AccountStore
from .faults import CallLimits, FaultInjector, Stats
from .settings import EmulatorSettings
from .store import DriveStore


@dataclass(slots=True)
class EmulatorContext:
    settings: EmulatorSettings
    accounts: AccountStore
    files: DriveStore
    faults: FaultInjector
    limiter: CallLimits  # quotas and the write rate, checked before each call
    stats: Stats
    base_url: str = ""  # "http://127.0.0.1:<port>/" once listening


def build_context(settings: EmulatorSettings) -> EmulatorContext:
    """Every part, made from the settings (the Drive store opens its SQLite file here: build it
    on the thread that will serve requests)."""
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    if settings.persistent:  # a restart must not turn the clock back (expired stays expired)
        settings.clock.keep_in(Path(settings.data_dir) / "clock.json")
    stats = Stats()
    return EmulatorContext(
        settings=settings,
        accounts=AccountStore(settings),
        files=DriveStore(settings),
        faults=FaultInjector(settings.fault_rate, None, settings.seed),
        limiter=CallLimits(settings, stats),
        stats=stats,
    )
