"""What a finished backup tells the student (issue 15, "truthful UI"): what was left out on
purpose (secrets, links, Jupyter's runtime files) is no warning and folders count as folders; a
real problem or a failure is never called "skipped", and "everything was already up to date"
only shows when nothing failed. JupyterLab 4 and nbclassic."""

from __future__ import annotations

import json
import os
import re
import time
from typing import Any

from playwright.sync_api import expect

from jupyter_drive_sync.engine.status import LAST_JOB_FILENAME, write_record

from .conftest import EMAIL, connect_without_ui, screenshot


def status_item(page: Any) -> Any:
    return page.locator("#jp-main-statusbar .jp-DriveSync-status")


def sync_button(page: Any) -> Any:
    return page.locator(".jp-FileBrowser-toolbar [data-command='drive-sync:sync-now']")


def toasts(page: Any) -> Any:
    return page.locator(".Toastify__toast")


def no_internal_words(text: str) -> None:
    """No word the student should never read: 'skipped' for a failure, codes, exception names."""
    assert not re.search(r"skipped|Traceback|Error\b|Exception|needs_reauth|networkError", text), text


def test_left_out_on_purpose_is_green_and_folders_count_as_folders(
        page: Any, server: Any, emulator: Any, sample_home: Any) -> None:
    home, _ = sample_home
    (home / "shortcut-to-etc").symlink_to("/etc")  # a link: never followed, on purpose
    runtime = home / ".local/share/jupyter/runtime"  # Jupyter's own runtime files (kernel keys)
    runtime.mkdir(parents=True)
    (runtime / "kernel-1.json").write_text("{}")
    connect_without_ui(page, server, emulator)

    page.goto(server.page_url("lab"))
    item = status_item(page)
    expect(item).to_contain_text("Not synced yet")
    sync_button(page).click()
    expect(item).to_contain_text("Synced just now", timeout=60_000)
    # Green: a success toast, no warning, no "not backed up" button.
    expect(toasts(page).filter(has_text="Backup finished")).to_have_count(1)
    expect(page.locator(".Toastify__toast--success")).to_contain_text(re.compile(r"Backup finished: \d+ files copied"))
    expect(page.locator(".Toastify__toast--warning")).to_have_count(0)
    assert item.get_attribute("data-state") == "synced"
    expect(item.locator(".jp-DriveSync-skipped")).to_be_hidden()

    # The details list them apart, as folders and files.
    item.locator(".jp-DriveSync-main").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text(f"Connected as {EMAIL}")
    expect(dialog.locator(".jp-DriveSync-onPurposeText")).to_contain_text(
        "Not backed up on purpose: 2 folders and 1 file")
    expect(dialog.locator(".jp-DriveSync-errorText")).to_have_count(0)
    expect(dialog).to_contain_text("Last synced just now")
    expect(dialog.locator("a.jp-DriveSync-link")).to_have_attribute("href", re.compile(r"^http://127\.0\.0\.1:\d+/#"))
    dialog.get_by_role("button", name="What was not backed up").click()
    expect(dialog).to_contain_text("Not backed up on purpose (2 folders and 1 file)")
    table = dialog.locator("table.jp-mod-onPurpose")
    expect(table).to_contain_text(".ssh/")
    expect(table).to_contain_text(".local/share/jupyter/runtime/")
    expect(table).to_contain_text("shortcut-to-etc")
    expect(dialog.locator(".jp-DriveSync-problemsTitle")).to_have_count(0)
    screenshot(page, "left-out", dialog.locator(".jp-Dialog-content"))
    no_internal_words(dialog.inner_text())
    dialog.get_by_role("button", name="Close").click()

    # A second push with nothing new: "already up to date", still green.
    sync_button(page).click()
    expect(page.locator(".Toastify__toast--success").filter(
        has_text="Backup finished: everything was already up to date.")).to_have_count(1, timeout=60_000)
    expect(page.locator(".Toastify__toast--warning")).to_have_count(0)


def test_a_real_problem_is_a_warning_not_a_skip(page: Any, server: Any, emulator: Any, sample_home: Any) -> None:
    home, _ = sample_home
    # A name Drive cannot hold (not UTF-8): the student must rename it.
    (home / os.fsdecode(b"notes-\xff.txt")).write_text("x")
    connect_without_ui(page, server, emulator)

    page.goto(server.page_url("lab"))
    item = status_item(page)
    sync_button(page).click()
    warning = page.locator(".Toastify__toast--warning")
    expect(warning).to_contain_text(re.compile(
        r"Backup finished with problems: \d+ files copied \(.+\), but 1 file could not be backed up\."), timeout=60_000)
    no_internal_words(warning.inner_text())
    expect(item).to_contain_text("Synced just now")
    assert item.get_attribute("data-state") == "warning"
    button = item.locator(".jp-DriveSync-skipped")
    expect(button).to_have_text("1 file not backed up")
    button.click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog.locator(".jp-DriveSync-problemsTitle")).to_have_text("Could not be backed up (1 file)")
    expect(dialog.locator("table.jp-mod-problem")).to_contain_text("not valid UTF-8")
    expect(dialog).to_contain_text("Not backed up on purpose (1 folder)")  # .ssh, apart
    no_internal_words(dialog.inner_text())


