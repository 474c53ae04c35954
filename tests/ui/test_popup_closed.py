"""The student closes the Google sign-in popup without pressing Allow or Deny.

Nothing is posted to the main window then (the callback page never loads) and the server records
no outcome, so the main window must notice the close itself (labextension/src/signin.ts, the
classic main.js `connect`): it asks the status again after the close, then says so in plain
words, as information rather than an error (the student did it on purpose), and offers to
connect again. A popup that closes itself after Allow is covered by test_lab.py and
test_auth_error_fallback.py (the outcome wins there).
"""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from .conftest import EMAIL, popup_opened_by

CLOSED = "The Google sign-in window was closed before you chose. Connect again when you are ready."
NOTICE_MS = 8_000  # the close is seen within 250 ms, then two status answers 1 s apart


def test_closing_the_popup_before_choosing_offers_connect_again(page: Any, server: Any) -> None:
    page.goto(server.page_url("lab"))
    popup = popup_opened_by(page, page.locator(".jp-Dialog").get_by_role("button", name="Connect Google Drive"))
    popup.locator("#deny").wait_for()  # the consent page: the student has not chosen yet
    body = page.locator("body")
    expect(body).to_have_attribute("data-drive-sync-signin", "waiting")

    popup.close()

    expect(body).to_have_attribute("data-drive-sync-signin", "closed", timeout=NOTICE_MS)
    toast = page.locator(".Toastify__toast").filter(has_text=CLOSED)
    expect(toast).to_be_visible()
    expect(page.locator(".Toastify__toast--error")).to_have_count(0)  # not an error: they chose to
    status = server.status()
    assert not status["connected"] and not status["auth_error"]

    # The way back in: the toast's button opens a fresh sign-in that can still connect.
    again = popup_opened_by(page, toast.get_by_role("button", name="Connect again"))
    expect(body).to_have_attribute("data-drive-sync-signin", "waiting")
    again.locator("input[name=new_email]").fill(EMAIL)
    again.locator("#allow").click()
    expect(body).to_have_attribute("data-drive-sync-signin", "connected", timeout=15_000)
    assert server.status()["account"] == EMAIL


def test_classic_says_the_popup_was_closed(page: Any, server: Any) -> None:
    """nbclassic's tree page: the same words in its Drive widget, beside its Connect button."""
    page.goto(server.page_url("nbclassic/tree"))
    modal = page.locator(".modal-dialog")
    popup = popup_opened_by(page, modal.get_by_role("button", name="Connect Google Drive"))
    popup.locator("#deny").wait_for()
    body = page.locator("body")
    expect(body).to_have_attribute("data-drive-sync-signin", "waiting")

    popup.close()

    expect(body).to_have_attribute("data-drive-sync-signin", "closed", timeout=NOTICE_MS)
    widget = page.locator("#drive-sync-widget")
    expect(widget).to_contain_text(CLOSED)
    expect(widget).to_have_attribute("data-state", "disconnected")  # not shown as an error
    expect(page.locator(".modal-dialog")).to_have_count(0)
    popup_opened_by(page, page.locator("#drive-sync-button", has_text="Connect Google Drive")).locator("#deny").wait_for()
    expect(body).to_have_attribute("data-drive-sync-signin", "waiting")
    expect(widget).not_to_contain_text(CLOSED)
