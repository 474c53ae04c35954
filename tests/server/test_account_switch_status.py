"""Issue 13: `GET drive-sync/status` after another Google account is connected to the home.

Status names the connected account and the account the backup so far went to; once they
differ, the first-login prompt must not offer the other account's backup, and the next Sync now
backs the whole home up to the connected account's Drive (never "already up to date").
"""

from __future__ import annotations

OTHER = "bo@other.example"


async def test_status_and_sync_now_after_switching_google_accounts(api, emulator, h, home, service):
    await h.connect(api, emulator)  # h.EMAIL
    files = h.make_home_files(home)
    code, body = await h.post_json(api, "drive-sync", "push")
    assert (await h.wait_job(api, body["job"]["id"]))["state"] == "done"
    code, status = await h.get_json(api, "drive-sync", "status")
    assert (status["account"], status["backup_account"], status["account_changed"]) == (h.EMAIL, h.EMAIL, False)

    await h.connect(api, emulator, OTHER)  # disconnect-free switch: sign in again as another account
    code, status = await h.get_json(api, "drive-sync", "status")
    assert code == 200
    assert (status["account"], status["backup_account"], status["account_changed"]) == (OTHER, h.EMAIL, True)
    assert status["has_backup"] is False  # the other account's Drive holds no backup of this home

    code, body = await h.post_json(api, "drive-sync", "push")
    job = await h.wait_job(api, body["job"]["id"])
    assert job["state"] == "done", job
    summary = job["summary"]
    assert summary["failed"] == [] and summary["created"] == len(files), summary
    assert any(s["path"] == "." and OTHER in s["reason"] for s in summary["skipped"]), summary["skipped"]
    folder = service.settings.folder_template.replace("{username}", service.settings.username)
    on_drive = h.drive_paths(emulator.files(OTHER))
    assert all(f"{folder}/{rel}" in on_drive for rel in files), sorted(on_drive)
    assert not h.duplicates(emulator.files(OTHER))

    code, status = await h.get_json(api, "drive-sync", "status")
    assert (status["account"], status["backup_account"], status["account_changed"]) == (OTHER, OTHER, False)
    assert status["last_push"]["ok"] is True and status["has_backup"] is True
    assert status["root_folder_url"].endswith(summary["root_folder_id"])
