"""Emulator deviations from Google's OAuth rules that test_oauth_model.py found, one minimal
reproduction each, xfail(strict) until the emulator is fixed (then drop the mark, and the name
from `KNOWN_DEVIATIONS` in test_oauth_model.py).
"""

from __future__ import annotations

import pytest
import requests


# Was refresh_with_other_client (the emulator answered 400 invalid_grant): fixed.
def test_refresh_token_with_another_clients_credentials_is_unauthorized_client(emulator):
    """A refresh token works only with the client it was issued to; presented with another client's
    valid credentials, Google answers `401 {"error": "unauthorized_client", "error_description":
    "Unauthorized"}` (seen against Google in prasmussen/gdrive issue 375, googleapis/
    google-auth-library-python issue 1561, diegosouzapw/OmniRoute pull request 12106), not the
    `invalid_grant` of a dead token: the token is alive, the client is wrong. The difference tells
    an admin who swapped the OAuth client apart from a student who revoked access."""
    grant = emulator.create_account("ann@example.edu")  # a refresh token for the built-in client
    other = emulator.create_client(client_type="installed")
    resp = requests.post(emulator.url + "token", timeout=10, data={
        "grant_type": "refresh_token", "refresh_token": grant["refresh_token"],
        "client_id": other["client_id"], "client_secret": other["client_secret"]})
    own = requests.post(emulator.url + "token", timeout=10, data={
        "grant_type": "refresh_token", "refresh_token": grant["refresh_token"], **emulator.client_ids()})
    assert own.status_code == 200  # the token itself is alive
    assert (resp.status_code, resp.json()["error"]) == (401, "unauthorized_client")
