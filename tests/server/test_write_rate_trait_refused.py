"""`c.DriveSyncApp.write_rate = -1` (or NaN, infinity, or a bad $JUPYTER_DRIVE_SYNC_WRITE_RATE)
stops the extension at start-up with one clear line, by the CLI's rule
(core/settings.resolve_write_rate). A -1 used to turn the push's write pacing off silently."""

from __future__ import annotations

import math
from typing import Any

import pytest

from jupyter_drive_sync.core.settings import WRITE_RATE_ENV

RULE = "must be a number of writes per second, 0 or more (0: unpaced), not"

CASES = {  # case: (trait value, variable, the line the log must hold)
    "minus-one": (-1, None, f"DriveSyncApp.write_rate {RULE} -1"),
    "nan": (math.nan, None, f"DriveSyncApp.write_rate {RULE} nan"),
    "infinity": (math.inf, None, f"DriveSyncApp.write_rate {RULE} inf"),
    "variable": (None, "-1", f"{WRITE_RATE_ENV} {RULE} '-1'"),
}


@pytest.fixture(params=sorted(CASES))
def bad_rate(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> tuple[float | None, str]:
    value, variable, line = CASES[request.param]
    if variable is not None:
        monkeypatch.setenv(WRITE_RATE_ENV, variable)
    return value, line


@pytest.fixture
def drive_sync_config(drive_sync_config: dict[str, Any], bad_rate: tuple[float | None, str]) -> dict[str, Any]:
    value, _ = bad_rate
    return {**drive_sync_config, "write_rate": value} if value is not None else drive_sync_config


async def test_a_bad_write_rate_stops_the_extension_with_one_clear_line(capsys, bad_rate, jp_serverapp, jp_fetch):
    _, line = bad_rate
    err = capsys.readouterr().err  # the server's start-up log (capsys first: it captures the setup)
    assert any(entry.endswith(f"] drive-sync: NOT started: {line}") for entry in err.splitlines()), err
    resp = await jp_fetch("drive-sync", "status", raise_error=False)
    assert resp.code == 404  # no drive-sync routes: nothing pushes with pacing silently off
