"""Login sessions: logout ends access tokens too, `sessions`, `revokeSession`,
`signOutEverywhere` and `changePassword`, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from crontopus.server.settings import Settings
from tests.server.conftest import (
    LOGIN,
    PASSWORD,
    Api,
    Persona,
    login,
    start_server,
    stop_server,
)

ME = "{ me { user { username } } }"
LOGOUT_CURRENT = "mutation { logout { __typename ... on UserError { message } } }"
LOGOUT = """
mutation Logout($token: String!) {
  logout(refreshToken: $token) { __typename ... on UserError { message } }
}
"""
REFRESH = """
mutation Refresh($token: String!) {
  refreshToken(token: $token) {
    __typename ... on AuthPayload { accessToken refreshToken } ... on UserError { message }
  }
}
"""
SESSIONS = """
{ sessions { id userAgent address createdAt lastUsedAt expiresAt current tenant { slug } } }
"""
REVOKE = """
mutation Revoke($id: UUID!) {
  revokeSession(id: $id) {
    __typename ... on EndedSessions { count } ... on UserError { message }
  }
}
"""
EVERYWHERE = """
mutation { signOutEverywhere {
  __typename ... on EndedSessions { count } ... on UserError { message } } }
"""
CHANGE_PASSWORD = """
mutation Change($current: String!, $new: String!) {
  changePassword(currentPassword: $current, newPassword: $new) {
    __typename
    ... on PasswordChanged { endedSessions }
    ... on ValidationError { fields { path message } }
    ... on UserError { message }
  }
}
"""
CREATE_TOKEN = """
mutation { createApiToken(name: "ci", scopes: [READ, WRITE]) {
  __typename ... on CreatedApiToken { plaintext } ... on UserError { message } } }
