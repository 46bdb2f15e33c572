"""The console's refresh cookie: set by `login(useCookie: true)`, spent at `POST /auth/refresh`
from this server's own origin only, cleared by `logout`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from http.cookies import SimpleCookie

import httpx
import pytest

from crontopus.server.app import AppState, create_app
from crontopus.server.settings import Settings
from tests.server.conftest import PASSWORD, Api, Persona

ORIGIN = {"Origin": "http://testserver"}
LOGIN_COOKIE = """
mutation Login($username: String!, $password: String!) {
  login(username: $username, password: $password, useCookie: true) {
    __typename ... on AuthPayload { accessToken refreshToken } ... on UserError { message }
  }
}
"""
LOGOUT = "mutation { logout { __typename ... on UserError { message } } }"
ME = "{ me { user { username } } }"


def cookie_of(response: httpx.Response) -> SimpleCookie:
    cookie = SimpleCookie()
    for header in response.headers.get_list("set-cookie"):
        cookie.load(header)
    return cookie


def jar(token: str | None) -> dict[str, str]:
    """A Cookie header carrying `token` (instead of whatever the client's jar holds)."""
    return {"Cookie": f"crontopus_refresh={token or ''}"}


async def cookie_login(api: Api) -> tuple[str, httpx.Response]:
    response = await api.client.post(
        "/graphql", json={"query": LOGIN_COOKIE, "variables": {"username": "alice",
                                                              "password": PASSWORD}}
    )  # fmt: skip
    result = response.json()["data"]["login"]
    assert result["__typename"] == "AuthPayload", result
    access: str = result["accessToken"]
    assert result["refreshToken"] is None  # the page's script never sees it
    return access, response


async def test_a_cookie_login_sets_an_httponly_strict_cookie_for_the_refresh_path_only(
    api: Api, alice: Persona
) -> None:
    _, response = await cookie_login(api)
    morsel = cookie_of(response)["crontopus_refresh"]
    assert morsel.value.startswith("ctr_")
    assert morsel["httponly"] is True
    assert morsel["samesite"] == "strict"
    assert morsel["path"] == "/auth/refresh"
    assert not morsel["secure"]  # plain http: a Secure cookie would never come back
    assert int(morsel["max-age"]) == 30 * 24 * 3600


async def test_the_refresh_path_rotates_the_cookie_and_answers_an_access_token(
    api: Api, alice: Persona
) -> None:
    await cookie_login(api)
    first = api.client.cookies.get("crontopus_refresh")
    response = await api.client.post("/auth/refresh", headers=ORIGIN)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user"] == {"username": "alice"}
    assert body["tenant"]["slug"] == "alice"
    assert body["role"] == "OWNER"
    assert response.headers["cache-control"] == "no-store"
    assert (await api.execute(ME, token=body["accessToken"]))["me"]["user"]["username"] == "alice"
    second = api.client.cookies.get("crontopus_refresh")
    assert second
    assert second != first
    # The spent cookie is worthless, and replaying it ends the session.
    replay = await api.client.post("/auth/refresh", headers={**ORIGIN, **jar(first)})
    assert replay.status_code == 401
    assert "already used" in replay.json()["error"]


async def test_the_refresh_path_refuses_a_foreign_or_missing_origin(
    api: Api, alice: Persona
) -> None:
    await cookie_login(api)
    for headers in ({"Origin": "https://evil.example"}, {}):
        response = await api.client.post("/auth/refresh", headers=headers)
        assert response.status_code == 403
        assert "Origin" in response.json()["error"]


async def test_the_refresh_path_without_a_cookie_asks_for_a_login(api: Api) -> None:
    response = await api.client.post("/auth/refresh", headers=ORIGIN)
    assert response.status_code == 401
    assert response.json() == {"error": "no session cookie; log in"}


async def test_logout_clears_the_cookie_and_the_refresh_path_then_refuses(
    api: Api, alice: Persona
) -> None:
    access, _ = await cookie_login(api)
    spent = api.client.cookies.get("crontopus_refresh")
    response = await api.client.post(
        "/graphql", json={"query": LOGOUT}, headers={"Authorization": f"Bearer {access}"}
    )
    assert response.json()["data"]["logout"]["__typename"] == "LogoutPayload"
    assert cookie_of(response)["crontopus_refresh"]["max-age"] == "0"
    again = await api.client.post("/auth/refresh", headers={**ORIGIN, **jar(spent)})
    assert again.status_code == 401


@pytest.fixture
async def proxied(state: AppState, settings: Settings) -> AsyncIterator[Api]:
    """The app behind a trusted TLS-terminating proxy at 203.0.113.7."""
    app = create_app(replace(settings, trusted_proxies=("203.0.113.0/24",)), state)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.20"}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://ops.example.com", headers=headers
    ) as client:
        yield Api(client)


async def test_behind_a_tls_proxy_the_cookie_is_secure_and_the_https_origin_is_ours(
    proxied: Api, alice: Persona
) -> None:
    _, response = await cookie_login(proxied)
    assert cookie_of(response)["crontopus_refresh"]["secure"] is True
    token = cookie_of(response)["crontopus_refresh"].value
    refreshed = await proxied.client.post(
        "/auth/refresh",
        headers={"Origin": "https://ops.example.com", **jar(token)},
    )
    assert refreshed.status_code == 200, refreshed.text
    plain = await proxied.client.post(
        "/auth/refresh",
        headers={"Origin": "http://ops.example.com", **jar(token)},
    )
    assert plain.status_code == 403
