"""Restore never writes secrets nor the tool's own state, by any route (issue 13).

Someone who can write into the student's Drive backup folder plants `.ssh/authorized_keys` or a
`credentials.json` of another account there. A restore — of the whole home, of a sub-path that
*is* the secret, or of a folder above it; from the CLI, the REST route or the dialog's listing —
must write none of it, whatever spelling Drive uses (`.SSH`, `.ssh.`, zero-width or full-width
characters), and say why. Push leaves the same paths out with the same matcher.

The planting client is a second googleapiclient of the same account (the app's own client id,
so a restore can see what it creates), talking to the emulator over HTTP.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build_from_document
from googleapiclient.http import MediaIoBaseUpload

from jupyter_drive_sync.cli import main
from jupyter_drive_sync.core.model import FOLDER_MIME
from jupyter_drive_sync.core.options import PushOptions
from jupyter_drive_sync.core.settings import STATE_DIR_REL
from jupyter_drive_sync.drive.transport import discovery_document
from jupyter_drive_sync.engine.push import run_push
from jupyter_drive_sync.home.excludes import Excludes, never_synced, rule_key

from tests.support import helpers
from tests.support.helpers import SERVER_EMAIL, connect, get_json, post_json, wait_job
from tests.support.server_fixtures import *  # noqa: F403 - the server fixtures, for the REST tests below

EMAIL = "ann@uni.edu"
T0 = 1_700_000_000
CREDENTIALS = f"{STATE_DIR_REL}/credentials.json"
PLANTED_KEY = b"ssh-ed25519 AAAA attacker@evil\n"
PLANTED_CREDENTIALS = b'{"token": "planted", "refresh_token": "of another account"}'
SECRET_REASON = "a secret (keys, tokens, passwords): never restored"
STATE_REASON = "drive-sync's own state (credentials, state DB): never restored"


# -- helpers -------------------------------------------------------------------------------------


class Planter:
    """Another client of the same Drive account, writing inside the backup folder `home/<user>`."""

    def __init__(self, emulator: Any, email: str, root_id: str) -> None:
        acct = emulator.create_account(email)
        creds = Credentials(acct["access_token"], refresh_token=acct["refresh_token"],
                            token_uri=emulator.url + "token", **emulator.client_ids())
        self.svc = build_from_document(discovery_document(emulator.url), credentials=creds)
        self.root_id = root_id
        self.folders: dict[str, str] = {"": root_id}

    def folder(self, rel: str) -> str:
        """The Drive folder at `rel` below the backup folder, created (with its parents) if needed."""
        if rel in self.folders:
            return self.folders[rel]
        parent_rel, _, name = rel.rpartition("/")
        parent = self.folder(parent_rel)
        escaped = name.replace("\\", "\\\\").replace("'", "\\'")
        found = self.svc.files().list(
            q=f"'{parent}' in parents and name = '{escaped}' and trashed = false", fields="files(id,name,mimeType)",
        ).execute()["files"]
        # Drive's `name =` ignores case: ".SSH" must not land in ".ssh"
        folders = [f["id"] for f in found if f["mimeType"] == FOLDER_MIME and f["name"] == name]
        if folders:
            self.folders[rel] = folders[0]
        else:
            body = {"name": name, "parents": [parent], "mimeType": FOLDER_MIME}
            self.folders[rel] = self.svc.files().create(body=body, fields="id").execute()["id"]
        return self.folders[rel]

    def file(self, rel: str, data: bytes) -> str:
        parent_rel, _, name = rel.rpartition("/")
        body = {"name": name, "parents": [self.folder(parent_rel)]}
        media = MediaIoBaseUpload(io.BytesIO(data), mimetype="application/octet-stream")
        return self.svc.files().create(body=body, media_body=media, fields="id").execute()["id"]


def write(home: Path, rel: str, data: bytes) -> None:
    helpers.write(home, rel, data, T0)


def first_push(home: Path, emulator: Any, user: str = "ann") -> str:
    """A backup exists: push one ordinary file; the backup folder's ID."""
    write(home, "notes.txt", b"my notes")
    s = run_push(PushOptions(home=home, user=user, api_root=emulator.url))
    assert s.failed == [] and s.root_folder_id
    return s.root_folder_id


