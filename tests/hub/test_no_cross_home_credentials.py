"""on shared storage the nightly job can reach every home, and a student controls what
is inside theirs. A symlink planted in one home must never make the job use another student's
credentials or state (it would overwrite their Drive backup or hand their token over)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from jupyter_drive_sync.cli import main as cli_main
from jupyter_drive_sync.core.settings import default_credentials_path
from jupyter_drive_sync.emulator.sample import connect_home

from tests.support import helpers

BOB_TEXT = b"bob's own work\n"


def run_hub(capsys, *args: str) -> dict[str, dict]:
    cli_main(["hub", *args])
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    return {ln["user"]: ln for ln in lines if ln["type"] == "user"}


def two_homes(emulator, root: Path) -> tuple[Path, Path]:
    """bob connected and pushed once; alice with a file at the same path as bob's."""
    alice, bob = root / "alice", root / "bob"
    helpers.write(bob, "notes.txt", BOB_TEXT)
    helpers.write(alice, "notes.txt", b"ALICE OVERWROTE THIS\n")
    connect_home(emulator.url, bob, "bob@uni.example")
    return alice, bob


def bob_drive(emulator) -> dict[str, dict]:
    return helpers.drive_tree(emulator, "bob@uni.example", "home", trashed=False)


def test_a_symlinked_dot_local_into_another_home_is_refused(emulator, tmp_path, capsys):
    root = tmp_path / "homes"
    alice, bob = two_homes(emulator, root)
    args = ("--homes-root", str(root), "--api-root", emulator.url, "--parallel", "1", "--workers", "2")
    assert run_hub(capsys, *args)["bob"]["status"] == "ok"
    before = bob_drive(emulator)
    assert before["bob/notes.txt"]["md5Checksum"]

    os.symlink(bob / ".local", alice / ".local")  # alice's state dir now leads into bob's
    status = run_hub(capsys, *args)
    assert status["alice"]["status"] == "error", status["alice"]
    assert "symbolic link" in status["alice"]["reason"]
    assert status["bob"]["status"] == "ok"
    after = bob_drive(emulator)
    assert set(after) == set(before)  # nothing of alice's landed in bob's Drive
    assert after["bob/notes.txt"]["md5Checksum"] == before["bob/notes.txt"]["md5Checksum"]
    assert (bob / "notes.txt").read_bytes() == BOB_TEXT


def test_a_symlinked_credentials_file_is_not_followed_nor_replaced_by_a_token(emulator, tmp_path, capsys):
    root = tmp_path / "homes"
    alice, bob = two_homes(emulator, root)
    link = default_credentials_path(alice)
    link.parent.mkdir(parents=True)
    os.symlink(default_credentials_path(bob), link)
    status = run_hub(capsys, "--homes-root", str(root), "--api-root", emulator.url, "--parallel", "1")
    assert status["alice"]["status"] == "needs_reconnect", status["alice"]
    assert "symbolic link" in status["alice"]["reason"]
    assert status["bob"]["status"] == "ok"
    assert set(bob_drive(emulator)) == {"bob", "bob/notes.txt"}  # no home/alice in bob's Drive
    assert link.is_symlink()  # no copy of bob's token was written into alice's home
