"""`hub --homes-root` over generated homes, pushing for real into the Drive emulator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from jupyter_drive_sync.cli import main as cli_main
from jupyter_drive_sync.core.settings import default_credentials_path
from jupyter_drive_sync.auth.credentials import CredentialStore
from jupyter_drive_sync.emulator.sample import connect_home
from jupyter_drive_sync.hub.runner import list_homes, shard_of

from tests.support import helpers

FILES = {"notes.md": b"# notes\n", "work/a.py": b"print('a')\n", "work/data.csv": b"x,y\n1,2\n"}


def make_home(root: Path, name: str) -> Path:
    home = root / name
    for rel, data in FILES.items():
        path = home / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data + name.encode())
    return home


def run_hub(capsys, *args: str) -> tuple[int, list[dict], dict]:
    code = cli_main(["hub", *args])
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    users = [ln for ln in lines if ln["type"] == "user"]
    (summary,) = [ln for ln in lines if ln["type"] == "summary"]
    return code, users, summary


def drive_paths(emulator, email: str) -> dict[str, dict]:
    """Path → file for the account's live (untrashed) tree, rebuilt from parents."""
    live = [f for f in emulator.files(email) if not f.get("trashed")]
    return {path: group[-1] for path, group in helpers.drive_paths(live).items()}


@pytest.fixture
def hub50(emulator, tmp_path):
    """50 homes: 40 connected, 8 never connected, one revoked token, one full Drive."""
    root = tmp_path / "homes"
    root.mkdir()
    connected, broken = {}, {}
    for i in range(50):
        name = f"user{i:02d}"
        home = make_home(root, name)
        if i < 40:
            connected[name] = connect_home(emulator.url, home, f"{name}@uni.example")["email"]
        elif i == 48:
            acct = connect_home(emulator.url, home, f"{name}@uni.example")
            requests.post(emulator.url + "revoke", data={"token": acct["refresh_token"]}, timeout=10)
            broken[name] = "needs_reconnect"
        elif i == 49:
            connect_home(emulator.url, home, f"{name}@uni.example")
            emulator.update_account(f"{name}@uni.example", storage_quota_bytes=10)
            broken[name] = "drive_refused"
    (root / ".snapshot").mkdir()  # NFS snapshot dirs and lost+found are not homes
    (root / "lost+found").mkdir()
    return root, connected, broken


def test_fifty_homes_mirrored_broken_ones_reported_rerun_is_cheap(emulator, hub50, capsys):
    root, connected, broken = hub50
    code, users, summary = run_hub(capsys, "--homes-root", str(root), "--api-root", emulator.url,
                                   "--parallel", "4", "--workers", "2")
    status = {u["user"]: u for u in users}
    assert len(status) == 50 and summary["homes"] == 50
    for name in connected:
        assert status[name]["status"] == "ok", status[name]
        assert status[name]["summary"]["created"] == len(FILES)
        assert status[name]["summary"]["failed"] == 0
    for name, expected in broken.items():
        assert status[name]["status"] == expected, status[name]
        assert status[name]["reason"]
    for i in range(40, 48):
        assert status[f"user{i:02d}"]["status"] == "not_connected"
    assert summary["failed"] == 2 and summary["by_status"]["ok"] == 40
    assert code == 1
    # Every connected home is mirrored byte for byte in its own Drive.
    for name, email in connected.items():
        tree = drive_paths(emulator, email)
        for rel, data in FILES.items():
            f = tree[f"home/{name}/{rel}"]
            assert int(f["size"]) == len(data + name.encode())
    # No token or key ever reaches the report.
    dumped = json.dumps(users)
    assert "refresh_token" not in dumped and "ya29" not in dumped

    emulator.reset_stats()
    code2, users2, summary2 = run_hub(capsys, "--homes-root", str(root), "--api-root", emulator.url,
                                      "--parallel", "4", "--workers", "2")
    again = {u["user"]: u for u in users2}
    assert all(again[n]["status"] == "ok" and again[n]["summary"]["created"] == 0 for n in connected)
    assert again["user48"]["status"] == "needs_reconnect" and again["user49"]["status"] == "drive_refused"
    stats = emulator.stats()
    # ≤ 2 requests per unchanged home, plus the full Drive's home trying (and failing) once more.
    assert stats["requests"] <= 2 * len(connected) + 4, stats["by_route"]
    assert code2 == 1


