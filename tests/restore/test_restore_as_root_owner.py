"""A restore started as root (an admin's `sudo`, a nightly job) leaves the home its owner's.

Before (issue 13): every file and folder it wrote was root's, so the student could not edit
their own restored work, nor their server write its state. Now what a restore creates takes the
owner (uid and gid) of the home folder, as the push's own state files do
(tests/hub/test_root_run_leaves_no_root_files.py).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from jupyter_drive_sync.core.options import PushOptions, RestoreOptions
from jupyter_drive_sync.engine.push import run_push
from jupyter_drive_sync.engine.restore import run_restore

from tests.support.helpers import write

EMAIL = "root.restore@uni.edu"
USER = "rob"
STUDENT = 65534  # nobody: any uid other than root's
T0 = 1_700_000_000
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="only a run as root can leave another user's files")


def owners(home: Path) -> dict[str, tuple[int, int]]:
    """Every entry below the home that is not the student's, with its uid and gid."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(home):
        for n in [*dirnames, *filenames]:
            p = os.path.join(dirpath, n)
            st = os.lstat(p)
            if (st.st_uid, st.st_gid) != (STUDENT, STUDENT):
                out[os.path.relpath(p, home)] = (st.st_uid, st.st_gid)
    return out


def give_to_student(home: Path) -> None:
    for dirpath, dirnames, filenames in os.walk(home):
        for n in [*dirnames, *filenames, ""]:
            os.lchown(os.path.join(dirpath, n) if n else dirpath, STUDENT, STUDENT)


@pytest.mark.parametrize("how", ["into an empty home", "over older local files", "one folder"])
def test_restore_as_root_gives_what_it_writes_to_the_homes_owner(connected_home, emulator, tmp_path, how):
    os.chmod(tmp_path, 0o755)
    home = connected_home(USER, EMAIL)
    files = {"notes.md": b"# notes\n", "lab/a.py": b"print('a')\n", "lab/deep/er/b.csv": b"1,2\n",
             "empty.txt": b""}
    for rel, data in files.items():
        write(home, rel, data, T0 + 100)
    (home / "empty folder").mkdir()
    assert run_push(PushOptions(home=home, user=USER, api_root=emulator.url)).failed == []
    extra = {}
    if how == "into an empty home":
        for entry in ("notes.md", "lab", "empty.txt", "empty folder"):
            shutil.rmtree(home / entry) if (home / entry).is_dir() else (home / entry).unlink()
    elif how == "over older local files":
        write(home, "notes.md", b"older", T0)
        extra = {"overwrite": "older"}
    else:
        shutil.rmtree(home / "lab")
        extra = {"path": "lab/deep"}
    give_to_student(home)

    s = run_restore(RestoreOptions(home=home, user=USER, api_root=emulator.url, workers=2, **extra))
    assert s.failed == [] and s.restored + s.replaced >= 1, s

    assert owners(home) == {}
    restored = {os.path.relpath(os.path.join(d, n), home) for d, ds, fs in os.walk(home) for n in [*ds, *fs]}
    want = {"lab", "lab/deep", "lab/deep/er", "lab/deep/er/b.csv"} if how == "one folder" else \
        {"notes.md", "lab", "lab/a.py", "lab/deep", "lab/deep/er", "lab/deep/er/b.csv", "empty.txt", "empty folder"}
    assert want <= restored, restored
