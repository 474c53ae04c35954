"""Shared pieces of the `bench/` scripts: the emulator as its own process, generated homes,
timed child processes and the bare-walk baseline.

Benchmarks measure; they assert nothing. Everything here is plain stdlib (plus the package's
own `emulator.sample.connect_home`) so that a bench script's own imports do not distort what
it measures in the child processes it times.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from contextlib import contextmanager
from typing import Any, Callable, Iterator

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def cli() -> list[str]:
    """The `jupyter-drive-sync` executable of this venv (or `python -m` as a fallback)."""
    exe = Path(sys.executable).with_name("jupyter-drive-sync")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "jupyter_drive_sync"]


def machine() -> dict[str, Any]:
    """What the numbers were measured on (for reports)."""
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z")}


# -- the emulator, in its own process (so it does not share the GIL with what is measured) ----


class Emulator:
    """`jupyter-drive-sync emulator --port 0 --profile ...` as a child process, plus its admin API.

    `make bench` measures under `--profile google` (Google's write rate, quotas and round trip,
    jupyter_drive_sync/emulator/settings.py); `fast` is for the emulator's own throughput only.
    Extra flags (e.g. `latency_ms=...`) override the profile's figures.
    """

    def __init__(self, *, profile: str = "google", data_dir: str | None = None, **flags: Any) -> None:
        cmd = [*cli(), "emulator", "--port", "0", "--profile", profile]
        for name, value in flags.items():
            if value is not None:
                cmd += [f"--{name.replace('_', '-')}", str(value)]
        if data_dir is not None:
            cmd += ["--data-dir", data_dir]
        self.profile = profile
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                     env=child_env())
        line = self.proc.stdout.readline()  # type: ignore[union-attr]
        prefix = "Drive emulator listening on "
        if not line.startswith(prefix):
            self.proc.kill()
            raise SystemExit(f"emulator did not start: {line!r}")
        self.url = line[len(prefix):].strip().rstrip("/") + "/"
        self.limits = self.current_settings()

    def current_settings(self) -> dict[str, Any]:
        """The emulator's live settings (profile, latency, write rate, quotas)."""
        return self.admin("GET", "_emulator/settings")

    @contextmanager
    def unlimited(self) -> Iterator[None]:
        """No limits and no latency for the duration: for *setting up* a scenario (seeding a
        20,000-file home under Google's 3 writes/s would take hours), never for what is measured.
        The profile's settings come back afterwards (buckets start full again)."""
        keep = {k: self.limits[k] for k in ("latency_ms", "write_latency_ms", "quota_per_minute",
                                            "project_quota_per_minute", "write_rate", "write_burst")
                if k in self.limits}
        self.settings(latency_ms=0, write_latency_ms=None, quota_per_minute=0, project_quota_per_minute=0,
                      write_rate=0)
        try:
            yield
        finally:
            self.settings(**keep)

    def files(self, email: str) -> list[dict[str, Any]]:
        """Every file the account holds on the emulator (admin listing, no quota, no latency)."""
        return self.admin("GET", f"_emulator/accounts/{email}/files")["files"]

    def admin(self, method: str, route: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else (b"" if method == "POST" else None)
        req = urllib.request.Request(self.url + route, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=120) as resp:  # noqa: S310 - loopback only
            raw = resp.read()
        return json.loads(raw) if raw else None

    def stats(self) -> dict[str, Any]:
        return self.admin("GET", "_emulator/stats")

    def reset_stats(self) -> None:
        self.admin("POST", "_emulator/stats/reset")

    def settings(self, **values: Any) -> dict[str, Any]:
        """Change latency, limits or quotas of the running emulator (`POST /_emulator/settings`)."""
        return self.admin("POST", "_emulator/settings", values)

    def connect(self, home: Path, email: str) -> None:
        """Create `email` and store its tokens as `home`'s credentials."""
        from jupyter_drive_sync.emulator.sample import connect_home

        connect_home(self.url, home, email)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> "Emulator":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- generated homes ---------------------------------------------------------------------------


def tree_layout(files: int, dirs: int) -> tuple[list[str], list[str]]:
    """Relative folder and file paths of a two-level home: ~sqrt(dirs) top folders, the other
    folders spread below them, files spread evenly over every folder (none at the top)."""
    dirs = max(1, dirs)
    top = max(1, min(dirs, round(dirs ** 0.5)))
    folders = [f"d{i:03d}" for i in range(top)]
    folders += [f"d{(i - top) % top:03d}/s{i:04d}" for i in range(top, dirs)]
    paths = [f"{folders[j % dirs]}/f{j:06d}.txt" for j in range(files)]
    return folders, paths


def make_tree(home: Path, files: int, dirs: int, *, size: int = 64, seed: str = "") -> list[str]:
    """Write a home of `files` small files (`size` bytes, distinct content) in `dirs` folders."""
    folders, paths = tree_layout(files, dirs)
    for d in folders:
        (home / d).mkdir(parents=True, exist_ok=True)
    for j, rel in enumerate(paths):
        head = f"{seed}{rel} {j}\n".encode()
        data = (head * (size // len(head) + 1))[:size] if size else b""
        fd = os.open(home / rel, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
    return paths


def change_files(home: Path, paths: list[str], *, tag: str = "changed") -> None:
    """Rewrite each file with new content and a later mtime (a real content change)."""
    bump = time.time_ns() + 5_000_000_000
    for rel in paths:
        p = home / rel
        p.write_bytes(p.read_bytes() + f"{tag}\n".encode())
        os.utime(p, ns=(bump, bump))


# -- timing ------------------------------------------------------------------------------------


@dataclass
class Timed:
    seconds: float
    returncode: int
    stdout: str
    stderr: str
    peak_rss_mb: float

    def json(self) -> Any:
        """The last stdout line that is a JSON object (what `--json` printed), or None."""
        for line in reversed(self.stdout.splitlines()):
            if line.startswith("{"):
                return json.loads(line)
        return None


def child_env() -> dict[str, str]:
    """The environment for timed children: as installed, bytecode caches on (an environment
    with PYTHONDONTWRITEBYTECODE would recompile the package on every start and time that)."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run_timed(cmd: list[str], *, env: dict[str, str] | None = None) -> Timed:
    """Run `cmd` to completion; wall time from spawn to reap and the child's own peak RSS
    (`wait4`, so earlier children do not count)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=child_env() if env is None else env)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Timed(seconds, proc.returncode, out.read().decode("utf-8", "replace"),
                     err.read().decode("utf-8", "replace"), usage.ru_maxrss / 1024)


def best_of(fn: Callable[[], float], repeat: int) -> tuple[float, list[float]]:
    """Run `fn` (which returns seconds) `repeat` times: the minimum and every sample."""
    samples = [fn() for _ in range(max(1, repeat))]
    return min(samples), samples


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def bare_walk(root: str | os.PathLike[str]) -> int:
    """The baseline the scan is judged by: `os.scandir` every folder and `lstat` every entry,
    nothing else. Returns how many entries it saw."""
    n = 0
    stack = [os.fspath(root)]
    while stack:
        with os.scandir(stack.pop()) as it:
            for entry in it:
                st = entry.stat(follow_symlinks=False)
                n += 1
                if st.st_mode & 0o170000 == 0o040000:
                    stack.append(entry.path)
    return n


def time_bare_walk(root: Path) -> float:
    t0 = time.perf_counter()
    bare_walk(root)
    return time.perf_counter() - t0


def time_cli_startup() -> float:
    """`jupyter-drive-sync --version`: the cost of starting the CLI at all."""
    return run_timed([*cli(), "--version"]).seconds


def emit(obj: dict[str, Any], out: list[dict[str, Any]] | None = None) -> None:
    """Print one JSON object per line (and keep it for `--json-out`)."""
    print(json.dumps(obj, sort_keys=False), flush=True)
    if out is not None:
        out.append(obj)
