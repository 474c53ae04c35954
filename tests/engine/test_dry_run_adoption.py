"""`push --dry-run` after the state DB is lost previews adoption, as the real push will do it.

Before (issue 13): the dry run planned with an empty state and previewed every file as a
create, although the real push adopts the Drive tree and creates nothing Drive already holds.
Now it finds the backup folder and walks it by listing only, and its summary is the real push's.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from jupyter_drive_sync.core.options import PushOptions
from jupyter_drive_sync.core.settings import state_dir
from jupyter_drive_sync.engine.push import run_push
from jupyter_drive_sync.home.state_db import StateDB

from tests.support.helpers import write

EMAIL = "preview@uni.edu"
USER = "pia"
T0 = 1_700_000_000
COUNTS = ("created", "updated", "metadata_updated", "folders_created", "kept_drive_copy", "conflicts", "trashed",
          "moved", "unchanged", "bytes_uploaded")


def push(home: Path, emulator: Any, **kw: Any) -> dict[str, Any]:
    s = run_push(PushOptions(home=home, user=USER, api_root=emulator.url, workers=2, **kw))
    assert s.failed == [], s.failed
    return asdict(s)


def counts(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: summary[k] for k in COUNTS}


def writes(emulator: Any) -> dict[str, int]:
    """Drive API requests of the run that could change Drive (anything but a read)."""
    return {r: n for r, n in emulator.stats()["by_route"].items()
            if not r.startswith("GET ") and r.split(" ")[1].startswith(("/drive/", "/upload/", "/batch/"))}


def lose_state(home: Path) -> None:
    for name in os.listdir(state_dir(home)):
        if name.startswith("state.sqlite3"):
            os.unlink(state_dir(home) / name)


@pytest.mark.parametrize("how", ["lost state DB", "new volume"])
def test_dry_run_after_a_lost_state_previews_adoption(connected_home, emulator, how):
    home = connected_home(USER, EMAIL)
    for rel in ("a.txt", "d/b.txt", "d/e/c.txt", "keep.txt"):
        write(home, rel, rel.encode(), T0)
    push(home, emulator)
    if how == "lost state DB":
        lose_state(home)
    else:  # a fresh volume: same credentials, no state, the home's files restored from elsewhere
        for rel in ("a.txt", "d/b.txt", "d/e/c.txt", "keep.txt"):
            os.unlink(home / rel)
        lose_state(home)
        for rel in ("a.txt", "d/b.txt", "d/e/c.txt", "keep.txt"):
            write(home, rel, rel.encode(), T0)
    write(home, "a.txt", b"a, edited later", T0 + 100)  # an update
    write(home, "d/e/c.txt", b"d/e/c.txt", T0 + 50)  # same bytes, touched: a metadata update
    write(home, "new/n.txt", b"new", T0 + 100)  # a folder and a file Drive does not hold

    emulator.reset_stats()
    preview = push(home, emulator, dry_run=True)
    assert writes(emulator) == {}, writes(emulator)
    with StateDB.for_home(home) as db:  # a look changes nothing: the next push still adopts
        assert db.count() == 0 and db.root_folder_id is None

    real = push(home, emulator)
    assert counts(preview) == counts(real), (preview, real)
    assert (real["created"], real["folders_created"], real["updated"], real["metadata_updated"]) == (1, 1, 1, 1), real


def test_dry_run_after_a_lost_state_previews_a_newer_drive_copy_kept(connected_home, emulator):
    home = connected_home(USER, EMAIL)
    write(home, "essay.md", b"draft", T0)
    push(home, emulator)
    lose_state(home)
    write(home, "essay.md", b"an older starter", T0 - 1000)  # Drive's copy is the later write

    preview = push(home, emulator, dry_run=True)
    real = push(home, emulator)
    assert counts(preview) == counts(real)
    assert (real["kept_drive_copy"], real["conflicts"], real["created"], real["updated"]) == (1, 1, 0, 0), real


def test_dry_run_of_a_first_push_still_previews_every_create(connected_home, emulator):
    home = connected_home(USER, EMAIL)
    write(home, "a.txt", b"a", T0)
    write(home, "d/b.txt", b"b", T0)
    preview = push(home, emulator, dry_run=True)
    assert writes(emulator) == {} and emulator.files(EMAIL) == []
    assert counts(preview) == counts(push(home, emulator))


def test_dry_run_back_on_an_account_that_holds_the_backup_previews_adoption(connected_home, emulator):
    """Another account connected whose Drive already holds this home's backup (switched away
    and back): the stored rows are the other account's, so the preview adopts B's tree."""
    from jupyter_drive_sync.emulator.sample import connect_home

    other = "preview.other@uni.edu"
    home = connected_home(USER, EMAIL)
    write(home, "a.txt", b"a", T0)
    write(home, "d/b.txt", b"b", T0)
    push(home, emulator)
    connect_home(emulator.url, home, other)
    push(home, emulator)  # B now holds the backup too
    connect_home(emulator.url, home, EMAIL)
    push(home, emulator)
    connect_home(emulator.url, home, other)
    write(home, "d/b.txt", b"b, edited", T0 + 100)

    emulator.reset_stats()
    preview = push(home, emulator, dry_run=True)
    assert writes(emulator) == {}
    real = push(home, emulator)
    assert counts(preview) == counts(real), (preview, real)
    assert (real["created"], real["folders_created"], real["updated"]) == (0, 0, 1), real