def cli_restore(home: Path, emulator: Any, capsys: Any, *args: str) -> tuple[int, dict | None, str]:
    """`restore --json` through the real CLI: exit code, the summary (None if none), stderr."""
    code = main(["restore", "--home", str(home), "--user", "ann", "--api-root", emulator.url, "--json", *args])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err


def written_under(home: Path, rel: str) -> list[str]:
    """Every path that exists under `home/rel` (following nothing)."""
    top = home / rel
    if not os.path.lexists(top):
        return []
    out = [rel]
    for dirpath, dirnames, filenames in os.walk(top):
        out += [os.path.relpath(os.path.join(dirpath, n), home) for n in dirnames + filenames]
    return out


@pytest.fixture
def ann(connected_home) -> Path:
    return connected_home("ann", EMAIL)


# -- the matcher (pure) --------------------------------------------------------------------------


@pytest.mark.parametrize("rel", [
    ".ssh/authorized_keys", ".ssh/sub/deeper/id_rsa", "project/.ssh/id_rsa",
    ".config/gcloud/credentials.db", "old/.config/gcloud/x", ".docker/config.json",
    ".aws/credentials", ".local/share/jupyter/runtime/jpserver-1.json",
    ".ipython/profile_default/security/x.json",
    # spellings a case-insensitive, normalising or dot-trimming file system reads as the secret
    ".SSH/authorized_keys", ".Ssh", ".ssh./authorized_keys", ".ssh /x", ".s\u200bsh/x", "\ufeff.ssh/x",
    "\uff0e\uff53\uff53\uff48/x", ".ss\ufe0fh/x", ".CONFIG/GCloud/x", ".Docker/Config.JSON", ".NETRC",
])
def test_secret_matcher_judges_the_full_path_not_the_last_name(rel):
    assert never_synced(rel, False) == "a secret (keys, tokens, passwords)", rel
    assert Excludes().why(rel, False).startswith("always excluded (secrets)"), rel


@pytest.mark.parametrize("rel", [
    STATE_DIR_REL, CREDENTIALS, f"{STATE_DIR_REL}/state.sqlite3", ".LOCAL/share/Jupyter/drive_sync/x",
])
def test_own_state_matcher_judges_the_full_path_not_the_last_name(rel):
    assert never_synced(rel, False) == "drive-sync's own state (credentials, state DB)", rel


@pytest.mark.parametrize("rel", [
    "notes.txt", ".config/jupyter/lab.json", ".docker/other.json", "ssh/x", ".sshrc", "my.ssh.txt",
    "project/.local/share/jupyter/drive_sync/x", ".local/share/jupyter/kernels/k.json", "gcloud/x",
])
def test_look_alikes_that_are_not_secrets_stay_restorable(rel):
    assert never_synced(rel, False) is None, rel


def test_folding_applies_to_secrets_only_not_to_default_excludes():
    ex = Excludes()
    assert ex.why("VENV", True) is None and ex.why("Node_Modules", True) is None  # a student's own folders
    assert ex.why("venv", True) is not None
    assert rule_key(".S\u200cSH.") == ".ssh" and rule_key("caf\u00e9") == rule_key("cafe\u0301")


# -- push: one matcher for both directions -------------------------------------------------------


