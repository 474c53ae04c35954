"""Two students on a real JupyterHub, set up exactly as docs/ADMIN.md tells a hub admin.

`jupyterhub` (PyPI) with configurable-http-proxy (npm), DummyAuthenticator and
SimpleLocalProcessSpawner on 127.0.0.1; the emulator stands in for Google with a web client
whose only redirect URI is the hub's `/hub/user-redirect/drive-sync/oauth2callback`. The
extension gets its settings only from the files the guide has the admin write (conftest.py),
so when the guide names a place Jupyter Server does not read, sign-in is "not configured" and
this test fails at the first connect.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from .conftest import PASSWORD, Hub

PROMPT = "Back up your home folder to Google Drive?"
FOLDER_MIME = "application/vnd.google-apps.folder"

# Each student's own work, distinct by name and content, so a leak either way shows.
STUDENT_FILES = {
    "ana": {"thesis.ipynb": '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}',
            "notes/ana-week1.md": "# Ana's notes\n", "data/ana.csv": "x,y\n1,2\n"},
    "bo": {"lab1.py": "print('bo')\n", "bo-readme.txt": "Bo's work\n", "deep/er/bo.json": '{"bo": true}'},
}
EMAILS = {"ana": "ana@uni.example", "bo": "bo@uni.example"}
ANA_SECOND = "ana.personal@gmail.example"


def seed_home(hub: Hub, user: str) -> Path:
    """The student's home before their first login (SimpleLocalProcessSpawner's per-user dir)."""
    home = hub.homes / user
    for rel, text in STUDENT_FILES[user].items():
        (home / rel).parent.mkdir(parents=True, exist_ok=True)
        (home / rel).write_text(text)
    (home / ".ssh").mkdir()
    (home / ".ssh/id_ed25519").write_text("never leaves the home\n")
    return home


def drive_paths(emulator_url: str, email: str, user: str) -> set[str]:
    """Untrashed files of `email`'s Drive, as paths under the backup folder home/<user>."""
    resp = requests.get(f"{emulator_url}_emulator/accounts/{email}/files", timeout=10)
    resp.raise_for_status()
    files = [f for f in resp.json()["files"] if not f.get("trashed")]
    by_id = {f["id"]: f for f in files}

    def path(f: dict[str, Any]) -> str:
        parts = [f["name"]]
        while (f.get("parents") or [None])[0] in by_id:
            f = by_id[f["parents"][0]]
            parts.append(f["name"])
        return "/".join(reversed(parts))

    prefix = f"home/{user}/"
    paths = {path(f) for f in files if f["mimeType"] != FOLDER_MIME}
    assert all(p.startswith(prefix) for p in paths), paths  # nothing outside the student's folder
    return {p[len(prefix):] for p in paths}


def log_in(browser: Any, hub: Hub, user: str) -> tuple[Any, Any]:
    """A student's own browser (own cookies): hub login, then their JupyterLab."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(60_000)
    page = context.new_page()
    page.goto(hub.url + "hub/login")
    page.locator("#username_input").fill(user)
    page.locator("#password_input").fill(PASSWORD)
    page.locator("#login_submit").click()
    page.wait_for_url(re.compile(rf"/user/{user}/lab"), timeout=90_000)  # spawned, through the proxy
    page.locator("#jp-main-statusbar").wait_for()
    return context, page


def status(page: Any, hub: Hub, user: str) -> dict[str, Any]:
    """The student's drive-sync status, read with their own browser's hub login."""
    resp = page.request.get(f"{hub.url}user/{user}/drive-sync/status")
    assert resp.status == 200, (resp.status, resp.text()[:300])
    return resp.json()


def consent(popup: Any, hub: Hub, email: str) -> list[str]:
    """Play the student on the (emulated) Google consent page; the pages the popup went to after."""
    popup.locator("#allow").wait_for()
    query = parse_qs(urlsplit(popup.url).query)
    assert query.get("redirect_uri") == [hub.redirect_uri], popup.url  # the one URI for the whole hub
    visited: list[str] = []
    popup.on("request", lambda r: visited.append(r.url) if r.is_navigation_request() else None)
    popup.locator("input[name=new_email]").fill(email)
    popup.locator("#allow").click()
    return visited


def assert_came_back_through_the_hub(visited: list[str], hub: Hub, user: str) -> None:
    """Google → the hub's one redirect URI → this student's own server, query string intact."""
    via_hub = [u for u in visited if u.startswith(hub.redirect_uri + "?")]
    own = [u for u in visited if u.startswith(f"{hub.url}user/{user}/drive-sync/oauth2callback?")]
    assert via_hub and own, visited
    assert parse_qs(urlsplit(via_hub[0]).query)["code"] == parse_qs(urlsplit(own[0]).query)["code"]


def wait_for_backup(page: Any, hub: Hub, user: str, since: float, timeout: float = 90) -> dict[str, Any]:
    """The status once a push that started after `since` has finished (the UI starts it itself)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = status(page, hub, user)
        last = st.get("last_push") or {}
        if not st.get("job") and float(last.get("finished_at") or 0) > since:
            assert last.get("ok"), last
            return st
        time.sleep(0.5)
    raise AssertionError(f"no finished backup for {user}: {st}\n{hub.log_tail()}")


