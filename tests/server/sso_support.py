"""Logging in through the in-test OpenID Connect provider (tests/oidc_provider.py), as the
console's browser would, for the single sign-on tests."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import update

from crontopus.server.app import AppState
from crontopus.server.db.models import User
from crontopus.server.settings import Settings
from tests.oidc_provider import CLIENT_ID, CLIENT_SECRET
from tests.server.conftest import Api

ORIGIN = {"Origin": "http://testserver"}
ME = "{ me { user { username email } tenant { slug ssoProvider } } }"


def sso_settings(database_url: str, data_dir: Path, issuer: str, **extra: str) -> Settings:
    return Settings.from_env(
        {
            "CRONTOPUS_DATA_DIR": str(data_dir),
            "CRONTOPUS_DATABASE_URL": database_url,
            "CRONTOPUS_OIDC_PROVIDERS": "test",
            "CRONTOPUS_OIDC_TEST_ISSUER": issuer,
            "CRONTOPUS_OIDC_TEST_CLIENT_ID": CLIENT_ID,
            "CRONTOPUS_OIDC_TEST_CLIENT_SECRET": CLIENT_SECRET,
            "CRONTOPUS_OIDC_TEST_LABEL": "Test ID",
            **extra,
        }
    )


async def browse(api: Api, start_path: str = "/auth/oidc/test/start") -> str:
    """Go through the provider as a browser would; return the callback URL it sends back."""
    start = await api.client.get(start_path)
    assert start.status_code == 303, start.text
    async with httpx.AsyncClient() as browser:
        approved = await browser.get(start.headers["location"])
    assert approved.status_code == 302, approved.text
    callback: str = approved.headers["location"]
    return callback


async def finish(api: Api, callback: str) -> httpx.Response:
    response = await api.client.get(callback)
    assert response.status_code == 303, response.text
    return response


def refused(response: httpx.Response) -> str:
    """The message a failed login sends the browser to the login page with."""
    location = urlsplit(response.headers["location"])
    assert location.path == "/login", response.headers["location"]
    assert "crontopus_refresh" not in response.headers.get("set-cookie", "")
    return parse_qs(location.query)["sso_error"][0]


async def session_token(api: Api) -> str:
    """Spend the refresh cookie as the console does after the redirect: an access token."""
    response = await api.client.post("/auth/refresh", headers=ORIGIN)
    assert response.status_code == 200, response.text
    token: str = response.json()["accessToken"]
    return token


async def sso_login(api: Api) -> str:
    response = await finish(api, await browse(api))
    assert response.headers["location"] == "/"
    return await session_token(api)


async def confirm_email(state: AppState, username: str) -> None:
    """Mark a user's address confirmed, as following the verification link would."""
    async with state.session() as session:
        await session.execute(
            update(User)
            .where(User.username == username)
            .values(email_verified_at=datetime.now(UTC))
        )
        await session.commit()
