"""Who was active on the hub, from the JupyterHub REST API: the nightly skip of idle users.

Most students are idle on most nights. A user whose server has not run since their last good
push (recorded on their PVC) cannot have changed their home, so the dispatcher skips them
without mounting anything, and the nightly cost follows the active users, not the enrolled ones.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse
import urllib.request

from .manifest import Target

# Where the dispatcher finds its JupyterHub API token (the first one set wins).
HUB_TOKEN_ENVS = ("DRIVE_SYNC_HUB_API_TOKEN", "JUPYTERHUB_API_TOKEN")


def parse_time(value: str | None) -> dt.datetime | None:
    """An ISO 8601 time as Kubernetes and JupyterHub write it; None if absent or unreadable."""
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def hub_activity(url: str, token: str | None, timeout: float = 30.0) -> dict[str, dt.datetime | None]:
    """username → latest `last_activity` (user or any of their servers) from the JupyterHub API.

    Follows JupyterHub's pagination when the hub offers it (≥ 2.0), plain lists otherwise.
    The token needs the scopes `list:users` and `read:users:activity`.
    """
    activity: dict[str, dt.datetime | None] = {}
    base = url.rstrip("/") + "/users"
    offset = 0
    while True:
        req = urllib.request.Request(f"{base}?{urllib.parse.urlencode({'offset': offset, 'limit': 200})}")
        req.add_header("Accept", "application/jupyterhub-pagination+json")
        if token:
            req.add_header("Authorization", f"token {token}")
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (admin-configured URL)
            body = json.load(resp)
        items = body.get("items", []) if isinstance(body, dict) else body
        for user in items:
            times = [parse_time(user.get("last_activity"))]
            times += [parse_time((s or {}).get("last_activity")) for s in (user.get("servers") or {}).values()]
            known = [t for t in times if t]
            activity[user["name"]] = max(known) if known else None
        nxt = body.get("_pagination", {}).get("next") if isinstance(body, dict) else None
        if not nxt or not items:
            return activity
        offset = int(nxt.get("offset", offset + len(items)))


def idle_since_last_push(target: Target, activity: dict[str, dt.datetime | None]) -> bool:
    """True when the user's server cannot have changed the home since the last good push."""
    if target.last_push is None:
        return False
    last = activity.get(target.username)
    return last is None or last <= target.last_push