def test_push_leaves_out_secrets_deep_in_folders_and_in_any_spelling(ann, emulator):
    secrets = ["project/.ssh/id_rsa", ".config/gcloud/credentials.db", ".SSH/id_rsa", ".ssh./id_rsa",
               "work/.Docker/config.json", ".s\u200bsh/id_rsa"]
    for rel in secrets:
        write(ann, rel, b"PRIVATE KEY")
    write(ann, "project/main.py", b"print(1)")
    write(ann, ".docker/other.json", b"{}")
    s = run_push(PushOptions(home=ann, user="ann", api_root=emulator.url))
    assert s.failed == []
    on_drive = helpers.drive_tree(emulator, EMAIL, "home/ann")
    assert "project/main.py" in on_drive and ".docker/other.json" in on_drive
    assert not any(f.get("size") == str(len(b"PRIVATE KEY")) or "ssh" in p.lower() or "gcloud" in p
                   for p, f in on_drive.items()), sorted(on_drive)
    skipped = {k["path"]: k["reason"] for k in s.skipped}
    for top in ["project/.ssh", ".config/gcloud", ".SSH", ".ssh.", "work/.Docker/config.json", ".s\u200bsh"]:
        assert skipped.get(top) == "a secret (keys, tokens, passwords): never uploaded", (top, skipped)


# -- restore from the CLI ------------------------------------------------------------------------


def test_restore_path_ssh_never_writes_authorized_keys(ann, emulator, capsys):
    root = first_push(ann, emulator)
    Planter(emulator, EMAIL, root).file(".ssh/authorized_keys", PLANTED_KEY)

    for path in (".ssh", ".ssh/authorized_keys", "./.ssh/", ".SSH"):
        code, summary, err = cli_restore(ann, emulator, capsys, "--path", path, "--overwrite", "always")
        assert code == 2, (path, summary, err)
        assert summary is None and "Traceback" not in err
        assert len(err.strip().splitlines()) == 1 and SECRET_REASON in err, err
    assert written_under(ann, ".ssh") == [] and written_under(ann, ".SSH") == []


def test_restore_state_dir_path_with_overwrite_always_keeps_credentials(ann, emulator, capsys):
    root = first_push(ann, emulator)
    Planter(emulator, EMAIL, root).file(CREDENTIALS, PLANTED_CREDENTIALS)
    before = (ann / CREDENTIALS).read_bytes()
    state_before = sorted(os.listdir(ann / STATE_DIR_REL))

    for path in (STATE_DIR_REL, CREDENTIALS, ".local/share/Jupyter/DRIVE_SYNC"):
        code, summary, err = cli_restore(ann, emulator, capsys, "--path", path, "--overwrite", "always")
        assert code == 2 and summary is None, (path, err)
        assert len(err.strip().splitlines()) == 1 and STATE_REASON in err, err
    # a folder above it is restorable: the state dir inside is skipped with its reason
    code, summary, err = cli_restore(ann, emulator, capsys, "--path", ".local", "--overwrite", "always")
    assert code == 0, err
    assert {"path": STATE_DIR_REL, "reason": STATE_REASON} in summary["skipped"]
    assert summary["restored"] == summary["replaced"] == 0
    assert (ann / CREDENTIALS).read_bytes() == before
    assert sorted(os.listdir(ann / STATE_DIR_REL)) == state_before
    # and later backups still go to the student's own account
    s = run_push(PushOptions(home=ann, user="ann", api_root=emulator.url))
    assert s.failed == [] and s.root_folder_id == root


