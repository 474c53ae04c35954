"""What a touch-only change costs: the mtime moved, the bytes did not (a notebook saved unchanged,
a `git checkout`, `touch`).

Measured through the emulator's stats: one metadata update (PATCH, one write) per touched file,
no upload, no bytes, and the one changes-feed call every push makes. It cannot cost less
without Drive's modifiedTime going stale: a restore sets that time on the file, and
last-write-wins compares it, so the one write is work that is needed.
"""

from __future__ import annotations

import os

from jupyter_drive_sync.core.options import PushOptions
from jupyter_drive_sync.engine.push import run_push

from tests.support import helpers
from tests.support.helpers import write

TOUCHED, UNTOUCHED = 20, 10


def test_a_touch_costs_one_metadata_write_and_no_bytes(connected_home, emulator):
    home = connected_home("tom", "tom@uni.edu")
    for i in range(TOUCHED + UNTOUCHED):
        write(home, f"w/f{i:02d}.py", b"x = %d\n" % i * 100, 1_700_000_000)
    run_push(PushOptions(home=home, user="tom", api_root=emulator.url))
    for i in range(TOUCHED):
        os.utime(home / f"w/f{i:02d}.py", (1_700_000_500, 1_700_000_500))

    emulator.reset_stats()
    s = run_push(PushOptions(home=home, user="tom", api_root=emulator.url))
    stats = emulator.stats()
    assert (s.metadata_updated, s.updated, s.created, s.unchanged) == (TOUCHED, 0, 0, UNTOUCHED)
    assert (s.writes, stats["writes"], stats["bytes_received"], s.bytes_uploaded) == (TOUCHED, TOUCHED, 0, 0)
    assert stats["by_route"] == {"GET /drive/v3/changes": 1, "PATCH /drive/v3/files/{fileId}": TOUCHED}
    tree = helpers.drive_tree(emulator, "tom@uni.edu", "home/tom")
    assert tree["w/f00.py"]["modifiedTime"].startswith("2023-11-14T22:21:40")  # 1_700_000_500
    assert tree["w/f29.py"]["modifiedTime"].startswith("2023-11-14T22:13:20")  # untouched
