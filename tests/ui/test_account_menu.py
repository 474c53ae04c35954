"""The Google Drive entry (issue 15): in the File menu of JupyterLab 4 (Notebook 7's: see
test_notebook7.py), in the status dialog and in nbclassic's tree page, with Sync now, Restore…, Switch Google account… and
Disconnect; switching is a disconnect then the sign-in for the next account; denying consent is
said in the main window, not only in the popup."""

from __future__ import annotations

import re
import time
from typing import Any

from playwright.sync_api import expect

from .conftest import EMAIL, close_menus, connect_without_ui, drive_paths, popup_opened_by, screenshot

OTHER = "alice.personal@example.com"


def status_item(page: Any) -> Any:
    return page.locator("#jp-main-statusbar .jp-DriveSync-status")


def open_drive_menu(page: Any) -> Any:
    """File → Google Drive; returns the submenu."""
    page.locator(".lm-MenuBar-itemLabel", has_text="File").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Google Drive").first.hover()
    submenu = page.locator(".lm-Menu").filter(has_text="Switch Google Account…")
    expect(submenu).to_be_visible()
    return submenu


def menu_item(menu: Any, label: str) -> Any:
    return menu.locator(".lm-Menu-item").filter(has=menu.page.locator(".lm-Menu-itemLabel", has_text=label))


def wait_for_push_after(server: Any, since: float, timeout: float = 60) -> dict[str, Any]:
    """The status once a push that finished after `since` is recorded and none runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = server.status()
        last = status.get("last_push") or {}
        if not status.get("job") and float(last.get("finished_at") or 0) > since:
            return status
        time.sleep(0.3)
    raise AssertionError(f"no push finished after the switch: {server.status()}")


def manual_consent(emulator: Any) -> None:
    emulator._admin("POST", "_emulator/consent", json={"auto": False})


def test_file_menu_switch_account_and_disconnect(page: Any, server: Any, emulator: Any, sample_home: Any) -> None:
    _, files = sample_home
    page.goto(server.page_url("lab"))
    page.locator(".jp-Dialog").get_by_role("button", name="Not now", exact=True).click()
    menu = open_drive_menu(page)
    expect(menu).to_contain_text("Connect Google Drive")
    for label in ("Switch Google Account…", "Disconnect"):
        expect(menu_item(menu, label)).to_have_class(re.compile("lm-mod-disabled"))
    close_menus(page)

    connect_without_ui(page, server, emulator)
    page.goto(server.page_url("lab"))
    expect(status_item(page)).to_contain_text("Not synced yet")
    menu = open_drive_menu(page)
    for label in ("Sync Now", "Restore…", "Switch Google Account…", "Disconnect", "Backup Status…"):
        expect(menu).to_contain_text(label)
    expect(menu).not_to_contain_text("Connect Google Drive")  # connected: nothing to connect
    screenshot(page, "menu")
    menu_item(menu, "Sync Now").click()
    expect(status_item(page)).to_contain_text("Synced just now", timeout=60_000)
    assert drive_paths(emulator, EMAIL) == set(files)

    # Switch: confirm, then the popup signs in another account; the next backup goes there.
    manual_consent(emulator)
    menu = open_drive_menu(page)
    menu_item(menu, "Switch Google Account…").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text(f"The backup already in {EMAIL}'s Drive stays there")
    popup = popup_opened_by(page, dialog.get_by_role("button", name="Choose another account"))
    popup.locator("input[name=new_email]").wait_for()
    assert server.status()["connected"] is False  # the old account was let go first
    popup.locator("input[name=new_email]").fill(OTHER)
    switched_at = time.time()
    popup.locator("#allow").click()
    expect(page.locator(".Toastify__toast").filter(has_text=f"Google Drive connected ({OTHER})")).to_be_visible()
    status = wait_for_push_after(server, switched_at)
    assert status["account"] == OTHER
    assert drive_paths(emulator, OTHER) == set(files)  # the whole home reached the new Drive

    # Disconnect from the status dialog (once this page has seen the push end).
    expect(status_item(page)).to_have_attribute("data-state", "synced")
    status_item(page).locator(".jp-DriveSync-main").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text(f"Connected as {OTHER}")
    for label in ("Sync now", "Restore…", "Switch Google account…", "Disconnect"):
        expect(dialog.get_by_role("button", name=label, exact=True)).to_be_visible()
    screenshot(page, "status-dialog", dialog.locator(".jp-Dialog-content"))
    dialog.get_by_role("button", name="Disconnect", exact=True).click()
    expect(page.locator(".jp-Dialog")).to_contain_text("Disconnect Google Drive?")
    page.locator(".jp-Dialog").get_by_role("button", name="Disconnect", exact=True).click()
    expect(status_item(page)).to_contain_text("Back up to Google Drive")
    assert server.status()["connected"] is False


def test_denied_consent_is_said_in_the_main_window(page: Any, server: Any, emulator: Any) -> None:
    page.goto(server.page_url("lab"))
    dialog = page.locator(".jp-Dialog")
    popup = popup_opened_by(page, dialog.get_by_role("button", name="Connect Google Drive"))
    popup.locator("#deny").click()
    error = page.locator(".Toastify__toast--error")
    expect(error).to_contain_text("Google Drive was not connected")
    expect(error).to_contain_text("You did not allow access. Connect again and press Allow.")
    expect(error.get_by_role("button", name="Connect again")).to_be_visible()
    assert "access_denied" not in error.inner_text()
    expect(page.locator("body")).to_have_attribute("data-drive-sync-signin", "denied")
    status = server.status()
    assert status["connected"] is False and status["auth_error"]["kind"] == "access_denied"
    expect(error).not_to_have_class(re.compile(r"Toastify--animate|enter"))  # settled, for the picture
    screenshot(page, "denied", error)


def test_classic_google_drive_menu(page: Any, server: Any, emulator: Any, sample_home: Any) -> None:
    _, files = sample_home
    page.goto(server.page_url("nbclassic/tree"))
    page.locator(".modal-dialog").get_by_role("button", name="Not now").click()
    # Denying consent from the classic page is said there too.
    manual_consent(emulator)
    popup_opened_by(page, page.locator("#drive-sync-button")).locator("#deny").click()
    expect(page.locator(".modal-dialog")).to_contain_text("you did not allow access")
    page.locator(".modal-dialog").get_by_role("button", name="OK").click()

    connect_without_ui(page, server, emulator)
    page.goto(server.page_url("nbclassic/tree"))
    widget = page.locator("#drive-sync-widget")
    expect(widget).to_contain_text("Not synced yet")
    page.locator("#drive-sync-menu-button").click()
    menu = page.locator("#drive-sync-menu")
    for label in ("Sync now", "Restore…", "Switch Google account…", "Disconnect", "Backup status…"):
        expect(menu).to_contain_text(label)
    menu.get_by_text("Sync now").click()
    expect(widget).to_contain_text("Synced just now", timeout=60_000)
    assert drive_paths(emulator, EMAIL) == set(files)

    page.locator("#drive-sync-menu-button").click()
    menu.get_by_text("Disconnect").click()
    page.locator(".modal-dialog").get_by_role("button", name="Disconnect").click()
    expect(widget).to_contain_text("Not backed up yet")
    assert server.status()["connected"] is False
