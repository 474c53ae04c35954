"""Two Drive folders at the backup's path: the push, its dry run and a restore all take the oldest.

Names are not unique on Drive (reference/drive-api-v3.md), so `home/ann` can exist twice, e.g.
made by another tool or by hand. With no usable stored folder ID (a lost state DB, a new
volume) the backup is found by the folder template's path, one level at a time
(`engine/remote_root.walk_folder_path`): every reader must settle on the same folder, and a
push reports the others once. Against the emulator over real HTTP; nothing mocked.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from jupyter_drive_sync.auth.session import connect
from jupyter_drive_sync.core.options import PushOptions, RestoreOptions
from jupyter_drive_sync.core.settings import state_dir
from jupyter_drive_sync.drive.client import DriveClient
from jupyter_drive_sync.drive.types import NewFolder
from jupyter_drive_sync.engine.push import run_push
from jupyter_drive_sync.engine.remote_root import walk_folder_path
from jupyter_drive_sync.engine.restore import run_restore

from tests.support import helpers
from tests.support.helpers import write

EMAIL = "twins@uni.edu"
USER = "ann"
T0 = 1_700_000_000


def backup_with_a_newer_twin(connected_home: Any, emulator: Any) -> tuple[Path, DriveClient, str, str]:
    """A pushed home (`home/ann/mine.txt`) and, beside its folder, a newer folder also called
    `ann` holding a folder `theirs`. Returns the home, a client, and both `ann` folders' IDs."""
    home = connected_home(USER, EMAIL)
    write(home, "mine.txt", b"mine", T0)
    s = run_push(PushOptions(home=home, user=USER, api_root=emulator.url, workers=2))
    assert s.failed == [], s.failed
    paths = helpers.drive_paths(emulator.files(EMAIL))
    home_id, ours = paths["home"][0]["id"], paths["home/ann"][0]["id"]
    client = connect(home, None, None, emulator.url)
    twin_id, inner_id = client.generate_ids(2)
    later_ms = client.get(ours).modified_ms + 1000  # the push made its folders just now
    for new in (NewFolder(twin_id, USER, home_id, later_ms), NewFolder(inner_id, "theirs", twin_id, later_ms)):
        assert not isinstance(client.create_folders([new])[new.id], Exception)
    return home, client, ours, twin_id


def lose_state(home: Path) -> None:
    """Drop the state DB, so the backup can only be found by its path."""
    for name in os.listdir(state_dir(home)):
        if name.startswith("state.sqlite3"):
            os.unlink(state_dir(home) / name)


def twin_reports(summary: Any) -> list[dict[str, str]]:
    return [s for s in summary.skipped if "Drive folders are called" in s["reason"]]


def test_walk_takes_the_oldest_and_stops_at_the_first_missing_level(connected_home, emulator):
    home, client, ours, twin = backup_with_a_newer_twin(connected_home, emulator)
    heard: list[tuple[str, str]] = []
    emulator.reset_stats()
    found = walk_folder_path(client, ["home", USER, "nope", "deeper"], lambda p, why: heard.append((p, why)))
    client.close()

    assert [f.name for f in found] == ["home", USER] and found[-1].id == ours != twin
    assert heard == [(USER, f"2 Drive folders are called {USER!r} here; using {ours}")]
    # one name query a level, up to the first one that is missing: `deeper` is never asked for
    assert emulator.stats()["by_route"].get("GET /drive/v3/files") == 3, emulator.stats()


def test_dry_run_push_and_restore_all_use_the_oldest(connected_home, emulator):
    home, client, ours, twin = backup_with_a_newer_twin(connected_home, emulator)
    client.close()
    lose_state(home)
    expected = [{"path": USER, "reason": f"2 Drive folders are called {USER!r} here; using {ours}"}]

    preview = run_push(PushOptions(home=home, user=USER, api_root=emulator.url, workers=2, dry_run=True))
    real = run_push(PushOptions(home=home, user=USER, api_root=emulator.url, workers=2))
    for s in (preview, real):
        assert s.failed == [] and twin_reports(s) == expected, s
        assert (s.created, s.folders_created) == (0, 0), s  # mine.txt adopted, nothing made twice

    paths = helpers.drive_paths([f for f in emulator.files(EMAIL) if not f["trashed"]])
    assert sorted(f["id"] for f in paths["home/ann"]) == sorted([ours, twin])
    assert [f["parents"][0] for f in paths["home/ann/mine.txt"]] == [ours]
    assert [f["parents"][0] for f in paths["home/ann/theirs"]] == [twin]  # left alone

    target = connected_home("fresh", EMAIL)  # no state: found by path, read-only, so not reported
    r = run_restore(RestoreOptions(home=target, user=USER, api_root=emulator.url, workers=2))
    assert not r.failed and twin_reports(r) == [], r
    assert (target / "mine.txt").read_bytes() == b"mine"
    assert not (target / "theirs").exists()
