"""Run-level errors in words a student understands (never a stack trace), driven by the
emulator: Drive full (account storage quota), access revoked (needs reconnect). What a backup
left out, and errors in plain words: test_truthful_summary.py."""

from __future__ import annotations

import json
import re
from typing import Any

import requests
from playwright.sync_api import expect

from .conftest import EMAIL, connect_without_ui, popup_opened_by


def status_item(page: Any) -> Any:
    return page.locator("#jp-main-statusbar .jp-DriveSync-status")


def sync_button(page: Any) -> Any:
    return page.locator(".jp-FileBrowser-toolbar [data-command='drive-sync:sync-now']")


def no_traceback(page: Any) -> None:
    text = page.locator("body").inner_text()
    assert "Traceback" not in text and "Exception" not in text


def test_drive_full_then_reconnect_needed(page: Any, server: Any, emulator: Any, sample_home: Any) -> None:
    home, _ = sample_home
    connect_without_ui(page, server, emulator)
    emulator.update_account(EMAIL, storage_quota_bytes=2000)  # far less than the home holds

    page.goto(server.page_url("lab"))
    item = status_item(page)
    expect(item).to_contain_text("Not synced yet")
    sync_button(page).click()
    expect(item).to_contain_text("Backup stopped: Your Google Drive is full", timeout=60_000)
    expect(page.locator(".jp-Notification-Toast-error, .Toastify__toast--error").first).to_contain_text(
        "Free up space in your Drive"
    )
    no_traceback(page)
    assert server.status()["last_push"]["error"]["kind"] == "drive_full"

    # Space again, but the student removed the app's access in their Google account.
    emulator.update_account(EMAIL, storage_quota_bytes=15 * 1024**3)
    creds = json.loads((home / ".local/share/jupyter/drive_sync/credentials.json").read_text())
    requests.post(emulator.url + "revoke", params={"token": creds["refresh_token"]}, timeout=10).raise_for_status()

    page.reload()
    item = status_item(page)
    expect(item).to_contain_text("Reconnect Google Drive", timeout=30_000)
    assert item.get_attribute("data-state") == "reconnect"
    # "Sync now" leads to the sign-in again instead of a failure.
    popup = popup_opened_by(page, sync_button(page))
    popup.wait_for_load_state()
    expect(popup.locator("body")).to_contain_text(re.compile("allow access|connected", re.I))
    no_traceback(page)
