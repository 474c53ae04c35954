"""Sign in from a machine with no browser (`jupyter-drive-sync auth --device`): Google's device flow.

The terminal shows a short code and a page to open on any phone or laptop; this command polls
Google's token endpoint until the user has typed the code and allowed access (RFC 8628; Google's
"OAuth 2.0 for TV and Limited-Input Device Applications"). Nothing has to reach this machine,
which is what makes it work over SSH or in a container.

Google allows this flow only for a client of type "TVs and Limited Input devices" and only for a
limited set of scopes; `drive.file`, the one scope this app asks for, is on that list
(developers.google.com/identity/protocols/oauth2/limited-input-device#allowedscopes;
reference/drive-api-v3.md, "redirect URIs").
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, TextIO

import requests
from google.oauth2.credentials import Credentials

from ..core.errors import ConfigError
from ..core.settings import SyncSettings
from .connection import save_connection
from .flow import SCOPES, OAuthError, check_endpoint_transport, client_kind

DEVICE_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"
GOOGLE_DEVICE_CODE_URL = "https://oauth2.googleapis.com/device/code"
SLOW_DOWN_STEP_S = 5.0  # RFC 8628 §3.5: after `slow_down`, poll 5 s further apart for good
DEFAULT_INTERVAL_S = 5.0  # RFC 8628 §3.2: when the answer names no interval
HTTP_TIMEOUT_S = 30.0
_WRONG_CLIENT = ("this OAuth client cannot sign in by device code: Google allows it only for a client of type "
                 "'TVs and Limited Input devices'. Create one in Google's console and pass its secrets with "
                 "--client-secrets, or run `jupyter-drive-sync auth` where a browser can open")


@dataclass(frozen=True, slots=True)
class DeviceCode:
    """Google's answer to `POST /device/code`: what the user must type, where, and for how long."""

    device_code: str
    user_code: str
    verification_url: str
    expires_in: float
    interval: float


def device_code_url(token_uri: str) -> str:
    """The device-code endpoint beside the client's token endpoint (Google's two sit side by side:
    `https://oauth2.googleapis.com/token` and `.../device/code`); the secrets file names only the latter."""
    base = token_uri.rstrip("/")
    if base.endswith("/token"):
        return base[: -len("token")] + "device/code"
    return GOOGLE_DEVICE_CODE_URL


def _error_of(resp: requests.Response) -> tuple[str, str]:
    try:
        body = resp.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    return str(body.get("error") or f"http_{resp.status_code}"), str(body.get("error_description") or "")


def request_device_code(http: requests.Session, section: dict[str, Any]) -> DeviceCode:
    """Ask Google for a device code and the user code to show; ConfigError if this client may not."""
    url = device_code_url(section.get("token_uri") or "https://oauth2.googleapis.com/token")
    check_endpoint_transport(url)
    try:
        resp = http.post(url, data={"client_id": section.get("client_id", ""), "scope": " ".join(SCOPES)},
                         timeout=HTTP_TIMEOUT_S)
    except requests.RequestException as exc:
        raise OAuthError("exchange_failed", f"Google could not be reached ({type(exc).__name__}).") from None
    if resp.status_code != 200:
        error, text = _error_of(resp)
        if error == "invalid_client":
            raise ConfigError(_WRONG_CLIENT if "type" in text.lower() else
                              "Google does not know this OAuth client: check --client-secrets")
        if error == "invalid_scope":
            raise ConfigError("Google refused the drive.file scope for this OAuth client")
        raise OAuthError("exchange_failed", f"Google did not start the device sign-in ({error}).")
    try:
        data = resp.json()
        return DeviceCode(str(data["device_code"]), str(data["user_code"]),
                          str(data.get("verification_url") or data["verification_uri"]),
                          float(data.get("expires_in") or 1800), float(data.get("interval") or DEFAULT_INTERVAL_S))
    except (KeyError, TypeError, ValueError, AttributeError):
        raise OAuthError("exchange_failed", "Google's answer to the device sign-in was incomplete.") from None