def test_two_shards_are_disjoint_and_cover_all(emulator, tmp_path, capsys, monkeypatch):
    root = tmp_path / "homes"
    names = [f"s{i:02d}" for i in range(16)]
    emails = {}
    for n in names:
        emails[n] = connect_home(emulator.url, make_home(root, n), f"{n}@uni.example")["email"]
    seen: list[set[str]] = []
    for index in (0, 1):  # as an Indexed Job's pods see it: from the environment
        monkeypatch.setenv("JOB_COMPLETION_INDEX", str(index))
        monkeypatch.setenv("JOB_COMPLETIONS", "2")
        code, users, summary = run_hub(capsys, "--homes-root", str(root), "--api-root", emulator.url)
        assert code == 0 and (summary["shard_index"], summary["shard_count"]) == (index, 2)
        assert all(u["status"] == "ok" for u in users)
        seen.append({u["user"] for u in users})
    assert seen[0] and seen[1] and not seen[0] & seen[1]
    assert seen[0] | seen[1] == set(names)
    for n in names:  # each pushed exactly once: one copy of each file, no duplicates
        assert sum(1 for f in emulator.files(emails[n]) if f["name"] == "notes.md") == 1
    # An explicit flag wins over the environment.
    code, users, _ = run_hub(capsys, "--homes-root", str(root), "--api-root", emulator.url,
                             "--shard-index", "0", "--shard-count", "1")
    assert {u["user"] for u in users} == set(names)


def test_unconnected_homes_cost_no_request(emulator, tmp_path, capsys):
    root = tmp_path / "homes"
    for i in range(20):
        make_home(root, f"idle{i}")
    emulator.reset_stats()
    code, users, summary = run_hub(capsys, "--homes-root", str(root), "--api-root", emulator.url)
    assert code == 0 and summary["by_status"] == {"not_connected": 20}
    assert all("summary" not in u for u in users)
    assert emulator.stats()["requests"] == 0


def test_unexpected_failure_is_isolated(emulator, tmp_path, capsys):
    root = tmp_path / "homes"
    good = make_home(root, "good")
    email = connect_home(emulator.url, good, "good@uni.example")["email"]
    bad = make_home(root, "corrupt")
    path = default_credentials_path(bad)
    path.parent.mkdir(parents=True)
    path.write_text("{ this is not json")
    code, users, summary = run_hub(capsys, "--homes-root", str(root), "--api-root", emulator.url, "--parallel", "2")
    status = {u["user"]: u for u in users}
    assert status["good"]["status"] == "ok"
    assert status["corrupt"]["status"] in ("error", "needs_reconnect") and status["corrupt"]["reason"]
    assert "home/good/notes.md" in drive_paths(emulator, email)
    assert code == 1 and summary["failed"] == 1


def test_single_home_mode_writes_the_termination_message(emulator, tmp_path, capsys):
    home = make_home(tmp_path, "jovyan")
    email = connect_home(emulator.url, home, "ana@uni.example")["email"]
    log = tmp_path / "termination-log"
    code = cli_main(["hub", "--home", str(home), "--user", "ana@uni.example", "--api-root", emulator.url,
                     "--termination-log", str(log)])
    report = json.loads(log.read_text())
    assert code == 0 and report["status"] == "ok" and report["user"] == "ana@uni.example"
    assert report["summary"]["created"] == len(FILES)
    assert json.loads(capsys.readouterr().out) == report
    assert "home/ana@uni.example/notes.md" in drive_paths(emulator, email)
    # Reconnect needed → exit 3, which the Job's podFailurePolicy does not retry.
    acct_token = json.loads(CredentialStore(default_credentials_path(home)).path.read_text())["refresh_token"]
    requests.post(emulator.url + "revoke", data={"token": acct_token}, timeout=10)
    (home / "new.txt").write_text("new")
    code = cli_main(["hub", "--home", str(home), "--user", "ana@uni.example", "--api-root", emulator.url,
                     "--termination-log", str(log)])
    assert code == 3 and json.loads(log.read_text())["status"] == "needs_reconnect"


def test_shard_assignment_is_stable_and_balanced(tmp_path):
    names = [f"u{i}" for i in range(400)]
    counts = [0, 0, 0, 0]
    for n in names:
        counts[shard_of(n, 4)] += 1
        assert shard_of(n, 4) == shard_of(n, 4)
    assert min(counts) > 60  # roughly even, without any coordination between shards
    for n in names[:10]:
        (tmp_path / n).mkdir()
    (tmp_path / "a-file").write_text("not a home")
    (tmp_path / "link").symlink_to(tmp_path / "u0")
    listed = [u for i in range(3) for u, _ in list_homes(tmp_path, i, 3)]
    assert sorted(listed) == sorted(names[:10])
