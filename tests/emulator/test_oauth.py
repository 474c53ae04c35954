"""OAuth 2.0 against the emulator with the real google-auth / google-auth-oauthlib libraries."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import google.auth.transport.requests
import google_auth_httplib2
import httplib2
import pytest
import requests
from google.auth.exceptions import RefreshError
from google.oauth2.credentials import Credentials
from google_auth_oauthlib.flow import Flow
from oauthlib.oauth2.rfc6749.errors import InvalidGrantError

DRIVE_FILE = "https://www.googleapis.com/auth/drive.file"
EMAIL_SCOPE = "https://www.googleapis.com/auth/userinfo.email"
REDIRECT = "http://localhost:8888/drive-sync/oauth2callback"


def _flow(emulator, scopes=(DRIVE_FILE, EMAIL_SCOPE)) -> Flow:
    return Flow.from_client_config(emulator.client_secrets(), scopes=list(scopes), redirect_uri=REDIRECT)


def _authorize(flow: Flow, **kw) -> dict[str, list[str]]:
    """Open the consent URL like a browser would and return the redirect's query (auto consent)."""
    url, state = flow.authorization_url(**kw)
    resp = requests.get(url, allow_redirects=False, timeout=10)
    assert resp.status_code == 302, resp.text
    location = resp.headers["Location"]
    assert location.startswith(REDIRECT + "?")
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == [state]
    return query


def _about_email(emulator, token: str) -> requests.Response:
    return requests.get(emulator.url + "drive/v3/about", params={"fields": "user(emailAddress)"},
                        headers={"Authorization": f"Bearer {token}"}, timeout=10)


def test_authorization_code_flow_with_pkce_then_refresh(emulator):
    flow = _flow(emulator)
    query = _authorize(flow, login_hint="ann@example.edu")
    assert flow.code_verifier  # PKCE S256 is on by default in the library
    assert query["scope"] == [f"{DRIVE_FILE} {EMAIL_SCOPE}"]

    flow.fetch_token(code=query["code"][0])  # HTTP Basic client auth + code_verifier
    creds = flow.credentials
    assert creds.refresh_token and creds.token
    assert creds.token_uri == emulator.url + "token"
    resp = _about_email(emulator, creds.token)
    assert resp.status_code == 200, resp.text
    assert resp.json()["user"]["emailAddress"] == "ann@example.edu"

    old = creds.token
    creds.refresh(google.auth.transport.requests.Request())
    assert creds.token != old and creds.valid
    assert _about_email(emulator, creds.token).status_code == 200

    info = requests.get(emulator.url + "oauth2/v2/userinfo",
                        headers={"Authorization": f"Bearer {creds.token}"}, timeout=10)
    assert info.json()["email"] == "ann@example.edu"


def test_revoked_refresh_token_raises_refresh_error(emulator):
    flow = _flow(emulator)
    flow.fetch_token(code=_authorize(flow, login_hint="bob@example.edu")["code"][0])
    creds = flow.credentials
    resp = requests.post(emulator.url + "revoke", params={"token": creds.refresh_token}, timeout=10)
    assert resp.status_code == 200 and resp.content == b""
    # the grant's access token died with it
    assert _about_email(emulator, creds.token).status_code == 401
    with pytest.raises(RefreshError) as info:
        creds.refresh(google.auth.transport.requests.Request())
    assert "invalid_grant" in str(info.value)
    # revoking again: unknown token
    again = requests.post(emulator.url + "revoke", data={"token": creds.refresh_token}, timeout=10)
    assert again.status_code == 400 and again.json()["error"] == "invalid_token"


def test_wrong_pkce_verifier_is_invalid_grant(emulator):
    flow = _flow(emulator)
    code = _authorize(flow, login_hint="eve@example.edu")["code"][0]
    flow.code_verifier = "x" * 64
    with pytest.raises(InvalidGrantError):
        flow.fetch_token(code=code)


def test_authorization_code_is_single_use(emulator):
    flow = _flow(emulator)
    code = _authorize(flow, login_hint="cy@example.edu")["code"][0]
    flow.fetch_token(code=code)
    with pytest.raises(InvalidGrantError):
        flow.fetch_token(code=code)


def test_code_bound_to_redirect_uri_and_client(emulator):
    flow = _flow(emulator)
    code = _authorize(flow, login_hint="dee@example.edu")["code"][0]
    web = emulator.client_secrets()["web"]
    resp = requests.post(web["token_uri"], data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": "http://localhost:9999/other",
        "code_verifier": flow.code_verifier, "client_id": web["client_id"], "client_secret": web["client_secret"]},
        timeout=10)
    assert resp.status_code == 400
    wrong_secret = requests.post(web["token_uri"], data={
        "grant_type": "refresh_token", "refresh_token": "x", "client_id": web["client_id"],
        "client_secret": "nope"}, timeout=10)
    assert wrong_secret.status_code == 401 and wrong_secret.json()["error"] == "invalid_client"


