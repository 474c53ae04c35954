"""JupyterLab 4: getting files back from Drive through the restore dialog.

A home is pushed, a subfolder is deleted locally, and the student restores it through
"Restore from Google Drive…": the dialog lists the backup (folders first), navigates into a
folder and back up, picks the subfolder; progress shows in the status bar; the files appear in
the file browser and on disk byte for byte. A second test plays a new volume: after connecting,
the student is offered "Restore my files" next to "Sync now".
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from jupyter_drive_sync.emulator.sample import connect_home

from .conftest import EMAIL, USERNAME, connect_without_ui, drive_paths, make_sample_home, popup_opened_by, screenshot


def open_lab(page: Any, server: Any) -> None:
    page.goto(server.page_url("lab"))
    page.locator("#jp-main-statusbar").wait_for()


def status_item(page: Any) -> Any:
    return page.locator("#jp-main-statusbar .jp-DriveSync-status")


def listing(page: Any) -> Any:
    """The file browser's listing of the folder it shows."""
    return page.locator(".jp-DirListing-content")


def browser_item(page: Any, name: str) -> Any:
    return listing(page).locator(".jp-DirListing-itemText", has_text=re.compile(rf"^{re.escape(name)}$"))


def push_through_server(server: Any) -> dict[str, Any]:
    """A push started through the server's REST API, waited for; returns the finished job."""
    r = server.api("POST", "drive-sync/push")
    assert r.status_code == 202, r.text
    job_id = r.json()["job"]["id"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = server.api("GET", f"drive-sync/push/{job_id}").json()["job"]
        if job["state"] in ("done", "failed"):
            assert job["state"] == "done", job
            return job
        time.sleep(0.3)
    raise AssertionError("the push did not finish")


def open_restore_from_file_menu(page: Any) -> Any:
    page.locator(".lm-MenuBar-itemLabel", has_text="File").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Google Drive").first.hover()
    page.locator(".lm-Menu-itemLabel", has_text="Restore…").first.click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text("Restore from Google Drive")
    return dialog


def test_restore_a_deleted_subfolder_through_the_dialog(page: Any, server: Any, emulator: Any,
                                                        sample_home: Any) -> None:
    home, files = sample_home
    connect_without_ui(page, server, emulator)
    push_through_server(server)
    assert drive_paths(emulator) == set(files)

    # The student deletes a subfolder by mistake.
    lost = home / "exercises" / "week1"
    originals = {p.relative_to(home).as_posix(): p.read_bytes() for p in sorted(lost.rglob("*")) if p.is_file()}
    assert len(originals) == 10
    shutil.rmtree(lost)
    emulator.settings(latency_ms=250)  # slow enough for the restore's progress to be seen

    open_lab(page, server)
    browser_item(page, "exercises").dblclick()
    expect(browser_item(page, "week0")).to_be_visible()
    expect(browser_item(page, "week1")).to_have_count(0)

    dialog = open_restore_from_file_menu(page)
    expect(dialog).to_contain_text("Only files backed up by this app are shown")
    expect(dialog).to_contain_text(f"home/{USERNAME}")
    rows = dialog.locator(".jp-DriveSync-restoreList tr[data-path]")
    # "Everything" first, then folders first (exercises, project), then files by name.
    expect(rows.nth(1)).to_be_visible()
    shown = [rows.nth(i).get_attribute("data-path") for i in range(rows.count())]
    assert shown == ["", "exercises", "project", "intro.ipynb", "README.md"]
    readme = dialog.locator("tr[data-path='README.md']")
    expect(readme).to_contain_text(" B")  # its size
    expect(readme).to_contain_text(re.compile(r"20\d\d"))  # and its date

    # Into a folder, up again, and back in: the listing follows.
    dialog.get_by_role("button", name="Open folder exercises").click()
    expect(dialog.locator(".jp-DriveSync-crumbs")).to_have_text(f"home/{USERNAME} › exercises")
    expect(rows).to_have_count(5)  # everything in exercises + week0..week3
    dialog.get_by_role("button", name="Up").click()
    expect(dialog.locator(".jp-DriveSync-crumbs")).to_have_text(f"home/{USERNAME}")
    dialog.get_by_role("button", name="Open folder exercises").click()
    expect(dialog.locator("tr[data-path='exercises/week1']")).to_be_visible()

    dialog.get_by_role("radio", name="Restore week1").check()
    expect(dialog.locator(".jp-DriveSync-chosen")).to_have_text("Will restore: exercises/week1")
    keep = dialog.get_by_role("radio", name=re.compile("Keep my files"))
    expect(keep).to_be_checked()  # the safe choice is the default
    expect(dialog).to_contain_text("Replace only files older than Drive's copy")
    expect(dialog).to_contain_text("Replace everything with Drive's copy")
    screenshot(page, "restore", dialog.locator(".jp-Dialog-content"))

    dialog.get_by_role("button", name="Restore", exact=True).click()
    expect(dialog).to_have_count(0)

    item = status_item(page)
    expect(item).to_contain_text(re.compile(r"Restoring \d+% · \d+/\d+ files"))
    toast = page.locator(".Toastify__toast", has_text="Restore finished")
    expect(toast).to_contain_text("10 files restored", timeout=60_000)

    # The file browser shows the folder again, and its files.
    expect(browser_item(page, "week1")).to_be_visible()
    browser_item(page, "week1").dblclick()
    for rel in originals:
        expect(browser_item(page, Path(rel).name)).to_be_visible()
    # On disk, byte for byte.
    for rel, data in originals.items():
        assert (home / rel).read_bytes() == data, rel

    # The summary's details list the counts.
    toast.get_by_role("button", name="Details").click()
    summary = page.locator(".jp-Dialog")
    expect(summary).to_contain_text("10 files restored")
    summary.get_by_role("button", name="Close").click()


def test_new_volume_offers_restore_after_connecting(page: Any, start_server: Any, emulator: Any,
                                                   sample_home: Any, tmp_path: Path) -> None:
    # An earlier volume of the same student backed up its home (the CLI, as the nightly job would).
    old_home = tmp_path / "old-volume" / USERNAME
    old_home.mkdir(parents=True)
    make_sample_home(old_home)
    connect_home(emulator.url, old_home, EMAIL)
    done = subprocess.run(
        [sys.executable, "-m", "jupyter_drive_sync", "push", "--home", str(old_home), "--user", USERNAME,
         "--api-root", emulator.url, "--json"],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr

    # The new volume has the course files but not the student's project.
    home, _ = sample_home
    project = {p.relative_to(old_home).as_posix(): p.read_bytes()
               for p in sorted((old_home / "project").rglob("*")) if p.is_file()}
    shutil.rmtree(home / "project")
    server = start_server()

    open_lab(page, server)
    prompt = page.locator(".jp-Dialog")
    expect(prompt).to_contain_text("Back up your home folder to Google Drive?")
    popup = popup_opened_by(page, prompt.get_by_role("button", name="Connect Google Drive"))
    popup.wait_for_load_state()
    popup.locator("input[name=new_email]").fill(EMAIL)
    popup.locator("#allow").click()

    offer = page.locator(".jp-Dialog", has_text="Your Google Drive already has a backup")
    expect(offer.get_by_role("button", name="Sync now")).to_be_visible()
    offer.get_by_role("button", name="Restore my files").click()

    dialog = page.locator(".jp-Dialog", has_text="Restore from Google Drive")
    expect(dialog.locator("tr[data-path='project']")).to_be_visible()
    expect(dialog.locator(".jp-DriveSync-chosen")).to_have_text("Will restore: your whole backup")
    dialog.get_by_role("button", name="Restore", exact=True).click()

    toast = page.locator(".Toastify__toast", has_text="Restore finished")
    expect(toast).to_contain_text(f"{len(project)} files restored", timeout=60_000)
    expect(toast).to_contain_text("already up to date")  # the identical course files were left alone
    expect(browser_item(page, "project")).to_be_visible()
    for rel, data in project.items():
        assert (home / rel).read_bytes() == data, rel
    assert server.status()["has_backup"] is True
