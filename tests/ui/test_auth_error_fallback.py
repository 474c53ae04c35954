"""The sign-in outcome reaches the main window even when the popup's message is lost.

Normally the callback page in the popup posts `drive-sync:connected` / `drive-sync:error` to
`window.opener`. That message can be lost: the student closes the popup before its page has
loaded, or the opener link is cut (a Cross-Origin-Opener-Policy on the way through Google's
pages, a browser or extension that nulls `window.opener`). The main window then learns the
outcome from `GET drive-sync/status` (`connected`, or `auth_error` set by the failed callback;
connect.ts, signin.ts `watchSignIn`). These tests lose the message for real and
check that the student still sees the same words as on the normal path (test_account_menu.py
`test_denied_consent_is_said_in_the_main_window`), and that the window does not stay "waiting".
"""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from .conftest import EMAIL, popup_opened_by

CALLBACK = re.compile(r"/drive-sync/oauth2callback(\?|$)")
CONSENT_POST = re.compile(r"/o/oauth2/auth$")  # the emulator's consent form (emulator/oauth.py)

# Records every sign-in message that reaches the main window, so a test can prove the outcome
# came by the status poll and not by the message.
LISTEN = """() => {
  window.__driveSyncMessages = [];
  window.addEventListener('message', e => {
    const type = e.data && typeof e.data === 'object' ? String(e.data.type || '') : '';
    if (type.startsWith('drive-sync:')) { window.__driveSyncMessages.push(type); }
  });
}"""

# Cuts the opener link on the callback page only, before its inline script runs (Playwright
# init scripts run before any script of the page). Assigning null to `window.opener` disowns the
# opener (HTML standard, "the opener browsing context"), as a COOP-severed popup would be.
CUT_OPENER = """if (/\\/drive-sync\\/oauth2callback$/.test(location.pathname)) { window.opener = null; }"""


def open_sign_in(page: Any, server: Any) -> Any:
    """Lab's first-login dialog → Connect Google Drive; returns the popup (on the consent page)."""
    page.goto(server.page_url("lab"))
    page.evaluate(LISTEN)
    popup = popup_opened_by(page, page.locator(".jp-Dialog").get_by_role("button", name="Connect Google Drive"))
    popup.locator("#deny").wait_for()
    expect(page.locator("body")).to_have_attribute("data-drive-sync-signin", "waiting")
    return popup


def messages_seen(page: Any) -> list[str]:
    return page.evaluate("window.__driveSyncMessages")


def test_denied_consent_is_said_when_the_popup_closes_before_its_message(page: Any, server: Any) -> None:
    """The student presses Deny and closes the popup while Google's redirect to the callback
    is loading: the callback request reaches the server (which records the failure), but its
    page never runs in the popup, so nothing is posted, and the popup is gone, so only the
    status poll can tell.

    Playwright does not route the request a redirect leads to, so the consent form's POST is
    routed: it is sent without following the redirect, the callback it points to is requested
    with the browser's cookies (as the popup would), and the popup's navigation is dropped and
    the popup closed."""
    popup = open_sign_in(page, server)
    callback_statuses: list[int] = []

    def deny_then_close(route: Any) -> None:
        consent = route.fetch(max_redirects=0)
        callback = consent.headers["location"]
        assert CALLBACK.search(callback), callback
        callback_statuses.append(page.context.request.get(callback, max_redirects=0).status)
        for step in (route.abort, popup.close):
            try:
                step()
            except Exception:  # noqa: BLE001 - the main window's poll may have closed it first
                pass

    popup.route(CONSENT_POST, deny_then_close)
    with popup.expect_event("close"):
        popup.locator("#deny").click()
    assert callback_statuses and callback_statuses[0] >= 400  # the server refused the sign-in
    assert server.status()["auth_error"]["kind"] == "access_denied"

    error = page.locator(".Toastify__toast--error")
    expect(error).to_contain_text("Google Drive was not connected", timeout=15_000)
    expect(error).to_contain_text("You did not allow access. Connect again and press Allow.")
    expect(error.get_by_role("button", name="Connect again")).to_be_visible()
    assert "access_denied" not in error.inner_text()
    expect(page.locator("body")).to_have_attribute("data-drive-sync-signin", "denied")
    assert messages_seen(page) == []  # the outcome came from the status poll


def test_denied_consent_is_said_when_the_opener_is_cut(page: Any, server: Any, context: Any) -> None:
    """Deny with the popup left open but its opener link cut: the callback page loads and says
    "not connected" in the popup, yet cannot post to the main window."""
    context.add_init_script(CUT_OPENER)
    popup = open_sign_in(page, server)
    popup.locator("#deny").click()
    expect(popup.locator("h3")).to_have_text("Google Drive was not connected")

    error = page.locator(".Toastify__toast--error")
    expect(error).to_contain_text("You did not allow access. Connect again and press Allow.", timeout=15_000)
    expect(page.locator("body")).to_have_attribute("data-drive-sync-signin", "denied")
    if not popup.is_closed():  # the main window closes the popup once it knows (connect.ts finish)
        popup.wait_for_event("close", timeout=5_000)
    assert messages_seen(page) == []


def test_sign_in_that_succeeded_is_seen_when_the_opener_is_cut(page: Any, server: Any, context: Any) -> None:
    """Allow with the opener link cut: the popup's "connected" message is lost, the server is
    connected, and the main window says so and starts the first backup."""
    context.add_init_script(CUT_OPENER)
    popup = open_sign_in(page, server)
    popup.locator("input[name=new_email]").fill(EMAIL)
    popup.locator("#allow").click()

    toast = page.locator(".Toastify__toast").filter(has_text=f"Google Drive connected ({EMAIL})")
    expect(toast).to_be_visible(timeout=15_000)
    expect(page.locator("body")).to_have_attribute("data-drive-sync-signin", "connected")
    status_item = page.locator("#jp-main-statusbar .jp-DriveSync-status")
    expect(status_item).to_contain_text("Synced just now", timeout=60_000)
    assert server.status()["account"] == EMAIL
    assert messages_seen(page) == []


def test_classic_learns_the_outcome_when_the_opener_is_cut(page: Any, server: Any, context: Any) -> None:
    """nbclassic's tree page has the same fallback (its status poll in nbextension main.js):
    with the opener link cut, a Deny is said in its dialog, then a second sign-in's Allow
    connects it, both with no message reaching the page."""
    context.add_init_script(CUT_OPENER)
    page.goto(server.page_url("nbclassic/tree"))
    page.evaluate(LISTEN)
    body = page.locator("body")
    popup = popup_opened_by(page, page.locator(".modal-dialog").get_by_role("button", name="Connect Google Drive"))
    popup.locator("#deny").click()
    expect(page.locator(".modal-dialog")).to_contain_text("you did not allow access", timeout=15_000)
    expect(body).to_have_attribute("data-drive-sync-signin", "denied")
    page.locator(".modal-dialog").get_by_role("button", name="OK").click()
    expect(page.locator(".modal-dialog")).to_have_count(0)

    again = popup_opened_by(page, page.locator("#drive-sync-button"))
    again.locator("input[name=new_email]").fill(EMAIL)
    again.locator("#allow").click()
    expect(body).to_have_attribute("data-drive-sync-signin", "connected", timeout=15_000)
    expect(page.locator("#drive-sync-widget")).not_to_have_attribute("data-state", "disconnected")
    assert server.status()["account"] == EMAIL
    assert messages_seen(page) == []