def test_expired_access_token_gets_401_then_authorized_http_refreshes(emulator):
    emulator.settings(token_lifetime_s=1)
    acct = emulator.create_account("fay@example.edu")
    emulator.settings(token_lifetime_s=3600)  # the refreshed token lives long
    creds = Credentials(token=acct["access_token"], refresh_token=acct["refresh_token"],
                        token_uri=emulator.url + "token", **emulator.client_ids())  # no expiry known
    time.sleep(1.2)
    assert _about_email(emulator, acct["access_token"]).status_code == 401
    emulator.reset_stats()
    http = google_auth_httplib2.AuthorizedHttp(creds, http=httplib2.Http(timeout=10))
    resp, body = http.request(emulator.url + "drive/v3/about?fields=user(emailAddress)")
    assert resp.status == 200, body
    assert creds.token != acct["access_token"]
    by_route = emulator.stats()["by_route"]
    assert by_route["GET /drive/v3/about"] == 2  # the 401, then the replay
    assert by_route["POST /token"] == 1


def test_unauthenticated_drive_call_envelope(emulator):
    resp = requests.get(emulator.url + "drive/v3/files", headers={"Authorization": "Bearer nope"}, timeout=10)
    assert resp.status_code == 401
    assert 'error="invalid_token"' in resp.headers["WWW-Authenticate"]
    err = resp.json()["error"]
    assert err["errors"][0]["reason"] == "authError" and err["errors"][0]["location"] == "Authorization"


def test_consent_page_allow_and_deny(emulator):
    emulator._admin("POST", "_emulator/consent", json={"auto": False})  # a person clicks
    flow = _flow(emulator, scopes=[DRIVE_FILE])
    url, state = flow.authorization_url()
    page = requests.get(url, allow_redirects=False, timeout=10)
    assert page.status_code == 200 and 'value="allow"' in page.text and 'value="deny"' in page.text
    consent_id = page.text.split('name="consent_id" value="')[1].split('"')[0]
    deny = requests.post(emulator.url + "o/oauth2/auth", data={"consent_id": consent_id, "decision": "deny"},
                         allow_redirects=False, timeout=10)
    assert deny.status_code == 302
    assert parse_qs(urlsplit(deny.headers["Location"]).query) == {"error": ["access_denied"], "state": [state]}

    page = requests.get(url, allow_redirects=False, timeout=10)
    consent_id = page.text.split('name="consent_id" value="')[1].split('"')[0]
    allow = requests.post(emulator.url + "o/oauth2/auth", allow_redirects=False, timeout=10,
                          data={"consent_id": consent_id, "decision": "allow", "new_email": "gil@example.edu"})
    code = parse_qs(urlsplit(allow.headers["Location"]).query)["code"][0]
    flow.fetch_token(code=code)
    assert _about_email(emulator, flow.credentials.token).json()["user"]["emailAddress"] == "gil@example.edu"


def test_unregistered_redirect_uri_and_unknown_client_are_refused(emulator):
    flow = Flow.from_client_config(emulator.client_secrets(), scopes=[DRIVE_FILE],
                                   redirect_uri="https://evil.example.com/cb")
    url, _ = flow.authorization_url(login_hint="h@example.edu")
    resp = requests.get(url, allow_redirects=False, timeout=10)
    assert resp.status_code == 400 and "redirect_uri_mismatch" in resp.text
    bad = requests.get(emulator.url + "o/oauth2/auth", params={"client_id": "nobody", "redirect_uri": REDIRECT,
                                                               "response_type": "code", "scope": DRIVE_FILE},
                       allow_redirects=False, timeout=10)
    assert bad.status_code == 401

    # a client registered through admin accepts its own redirect URI only
    other = emulator.create_client(["https://hub.example.edu/hub/user-redirect/drive-sync/oauth2callback"])
    ok = requests.get(emulator.url + "o/oauth2/auth", allow_redirects=False, timeout=10, params={
        "client_id": other["client_id"], "redirect_uri": other["redirect_uris"][0],
        "response_type": "code", "scope": DRIVE_FILE, "login_hint": "h@example.edu"})
    assert ok.status_code == 302 and "code=" in ok.headers["Location"]
    refused = requests.get(emulator.url + "o/oauth2/auth", allow_redirects=False, timeout=10, params={
        "client_id": other["client_id"], "redirect_uri": REDIRECT, "response_type": "code", "scope": DRIVE_FILE})
    assert refused.status_code == 400


def test_builtin_client_accepts_a_redirect_registered_through_admin(emulator):
    hub = "https://hub.example.edu/hub/user-redirect/drive-sync/oauth2callback"
    web = emulator.client_secrets()["web"]
    params = {"client_id": web["client_id"], "redirect_uri": hub, "response_type": "code",
              "scope": DRIVE_FILE, "login_hint": "hub@example.edu"}
    before = requests.get(web["auth_uri"], params=params, allow_redirects=False, timeout=10)
    assert before.status_code == 400
    emulator._admin("POST", "_emulator/clients", json={"client_id": web["client_id"], "redirect_uris": [hub]})
    after = requests.get(web["auth_uri"], params=params, allow_redirects=False, timeout=10)
    assert after.status_code == 302 and after.headers["Location"].startswith(hub + "?code=")
    assert hub in emulator.client_secrets()["web"]["redirect_uris"]


def test_tokens_never_reach_the_access_log(emulator, caplog):
    acct = emulator.create_account("log@example.edu")
    with caplog.at_level("INFO", logger="tornado.access"):
        requests.post(emulator.url + "revoke", params={"token": acct["refresh_token"]}, timeout=10)
        requests.post(emulator.url + "revoke", params={"token": "unknown-token-value"}, timeout=10)
    assert "POST /revoke" in caplog.text
    assert acct["refresh_token"] not in caplog.text and "unknown-token-value" not in caplog.text
