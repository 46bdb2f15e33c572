"""Reading a tenant's unresolved incidents: open and acknowledged ones, never its resolved past."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from crontopus.server.app import AppState
from crontopus.server.db.models import AlertRule, Incident
from crontopus.server.db.types import utcnow
from crontopus.server.services.alerts.engine.incidents import (
    Announcer,
    Opening,
    acknowledge_incident,
    open_incidents,
    open_incidents_of,
    open_key,
    resolve_incidents,
    unresolved,
)
from tests.server.conftest import Persona


def failure(job_id: uuid.UUID) -> Opening:
    # A rule the periodic cycle running meanwhile never opens nor resolves.
    return Opening(
        rule=AlertRule.FAILURE,
        key=open_key(AlertRule.FAILURE, job_id),
        title="the job failed",
        job_id=job_id,
    )


async def test_unresolved_incidents_are_the_open_and_acknowledged_ones_of_the_tenant(
    state: AppState, alice: Persona, bob: Persona
) -> None:
    announcer = Announcer(state.broadcaster)
    now = utcnow()
    tenant, other = uuid.UUID(alice.tenant_id), uuid.UUID(bob.tenant_id)
    jobs = [uuid.uuid4() for _ in range(4)]
    async with state.session() as session, session.begin():
        mine = await open_incidents(session, tenant, [failure(e) for e in jobs], now, announcer)
        await open_incidents(session, other, [failure(uuid.uuid4())], now, announcer)
        await resolve_incidents(session, mine[:2], now, announcer)
        await acknowledge_incident(session, mine[2], now, "alice", announcer)
    async with state.session() as session:
        found = await open_incidents_of(session, tenant)
        rules = await open_incidents_of(session, tenant, rules=[AlertRule.FAILURE])
    assert {i.id for i in found} == {i.id for i in rules} == {mine[2].id, mine[3].id}
    # The same incident reopens under the same key once the earlier one is resolved.
    resolved_job = mine[0].job_id
    assert resolved_job is not None
    async with state.session() as session, session.begin():
        (reopened,) = await open_incidents(session, tenant, [failure(resolved_job)], now, announcer)
    async with state.session() as session:
        found = await open_incidents_of(session, tenant)
    assert {i.id for i in found} == {mine[2].id, mine[3].id, reopened.id}


async def test_unresolved_incidents_are_read_through_the_open_key_index_on_sqlite(
    state: AppState, alice: Persona
) -> None:
    async with state.session() as session:
        if session.get_bind().dialect.name != "sqlite":
            return  # PostgreSQL's planner chooses by statistics; the result is the test above
        query = select(Incident).where(*unresolved(uuid.UUID(alice.tenant_id)))
        compiled = query.compile(session.get_bind())
        # The plan does not depend on the values bound.
        values = tuple(None for _ in compiled.positiontup or ())
        connection = await session.connection()
        plan = (await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", values)).all()
    detail = " ".join(str(row[-1]) for row in plan)
    assert "open_key>?" in detail, detail
