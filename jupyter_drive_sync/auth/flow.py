"""The OAuth building blocks both sign-in flows share (the server's popup, the terminal's loopback).

Both use google-auth-oauthlib's `Flow` with PKCE, `access_type=offline`, `prompt=consent` (so
Google always returns a refresh token, even on a reconnect) and the `drive.file` scope only.
The account's email comes from Drive's `about(fields=user)`, which `drive.file` allows, so no
extra `openid email` scope is asked for.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import urllib.parse
import urllib.request
from typing import Any

from google.oauth2.credentials import Credentials
from google_auth_oauthlib.flow import Flow

from ..core.errors import EXIT_NOT_CONNECTED, ConfigError
from .credentials import DRIVE_FILE_SCOPE

log = logging.getLogger(__name__)

SCOPES = [DRIVE_FILE_SCOPE]


class OAuthError(Exception):
    """The sign-in could not be finished; `kind` says why, for the callback page and the CLI."""

    exit_code = EXIT_NOT_CONNECTED  # for the CLI: the home is still not connected

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind  # "bad_state" | "access_denied" | "exchange_failed" | "not_configured" | "expired"
        self.message = message


def _is_loopback(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def client_kind(client_config: dict[str, Any]) -> dict[str, Any]:
    """The inner `web`/`installed` section of a client-secrets document."""
    for key in ("web", "installed"):
        if isinstance(client_config.get(key), dict):
            return client_config[key]
    raise ConfigError("the client secrets must have a `web` or `installed` section")


def check_endpoint_transport(url: str) -> None:
    """ConfigError for an OAuth endpoint over plain http anywhere but this machine (the emulator)."""
    if url.startswith("http://") and not _is_loopback(url):
        raise ConfigError("refusing an OAuth endpoint over plain http that is not on this machine")


def allow_loopback_http(client_config: dict[str, Any]) -> None:
    """Let oauthlib talk plain http to a loopback OAuth server (the emulator), and only that.

    oauthlib refuses http endpoints unless OAUTHLIB_INSECURE_TRANSPORT is set; that switch is
    process-wide, so it is set only when every http endpoint is on loopback, and a plain-http
    endpoint anywhere else is refused outright.
    """
    section = client_kind(client_config)
    urls = [section.get("auth_uri", ""), section.get("token_uri", "")]
    plain = [u for u in urls if u.startswith("http://")]
    if not plain:
        return
    if not all(_is_loopback(u) for u in plain):
        raise ConfigError("refusing an OAuth endpoint over plain http that is not on this machine")
    os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"


def make_flow(client_config: dict[str, Any], redirect_uri: str, code_verifier: str | None = None) -> Flow:
    """A PKCE `Flow` for the drive.file scope, after checking its endpoints' transport."""
    allow_loopback_http(client_config)
    return Flow.from_client_config(
        client_config,
        scopes=SCOPES,
        redirect_uri=redirect_uri,
        code_verifier=code_verifier,
        autogenerate_code_verifier=True,
    )


def exchange_code(
    client_config: dict[str, Any], redirect_uri: str, code_verifier: str, code: str
) -> Credentials:
    """Trade the authorization code for credentials; OAuthError unless they hold a refresh token."""
    flow = make_flow(client_config, redirect_uri, code_verifier)
    try:
        flow.fetch_token(code=code)
    except Exception as exc:  # oauthlib/requests errors carry no tokens but may be long
        raise OAuthError("exchange_failed", f"Google did not accept the sign-in ({type(exc).__name__}).") from None
    creds = flow.credentials
    if not creds.refresh_token:
        raise OAuthError("exchange_failed", "Google returned no refresh token; please try again.")
    return creds


def account_email(creds: Credentials, api_root: str, timeout: float = 30.0) -> str:
    """The signed-in account's email, from Drive `about.get(fields=user)` (allowed by drive.file)."""
    url = api_root.rstrip("/") + "/drive/v3/about?fields=user(emailAddress)&alt=json"
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {creds.token}"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - configured API root
            data = json.loads(resp.read().decode("utf-8"))
    except Exception as exc:  # the grant worked; the email is a nicety, report without a token
        log.warning("could not read the Google account's email: %s", type(exc).__name__)
        return ""
    return str(data.get("user", {}).get("emailAddress", ""))
