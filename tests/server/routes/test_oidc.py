"""Logging in through an OpenID Connect provider: a real one (Authlib's server side) on a
loopback port, the authorization code flow with PKCE, and what the callback checks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit, urlunsplit

import pytest

from crontopus.server.app import AppState
from crontopus.server.settings import Settings
from tests.oidc_provider import Person, Provider, serve_provider
from tests.server.conftest import Api, Persona
from tests.server.sso_support import (
    ME,
    browse,
    confirm_email,
    finish,
    refused,
    sso_login,
    sso_settings,
)


@pytest.fixture
async def provider() -> AsyncIterator[Provider]:
    person = Person("subject-dora", "dora@example.com", preferred_username="dora")
    async with serve_provider(Provider(person)) as served:
        yield served


@pytest.fixture
def settings(database_url: str, tmp_path: Path, provider: Provider) -> Settings:
    return sso_settings(database_url, tmp_path / "data", provider.issuer)


async def test_a_first_login_creates_an_account_whose_session_answers_me(
    api: Api, provider: Provider
) -> None:
    token = await sso_login(api)
    me = (await api.execute(ME, token=token))["me"]
    assert me["user"] == {"username": "dora", "email": "dora@example.com"}
    assert me["tenant"]["slug"] == "dora"


async def test_the_callback_sets_the_consoles_refresh_cookie_and_clears_the_attempt(
    api: Api, provider: Provider
) -> None:
    response = await finish(api, await browse(api, "/auth/oidc/test/start?next=/jobs"))
    assert response.headers["location"] == "/jobs"
    cookies = response.headers.get_list("set-cookie")
    refresh = next(c for c in cookies if c.startswith("crontopus_refresh="))
    assert "HttpOnly" in refresh
    assert "Path=/auth/refresh" in refresh
    assert "SameSite=strict" in refresh
    attempt = next(c for c in cookies if c.startswith("crontopus_oidc="))
    assert "Max-Age=0" in attempt or 'crontopus_oidc=""' in attempt


async def test_the_authorization_request_uses_pkce_s256_state_and_nonce(
    api: Api, provider: Provider
) -> None:
    start = await api.client.get("/auth/oidc/test/start")
    query = parse_qs(urlsplit(start.headers["location"]).query)
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43
    assert len(query["state"][0]) >= 32
    assert len(query["nonce"][0]) >= 32
    assert query["redirect_uri"] == ["http://testserver/auth/oidc/test/callback"]
    assert query["scope"] == ["openid email profile"]


async def test_a_login_links_an_existing_account_by_its_verified_email(
    api: Api, provider: Provider, alice: Persona, state: AppState
) -> None:
    await confirm_email(state, "alice")
    provider.person = Person("subject-alice", "Alice@Example.com")
    token = await sso_login(api)
    assert (await api.execute(ME, token=token))["me"]["user"]["username"] == "alice"
    audit = await api.execute(
        "{ auditEvents(first: 5) { edges { node { action details } } } }", token=token
    )
    actions = [edge["node"]["action"] for edge in audit["auditEvents"]["edges"]]
    assert "user.sso_link" in actions
    # Later logins go by the subject, whatever address the provider reports by then.
    provider.person = Person("subject-alice", "alice@elsewhere.example", email_verified=False)
    token = await sso_login(api)
    assert (await api.execute(ME, token=token))["me"]["user"]["username"] == "alice"


async def test_an_account_that_never_confirmed_its_address_is_not_linked(
    api: Api, provider: Provider, alice: Persona
) -> None:
    provider.person = Person("subject-alice", "alice@example.com")
    message = refused(await finish(api, await browse(api)))
    assert "has not confirmed that address" in message


async def test_an_unverified_email_is_refused_with_a_message_saying_so(
    api: Api, provider: Provider, alice: Persona
) -> None:
    provider.person = Person("subject-mallory", "alice@example.com", email_verified=False)
    message = refused(await finish(api, await browse(api)))
    assert "has not verified your e-mail address alice@example.com" in message
    assert "Test ID" in message


async def test_an_answer_with_another_state_is_refused(api: Api, provider: Provider) -> None:
    callback = urlsplit(await browse(api))
    query = parse_qs(callback.query)
    forged = f"code={query['code'][0]}&state=not-the-state-this-browser-sent"
    message = refused(await finish(api, urlunsplit(callback._replace(query=forged))))
    assert "its state differs" in message


async def test_a_callback_without_the_attempts_cookie_is_refused(
    api: Api, provider: Provider
) -> None:
    callback = await browse(api)
    api.client.cookies.clear()
    assert "no login with Test ID in progress" in refused(await finish(api, callback))


async def test_an_id_token_with_another_nonce_is_refused(api: Api, provider: Provider) -> None:
    provider.nonce_override = "a-nonce-of-another-login"
    message = refused(await finish(api, await browse(api)))
    assert "nonce" in message


async def test_an_expired_code_is_refused(api: Api, provider: Provider) -> None:
    provider.code_lifetime = 0
    message = refused(await finish(api, await browse(api)))
    assert "refused the login code" in message


async def test_a_provider_error_is_shown_on_the_login_page(api: Api, provider: Provider) -> None:
    await api.client.get("/auth/oidc/test/start")
    response = await finish(
        api, "/auth/oidc/test/callback?error=access_denied&error_description=Not+today"
    )
    assert refused(response) == "Test ID did not log you in: Not today"


async def test_an_unknown_provider_is_not_found(api: Api, provider: Provider) -> None:
    response = await api.client.get("/auth/oidc/nope/start")
    assert response.status_code == 404
    assert "identityProviders" in response.text


async def test_identity_providers_lists_what_the_login_page_offers(
    api: Api, provider: Provider
) -> None:
    data = await api.execute("{ identityProviders { name label startUrl } }")
    assert data["identityProviders"] == [
        {"name": "test", "label": "Test ID", "startUrl": "http://testserver/auth/oidc/test/start"}
    ]