def test_whole_restore_skips_planted_secrets_in_every_spelling(ann, emulator, capsys):
    root = first_push(ann, emulator)
    planter = Planter(emulator, EMAIL, root)
    planted = {
        ".ssh/authorized_keys": ".ssh",
        ".SSH/authorized_keys": ".SSH",
        ".ssh./authorized_keys": ".ssh.",
        ".s\u200bsh/authorized_keys": ".s\u200bsh",
        "project/.ssh/id_rsa": "project/.ssh",
        ".config/gcloud/credentials.db": ".config/gcloud",
        ".docker/config.json": ".docker/config.json",
        ".local/share/jupyter/runtime/jpserver-1.json": ".local/share/jupyter/runtime",
    }
    for rel in planted:
        planter.file(rel, PLANTED_KEY)
    planter.file(CREDENTIALS, PLANTED_CREDENTIALS)
    planter.file(".config/jupyter/lab.json", b"{}")  # beside the secrets, ordinary files still come back
    planter.file(".docker/other.json", b"{}")
    before = (ann / CREDENTIALS).read_bytes()

    code, summary, err = cli_restore(ann, emulator, capsys, "--overwrite", "always")
    assert code == 0, err
    skipped = {k["path"]: k["reason"] for k in summary["skipped"]}
    for top in set(planted.values()):
        assert skipped.get(top) == SECRET_REASON, (top, skipped)
    assert skipped.get(STATE_DIR_REL) == STATE_REASON
    assert summary["failed"] == [] and summary["restored"] == 2
    assert (ann / ".config/jupyter/lab.json").exists() and (ann / ".docker/other.json").exists()
    for top in set(planted.values()):
        assert written_under(ann, top) == [], top
    assert (ann / CREDENTIALS).read_bytes() == before
    assert not any(PLANTED_KEY == p.read_bytes() for p in ann.rglob("*") if p.is_file() and not p.is_symlink())


# -- restore through the server ------------------------------------------------------------------


async def _server_backup_with_planted_secrets(api: Any, emulator: Any, service: Any, home: Path) -> str:
    await connect(api, emulator)
    write(home, "notes.txt", b"my notes")
    code, body = await post_json(api, "drive-sync", "push")
    assert code == 202, body
    done = await wait_job(api, body["job"]["id"], route="push")
    assert done["state"] == "done", done
    root = done["summary"]["root_folder_id"]
    planter = Planter(emulator, SERVER_EMAIL, root)
    planter.file(".ssh/authorized_keys", PLANTED_KEY)
    planter.file(CREDENTIALS, PLANTED_CREDENTIALS)
    return root


async def test_rest_restore_of_ssh_is_refused_and_writes_nothing(api, emulator, service, home):
    await _server_backup_with_planted_secrets(api, emulator, service, home)
    before = (home / CREDENTIALS).read_bytes()

    for path, reason in ((".ssh", SECRET_REASON), (".SSH/authorized_keys", SECRET_REASON),
                         (STATE_DIR_REL, STATE_REASON), (CREDENTIALS, STATE_REASON)):
        code, body = await post_json(api, "drive-sync", "restore", body={"path": path, "overwrite": "always"})
        assert code == 400 and reason in body["message"], (path, body)
    code, status = await get_json(api, "drive-sync", "status")
    assert status["job"] is None  # refused before any job started

    # a whole-home restore through the route skips both, with their reasons
    code, body = await post_json(api, "drive-sync", "restore", body={"path": "", "overwrite": "always"})
    assert code == 202, body
    done = await wait_job(api, body["job"]["id"], route="restore")
    assert done["state"] == "done", done
    skipped = {k["path"]: k["reason"] for k in done["summary"]["skipped"]}
    assert skipped.get(".ssh") == SECRET_REASON and skipped.get(STATE_DIR_REL) == STATE_REASON, skipped
    assert written_under(home, ".ssh") == []
    assert (home / CREDENTIALS).read_bytes() == before


async def test_remote_listing_does_not_offer_secrets(api, emulator, service, home):
    await _server_backup_with_planted_secrets(api, emulator, service, home)

    code, listing = await get_json(api, "drive-sync", "remote")
    assert code == 200, listing
    entries = {e["path"]: e for e in listing["entries"]}
    assert entries[".ssh"]["restorable"] is False and entries[".ssh"]["note"] == SECRET_REASON
    assert entries["notes.txt"]["restorable"] is True
    code, local = await get_json(api, "drive-sync", "remote", params={"path": ".local/share/jupyter"})
    assert code == 200, local
    (state,) = [e for e in local["entries"] if e["name"] == "drive_sync"]
    assert state["restorable"] is False and state["note"] == STATE_REASON
    for path in (".ssh", STATE_DIR_REL, ".Ssh"):
        code, body = await get_json(api, "drive-sync", "remote", params={"path": path})
        assert code == 400 and "never restored" in body["message"], (path, body)
