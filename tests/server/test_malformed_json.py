"""Every POST route answers a malformed, huge or deeply nested JSON body with one 400.

A browser extension, a script or an attacker with the student's XSRF cookie can send any bytes;
the answer is a 400 that says what was expected, never a 500 with a traceback in the log, and
nothing starts (no push, no restore, no prompt choice remembered, no disconnect).
"""

from __future__ import annotations

import json

import pytest

from tests.support.helpers import connect, get_json, post_json

ROUTES = ["push", "restore", "prompt", "disconnect"]

DEEP = 100_000
MALFORMED: dict[str, bytes] = {
    "not JSON": b"this is not json",
    "truncated": b'{"path": ',
    "not UTF-8": b'{"path": "\xff\xfe"}',
    "a list": b"[]",
    "a string": b'"push"',
    "a number": b"42",
    "null": b"null",
    "deeply nested lists": b"[" * DEEP + b"]" * DEEP,
    "deeply nested objects": b'{"a":' * DEEP + b"1" + b"}" * DEEP,
    "nested just under the size limit": b"[" * 30_000 + b"]" * 30_000,
    "10 MB": b'{"path": "' + b"x" * (10 * 1024 * 1024) + b'"}',
    "NaN": b'{"path": NaN}',
}


def _assert_one_clear_400(code: int, answer: object, what: str = "") -> None:
    assert code == 400, (what, answer)
    assert isinstance(answer, dict) and isinstance(answer.get("message"), str) and answer["message"], (what, answer)
    assert "Traceback" not in answer["message"] and len(answer["message"]) < 300, (what, answer)


@pytest.mark.parametrize("route", ROUTES)
async def test_malformed_json_body_is_a_400_never_a_500(api, emulator, service, route):
    await connect(api, emulator)
    for kind, body in MALFORMED.items():
        code, answer = await post_json(api, "drive-sync", route, body=body)
        _assert_one_clear_400(code, answer, f"{route}: {kind}")
        assert service.jobs.current() is None, kind  # nothing started
        assert service.prompt.choice() is None, kind  # no prompt choice remembered
        code, status = await get_json(api, "drive-sync", "status")
        assert code == 200 and status["connected"] is True, kind  # disconnect did not run


@pytest.mark.parametrize("body", [{"choice": []}, {"choice": {}}, {"choice": None}, {"choice": 1},
                                  {"choice": "never", "extra": [[[]]]}, {"choice": ["never"]}])
async def test_prompt_with_wrong_types_is_a_400(api, emulator, body):
    await connect(api, emulator)
    code, answer = await post_json(api, "drive-sync", "prompt", body=json.dumps(body).encode())
    if body.get("choice") == "never":
        assert code == 200, answer  # unknown extra keys are ignored, like every route does
    else:
        _assert_one_clear_400(code, answer)


@pytest.mark.parametrize("route", ["push", "disconnect"])
async def test_an_empty_body_or_an_empty_object_still_starts_the_route(api, emulator, route):
    """The labextension sends `{}`, the classic UI and scripts may send nothing at all."""
    await connect(api, emulator)
    for body in (b"", b"  ", b"{}"):
        code, answer = await post_json(api, "drive-sync", route, body=body)
        assert code in (200, 202, 409), (body, answer)
