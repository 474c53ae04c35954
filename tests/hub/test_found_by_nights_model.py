"""Product defects found by the model of hub nights (test_hub_nights_model.py), each reproduced
as small as it goes. xfail(strict) while the defect stands: the fix turns it into a plain test
(remove the mark, and the name from KNOWN_DEFECTS in test_hub_nights_model.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jupyter_drive_sync.cli import main as cli_main
from jupyter_drive_sync.emulator.sample import connect_home

from tests.support import helpers


def night(capsys, root: Path, emulator, *extra: str) -> dict:
    code = cli_main(["hub", "--homes-root", str(root), "--api-root", emulator.url, *extra])
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    (line,) = [ln for ln in lines if ln["type"] == "user"]
    return {"code": code, **line}


# Was budget_ok_with_moves_left: a push whose time budget ran out before its moves or trashes
# reported `ok` (only uploads and mtime updates counted as files left). Fixed: the executor marks
# the run cut short whatever it left (ProgressEvent.cut_short), and the hub says it continues.
@pytest.mark.parametrize("change", ["rename", "delete"])
def test_budget_run_out_before_a_rename_or_trash_is_not_ok(emulator, tmp_path, capsys, change):
    root = tmp_path / "homes"
    home = root / "ana"
    (home / "lab1").mkdir(parents=True)
    (home / "lab1" / "lab1.ipynb").write_text("{}\n")
    (home / "notes.md").write_text("notes\n")
    email = connect_home(emulator.url, home, "ana@uni.example")["email"]
    assert night(capsys, root, emulator, "--delete", "trash")["status"] == "ok"

    if change == "rename":  # the one change: a rename (one MOVE by ID) ...
        (home / "old").mkdir()
        (home / "lab1" / "lab1.ipynb").rename(home / "old" / "lab1.ipynb")
    else:  # ... or a deletion, which `--delete trash` carries to Drive
        (home / "lab1" / "lab1.ipynb").unlink()
    # A budget spent before the push reaches its actions (a few microseconds): nothing is done.
    line = night(capsys, root, emulator, "--delete", "trash", "--max-minutes-per-home", "1e-7")
    live = {p for p, items in helpers.drive_paths([f for f in emulator.files(email) if not f.get("trashed")]).items()
            if p.startswith("home/ana/") and items[0]["mimeType"] != "application/vnd.google-apps.folder"}
    assert live == {"home/ana/lab1/lab1.ipynb", "home/ana/notes.md"}  # not carried out tonight ...
    assert line["status"] == "partial" and line.get("continues") is True, line  # ... so it is not `ok`
