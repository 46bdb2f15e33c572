"""Check-ins in the fast lane are answered exactly as the general stack answers them."""

from __future__ import annotations

import dataclasses
import sqlite3
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from crontopus.server.app import AppState, create_app
from crontopus.server.settings import Settings
from tests.server.conftest import Api, Persona
from tests.server.routes.test_checkin import setup

# Headers every answer carries whichever way it went; `date` and `server` come from uvicorn.
SAME = (
    "content-type",
    "content-security-policy",
    "x-frame-options",
    "x-content-type-options",
    "referrer-policy",
)


async def chunked(body: bytes) -> AsyncIterator[bytes]:
    """A body without Content-Length: the lane leaves it to the general stack."""
    yield body


async def test_a_check_in_with_a_declared_length_and_a_chunked_one_get_the_same_answer(
    api: Api, alice: Persona
) -> None:
    job_id, token = await setup(api, alice)
    answers: list[httpx.Response] = []
    for content in (b"done\n", chunked(b"done\n")):
        answers.append(
            await api.client.post(
                f"/checkin/{job_id}/0",
                params={"rid": str(uuid.uuid4())},
                content=content,
                headers={"Authorization": f"Bearer {token}", "X-Request-ID": "lane-check-1"},
            )
        )
    lane, general = answers
    assert "content-length" not in general.request.headers
    assert lane.status_code == general.status_code == 200
    assert lane.json().keys() == general.json().keys()
    assert lane.json()["status"] == general.json()["status"] == "SUCCESS"
    for name in SAME:
        assert lane.headers.get(name) == general.headers.get(name) is not None, name
    assert lane.headers["x-request-id"] == general.headers["x-request-id"] == "lane-check-1"


async def test_refusals_in_the_lane_keep_their_status_and_headers(api: Api, alice: Persona) -> None:
    job_id, token = await setup(api, alice)
    auth = {"Authorization": f"Bearer {token}"}
    missing_rid = await api.client.post(f"/checkin/{job_id}/0", content=b"x", headers=auth)
    assert missing_rid.status_code == 400
    assert missing_rid.json()["field"] == "rid"
    assert missing_rid.headers["x-frame-options"] == "DENY"
    assert missing_rid.headers["x-request-id"]
    nobody = await api.client.post(f"/checkin/{job_id}/0?rid={uuid.uuid4()}", content=b"x")
    assert nobody.status_code == 401
    too_long = await api.client.post(
        f"/checkin/{job_id}/0?rid={uuid.uuid4()}", content=b"x" * (1024 * 1024), headers=auth
    )
    assert too_long.status_code == 413
    assert "CRONTOPUS_MAX_CHECKIN_BODY" in too_long.json()["error"]
    # Paths the route does not take are the router's to answer, as before.
    extra = await api.client.post(f"/checkin/{job_id}/0/more?rid={uuid.uuid4()}", headers=auth)
    assert extra.status_code in (404, 405)


async def test_with_cors_configured_a_browser_can_read_a_check_in_answer(
    state: AppState, settings: Settings, alice: Persona, api: Api
) -> None:
    job_id, token = await setup(api, alice)
    origin = "https://console.example.com"
    app = create_app(dataclasses.replace(settings, cors_origins=(origin,)), state)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        answer = await client.post(
            f"/checkin/{job_id}/0",
            params={"rid": str(uuid.uuid4())},
            content=b"ok",
            headers={"Authorization": f"Bearer {token}", "Origin": origin},
        )
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == origin
    assert answer.headers["x-content-type-options"] == "nosniff"


async def test_a_dependency_failing_under_the_route_is_a_503_in_the_lane_too(
    api: Api, alice: Persona, state: AppState, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id, token = await setup(api, alice)

    async def locked(*_args: object) -> None:
        raise sqlite3.OperationalError("database is locked")

    # The general stack's exception handlers stand behind every other route; the lane has none.
    monkeypatch.setattr(state.job_directory, "lookup", locked)
    answer = await api.client.post(
        f"/checkin/{job_id}/0",
        params={"rid": str(uuid.uuid4())},
        content=b"ok",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"]
    assert answer.json()["dependency"] == "database"
