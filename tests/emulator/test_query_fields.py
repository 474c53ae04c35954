"""The `q` language and `fields` selections, on their own (no HTTP, no store I/O)."""

from __future__ import annotations

import pytest

from jupyter_drive_sync.emulator import fields, query
from jupyter_drive_sync.emulator.records import FOLDER_MIME, FileRec, format_time, parse_time
from jupyter_drive_sync.emulator.wire import DriveError

# ---------------------------------------------------------------- fields


def test_fields_parse_nested_forms_and_spaces() -> None:
    assert fields.parse("id,name") == {"id": None, "name": None}
    assert fields.parse("files/id, files/name") == {"files": {"id": None, "name": None}}
    assert fields.parse("nextPageToken, files(id, parents, appProperties)") == {
        "nextPageToken": None,
        "files": {"id": None, "parents": None, "appProperties": None},
    }
    assert fields.parse("changes(file(id,md5Checksum),removed)") == {
        "changes": {"file": {"id": None, "md5Checksum": None}, "removed": None}
    }
    # a whole selection wins over a partial one of the same field
    assert fields.parse("files(id),files") == {"files": None}


@pytest.mark.parametrize("bad", ["files(id", "id,,name", "a)b", "", "files()"])
def test_fields_syntax_errors_are_400(bad: str) -> None:
    with pytest.raises(DriveError) as exc:
        fields.parse(bad)
    assert exc.value.code == 400


def test_fields_unknown_names_are_rejected_against_the_schema() -> None:
    with pytest.raises(DriveError) as exc:
        fields.selection("id,nmae", "File")
    err = exc.value.envelope()["error"]
    assert exc.value.code == 400
    assert err["message"] == "Invalid field selection nmae"
    assert err["errors"][0]["location"] == "fields"
    with pytest.raises(DriveError):
        fields.selection("files(id,bogus)", "FileList")
    with pytest.raises(DriveError):
        fields.selection("name(id)", "File")  # a string has no sub-fields
    # maps accept any key; nested $refs resolve
    assert fields.selection("appProperties/anything", "File") == {"appProperties": {"anything": None}}
    assert fields.selection("changes/file/owners/emailAddress", "ChangeList")
    assert fields.selection("*", "File") is None


def test_fields_apply_defaults_and_partial() -> None:
    resource = {
        "kind": "drive#fileList",
        "incompleteSearch": False,
        "files": [
            {"kind": "drive#file", "id": "a", "name": "x", "mimeType": "text/plain", "size": "3"},
            {"kind": "drive#file", "id": "b", "name": "y", "mimeType": "text/plain", "size": "4"},
        ],
    }
    default = fields.partial(resource, None, "FileList")
    assert default["files"][0] == {"kind": "drive#file", "id": "a", "name": "x", "mimeType": "text/plain"}
    assert "nextPageToken" not in default  # absent stays absent
    assert fields.partial(resource, "files(id,size)", "FileList") == {
        "files": [{"id": "a", "size": "3"}, {"id": "b", "size": "4"}]
    }
    assert fields.partial(resource, "files/id", "FileList") == {"files": [{"id": "a"}, {"id": "b"}]}
    assert fields.partial(resource, "*", "FileList") == resource


# ---------------------------------------------------------------- time


def test_time_round_trip_and_zones() -> None:
    ms = parse_time("2024-01-01T12:00:00.000Z")
    assert format_time(ms) == "2024-01-01T12:00:00.000Z"
    assert parse_time("2024-01-01T13:00:00+01:00") == ms
    assert parse_time("2024-01-01T12:00:00") == ms
    assert parse_time("2024-01-01T12:00:00.123456Z") == ms + 123
    with pytest.raises(ValueError):
        parse_time("yesterday")


# ---------------------------------------------------------------- q


