"""The admin's overview page (`hub report --html`) of a real nightly run, opened in chromium."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jupyter_drive_sync.cli import main as cli_main

from tests.support.hub_nights import make_homes, run_night

from .conftest import screenshot


def test_overview_page_of_a_real_night_shows_counts_and_who_acts(emulator: Any, page: Any, tmp_path: Path) -> None:
    root = tmp_path / "homes"
    make_homes(root, emulator)
    night = tmp_path / "2026-12-02.jsonl"
    run_night(root, emulator, night)
    html_page = tmp_path / "overview.html"
    assert cli_main(["hub", "report", "--html", str(html_page), str(night)]) == 0

    page.goto(html_page.as_uri())
    assert page.title() == "Drive backups: nightly overview"
    card = page.locator('.card[data-group="reconnect"] b')
    assert card.inner_text() == "1"
    assert page.locator('.card[data-group="connected"]').inner_text().startswith("4")
    section = page.locator("h2#reconnect + p.who")
    assert "the student" in section.inner_text()
    rows = page.locator("h2#reconnect ~ table").first.locator("tr")
    assert "linus" in rows.nth(1).inner_text() and "needs_reconnect" in rows.nth(1).inner_text()
    assert "mary" in page.locator("h2#limits ~ table").first.inner_text()
    screenshot(page, "hub-report")
