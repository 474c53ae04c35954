"""Run the CLI as an ordinary user (uid/gid 65534) when the tests run as root.

Root reads everything, so "permission denied" only exists for a real user. The checkout and its
`.venv` may sit below a directory only root may enter (a clone made in `mktemp -d`, mode 0700):
uid 65534 can then not read the venv's `pyvenv.cfg` nor the package, and every run would end in
"No module named jupyter_drive_sync". In that case the checkout is bind-mounted once, for the
whole session, at a directory anyone may enter, and the runs use the interpreter found there.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

NOBODY = 65534
AS_ROOT = os.geteuid() == 0
REPO = Path(__file__).resolve().parents[2]
_PROBE = "import jupyter_drive_sync, googleapiclient"


def _drop(cmd: list[str]) -> tuple[list[str], dict]:
    """`setpriv` drops root (uid, gid, groups, capabilities) right before the exec; Popen's own
    `user=` is the fallback where setpriv is missing."""
    setpriv = shutil.which("setpriv")
    if setpriv:
        return [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *cmd], {}
    return cmd, {"user": NOBODY, "group": NOBODY, "extra_groups": []}


def _runs(python: str, env: dict[str, str]) -> bool:
    cmd, kw = _drop([python, "-c", _PROBE])
    done = subprocess.run(cmd, capture_output=True, cwd="/", env={**os.environ, **env}, timeout=120, **kw)
    return done.returncode == 0


def _unmount(mount: Path) -> None:
    """Detach the session's bind mount and remove the directories made for it."""
    subprocess.run(["umount", "-l", str(mount)], check=False, capture_output=True)
    for empty in (mount, mount.parent):
        try:
            empty.rmdir()
        except OSError:
            pass


@functools.lru_cache(maxsize=None)
def python_for_nobody() -> tuple[str, tuple[tuple[str, str], ...]]:
    """The interpreter uid 65534 can run this checkout with, and the environment it needs."""
    if _runs(sys.executable, {}):
        return sys.executable, ()
    where = Path(tempfile.mkdtemp(prefix="jds-checkout-"))
    os.chmod(where, 0o755)
    mount = where / "repo"
    mount.mkdir()
    done = subprocess.run(["mount", "--bind", str(REPO), str(mount)], capture_output=True, text=True)
    atexit.register(_unmount, mount)
    python = str(mount / Path(sys.executable).relative_to(REPO)) if Path(sys.executable).is_relative_to(REPO) \
        else sys.executable
    env = (("PYTHONPATH", str(mount)),)
    if done.returncode != 0 or not _runs(python, dict(env)):
        raise RuntimeError(f"uid {NOBODY} cannot run this checkout at {REPO} (a directory above it is closed to "
                           f"others) and bind-mounting it elsewhere failed ({done.stderr.strip() or 'no import'}): "
                           "clone into a directory others may enter")
    return python, env


def as_nobody(cmd: list[str], env: dict[str, str]) -> tuple[list[str], dict[str, str], dict]:
    """`cmd` (starting with sys.executable), its environment and Popen arguments, run as uid 65534
    when we are root, unchanged otherwise."""
    if not AS_ROOT:
        return cmd, env, {}
    python, extra = python_for_nobody()
    if cmd and cmd[0] == sys.executable:
        cmd = [python, *cmd[1:]]
    dropped, kw = _drop(cmd)
    return dropped, {**env, **dict(extra)}, kw


def chown_tree(root: Path, uid: int) -> None:
    """Give `root` and everything below it (links themselves, not their targets) to `uid`."""
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames, ""]:
            os.lchown(os.path.join(dirpath, name) if name else dirpath, uid, uid)