def _rec(id_: str, name: str, *, parent: str = "P", mime: str = "text/plain", trashed: bool = False,
         modified: str = "2024-01-01T00:00:00.000Z", props: dict | None = None,
         app: dict | None = None) -> FileRec:
    ms = parse_time(modified)
    return FileRec(id=id_, owner="ann@example.edu", name=name, mime_type=mime, parent=parent,
                   creator_client="c1", created_ms=ms, modified_ms=ms, trashed=trashed,
                   properties=props or {}, app_properties=app or {})


def _q(text: str):
    return query.compile_query(text, resolve_id=lambda i: "ROOT" if i == "root" else i,
                               email="ann@example.edu", client_id="c1")


def _names(text: str, recs: list[FileRec]) -> list[str]:
    q = _q(text)
    return [r.name for r in recs if q.match(r)]


RECS = [
    _rec("1", "notes.txt"),
    _rec("2", "it's here", parent="F"),
    _rec("3", "back\\slash", parent="F", trashed=True),
    _rec("4", "folder", mime=FOLDER_MIME, modified="2024-06-01T00:00:00.000Z",
         app={"c1": {"path": "a/b"}, "c2": {"path": "x"}}),
    _rec("5", "Notes Draft", parent="ROOT", props={"k": "v"}),
]


def test_q_escapes_and_name_operators() -> None:
    assert _names("name = 'it\\'s here'", RECS) == ["it's here"]
    assert _names("name = 'back\\\\slash'", RECS) == ["back\\slash"]
    assert _names("name contains 'notes'", RECS) == ["notes.txt", "Notes Draft"]
    assert _names("name != 'notes.txt' and not name contains 'o'", RECS) == ["it's here", "back\\slash"]


def test_q_parents_trashed_mime_time_and_precedence() -> None:
    assert _names("'F' in parents", RECS) == ["it's here", "back\\slash"]
    assert _names("'F' in parents and trashed = false", RECS) == ["it's here"]
    assert _names("'root' in parents", RECS) == ["Notes Draft"]
    assert _names(f"mimeType = '{FOLDER_MIME}'", RECS) == ["folder"]
    assert _names(f"mimeType != '{FOLDER_MIME}' and trashed=true", RECS) == ["back\\slash"]
    assert _names("modifiedTime > '2024-03-01T00:00:00'", RECS) == ["folder"]
    assert _names("modifiedTime <= '2024-01-01T00:00:00.000Z'", RECS) == [
        "notes.txt", "it's here", "back\\slash", "Notes Draft"]
    # and binds tighter than or; parentheses override
    assert _names("name = 'folder' or name = 'notes.txt' and trashed = true", RECS) == ["folder"]
    assert _names("(name = 'folder' or name = 'notes.txt') and trashed = false", RECS) == [
        "notes.txt", "folder"]


def test_q_properties_are_per_client() -> None:
    assert _names("appProperties has { key='path' and value='a/b' }", RECS) == ["folder"]
    assert _names("appProperties has { key='path' and value='x' }", RECS) == []  # c2's, not ours
    assert _names("properties has {key='k' and value='v'}", RECS) == ["Notes Draft"]


def test_q_parent_hint_uses_the_index_only_when_safe() -> None:
    assert _q("'F' in parents and trashed = false").parent_hint == {"F"}
    assert _q("'F' in parents or 'root' in parents").parent_hint == {"F", "ROOT"}
    assert _q("'F' in parents or name = 'x'").parent_hint is None
    assert _q("not 'F' in parents").parent_hint is None


@pytest.mark.parametrize("bad", [
    "name = 'unterminated", "name ==", "bogus = 'x'", "trashed = 'no'", "name = 'a' and",
    "(name = 'a'", "modifiedTime > 'not a date'", "'x' in nowhere", "size > 3", "name = 'a' 'b'",
])
def test_q_errors_are_400_invalid_at_q(bad: str) -> None:
    with pytest.raises(DriveError) as exc:
        _q(bad)
    item = exc.value.envelope()["error"]["errors"][0]
    assert (exc.value.code, item["reason"], item["location"]) == (400, "invalid", "q")