def poll_for_credentials(http: requests.Session, section: dict[str, Any], code: DeviceCode,
                         sleep: Callable[[float], None] = time.sleep) -> Credentials:
    """Poll the token endpoint every `interval` until the user decides or the code expires.

    `sleep` waits between polls (a test passes one that moves the emulator's clock instead);
    the time waited is counted from the sleeps, so the local deadline follows the same clock.
    """
    token_uri = section.get("token_uri") or "https://oauth2.googleapis.com/token"
    check_endpoint_transport(token_uri)
    form = {"client_id": section.get("client_id", ""), "client_secret": section.get("client_secret", ""),
            "device_code": code.device_code, "grant_type": DEVICE_GRANT_TYPE}
    interval, waited = code.interval, 0.0
    while True:
        if waited > code.expires_in:
            raise _expired()
        sleep(interval)
        waited += interval
        try:
            resp = http.post(token_uri, data=form, timeout=HTTP_TIMEOUT_S)
        except requests.RequestException:
            continue  # a network blip: the code is still good, try again at the next interval
        if resp.status_code == 200:
            try:
                data = resp.json()
            except ValueError:
                raise OAuthError("exchange_failed", "Google's answer to the device sign-in was not JSON.") from None
            return _credentials(data if isinstance(data, dict) else {}, section, token_uri)
        error, _ = _error_of(resp)
        if error == "authorization_pending":
            continue
        if error == "slow_down":
            interval += SLOW_DOWN_STEP_S
            continue
        if error == "access_denied":
            raise OAuthError("access_denied", "Access to Google Drive was not granted.")
        if error == "expired_token":
            raise _expired()
        if error == "invalid_client":
            raise ConfigError(_WRONG_CLIENT)
        raise OAuthError("exchange_failed", f"Google did not accept the device sign-in ({error}).")


def _expired() -> OAuthError:
    return OAuthError("expired", "The code expired before access was allowed; run `jupyter-drive-sync auth` again.")


def _credentials(data: dict[str, Any], section: dict[str, Any], token_uri: str) -> Credentials:
    if not data.get("refresh_token"):
        raise OAuthError("exchange_failed", "Google returned no refresh token; please try again.")
    expiry = None
    if data.get("expires_in"):  # google-auth keeps expiry as naive UTC
        expiry = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) + dt.timedelta(seconds=float(data["expires_in"]))
    return Credentials(
        data.get("access_token"), refresh_token=data["refresh_token"], token_uri=token_uri,
        client_id=section.get("client_id"), client_secret=section.get("client_secret"),
        scopes=str(data.get("scope") or " ".join(SCOPES)).split(), expiry=expiry)


def run_device_auth(settings: SyncSettings, *, out: TextIO | None = None,
                    sleep: Callable[[float], None] = time.sleep,
                    on_code: Callable[[DeviceCode], None] | None = None) -> str:
    """Sign in by device code: print the page and the code, wait for the user, store the grant.

    Returns the account's email. Raises ConfigError (wrong client, no client) or OAuthError.
    `on_code` lets a caller (a test) act as the user once the code is known.
    """
    out = out or sys.stderr
    config = settings.load_client_config()
    if config is None:
        raise ConfigError("no OAuth client configured: pass --client-secrets FILE")
    section = client_kind(config)
    with requests.Session() as http:
        code = request_device_code(http, section)
        minutes = max(1, round(code.expires_in / 60))
        print(f"To connect Google Drive, open this page on any phone or computer:\n\n    {code.verification_url}\n\n"
              f"and enter the code  {code.user_code}  (valid for {minutes} minutes). Waiting…",
              file=out, flush=True)
        if on_code is not None:
            on_code(code)
        creds = poll_for_credentials(http, section, code, sleep)
    return save_connection(settings, creds)
