"""JupyterLab 4: a fresh student, from the first-login prompt to their files on (emulated) Drive."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from .conftest import EMAIL, USERNAME, close_menus, drive_paths, popup_opened_by, screenshot

PROMPT = "Back up your home folder to Google Drive?"
KIND = r"(notebooks|code and text|data and media|folders)"
PROGRESS = rf"Backing up {KIND} — \d+ of \d+ files"
PROGRESS_ETA = rf"Backing up {KIND} — [1-9]\d* of \d+ files, (about \d+ min|less than a minute) left"


def open_lab(page: Any, server: Any) -> None:
    page.goto(server.page_url("lab"))
    page.locator("#jp-main-statusbar").wait_for()


def status_item(page: Any) -> Any:
    return page.locator("#jp-main-statusbar .jp-DriveSync-status")


def allow_in_popup(popup: Any, email: str = EMAIL) -> None:
    """Play the student on the (emulated) Google consent page."""
    popup.wait_for_load_state()
    popup.locator("input[name=new_email]").fill(email)
    popup.locator("#allow").click()


def test_fresh_user_prompt_connect_sync(page: Any, server: Any, emulator: Any, sample_home: Any) -> None:
    home, files = sample_home
    emulator.settings(latency_ms=250)  # slow enough for the progress and its ETA to be seen
    open_lab(page, server)

    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text(PROMPT)
    expect(dialog).to_contain_text(f"home/{USERNAME}")
    screenshot(page, "prompt")

    allow_in_popup(popup_opened_by(page, dialog.get_by_role("button", name="Connect Google Drive")))

    # Connected without a reload; the first sync starts by itself and shows live progress:
    # which kind of files it is on, how many, and the time left that the push estimates.
    item = status_item(page)
    expect(item).to_contain_text(re.compile(PROGRESS), timeout=30_000)
    expect(item).to_contain_text(re.compile(PROGRESS_ETA))  # it moves, and has measured its pace
    screenshot(page, "progress")
    expect(item).to_contain_text("Synced just now", timeout=60_000)
    expect(item.locator("a.jp-DriveSync-driveLink")).to_have_attribute("href", re.compile(r"^http://127\.0\.0\.1:\d+/#"))
    screenshot(page, "synced", page.locator("#jp-main-statusbar"))

    assert drive_paths(emulator) == set(files)  # caches and .ssh stayed home
    status = server.status()
    assert status["connected"] and status["account"] == EMAIL

    # "Sync now" in the file browser toolbar sends a change.
    (home / "README.md").write_text("# My coursework, edited\n")
    button = page.locator(".jp-FileBrowser-toolbar [data-command='drive-sync:sync-now']")
    expect(button).to_contain_text("Sync now")
    button.click()
    expect(button).to_contain_text("Syncing")
    expect(button).to_contain_text("Sync now", timeout=60_000)
    expect(item).to_contain_text("Synced just now")
    readme = [f for f in emulator.files(EMAIL) if f["name"] == "README.md"]
    assert len(readme) == 1  # updated in place, never a second copy
    assert int(readme[0]["size"]) == len("# My coursework, edited\n")


def test_menu_palette_and_settings(page: Any, server: Any) -> None:
    """Sync now is in the File menu and the palette; the settings show in the Settings Editor."""
    open_lab(page, server)
    page.locator(".jp-Dialog").get_by_role("button", name="Not now", exact=True).click()

    page.locator(".lm-MenuBar-itemLabel", has_text="File").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Google Drive").first.hover()
    menu = page.locator(".lm-Menu").filter(has_text="Switch Google Account…")
    expect(menu).to_contain_text("Sync Now")
    expect(menu).to_contain_text("Connect Google Drive")
    close_menus(page)  # so the shortcut reaches the shell

    # JupyterLab's modal palette sometimes closes (or empties) right after opening on a loaded
    # machine, with nothing of ours on screen: each attempt opens it and reads every label at
    # once; only the last attempt's failure counts.
    content = page.locator(".lm-CommandPalette-content")
    labels = ("Google Drive Backup Status", "Switch Google Drive Account…", "Disconnect Google Drive",
              "Restore from Google Drive…")
    for attempt in range(3):
        try:
            page.keyboard.press("Control+Shift+C")
            palette = page.locator(".lm-CommandPalette-input")
            expect(palette).to_be_focused(timeout=10_000)
            palette.press_sequentially("Google Drive")
            for label in labels:
                expect(content).to_contain_text(label, timeout=5_000 if attempt < 2 else 20_000)
            break
        except AssertionError:
            if attempt == 2:
                raise
            close_menus(page)
    page.keyboard.press("Escape")

    settings = server.api("GET", "lab/api/settings/jupyter-drive-sync:plugin").json()
    assert set(settings["schema"]["properties"]) == {"promptOnStartup", "showInToolbars"}
    open_lab(page, server)  # "Not now" holds: no dialog this time
    page.locator(".lm-MenuBar-itemLabel", has_text="Settings").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Settings Editor").first.click()
    expect(page.locator(".jp-SettingsPanel, .jp-PluginList").first).to_contain_text("Google Drive Backup")

    # Turning "show in toolbars" off hides the button (users can also move it per toolbar).
    server.api("PUT", "lab/api/settings/jupyter-drive-sync:plugin",
               json={"raw": '{"showInToolbars": false}'}).raise_for_status()
    page.goto(server.page_url("lab"))
    button = page.locator(".jp-FileBrowser-toolbar [data-command='drive-sync:sync-now']")
    expect(button).to_be_hidden()
