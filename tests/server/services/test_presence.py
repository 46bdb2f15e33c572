"""The endpoint online rule: status, filters, offline detection and counts agree at the boundary."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from crontopus.core.enums import EndpointStatus
from crontopus.server.app import AppState
from crontopus.server.db.models import Endpoint, Role
from crontopus.server.security.principal import Principal, PrincipalKind, Scope
from crontopus.server.services import endpoints
from crontopus.server.services.presence import is_online, online_condition
from crontopus.server.settings import Settings
from tests.server.conftest import Api, Persona
from tests.server.graphql.test_enrollment import enrolled_endpoint

NOW = datetime(2026, 3, 1, 12, 0, 0, 500_000, tzinfo=UTC)
TICK = timedelta(microseconds=1)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """These tests pin the clock: no background offline detection beside them."""
    return replace(settings, in_process_worker=False)


def owner(persona: Persona) -> Principal:
    return Principal(
        kind=PrincipalKind.USER,
        tenant_id=uuid.UUID(persona.tenant_id),
        tenant_slug=persona.tenant_slug,
        role=Role.OWNER,
        user_id=uuid.UUID(persona.user_id),
        username=persona.username,
        scopes=frozenset(Scope),
    )


async def seen_at(state: AppState, endpoint_id: str, at: datetime) -> Endpoint:
    async with state.session() as session:
        await session.execute(
            update(Endpoint).where(Endpoint.id == uuid.UUID(endpoint_id)).values(last_seen_at=at)
        )
        await session.commit()
        row = await session.get(Endpoint, uuid.UUID(endpoint_id))
        assert row is not None
        return row


async def listed(
    state: AppState, persona: Persona, settings: Settings, status: EndpointStatus
) -> list[uuid.UUID]:
    async with state.session() as session:
        rows = await endpoints.list_endpoints(
            session,
            owner(persona),
            settings,
            endpoints.EndpointFilter(status=status),
            first=10,
            after=None,
            now=NOW,
        )
    return [row.id for row in rows]


def test_a_heartbeat_exactly_at_the_threshold_still_counts_as_online() -> None:
    after = timedelta(seconds=90)
    assert is_online(NOW - after, NOW, after)
    assert not is_online(NOW - after - TICK, NOW, after)
    assert not is_online(None, NOW, after)


@pytest.mark.parametrize(
    ("age", "expected"),
    [
        (-timedelta(seconds=30), EndpointStatus.ONLINE),
        (timedelta(0), EndpointStatus.ONLINE),
        (TICK, EndpointStatus.OFFLINE),
    ],
    ids=["fresh", "exactly-at-the-threshold", "just-past-the-threshold"],
)
async def test_the_status_and_the_status_filter_agree_around_the_threshold(
    api: Api,
    alice: Persona,
    state: AppState,
    settings: Settings,
    age: timedelta,
    expected: EndpointStatus,
) -> None:
    endpoint_id, _ = await enrolled_endpoint(api, alice)
    row = await seen_at(state, endpoint_id, NOW - settings.offline_after - age)
    assert endpoints.endpoint_status(row, settings, NOW) is expected
    other = EndpointStatus.OFFLINE if expected is EndpointStatus.ONLINE else EndpointStatus.ONLINE
    assert await listed(state, alice, settings, expected) == [uuid.UUID(endpoint_id)]
    assert await listed(state, alice, settings, other) == []
    async with state.session() as session:
        count = await session.scalar(
            select(func.count()).where(
                Endpoint.id == row.id, online_condition(NOW, settings.offline_after)
            )
        )
    assert count == (1 if expected is EndpointStatus.ONLINE else 0)


async def test_offline_detection_announces_an_endpoint_only_once_it_is_past_the_threshold(
    api: Api, alice: Persona, state: AppState, settings: Settings
) -> None:
    endpoint_id, _ = await enrolled_endpoint(api, alice)
    await seen_at(state, endpoint_id, NOW - settings.offline_after)
    detect = endpoints.detect_offline
    assert await detect(state.session, state.broadcaster, settings, now=NOW - TICK) == 0
    assert await detect(state.session, state.broadcaster, settings, now=NOW) == 0
    assert await detect(state.session, state.broadcaster, settings, now=NOW + TICK) == 1
    assert await detect(state.session, state.broadcaster, settings, now=NOW + 2 * TICK) == 0
