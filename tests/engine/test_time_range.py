"""Times out of range (issue 13): mtimes after 2262 or before 1970, the extremes `os.utime`
accepts, and Drive-side `modifiedTime`s far in the future or the past.

The state DB keeps local mtimes as SQLite INTEGER nanoseconds (1677-09-21 .. 2262-04-11) and
Drive keeps RFC 3339 times with a four-digit year to the millisecond: a time outside what both
hold is clamped to the nearest end of that range (`core.model.clamp_mtime_ns`), never a crash;
the rest of the home is backed up, and a rerun costs nothing for the clamped file. Every run
goes through the real CLI against the emulator; nothing is mocked.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build_from_document

from jupyter_drive_sync.cli import main
from jupyter_drive_sync.core.model import MTIME_MAX_MS, MTIME_MAX_NS, MTIME_MIN_MS, MTIME_MIN_NS, clamp_mtime_ns
from jupyter_drive_sync.core.settings import state_dir
from jupyter_drive_sync.drive.transport import discovery_document
from jupyter_drive_sync.drive.types import from_rfc3339, to_rfc3339
from jupyter_drive_sync.emulator.sample import connect_home

from tests.support import helpers

EMAIL = "tim@uni.edu"
USER = "tim"
S = 1_000_000_000  # nanoseconds in a second
SHM = "/dev/shm"
NORMAL_NS = 1_700_000_000 * S + 123_456_789
# What a student's home can hold, as `os.utime` is asked for it (the file system may clamp:
# ext4 keeps 1901-12-13 .. 2446-05-10, tmpfs and btrfs keep far more).
ODD_TIMES = {
    "after-2262.txt": 10_460_800_000 * S,  # year 2301: beyond int64 nanoseconds
    "year-9999.txt": 253_402_300_799 * S,
    "year-1.txt": -62_135_596_800 * S,
    "before-1970.txt": -1_000_000_000 * S + 5,  # 1938
    "int64-min.txt": -(2**63),
    "int64-max.txt": 2**63 - 1,
}


# -- helpers -----------------------------------------------------------------------------------


def write(home: Path, rel: str, data: bytes, mtime_ns: int) -> None:
    p = home / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    os.utime(p, ns=(mtime_ns, mtime_ns))


def odd_home(home: Path) -> dict[str, bytes]:
    """The home: one ordinary file and one per odd time, in the home and in a folder."""
    files = {"normal.txt": b"an ordinary file\n"}
    write(home, "normal.txt", files["normal.txt"], NORMAL_NS)
    for rel, ns in ODD_TIMES.items():
        for where in (rel, f"sub/{rel}"):
            files[where] = f"content of {where}\n".encode()
            write(home, where, files[where], ns)
    write(home, "sub/empty-after-2262.txt", b"", ODD_TIMES["after-2262.txt"])
    files["sub/empty-after-2262.txt"] = b""
    os.utime(home / "sub", ns=(ODD_TIMES["after-2262.txt"],) * 2)  # a folder's time too
    return files


def plain_home(home: Path) -> dict[str, bytes]:
    """A home whose own times are ordinary (so only Drive's side is odd)."""
    files = {rel: f"plain {rel}\n".encode() for rel in FAR_DRIVE_TIMES}
    for i, (rel, data) in enumerate(sorted(files.items())):
        write(home, rel, data, NORMAL_NS + i * S)
    return files


def cli(capsys, *args: str) -> tuple[int, dict[str, Any], str]:
    """Run the CLI with `--json`: exit status, the summary, stderr (which must hold no traceback)."""
    rc = main([*args, "--json"])
    out, err = capsys.readouterr()
    assert "Traceback" not in err, err
    assert rc in (0, 1), (rc, err)
    return rc, json.loads(out), err


def push(capsys, home: Path, emulator) -> dict[str, Any]:
    rc, summary, err = cli(capsys, "push", "--home", str(home), "--user", USER, "--api-root", emulator.url)
    assert rc == 0 and summary["failed"] == [], (summary, err)
    return summary


def restore(capsys, home: Path, emulator) -> dict[str, Any]:
    rc, summary, err = cli(capsys, "restore", "--home", str(home), "--user", USER, "--api-root", emulator.url)
    assert rc == 0 and summary["failed"] == [], (summary, err)
    return summary


def assert_noop_push(capsys, home: Path, emulator) -> None:
    """The push after a complete one: nothing sent, at most the changes feed and one more call."""
    emulator.reset_stats()
    s = push(capsys, home, emulator)
    assert (s["created"], s["updated"], s["metadata_updated"], s["folders_created"], s["kept_drive_copy"],
            s["conflicts"], s["bytes_uploaded"]) == (0, 0, 0, 0, 0, 0, 0), s
    assert emulator.stats()["requests"] <= 2


def drive_tree(emulator) -> dict[str, dict]:
    """Path under home/tim → live Drive item (fails on two items at one path)."""
    return helpers.drive_tree(emulator, EMAIL, f"home/{USER}", trashed=False)


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def assert_backed_up(emulator, home: Path, files: dict[str, bytes]) -> None:
    """Each file is on Drive once with its bytes, its modifiedTime the local mtime clamped."""
    tree = drive_tree(emulator)
    for rel, data in files.items():
        f = tree[rel]
        assert f.get("md5Checksum") == md5(data), rel
        local_ns = clamp_mtime_ns(os.stat(home / rel).st_mtime_ns)
        assert from_rfc3339(f["modifiedTime"]) == local_ns // 1_000_000, (rel, f["modifiedTime"])


def other_client(emulator) -> Any:
    """Another googleapiclient of the same account and app (drive.file sees our files): what a
    second hub or a script using the Drive API would be."""
    acct = emulator.create_account(EMAIL)
    creds = Credentials(acct["access_token"], refresh_token=acct["refresh_token"],
                        token_uri=emulator.url + "token", **emulator.client_ids())
    return build_from_document(discovery_document(emulator.url), credentials=creds)


def set_drive_times(emulator, times: dict[str, str]) -> None:
    """Set files' modifiedTime on Drive (path under the backup folder → RFC 3339) by the API."""
    svc = other_client(emulator)
    tree = drive_tree(emulator)
    for rel, value in times.items():
        got = svc.files().update(fileId=tree[rel]["id"], body={"modifiedTime": value},
                                 fields="modifiedTime").execute()
        assert got["modifiedTime"] == value


def user_files(home: Path) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    own = state_dir(home)
    for p in home.rglob("*"):
        if p.is_file() and own not in p.parents:
            out[p.relative_to(home).as_posix()] = p.read_bytes()
    return out


@pytest.fixture(params=["disk", "tmpfs"])
def base(request, tmp_path) -> Iterator[Path]:
    """Where the homes live: pytest's tmp dir (here ext4, which keeps 1901..2446 and clamps the
    rest itself) and a tmpfs (which keeps year 1 and year 9999 as asked, beyond int64 ns)."""
    if request.param == "disk":
        yield tmp_path
        return
    if not os.path.isdir(SHM) or not os.access(SHM, os.W_OK):
        pytest.skip(f"no writable tmpfs at {SHM}")
    d = Path(tempfile.mkdtemp(prefix="jds-time-", dir=SHM))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def home(base, emulator) -> Path:
    return new_home(base / USER, emulator)


def new_home(path: Path, emulator) -> Path:
    path.mkdir(parents=True)
    connect_home(emulator.url, path, EMAIL)
    return path


# -- the conversions ---------------------------------------------------------------------------


def test_clamped_range_fits_sqlite_integer_and_drive_rfc3339():
    assert -(2**63) <= MTIME_MIN_NS and MTIME_MAX_NS < 2**63
    assert MTIME_MIN_NS == MTIME_MIN_MS * 1_000_000 and MTIME_MAX_NS == MTIME_MAX_MS * 1_000_000
    assert (MTIME_MAX_MS + 1) * 1_000_000 < 2**63  # the state DB's "in sync" test multiplies by this
    assert clamp_mtime_ns(2**64) == MTIME_MAX_NS and clamp_mtime_ns(-(2**70)) == MTIME_MIN_NS
    assert clamp_mtime_ns(NORMAL_NS) == NORMAL_NS and clamp_mtime_ns(-5) == -5
    assert to_rfc3339(MTIME_MAX_MS) == "2262-04-11T23:47:16.853Z"
    assert to_rfc3339(MTIME_MIN_MS) == "1677-09-21T00:12:43.146Z"
    assert to_rfc3339(-1) == "1969-12-31T23:59:59.999Z"


def test_drive_times_outside_the_range_are_clamped_when_read():
    assert from_rfc3339("9999-12-31T23:59:59.999Z") == MTIME_MAX_MS
    assert from_rfc3339("0001-01-01T00:00:00Z") == MTIME_MIN_MS
    assert from_rfc3339("1938-04-24T22:13:20.000Z") == -1_000_000_000_000
    assert from_rfc3339("2024-01-01T12:00:00.5+01:00") == 1_704_106_800_500
    # Drive's times never leave 0001..9999; one beyond (never sent by Drive) is clamped too
    assert to_rfc3339(10**17) == "9999-12-31T23:59:59.999Z"
    assert to_rfc3339(-(10**17)) == "0001-01-01T00:00:00.000Z"


def test_emulator_refuses_modified_times_google_cannot_hold(emulator):
    acct = emulator.create_account(EMAIL)
    headers = {"Authorization": f"Bearer {acct['access_token']}"}
    url = emulator.url + "drive/v3/files"
    made = requests.post(url, json={"name": "a.txt", "modifiedTime": "0001-01-01T00:00:00Z"}, headers=headers,
                         params={"fields": "id,modifiedTime"}, timeout=10)
    assert made.status_code == 200, made.text
    assert made.json()["modifiedTime"] == "0001-01-01T00:00:00.000Z"  # four digits, as RFC 3339 says
    for bad in ("10000-01-01T00:00:00Z", "0000-12-31T23:59:59Z", "-0001-01-01T00:00:00Z", "2023-02-30T00:00:00Z"):
        r = requests.patch(f"{url}/{made.json()['id']}", json={"modifiedTime": bad}, headers=headers, timeout=10)
        assert r.status_code == 400, (bad, r.text)
        err = r.json()["error"]
        assert err["code"] == 400 and err["errors"][0]["reason"] == "invalid", err
        assert err["message"] == f'Invalid value for: Invalid format: "{bad}"'


# -- defect: one file with an mtime after 2262 stopped every backup of the home ----------------


def test_mtime_after_2262_or_before_1970_does_not_stop_the_backup(home, emulator, capsys):
    files = odd_home(home)
    s = push(capsys, home, emulator)
    assert s["created"] == len(files) and s["skipped"] == [], s
    assert_backed_up(emulator, home, files)
    assert_noop_push(capsys, home, emulator)  # no re-upload loop for the clamped files


def test_file_touched_to_an_out_of_range_time_costs_one_metadata_update(home, emulator, capsys):
    write(home, "a.txt", b"same bytes\n", NORMAL_NS)
    push(capsys, home, emulator)
    os.utime(home / "a.txt", ns=(ODD_TIMES["after-2262.txt"],) * 2)
    emulator.reset_stats()
    s = push(capsys, home, emulator)
    assert (s["updated"], s["metadata_updated"], s["bytes_uploaded"]) == (0, 1, 0), s
    assert_backed_up(emulator, home, {"a.txt": b"same bytes\n"})
    assert_noop_push(capsys, home, emulator)


def test_hub_line_is_ok_for_a_home_with_an_mtime_after_2262(home, emulator, capsys):
    odd_home(home)
    rc = main(["hub", "--home", str(home), "--user", USER, "--api-root", emulator.url])
    out, err = capsys.readouterr()
    assert "Traceback" not in err, err
    lines = [json.loads(x) for x in out.splitlines()]
    (line,) = [ln for ln in lines if ln.get("type") == "user"]
    assert rc == 0 and line["status"] == "ok", line


# -- defect: a Drive-side modifiedTime like that broke restore and adoption --------------------

FAR_DRIVE_TIMES = {
    "normal.txt": "9999-12-31T23:59:59.999Z",
    "sub/before-1970.txt": "0001-01-01T00:00:00.000Z",
    "sub/int64-max.txt": "2300-01-01T00:00:00.000Z",
    "before-1970.txt": "1600-02-29T12:00:00.000Z",
}


def test_drive_modified_time_far_out_does_not_break_restore_into_an_empty_home(
        home, emulator, capsys, base):
    files = plain_home(home)
    push(capsys, home, emulator)
    set_drive_times(emulator, FAR_DRIVE_TIMES)

    fresh = new_home(base / "fresh" / USER, emulator)
    s = restore(capsys, fresh, emulator)
    assert s["restored"] == len(files), s
    assert user_files(fresh) == files  # byte for byte
    for rel in files:
        got = os.stat(fresh / rel).st_mtime_ns
        want = clamp_mtime_ns(from_rfc3339(drive_tree(emulator)[rel]["modifiedTime"]) * 1_000_000)
        # Drive's time clamped to the sync range, then by the file system to its own (ext4 keeps
        # nothing before 1901-12-13T20:45:52Z, tmpfs keeps it all)
        assert got == want or (want < -(2**31) * S and got == -(2**31) * S), (rel, got, want)
    assert_noop_push(capsys, fresh, emulator)  # restore then push: nothing to do


def test_drive_modified_time_far_out_does_not_break_adoption(home, emulator, capsys):
    files = plain_home(home)
    push(capsys, home, emulator)
    set_drive_times(emulator, FAR_DRIVE_TIMES)
    for p in state_dir(home).glob("state.sqlite3*"):
        p.unlink()

    count_before = len(emulator.files(EMAIL))
    s = push(capsys, home, emulator)
    assert s["created"] == 0 and s["bytes_uploaded"] == 0, s
    assert len(emulator.files(EMAIL)) == count_before  # adopted, not duplicated
    tree = drive_tree(emulator)
    assert all(tree[rel].get("md5Checksum") == md5(data) for rel, data in files.items())
    assert_noop_push(capsys, home, emulator)


# -- restore into an empty home, then push: a no-op for clamped files too ----------------------


def test_restore_into_an_empty_home_then_push_is_a_noop_for_clamped_times(home, emulator, capsys, base):
    files = odd_home(home)
    push(capsys, home, emulator)

    fresh = new_home(base / "fresh" / USER, emulator)
    s = restore(capsys, fresh, emulator)
    assert s["restored"] == len(files) and user_files(fresh) == files, s
    for rel in files:
        assert clamp_mtime_ns(os.stat(fresh / rel).st_mtime_ns) // 1_000_000 == \
            clamp_mtime_ns(os.stat(home / rel).st_mtime_ns) // 1_000_000, rel
    assert_noop_push(capsys, fresh, emulator)
    # a second restore finds everything in place
    again = restore(capsys, fresh, emulator)
    assert (again["restored"], again["bytes_downloaded"]) == (0, 0), again


def test_lost_state_db_with_clamped_local_times_adopts_without_uploading(home, emulator, capsys):
    files = odd_home(home)
    push(capsys, home, emulator)
    for p in state_dir(home).glob("state.sqlite3*"):
        p.unlink()
    count_before = len(emulator.files(EMAIL))
    s = push(capsys, home, emulator)
    assert (s["created"], s["updated"], s["bytes_uploaded"]) == (0, 0, 0), s
    assert len(emulator.files(EMAIL)) == count_before
    assert_backed_up(emulator, home, files)
    assert_noop_push(capsys, home, emulator)
