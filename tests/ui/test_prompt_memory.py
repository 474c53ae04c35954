"""The first-login prompt's answers live on the server: they hold across reloads and across
every Notebook 7 page; "Not now" lasts for the server session only."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

PROMPT = "Back up your home folder to Google Drive?"


def load(page: Any, server: Any, path: str) -> str:
    """Open a page and return the start-up decision the extension took ('shown' or 'skipped')."""
    page.goto(server.page_url(path))
    page.locator("body[data-drive-sync-prompt]").wait_for(state="attached")
    return page.locator("body").get_attribute("data-drive-sync-prompt")


def answer(page: Any, label: str) -> None:
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text(PROMPT)
    dialog.get_by_role("button", name=label, exact=True).click()
    expect(dialog).to_have_count(0)


def wait_prompt_saved(page: Any, server: Any) -> None:
    """The answer is POSTed after the dialog closes; wait until the server has it."""
    for _ in range(100):
        if not server.status()["prompt"]:
            return
        page.wait_for_timeout(100)
    raise AssertionError("the server never recorded the answer")


def test_dont_ask_again_holds_everywhere(page: Any, server: Any) -> None:
    assert load(page, server, "lab") == "shown"
    answer(page, "Don't ask again")
    wait_prompt_saved(page, server)

    assert load(page, server, "lab") == "skipped"
    assert load(page, server, "tree") == "skipped"
    assert load(page, server, "notebooks/intro.ipynb") == "skipped"
    expect(page.locator(".jp-Dialog")).to_have_count(0)


def test_not_now_returns_in_a_later_session(page: Any, start_server: Any) -> None:
    server = start_server()
    assert load(page, server, "tree") == "shown"  # Notebook 7 asks too
    answer(page, "Not now")
    wait_prompt_saved(page, server)
    assert load(page, server, "lab") == "skipped"
    assert load(page, server, "tree") == "skipped"

    server = start_server()  # a new server session (same home)
    assert load(page, server, "lab") == "shown"
    expect(page.locator(".jp-Dialog")).to_contain_text(PROMPT)
