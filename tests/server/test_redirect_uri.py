"""Issue 4 (5): the OAuth redirect URI under JupyterHub and standalone."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from jupyter_drive_sync.core.settings import redirect_uri

CALLBACK = "hub/user-redirect/drive-sync/oauth2callback"
HUB_ENV = {"JUPYTERHUB_SERVICE_PREFIX": "/user/ann/", "JUPYTERHUB_API_URL": "http://hub:8081/hub/api"}


@pytest.mark.parametrize("public", ["https://hub.example.org", "https://hub.example.org/",
                                    "https://hub.example.org/hub/"])
def test_hub_env_public_url(public):
    env = dict(HUB_ENV, JUPYTERHUB_PUBLIC_HUB_URL=public)
    assert redirect_uri(environ=env, server_url="http://10.0.0.5:8888") == f"https://hub.example.org/{CALLBACK}"


def test_configured_hub_url_wins_over_env():
    env = dict(HUB_ENV, JUPYTERHUB_PUBLIC_HUB_URL="https://other.example.org/")
    got = redirect_uri(environ=env, hub_public_url="https://jupyter.uni.edu/", server_url="http://x")
    assert got == f"https://jupyter.uni.edu/{CALLBACK}"


def test_explicit_redirect_uri_wins():
    got = redirect_uri(configured="https://a.example/cb", environ=dict(HUB_ENV), hub_public_url="https://b/")
    assert got == "https://a.example/cb"


def test_hub_without_public_url_uses_the_browsers_origin_and_hub_base_url():
    env = dict(HUB_ENV, JUPYTERHUB_BASE_URL="/jh/")
    got = redirect_uri(environ=env, server_url="https://hub.example.org")
    assert got == f"https://hub.example.org/jh/{CALLBACK}"


def test_standalone_is_the_servers_own_url():
    got = redirect_uri(environ={}, server_url="http://localhost:8888", base_url="/lab-base/")
    assert got == "http://localhost:8888/lab-base/drive-sync/oauth2callback"


class TestUnderJupyterHub:
    @pytest.fixture
    def drive_sync_config(self, emulator, fernet_key, monkeypatch):
        # Set after standalone_env has cleared the machine's own variables (fixture order).
        return {"emulator_url": emulator.url, "encryption_key": fernet_key}

    @pytest.fixture
    def jp_server_config(self, standalone_env, drive_sync_config, monkeypatch):
        monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/ann/")
        monkeypatch.setenv("JUPYTERHUB_API_URL", "http://127.0.0.1:8081/hub/api")
        monkeypatch.setenv("JUPYTERHUB_PUBLIC_HUB_URL", "https://hub.example.org/hub/")
        return {
            "ServerApp": {"jpserver_extensions": {"jupyter_drive_sync": True},
                          "allow_unauthenticated_access": False},
            "DriveSyncApp": drive_sync_config,
        }

    async def test_auth_start_sends_the_hub_wide_redirect(self, api):
        resp = await api("drive-sync", "auth", "start", follow_redirects=False, raise_error=False)
        assert resp.code == 302
        sent = parse_qs(urlsplit(resp.headers["Location"]).query)["redirect_uri"]
        assert sent == [f"https://hub.example.org/{CALLBACK}"]


class TestConfiguredHubUrl(TestUnderJupyterHub):
    @pytest.fixture
    def drive_sync_config(self, emulator, fernet_key):
        return {"emulator_url": emulator.url, "encryption_key": fernet_key,
                "hub_public_url": "https://jupyter.uni.edu/"}

    async def test_auth_start_sends_the_hub_wide_redirect(self, api):
        resp = await api("drive-sync", "auth", "start", follow_redirects=False, raise_error=False)
        sent = parse_qs(urlsplit(resp.headers["Location"]).query)["redirect_uri"]
        assert sent == [f"https://jupyter.uni.edu/{CALLBACK}"]


async def test_standalone_server_sends_its_own_url(api, jp_serverapp, jp_http_port):
    resp = await api("drive-sync", "auth", "start", follow_redirects=False, raise_error=False)
    sent = parse_qs(urlsplit(resp.headers["Location"]).query)["redirect_uri"][0]
    assert sent == f"http://127.0.0.1:{jp_http_port}{jp_serverapp.base_url}drive-sync/oauth2callback"
