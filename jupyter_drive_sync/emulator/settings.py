"""The emulator's settings: what the command line, the tests and the admin API may tune.

Kept apart from the parts that read them (accounts, the Drive store, the shell), so every
part can take the settings without knowing about the others. Two profiles: `fast` (the field
defaults: no limits, no latency, for quick tests) and `google` (every figure as Google has it).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .clock import EmulatorClock

GIB = 1024**3
DAY_S = 24 * 3600

PROFILES = ("fast", "google")

# `--profile google`: each figure with where it comes from. Numbers Google varies stay off in
# `fast` (the default), so the test suite keeps its speed; rules Google always applies are not here.
GOOGLE_PROFILE: dict[str, Any] = {
    # Google Workspace admin help, "Drive best practices" (support.google.com/a/answer/10445916,
    # quoted in rclone issue 7384): "avoid exceeding 3 requests per second of sustained write or
    # insert requests, per account. Note: This rate limit can't be increased."
    "write_rate": 3.0,
    # Google publishes no burst size; 10 is the burst under which issue 14 measured our push and
    # rclone (rclone's own measurements in issue 7384 point at ~2-3 inserts/s sustained).
    "write_burst": 10,
    # Drive API usage limits (developers.google.com/workspace/drive/api/guides/limits): projects
    # that used the API before May 2026 keep 12,000 queries per minute per project and per user
    # (one call, one query). Newer projects get 1,000,000 / 325,000 units with per-method costs
    # Google does not publish per method; set those with --quota-per-minute / --project-quota-per-minute.
    "quota_per_minute": 12_000,
    "project_quota_per_minute": 12_000,
    # Drive's own time per call measured against real Drive from a host 10-30 ms away from Google
    # (Xray-core pull request 6748, 2026-09): files.get 229 ms, files.list 260 ms,
    # files.update 541 ms, files.create 686 ms.
    "latency_ms": 230.0,
    "write_latency_ms": 600.0,
    # Google's OAuth docs, "Refresh token expiration": an app in "Testing" publishing status gets
    # refresh tokens that expire after 7 days (applied once the OAuth side has the setting).
    "refresh_token_lifetime_s": 7 * DAY_S,
}


@dataclass(slots=True)
class EmulatorSettings:
    """Mutable on purpose: `POST /_emulator/settings` changes latency, limits or token lifetime live."""

    data_dir: Path
    persistent: bool  # False: data_dir is a temporary directory removed on exit
    latency_ms: float = 0.0  # added to every Drive request
    write_latency_ms: float | None = None  # instead of latency_ms for requests that change something
    quota_per_minute: int = 0  # per-user quota units per minute; 0 = unlimited
    project_quota_per_minute: int = 0  # all users of the emulator together; 0 = unlimited
    write_rate: float = 0.0  # sustained write calls per second per account; 0 = unlimited
    write_burst: int = 0  # write calls allowed at once above the rate; 0 = one second's worth
    fault_rate: float = 0.0
    seed: int | None = None
    storage_quota_bytes: int = 15 * GIB  # default per account; admin API may set one per account
    daily_upload_cap_bytes: int = 750 * GIB
    token_lifetime_s: int = 3600
    refresh_token_lifetime_s: int = 0  # refresh tokens expire this long after issue; 0 = never
    auto_consent: bool = False  # True: /o/oauth2/auth approves at once (scripted tests)
    profile: str = "fast"  # which profile the numbers above started from (reported by the admin API)
    clock: EmulatorClock = field(default_factory=EmulatorClock, repr=False, compare=False)

    @classmethod
    def for_profile(cls, profile: str, *, data_dir: Path, persistent: bool, **overrides: Any) -> "EmulatorSettings":
        """Settings of `profile`, then every override that is not None (a flag given on the command line)."""
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; known: {', '.join(PROFILES)}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise TypeError(f"unknown emulator settings: {unknown}")
        # A profile value whose setting does not exist (yet) is skipped, not an error.
        values = {k: v for k, v in (GOOGLE_PROFILE if profile == "google" else {}).items() if k in known}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(data_dir=data_dir, persistent=persistent, profile=profile, **values)

    def request_latency_s(self, method: str) -> float:
        """How long Google takes over a request: those that may change something (any method
        but GET: a batch, an upload chunk) take `write_latency_ms` when it is set."""
        if method != "GET" and self.write_latency_ms is not None:
            return max(0.0, self.write_latency_ms) / 1000.0
        return max(0.0, self.latency_ms) / 1000.0