def seed_failed_push(home: Any, failed: int, *, error: dict[str, str] | None = None) -> None:
    """The record the server writes after a push (server/jobs.py, engine/status.py's format):
    here one whose files all failed to reach Drive, as after the account switch in issue 15."""
    summary = {
        "created": 0, "updated": 0, "unchanged": 0, "bytes_uploaded": 0,
        "skipped": [{"path": ".ssh", "reason": "a secret (keys, tokens, passwords): never uploaded"}],
        "failed": [{"path": f"exercises/ex{i}.txt", "reason": "IsADirectoryError: Is a directory"}
                   for i in range(failed)],
    }
    now = time.time()
    write_record(home / ".local/share/jupyter/drive_sync", LAST_JOB_FILENAME, {
        "id": "seeded", "kind": "push", "state": "failed" if error else "done", "source": "server",
        "summary": None if error else summary, "error": error, "started_at": now - 5, "finished_at": now,
    })


def test_failures_are_never_up_to_date_and_errors_are_plain(page: Any, server: Any, emulator: Any, sample_home: Any) -> None:
    home, _ = sample_home
    connect_without_ui(page, server, emulator)
    seed_failed_push(home, 8)

    page.goto(server.page_url("lab"))
    item = status_item(page)
    expect(item).to_contain_text("Synced just now")
    assert item.get_attribute("data-state") == "warning"
    expect(item.locator(".jp-DriveSync-skipped")).to_have_text("8 files not backed up")
    item.locator(".jp-DriveSync-main").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog.locator(".jp-DriveSync-errorText")).to_contain_text("8 files could not be backed up.")
    text = dialog.inner_text()
    assert "up to date" not in text
    dialog.get_by_role("button", name="What was not backed up").click()
    expect(dialog.locator(".jp-DriveSync-problemsTitle")).to_have_text("Could not be backed up (8 files)")
    expect(dialog.locator("table.jp-mod-problem")).to_contain_text("Is a directory")
    no_internal_words(dialog.inner_text())
    dialog.get_by_role("button", name="Close").click()

    # A push that Drive never answered: what jobs.py records (issue 15's exact message).
    seed_failed_push(home, 0, error={
        "kind": "drive_unreachable",
        "message": "networkError: Google Drive could not be reached after 8 tries (ServerNotFoundError)",
    })
    page.reload()
    item = status_item(page)
    expect(item).to_contain_text("Backup stopped: Google Drive could not be reached")
    item.locator(".jp-DriveSync-main").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog.locator(".jp-DriveSync-errorText")).to_contain_text("Press Sync now again in a few minutes")
    no_internal_words(dialog.inner_text())
    no_internal_words(page.locator("body").inner_text())


def test_classic_left_out_on_purpose_is_green(page: Any, server: Any, emulator: Any, sample_home: Any) -> None:
    home, _ = sample_home
    (home / "shortcut-to-etc").symlink_to("/etc")
    connect_without_ui(page, server, emulator)
    page.goto(server.page_url("nbclassic/tree"))
    widget = page.locator("#drive-sync-widget")
    expect(widget).to_contain_text("Not synced yet")
    page.locator("#drive-sync-button").click()
    expect(widget).to_contain_text("Synced just now", timeout=60_000)
    assert widget.get_attribute("data-state") == "synced"
    expect(widget.locator(".drive-sync-skipped")).to_be_hidden()
    widget.locator(".drive-sync-text").click()
    modal = page.locator(".modal-dialog")
    expect(modal).to_contain_text("Not backed up on purpose (1 folder and 1 file)")
    expect(modal.locator(".drive-sync-problems-title")).to_have_count(0)
    no_internal_words(modal.inner_text())

    # A failed push: counted as "not backed up", never "skipped" or "up to date".
    seed_failed_push(home, 3)
    page.goto(server.page_url("nbclassic/tree"))
    widget = page.locator("#drive-sync-widget")
    expect(widget.locator(".drive-sync-skipped")).to_have_text("3 files not backed up")
    assert widget.get_attribute("data-state") == "warning"
    assert json.dumps(server.status()["last_push"]["summary"]["failed"][0]["category"]) == '"problem"'
