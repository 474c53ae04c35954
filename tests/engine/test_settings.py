"""Status and push name the same Drive folder: one `folder_name`, one `resolve_username`.

Status used to replace only `{username}` while the push formatted `{user}` too, so with a
`home/{user}` template status showed `home/{user}` literally while the push made `home/alice`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jupyter_drive_sync.cli import main
from jupyter_drive_sync.core.errors import ConfigError
from jupyter_drive_sync.core.options import PushOptions, push_options
from jupyter_drive_sync.core.settings import (
    CREDENTIALS_FILENAME,
    STATE_DIR_REL,
    SyncSettings,
    default_credentials_path,
    folder_name,
    resolve_username,
    state_dir,
)
from jupyter_drive_sync.engine.push import run_push
from jupyter_drive_sync.engine.status import home_status

from tests.support import helpers
from tests.support.helpers import write

EMAIL = "alice@uni.edu"


@pytest.mark.parametrize("template", ["home/{user}", "home/{username}", "/home//{user}/", "{username}"])
def test_folder_name_formats_both_placeholders_and_drops_empty_parts(template):
    expected = "alice" if template == "{username}" else "home/alice"
    assert folder_name(template, "alice") == expected


@pytest.mark.parametrize("template", ["home/{nobody}", "home/{0}", "home/{user", "/", ""])
def test_folder_name_refuses_a_template_a_push_could_not_use(template):
    with pytest.raises(ConfigError):
        folder_name(template, "alice")


def test_resolve_username_prefers_the_given_name_then_the_hub_user_then_the_basename(tmp_path):
    home = tmp_path / "jovyan"
    assert resolve_username(home, "bob", {"JUPYTERHUB_USER": "alice"}) == "bob"
    assert resolve_username(home, None, {"JUPYTERHUB_USER": "alice"}) == "alice"
    assert resolve_username(home, None, {}) == "jovyan"


def test_the_state_dir_and_credentials_file_have_one_definition(tmp_path):
    assert state_dir(tmp_path) == tmp_path / STATE_DIR_REL
    assert default_credentials_path(tmp_path) == tmp_path / STATE_DIR_REL / CREDENTIALS_FILENAME
    settings = SyncSettings.for_home(tmp_path, environ={})
    assert settings.state_dir == state_dir(tmp_path.resolve())
    assert settings.credentials_file == default_credentials_path(tmp_path.resolve())


def drive_folder_id(emulator, folder: str) -> str:
    """The ID of the one folder at `folder` in the account's Drive."""
    group = helpers.drive_paths(emulator.files(EMAIL)).get(folder)
    assert group and len(group) == 1, f"no single folder {folder!r} on Drive"
    return group[0]["id"]


@pytest.mark.parametrize("template", ["home/{user}", "home/{username}", "backups/{user}/{username}"])
def test_status_shows_the_folder_the_push_creates(connected_home, emulator, template):
    home = connected_home("alice", EMAIL)
    write(home, "a.txt", b"alpha")
    settings = SyncSettings.for_home(home, api_root=emulator.url, username="alice", folder_template=template,
                                     environ={})
    summary = run_push(push_options(settings))
    assert summary.failed == []
    status = home_status(settings, live=False)
    assert status["folder"] == template.replace("{username}", "alice").replace("{user}", "alice")
    assert drive_folder_id(emulator, status["folder"]) == summary.root_folder_id == status["root_folder_id"]


def test_cli_status_json_reports_the_folder_the_cli_push_created(connected_home, emulator, monkeypatch, capsys):
    """Under JupyterHub every home is /home/jovyan: both commands name the folder after the hub user."""
    home = connected_home("jovyan", EMAIL)
    write(home, "a.txt", b"alpha")
    monkeypatch.setenv("JUPYTERHUB_USER", "alice")
    args = ["--home", str(home), "--api-root", emulator.url]
    assert main(["push", "--json", *args]) == 0
    pushed = json.loads(capsys.readouterr().out)
    assert main(["status", "--json", *args]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["folder"] == "home/alice"
    assert drive_folder_id(emulator, "home/alice") == pushed["root_folder_id"] == status["root_folder_id"]


def test_a_direct_push_without_a_user_names_the_folder_as_status_does(connected_home, emulator, monkeypatch):
    """`PushOptions(user=None)` resolves the user like SyncSettings (the hub user first)."""
    home = connected_home("jovyan", EMAIL)
    write(home, "a.txt", b"alpha")
    monkeypatch.setenv("JUPYTERHUB_USER", "alice")
    summary = run_push(PushOptions(home=Path(home), api_root=emulator.url))
    settings = SyncSettings.for_home(home, api_root=emulator.url)
    assert home_status(settings, live=False)["folder"] == "home/alice"
    assert drive_folder_id(emulator, "home/alice") == summary.root_folder_id
