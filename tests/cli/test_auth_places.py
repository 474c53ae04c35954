"""`auth` in each place a user runs it: a hub terminal, a laptop, a machine with no browser.

Every run is the real command in a subprocess, against the emulator, with no DISPLAY (as on a
server or in CI): the machine has no browser unless the test acts as one.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from jupyter_drive_sync.server.handlers import route_table

from tests.support.command_line import (
    CREDENTIALS_REL,
    check_signed_in,
    cli_env,
    read_until,
    run_cli,
    running_cli,
    user_home,
)

EMAIL = "finn@example.edu"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return user_home(tmp_path, "finn")


def test_in_a_hub_terminal_auth_links_to_the_servers_sign_in_page(home):
    env = cli_env(HOME=str(home), JUPYTERHUB_USER="finn", JUPYTERHUB_SERVICE_PREFIX="/user/finn/")
    res = run_cli("auth", env=env)  # no --home, no client secrets: the server has the web client
    assert res.returncode == 0, res.stderr
    assert "\n    /user/finn/drive-sync/auth/start\n" in res.stdout
    assert not (home / CREDENTIALS_REL).exists()
    # the page it names is the extension's own route
    assert any(pattern == "/drive-sync/auth/start" for pattern, *_ in route_table({}))

    env["JUPYTERHUB_PUBLIC_HUB_URL"] = "https://hub.example.org/hub/"
    res = run_cli("auth", env=env)
    assert res.returncode == 0, res.stderr
    assert "https://hub.example.org/hub/user-redirect/drive-sync/auth/start" in res.stdout


def test_web_client_secrets_on_a_laptop_get_one_clear_line(home, emulator, secrets_of):
    web = secrets_of("web", ["http://localhost:8888/drive-sync/oauth2callback"])
    for how in ([], ["--loopback"]):  # whatever the flow, before any network call
        res = run_cli("auth", *how, "--home", str(home), "--api-root", emulator.url, "--client-secrets", str(web))
        assert res.returncode == 2, (how, res.stderr)
        assert len(res.stderr.strip().splitlines()) == 1, res.stderr
        assert "web application" in res.stderr and "Desktop app client" in res.stderr
    assert not (home / CREDENTIALS_REL).exists()


def test_on_a_laptop_auth_uses_the_loopback_redirect_with_a_desktop_client(home, emulator, secrets_of):
    """The browser (here: requests following the consent page's redirect) comes back to 127.0.0.1."""
    emulator.create_account(EMAIL)
    with running_cli("auth", "--loopback", "--no-browser", "--timeout", "60", "--home", str(home),
                     "--api-root", emulator.url, "--client-secrets", str(secrets_of("installed")),
                     env=cli_env()) as proc:
        shown = read_until(proc, "redirect_uri=")
        url = next(w for w in shown.split() if w.startswith(emulator.url + "o/oauth2/auth?"))
        assert "redirect_uri=http%3A%2F%2F127.0.0.1%3A" in url
        requests.get(url, timeout=30)  # the emulator approves at once and redirects to the loopback
        check_signed_in(proc, home, EMAIL)


def test_with_no_browser_auth_chooses_the_device_flow(home, emulator, secrets_of):
    """No DISPLAY and not a hub: the code to type elsewhere is shown without asking for --device."""
    with running_cli("auth", "--home", str(home), "--api-root", emulator.url,
                     "--client-secrets", str(secrets_of("tv")), env=cli_env()) as proc:
        shown = read_until(proc, "enter the code")
        assert emulator.url + "device" in shown
