"""Forwarded headers count from trusted proxies only: the throttle keys on the real client,
clone URLs and redirects follow the scheme the client used."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest

from crontopus.server.app import AppState, create_app
from crontopus.server.errors import ConfigurationError
from crontopus.server.settings import Settings
from tests.server.conftest import LOGIN, PASSWORD, Api, Persona

PROXY = ("10.1.2.3", 51000)


@pytest.fixture
async def proxied(state: AppState, settings: Settings) -> AsyncIterator[Api]:
    """The app as a reverse proxy at 10.1.2.3 (inside the trusted 10.0.0.0/8) reaches it."""
    app = create_app(replace(settings, trusted_proxies=("10.0.0.0/8",)), state)
    transport = httpx.ASGITransport(app=app, client=PROXY)
    async with httpx.AsyncClient(transport=transport, base_url="http://ops.example.com") as client:
        yield Api(client)


async def failed_login(api: Api, forwarded_for: str | None, username: str) -> str:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    response = await api.client.post(
        "/graphql",
        json={"query": LOGIN, "variables": {"username": username, "password": "wrong one!"}},
        headers=headers,
    )
    typename: str = response.json()["data"]["login"]["__typename"]
    return typename


async def test_the_login_limit_keys_on_the_client_a_trusted_proxy_names(proxied: Api) -> None:
    for _ in range(10):
        assert await failed_login(proxied, "198.51.100.1", "alice") == "AuthenticationError"
    assert await failed_login(proxied, "198.51.100.1", "alice") == "RateLimitedError"
    # Another client behind the same proxy is not punished for the first one's guesses.
    assert await failed_login(proxied, "198.51.100.2", "alice") == "AuthenticationError"


async def test_an_untrusted_peer_cannot_choose_its_address_to_dodge_the_limit(api: Api) -> None:
    for number in range(10):
        await failed_login(api, f"198.51.100.{number}", "alice")
    assert await failed_login(api, "198.51.100.99", "alice") == "RateLimitedError"


async def test_sessions_record_the_forwarded_client_address(proxied: Api, alice: Persona) -> None:
    logged_in = await proxied.client.post(
        "/graphql",
        json={"query": LOGIN, "variables": {"username": "alice", "password": PASSWORD}},
        headers={"X-Forwarded-For": "192.0.2.44, 10.9.9.9"},
    )
    token = logged_in.json()["data"]["login"]["accessToken"]
    listed = await proxied.execute("{ sessions { address current } }", token=token)
    # The right-most address the trusted proxies did not add is the client.
    assert {"address": "192.0.2.44", "current": True} in listed["sessions"]


async def test_clone_urls_follow_the_scheme_the_client_used(
    proxied: Api, api: Api, alice: Persona
) -> None:
    query = "{ repository { cloneUrl } }"
    headers = {"Authorization": f"Bearer {alice.access_token}", "X-Forwarded-Proto": "https"}
    response = await proxied.client.post("/graphql", json={"query": query}, headers=headers)
    assert response.json()["data"]["repository"]["cloneUrl"].startswith(
        "https://ops.example.com/git/alice/"
    )
    direct = await api.execute(query, token=alice.access_token)
    assert direct["repository"]["cloneUrl"].startswith("http://testserver/git/")


async def test_redirects_keep_the_forwarded_scheme(proxied: Api) -> None:
    response = await proxied.client.get(
        "/graphql", headers={"Accept": "text/html", "X-Forwarded-Proto": "https"}
    )
    assert response.status_code == 302
    # Relative: the browser resolves it against the https URL it is on.
    assert response.headers["location"] == "/playground"


def test_trusted_proxies_are_parsed_as_networks_and_bad_ones_are_named() -> None:
    settings = Settings.from_env(
        {"CRONTOPUS_TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.1,::1", "CRONTOPUS_DATA_DIR": "/tmp"}
    )
    assert settings.trusted_proxies == ("10.0.0.0/8", "127.0.0.1/32", "::1/128")
    with pytest.raises(ConfigurationError, match=r"CRONTOPUS_TRUSTED_PROXIES: 'proxy\.local'"):
        Settings.from_env(
            {"CRONTOPUS_TRUSTED_PROXIES": "proxy.local", "CRONTOPUS_DATA_DIR": "/tmp"}
        )
