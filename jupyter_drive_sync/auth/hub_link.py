"""In a JupyterHub terminal, `auth` sends the student to their own server's sign-in page.

On a hub the Google client is a web client registered with the hub's one redirect URI, and the
student's browser is already signed in to the hub: the server extension's
`drive-sync/auth/start` finishes the whole sign-in there. A terminal flow would need another
client type and would store the same credentials anyway, so the terminal only prints the link.
"""

from __future__ import annotations

import os
from typing import Mapping
from urllib.parse import urlsplit

AUTH_START_PATH = "drive-sync/auth/start"
# Set by JupyterHub in every single-user server's environment, terminals included.
HUB_TERMINAL_MARKERS = ("JUPYTERHUB_USER", "JUPYTERHUB_SERVICE_PREFIX")


def in_hub_terminal(environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return any(env.get(name) for name in HUB_TERMINAL_MARKERS)


def hub_sign_in_link(environ: Mapping[str, str] | None = None, hub_url: str | None = None) -> str:
    """The server's sign-in page: a full URL when the hub's public address is known
    (`hub_url`, else `JUPYTERHUB_PUBLIC_HUB_URL`), else the path to add to the hub's address.

    A full URL goes through `/hub/user-redirect/`, which lands on whoever opens it's own server;
    the path form uses this server's prefix (`/user/<name>/`).
    """
    env = os.environ if environ is None else environ
    hub = (hub_url or env.get("JUPYTERHUB_PUBLIC_HUB_URL") or "").strip()
    if hub:
        base = hub.rstrip("/")
        if urlsplit(base).path.endswith("/hub"):  # both documented forms: with and without /hub
            base = base[: -len("/hub")]
        return f"{base}/hub/user-redirect/{AUTH_START_PATH}"
    prefix = env.get("JUPYTERHUB_SERVICE_PREFIX", "").strip()
    if prefix:
        return "/" + prefix.strip("/") + "/" + AUTH_START_PATH
    base_url = env.get("JUPYTERHUB_BASE_URL", "/").strip("/")
    return "/" + (base_url + "/" if base_url else "") + "hub/user-redirect/" + AUTH_START_PATH
