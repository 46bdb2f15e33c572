"""One announcement per adopted commit, however many server processes adopt it."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from crontopus.server.app import AppState
from crontopus.server.db.models import Tenant
from crontopus.server.services.mirror import claim_announcement
from tests.server.conftest import Persona

FIRST = "1" * 40
SECOND = "2" * 40


async def claim(state: AppState, tenant_slug: str, commit: str) -> bool:
    async with state.session() as session:
        claimed = await claim_announcement(session, tenant_slug, commit)
        await session.commit()
    return claimed


async def test_only_the_first_claim_of_a_commit_announces_it(
    state: AppState, alice: Persona
) -> None:
    assert await claim(state, alice.tenant_slug, FIRST)
    assert not await claim(state, alice.tenant_slug, FIRST)
    assert await claim(state, alice.tenant_slug, SECOND)
    # A force push back to an earlier commit is a change like any other: announced again.
    assert await claim(state, alice.tenant_slug, FIRST)


async def test_a_claim_rolled_back_leaves_the_commit_to_the_next_process(
    state: AppState, alice: Persona
) -> None:
    async with state.session() as session:
        assert await claim_announcement(session, alice.tenant_slug, FIRST)
        await session.rollback()  # announcing failed, or the process died
    assert await claim(state, alice.tenant_slug, FIRST)


async def test_claims_racing_for_one_commit_elect_exactly_one_announcer(
    state: AppState, alice: Persona, bob: Persona
) -> None:
    results = await asyncio.gather(*(claim(state, alice.tenant_slug, FIRST) for _ in range(8)))
    assert sorted(results) == [False] * 7 + [True]
    # Another tenant's commits are its own.
    assert await claim(state, bob.tenant_slug, FIRST)
    async with state.session() as session:
        recorded = await session.scalars(select(Tenant.announced_commit).order_by(Tenant.slug))
        assert list(recorded) == [FIRST, FIRST]


async def test_a_tenant_that_does_not_exist_claims_nothing(state: AppState) -> None:
    assert not await claim(state, "nobody", FIRST)
