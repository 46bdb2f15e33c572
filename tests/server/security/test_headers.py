"""Every HTTP answer carries the security headers; HSTS only when the client used https."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest

from crontopus.server.app import AppState, create_app
from crontopus.server.security.headers import CONTENT_SECURITY_POLICY
from crontopus.server.settings import Settings
from tests.server.conftest import Api

PATHS = ["/health", "/graphql", "/", "/jobs", "/assets/missing.js", "/checkin/x/start"]


async def answers(api: Api) -> list[httpx.Response]:
    responses = [await api.client.get(path) for path in PATHS[:5]]
    responses.append(await api.client.post("/graphql", json={"query": "{ __typename }"}))
    responses.append(await api.client.post(PATHS[5]))
    return responses


async def test_every_answer_forbids_framing_sniffing_and_foreign_scripts(api: Api) -> None:
    for response in await answers(api):
        headers = response.headers
        assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY, response.url
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"
        assert "strict-transport-security" not in headers  # plain http
    policy = dict(part.split(" ", 1) for part in CONTENT_SECURITY_POLICY.split("; "))
    assert policy["frame-ancestors"] == "'none'"
    assert policy["script-src"] == "'self'"  # no inline script, no CDN


@pytest.fixture
async def behind_proxy(state: AppState, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(replace(settings, trusted_proxies=("203.0.113.7",)), state)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://ops.example.com") as client:
        yield client


async def test_hsts_is_sent_when_a_trusted_proxy_says_the_client_used_https(
    behind_proxy: httpx.AsyncClient,
) -> None:
    response = await behind_proxy.get("/health", headers={"X-Forwarded-Proto": "https"})
    assert response.headers["strict-transport-security"] == "max-age=31536000"
    plain = await behind_proxy.get("/health", headers={"X-Forwarded-Proto": "http"})
    assert "strict-transport-security" not in plain.headers


async def test_an_untrusted_peer_cannot_claim_https(api: Api) -> None:
    response = await api.client.get("/health", headers={"X-Forwarded-Proto": "https"})
    assert "strict-transport-security" not in response.headers