def connect_from_prompt(page: Any, hub: Hub, user: str, email: str) -> dict[str, Any]:
    assert status(page, hub, user)["configured"], (
        f"{user}'s server has no sign-in: it did not read the settings file docs/ADMIN.md names "
        f"({hub.guide.config_path})")
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text(PROMPT)
    expect(dialog).to_contain_text(f"home/{user}")
    since = time.time()
    with page.expect_popup() as popup_info:
        dialog.get_by_role("button", name="Connect Google Drive").click()
    visited = consent(popup_info.value, hub, email)
    st = wait_for_backup(page, hub, user, since)
    assert_came_back_through_the_hub(visited, hub, user)
    assert st["connected"] and st["account"] == email, st
    return st


def run_palette_command(page: Any, label: str) -> None:
    page.keyboard.press("Control+Shift+C")
    page.locator(".lm-CommandPalette-input").fill(label)
    page.locator(".lm-CommandPalette-content .lm-CommandPalette-itemLabel").get_by_text(label, exact=True).first.click()


def test_two_students_on_a_real_hub(browser: Any, hub: Hub) -> None:
    homes = {user: seed_home(hub, user) for user in STUDENT_FILES}
    pages: dict[str, Any] = {}
    contexts = []
    try:
        for user, email in EMAILS.items():
            context, page = log_in(browser, hub, user)
            contexts.append(context)
            pages[user] = page
            connect_from_prompt(page, hub, user, email)

        # Each student's files, and only theirs, in their own Drive under home/<username>.
        for user, email in EMAILS.items():
            on_drive = drive_paths(hub.emulator_url, email, user)
            assert set(STUDENT_FILES[user]) <= on_drive, on_drive
            other = next(u for u in STUDENT_FILES if u != user)
            assert not on_drive & set(STUDENT_FILES[other]), on_drive
            assert all((homes[user] / p).is_file() for p in on_drive), on_drive  # nothing from elsewhere
            assert not any(p.startswith(".ssh/") for p in on_drive)

        # One student cannot reach the other's server, neither to read nor to act.
        ana = pages["ana"]
        peek = ana.request.get(f"{hub.url}user/bo/drive-sync/status")
        assert peek.status == 403, (peek.status, peek.url)
        assert EMAILS["bo"] not in peek.text()
        poke = ana.request.post(f"{hub.url}user/bo/drive-sync/disconnect", max_redirects=0)
        assert poke.status in (302, 403), poke.status
        assert status(pages["bo"], hub, "bo")["connected"]

        # Ana switches Google accounts: disconnect, connect another; the new Drive gets the whole home.
        old_drive = drive_paths(hub.emulator_url, EMAILS["ana"], "ana")
        run_palette_command(ana, "Disconnect Google Drive")
        accept = ana.locator(".jp-Dialog .jp-mod-accept")
        try:  # a confirmation, if the UI asks for one
            accept.wait_for(timeout=3_000)
            accept.click()
        except PlaywrightTimeout:  # no dialog: the command acted at once
            pass
        deadline = time.monotonic() + 20
        while status(ana, hub, "ana")["connected"] and time.monotonic() < deadline:
            time.sleep(0.3)
        assert not status(ana, hub, "ana")["connected"]
        since = time.time()
        with ana.expect_popup() as popup_info:
            run_palette_command(ana, "Connect Google Drive")
        visited = consent(popup_info.value, hub, ANA_SECOND)
        st = wait_for_backup(ana, hub, "ana", since)
        assert_came_back_through_the_hub(visited, hub, "ana")
        assert st["account"] == ANA_SECOND, st
        new_drive = drive_paths(hub.emulator_url, ANA_SECOND, "ana")
        assert old_drive <= new_drive, old_drive - new_drive
        assert set(STUDENT_FILES["ana"]) <= new_drive
    finally:
        for context in contexts:
            context.close()

    # The nightly run over the shared homes, exactly the guide's script, reports both students.
    night = hub.run_nightly()
    lines = [json.loads(line) for line in night.stdout.splitlines() if line.startswith("{")]
    users = {ln["user"]: ln for ln in lines if ln.get("type") == "user"}
    assert set(users) == {"ana", "bo"}, (night.stdout, night.stderr)
    assert {u: ln["status"] for u, ln in users.items()} == {"ana": "ok", "bo": "ok"}, night.stdout
    assert night.returncode == 0, night.stderr
    summary = [ln for ln in lines if ln.get("type") == "summary"]
    assert len(summary) == 1 and summary[0]["by_status"] == {"ok": 2} and not summary[0]["failed"], night.stdout
    assert hub.key not in night.stdout + night.stderr
