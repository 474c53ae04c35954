"""Notebook 7 (no status bar): the Google Drive entry of the File menu, the Sync now buttons on
/tree and /notebooks, progress in the top bar."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from .conftest import EMAIL, close_menus, connect_without_ui, drive_paths, screenshot


def top_item(page: Any) -> Any:
    return page.locator("#top-panel .jp-DriveSync-status")


def test_tree_and_notebook_pages(page: Any, server: Any, emulator: Any, sample_home: Any) -> None:
    home, files = sample_home
    connect_without_ui(page, server, emulator)
    emulator.settings(latency_ms=120)

    page.goto(server.page_url("tree"))
    item = top_item(page)
    expect(item).to_contain_text("Not synced yet")
    expect(page.locator(".jp-Dialog")).to_have_count(0)  # connected: no prompt

    # The Google Drive entry of the File menu, as in JupyterLab.
    page.locator(".lm-MenuBar-itemLabel", has_text="File").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Google Drive").first.hover()
    menu = page.locator(".lm-Menu").filter(has_text="Switch Google Account…")
    for label in ("Sync Now", "Restore…", "Switch Google Account…", "Disconnect"):
        expect(menu).to_contain_text(label)
    close_menus(page)

    button = page.locator(".jp-FileBrowser-toolbar [data-command='drive-sync:sync-now']")
    expect(button).to_contain_text("Sync now")
    button.click()
    expect(item).to_contain_text(
        re.compile(r"Backing up (notebooks|code and text|data and media|folders) — [1-9]\d* of \d+ files"))
    expect(button).to_contain_text(re.compile(r"Syncing"))  # the button shows progress too
    screenshot(page, "notebook7-progress")
    expect(item).to_contain_text("Synced just now", timeout=60_000)
    assert drive_paths(emulator) == set(files)

    # A notebook page: its toolbar button pushes the change; the top bar says so.
    (home / "project/analysis.py").write_text("print('changed')\n")
    page.goto(server.page_url("notebooks/intro.ipynb"))
    nb_button = page.locator(".jp-NotebookPanel-toolbar [data-command='drive-sync:sync-now']")
    expect(nb_button).to_contain_text("Sync now")
    nb_button.click()
    expect(nb_button).to_contain_text("Syncing")
    expect(nb_button).to_contain_text("Sync now", timeout=60_000)
    expect(top_item(page)).to_contain_text("Synced just now")
    analysis = [f for f in emulator.files(EMAIL) if f["name"] == "analysis.py"]
    assert len(analysis) == 1 and int(analysis[0]["size"]) == len("print('changed')\n")