"""
NEW_PASSWORD = "a much better passphrase"


async def refused(api: Api, token: str) -> str:
    """The message `me` answers with when `token` no longer works."""
    error = await api.error_of(ME, token=token)
    assert error["extensions"]["code"] == "UNAUTHENTICATED", error
    message: str = error["message"]
    return message


async def sessions_of(api: Api, token: str) -> list[dict[str, Any]]:
    data = await api.execute(SESSIONS, token=token)
    result: list[dict[str, Any]] = data["sessions"]
    return result


async def test_logout_ends_the_access_token_at_once_not_only_the_refresh_token(
    api: Api, alice: Persona
) -> None:
    await api.execute(ME, token=alice.access_token)  # cached as a working credential
    data = await api.execute(LOGOUT_CURRENT, token=alice.access_token)
    assert data["logout"]["__typename"] == "LogoutPayload"
    assert "session has ended" in await refused(api, alice.access_token)
    after = await api.execute(REFRESH, {"token": alice.refresh_token})
    assert after["refreshToken"]["__typename"] == "AuthenticationError"


async def test_logout_with_a_refresh_token_ends_that_sessions_access_tokens_too(
    api: Api, alice: Persona
) -> None:
    rotated = (await api.execute(REFRESH, {"token": alice.refresh_token}))["refreshToken"]
    await api.execute(LOGOUT, {"token": rotated["refreshToken"]})
    # Both access tokens of the session die: the first one and the one the refresh gave.
    await refused(api, alice.access_token)
    await refused(api, rotated["accessToken"])


async def test_logout_of_one_session_leaves_the_others_working(api: Api, alice: Persona) -> None:
    laptop = await login(api, "alice")
    await api.execute(LOGOUT_CURRENT, token=alice.access_token)
    assert (await api.execute(ME, token=laptop.access_token))["me"]["user"]["username"] == "alice"


async def test_a_replayed_refresh_token_ends_the_sessions_access_tokens(
    api: Api, alice: Persona
) -> None:
    rotated = (await api.execute(REFRESH, {"token": alice.refresh_token}))["refreshToken"]
    await api.execute(REFRESH, {"token": alice.refresh_token})  # someone copied the old one
    await refused(api, rotated["accessToken"])


async def test_sessions_lists_each_login_with_its_device_address_and_the_current_one(
    api: Api, alice: Persona
) -> None:
    response = await api.client.post(
        "/graphql",
        json={"query": LOGIN, "variables": {"username": "alice", "password": PASSWORD}},
        headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"},
    )
    browser = response.json()["data"]["login"]["accessToken"]
    listed = await sessions_of(api, browser)
    assert len(listed) == 2
    current = [s for s in listed if s["current"]]
    assert len(current) == 1
    assert current[0]["userAgent"] == "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"
    assert current[0]["address"] == "203.0.113.7"  # the test client's address
    assert current[0]["tenant"]["slug"] == "alice"
    assert current[0]["expiresAt"] > current[0]["createdAt"]
    other = next(s for s in listed if not s["current"])
    assert other["userAgent"].startswith("python-httpx")


async def test_revoking_a_session_ends_its_access_and_refresh_tokens(
    api: Api, alice: Persona
) -> None:
    laptop = await login(api, "alice")
    listed = await sessions_of(api, alice.access_token)
    (other,) = [s for s in listed if not s["current"]]
    data = await api.execute(REVOKE, {"id": other["id"]}, alice.access_token)
    assert data["revokeSession"] == {"__typename": "EndedSessions", "count": 1}
    await refused(api, laptop.access_token)
    after = await api.execute(REFRESH, {"token": laptop.refresh_token})
    assert after["refreshToken"]["__typename"] == "AuthenticationError"
    assert len(await sessions_of(api, alice.access_token)) == 1


async def test_another_users_session_answers_not_found(
    api: Api, alice: Persona, bob: Persona
) -> None:
    (bobs,) = await sessions_of(api, bob.access_token)
    data = await api.execute(REVOKE, {"id": bobs["id"]}, alice.access_token)
    assert data["revokeSession"]["__typename"] == "NotFoundError"
    await api.execute(ME, token=bob.access_token)


async def test_signing_out_everywhere_ends_every_session_in_every_tenant(
    api: Api, alice: Persona, carol: Persona
) -> None:
    in_own_tenant = await login(api, "carol")
    data = await api.execute(EVERYWHERE, token=carol.access_token)
    assert data["signOutEverywhere"] == {"__typename": "EndedSessions", "count": 3}
    for token in (carol.access_token, in_own_tenant.access_token):
        await refused(api, token)
    await api.execute(ME, token=alice.access_token)  # nobody else is affected


async def test_api_tokens_cannot_manage_sessions(api: Api, alice: Persona) -> None:
    created = await api.execute(CREATE_TOKEN, token=alice.access_token)
    token = created["createApiToken"]["plaintext"]
    error = await api.error_of(SESSIONS, token=token)
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert "logged-in session" in error["message"]
    data = await api.execute(EVERYWHERE, token=token)
    assert data["signOutEverywhere"]["__typename"] == "PermissionError"
    change = await api.execute(CHANGE_PASSWORD, {"current": PASSWORD, "new": NEW_PASSWORD}, token)
    assert change["changePassword"]["__typename"] == "PermissionError"


async def test_changing_the_password_ends_the_other_sessions_and_keeps_this_one(
    api: Api, alice: Persona
) -> None:
    laptop = await login(api, "alice")
    data = await api.execute(
        CHANGE_PASSWORD, {"current": PASSWORD, "new": NEW_PASSWORD}, alice.access_token
    )
    assert data["changePassword"] == {"__typename": "PasswordChanged", "endedSessions": 1}
    await refused(api, laptop.access_token)
    await api.execute(ME, token=alice.access_token)
    old = await api.execute(LOGIN, {"username": "alice", "password": PASSWORD})
    assert old["login"]["__typename"] == "AuthenticationError"
    new = await api.execute(LOGIN, {"username": "alice", "password": NEW_PASSWORD})
    assert new["login"]["__typename"] == "AuthPayload"


async def test_a_password_change_names_the_field_that_is_wrong(api: Api, alice: Persona) -> None:
    wrong = await api.execute(
        CHANGE_PASSWORD, {"current": "not my password", "new": NEW_PASSWORD}, alice.access_token
    )
    assert wrong["changePassword"]["fields"] == [
        {"path": ["currentPassword"], "message": "is not your current password"}
    ]
    weak = await api.execute(
        CHANGE_PASSWORD, {"current": PASSWORD, "new": "alice12345"}, alice.access_token
    )
    assert weak["changePassword"]["__typename"] == "ValidationError"
    assert {tuple(f["path"]) for f in weak["changePassword"]["fields"]} == {("newPassword",)}
    same = await api.execute(
        CHANGE_PASSWORD, {"current": PASSWORD, "new": PASSWORD}, alice.access_token
    )
    assert "is your current password" in same["changePassword"]["fields"][0]["message"]
    assert (await api.execute(LOGIN, {"username": "alice", "password": PASSWORD}))["login"][
        "__typename"
    ] == "AuthPayload"


async def test_guessing_the_current_password_is_throttled(api: Api, alice: Persona) -> None:
    for _ in range(10):
        await api.execute(
            CHANGE_PASSWORD, {"current": "a wrong guess", "new": NEW_PASSWORD}, alice.access_token
        )
    data = await api.execute(
        CHANGE_PASSWORD, {"current": PASSWORD, "new": NEW_PASSWORD}, alice.access_token
    )
    assert data["changePassword"]["__typename"] == "RateLimitedError"


async def test_another_server_process_refuses_a_logged_out_token_within_the_cache_lifetime(
    api: Api, alice: Persona, settings: Settings
) -> None:
    other = start_server(
        {
            "CRONTOPUS_DATA_DIR": str(settings.data_dir),
            "CRONTOPUS_DATABASE_URL": settings.database_url,
            "CRONTOPUS_SECRET_KEY": settings.secret_key,
            "CRONTOPUS_AUTH_CACHE_SECONDS": "1",
        }
    )
    try:
        async with httpx.AsyncClient(base_url=other.url) as client:

            async def me() -> dict[str, Any]:
                response = await client.post(
                    "/graphql",
                    json={"query": ME},
                    headers={"Authorization": f"Bearer {alice.access_token}"},
                )
                body: dict[str, Any] = response.json()
                return body

            assert (await me())["data"]["me"]["user"]["username"] == "alice"
            await api.execute(LOGOUT_CURRENT, token=alice.access_token)
            # Polled, not awaited: the other process has nothing to signal with but its answers.
            deadline = time.monotonic() + 5
            body = await me()
            while "errors" not in body and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
                body = await me()
            assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", body
    finally:
        stop_server(other)
