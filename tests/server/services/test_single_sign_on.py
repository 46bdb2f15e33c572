"""Accounts behind single sign-on: sign-up closed, and SSO-only tenants that refuse passwords."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from crontopus.server.app import AppState, create_app, create_state
from crontopus.server.settings import Settings
from tests.oidc_provider import Person, Provider, serve_provider
from tests.server.conftest import LOGIN, PASSWORD, Api, Persona, register
from tests.server.sso_support import (
    ME,
    browse,
    confirm_email,
    finish,
    refused,
    sso_login,
    sso_settings,
)

SSO_ONLY = """
mutation SsoOnly($provider: String, $tenant: UUID) {
  setTenantSsoOnly(provider: $provider, tenant: $tenant) {
    __typename
    ... on Tenant { slug ssoProvider }
    ... on UserError { message }
    ... on ValidationError { fields { path message } }
  }
}
"""


@pytest.fixture
async def provider() -> AsyncIterator[Provider]:
    async with serve_provider(Provider(Person("subject-alice", "alice@example.com"))) as served:
        yield served


@pytest.fixture
def settings(database_url: str, tmp_path: Path, provider: Provider) -> Settings:
    return sso_settings(database_url, tmp_path / "data", provider.issuer)


@pytest.fixture
async def alice(api: Api, state: AppState) -> Persona:
    """Owner of tenant `alice`, her address confirmed (so single sign-on links to her)."""
    persona = await register(api, "alice")
    await confirm_email(state, "alice")
    return persona


@contextlib.asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[Api]:
    state = create_state(settings)
    await state.start()
    transport = httpx.ASGITransport(app=create_app(settings, state), client=("203.0.113.8", 1))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Api(client)
    finally:
        await state.stop()


async def password_login(api: Api, username: str) -> dict[str, str]:
    data = await api.execute(LOGIN, {"username": username, "password": PASSWORD, "tenant": None})
    result: dict[str, str] = data["login"]
    return result


async def test_a_tenant_made_sso_only_refuses_password_logins_naming_the_provider(
    api: Api, provider: Provider, alice: Persona
) -> None:
    token = await sso_login(api)
    result = (await api.execute(SSO_ONLY, {"provider": "test"}, token))["setTenantSsoOnly"]
    assert result == {"__typename": "Tenant", "slug": "alice", "ssoProvider": "test"}
    refusal = await password_login(api, "alice")
    assert refusal["__typename"] == "AuthenticationError"
    assert "allows single sign-on only" in refusal["message"]
    assert "Log in with Test ID" in refusal["message"]
    # The password session opened before is over too; single sign-on still works.
    assert "single sign-on only" in (await api.error_of(ME, token=alice.access_token))["message"]
    me = (await api.execute(ME, token=await sso_login(api)))["me"]
    assert me["tenant"] == {"slug": "alice", "ssoProvider": "test"}
    audit = await api.execute(
        "{ auditEvents(first: 10) { edges { node { action actor details } } } }",
        token=await sso_login(api),
    )
    event = next(
        e["node"] for e in audit["auditEvents"]["edges"] if e["node"]["action"] == "tenant.sso_only"
    )
    assert event["actor"] == "alice"
    assert event["details"] == {"before": None, "after": "test"}


async def test_password_logins_work_again_once_sso_only_is_turned_off(
    api: Api, provider: Provider, alice: Persona
) -> None:
    token = await sso_login(api)
    await api.execute(SSO_ONLY, {"provider": "test"}, token)
    token = await sso_login(api)
    off = (await api.execute(SSO_ONLY, {"provider": None}, token))["setTenantSsoOnly"]
    assert off["ssoProvider"] is None
    assert (await password_login(api, "alice"))["__typename"] == "AuthPayload"


async def test_sso_only_is_turned_on_only_from_a_session_of_that_provider(
    api: Api, provider: Provider, alice: Persona
) -> None:
    result = (await api.execute(SSO_ONLY, {"provider": "test"}, alice.access_token))[
        "setTenantSsoOnly"
    ]
    assert result["__typename"] == "ValidationError"
    assert "log in with Test ID first" in result["fields"][0]["message"]
    unknown = (await api.execute(SSO_ONLY, {"provider": "nope"}, alice.access_token))[
        "setTenantSsoOnly"
    ]
    assert "not a provider of this server" in unknown["fields"][0]["message"]


async def test_members_below_admin_cannot_make_their_tenant_sso_only(
    api: Api, provider: Provider, carol: Persona
) -> None:
    result = (await api.execute(SSO_ONLY, {"provider": None}, carol.access_token))[
        "setTenantSsoOnly"
    ]
    assert result["__typename"] == "PermissionError", result


async def test_a_first_login_is_refused_where_sign_up_is_closed(
    settings: Settings, provider: Provider
) -> None:
    provider.person = Person("subject-erin", "erin@example.com")
    async with serving(replace(settings, allow_signup=False)) as api:
        message = refused(await finish(api, await browse(api)))
    assert "sign-up is closed" in message
    assert "erin@example.com" in message
