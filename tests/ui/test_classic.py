"""The classic notebook (nbclassic) tree page: the nbextension's prompt and Sync now button."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from .conftest import EMAIL, connect_without_ui, drive_paths


def test_classic_tree_prompt_and_sync(page: Any, server: Any, emulator: Any, sample_home: Any) -> None:
    _, files = sample_home
    page.goto(server.page_url("nbclassic/tree"))
    modal = page.locator(".modal-dialog")
    expect(modal).to_contain_text("Back up your home folder to Google Drive?")
    modal.get_by_role("button", name="Not now").click()
    expect(modal).to_have_count(0)

    connect_without_ui(page, server, emulator)
    emulator.settings(latency_ms=120)
    page.goto(server.page_url("nbclassic/tree"))
    widget = page.locator("#drive-sync-widget")
    expect(widget).to_contain_text("Not synced yet")
    expect(page.locator(".modal-dialog")).to_have_count(0)  # connected: no prompt
    page.locator("#drive-sync-button").click()
    expect(widget).to_contain_text(
        re.compile(r"Backing up (notebooks|code and text|data and media|folders) — \d+ of \d+ files"))
    expect(widget).to_contain_text("Synced just now", timeout=60_000)
    expect(widget.locator("a.drive-sync-link")).to_be_visible()
    assert drive_paths(emulator, EMAIL) == set(files)
