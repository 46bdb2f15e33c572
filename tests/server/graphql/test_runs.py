"""Runs over GraphQL: checkIn, filters, keyset paging, health from rollups, live runEvents."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import case, func, select
from websockets.asyncio.client import connect

from crontopus.core.enums import RunStatus
from crontopus.server.app import AppState
from crontopus.server.db.models import Role, Run
from crontopus.server.security.principal import Principal, PrincipalKind, Scope
from crontopus.server.services.checkin_validation import Report
from crontopus.server.services.checkins import CheckInKind
from crontopus.server.services.runs import check_in
from tests.server.conftest import Api, LiveServer, Persona

CREATE_JOB = """
mutation($name: String!, $ns: String!) {
  createJob(input: {name: $name, namespace: $ns, schedule: "*/5 * * * *", command: "/bin/true"}) {
    ... on Job { id } }
}
"""
CHECK_IN = """
mutation($input: CheckInInput!) {
  checkIn(input: $input) {
    __typename
    ... on Run { id status exitCode durationMs jobName }
    ... on UserError { message }
  }
}
"""
RUNS = """
query($filter: RunFilter, $first: Int!, $after: String) {
  runs(filter: $filter, first: $first, after: $after) {
    nodes { id jobName status startedAt }
    pageInfo { hasNextPage endCursor }
  }
}
"""
JOB_HEALTH = """
query($window: HealthWindow) {
  jobHealth(window: $window) {
    jobId jobName figures { runs successes failures successRate health }
  }
}
"""


async def job(api: Api, persona: Persona, name: str = "probe", ns: str = "default") -> str:
    data = await api.execute(CREATE_JOB, {"name": name, "ns": ns}, persona.access_token)
    job_id: str = data["createJob"]["id"]
    return job_id


async def test_check_in_over_graphql_records_a_run(api: Api, alice: Persona) -> None:
    job_id = await job(api, alice)
    rid = str(uuid.uuid4())
    started = await api.execute(
        CHECK_IN, {"input": {"runId": rid, "jobId": job_id, "event": "START"}}, alice.access_token
    )
    assert started["checkIn"]["status"] == "RUNNING"
    done = await api.execute(
        CHECK_IN,
        {"input": {"runId": rid, "jobId": job_id, "event": "FAILURE", "exitCode": 7,
                   "durationMs": 250}},
        alice.access_token,
    )  # fmt: skip
    assert done["checkIn"] == {
        "__typename": "Run",
        "id": rid,
        "status": "FAILURE",
        "exitCode": 7,
        "durationMs": 250,
        "jobName": "probe",
    }


async def test_a_viewer_cannot_report_runs(api: Api, alice: Persona, carol: Persona) -> None:
    job_id = await job(api, alice)
    data = await api.execute(
        CHECK_IN,
        {"input": {"runId": str(uuid.uuid4()), "jobId": job_id, "event": "START"}},
        carol.access_token,
    )
    assert data["checkIn"]["__typename"] == "PermissionError"


async def _ingest(state: AppState, persona: Persona, job_id: str, at: datetime, ok: bool) -> None:
    """Report a finished run through the same service the HTTP route and checkIn use."""
    principal = Principal(
        kind=PrincipalKind.USER,
        tenant_id=uuid.UUID(persona.tenant_id),
        tenant_slug=persona.tenant_slug,
        role=Role.OWNER,
        user_id=uuid.UUID(persona.user_id),
        username=persona.username,
        scopes=frozenset(Scope),
    )
    report = Report(
        job_id=uuid.UUID(job_id),
        run_id=uuid.uuid4(),
        kind=CheckInKind.FINISH,
        status=RunStatus.SUCCESS if ok else RunStatus.FAILURE,
        exit_code=0 if ok else 1,
        duration_ms=1000,
        finished_at=at,
    )
    await check_in(
        principal, state.ingest, state.job_directory, report, state.settings.checkin_limits
    )


async def test_runs_filter_and_page_newest_first_without_gaps_or_repeats(
    api: Api, alice: Persona, state: AppState
) -> None:
    await api.execute('mutation { createNamespace(name: "ops") { __typename } }',
                      token=alice.access_token)  # fmt: skip
    first_job = await job(api, alice, "first")
    second_job = await job(api, alice, "second", "ops")
    now = datetime.now(UTC)
    for index in range(25):
        await _ingest(state, alice, first_job if index % 2 else second_job,
                      now - timedelta(minutes=index), ok=index % 5 != 0)  # fmt: skip
    seen: list[str] = []
    after = None
    while True:
        page = (await api.execute(RUNS, {"first": 7, "after": after}, alice.access_token))["runs"]
        seen += [n["id"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == 25
    ops = await api.execute(RUNS, {"first": 50, "filter": {"namespace": "ops"}}, alice.access_token)
    assert {n["jobName"] for n in ops["runs"]["nodes"]} == {"second"}
    failed = await api.execute(RUNS, {"first": 50, "filter": {"status": "FAILURE"}},
                               alice.access_token)  # fmt: skip
    assert len(failed["runs"]["nodes"]) == 5
    recent = await api.execute(
        RUNS,
        {"first": 50, "filter": {"since": (now - timedelta(minutes=4, seconds=30)).isoformat()}},
        alice.access_token,
    )
    assert len(recent["runs"]["nodes"]) == 5


async def test_runs_filter_on_part_of_a_job_name_in_any_case(
    api: Api, alice: Persona, state: AppState
) -> None:
    job_ids = [await job(api, alice, name) for name in ("backup-db", "db-backup", "report")]
    now = datetime.now(UTC)
    for index, job_id in enumerate(job_ids):
        await _ingest(state, alice, job_id, now - timedelta(minutes=index), ok=True)
    found = await api.execute(RUNS, {"first": 50, "filter": {"jobNameContains": "BACKUP"}},
                              alice.access_token)  # fmt: skip
    assert sorted(n["jobName"] for n in found["runs"]["nodes"]) == ["backup-db", "db-backup"]
    # An underscore is a letter here, not LIKE's any character (which would find backup-db).
    literal = await api.execute(RUNS, {"first": 50, "filter": {"jobNameContains": "p_d"}},
                                alice.access_token)  # fmt: skip
    assert literal["runs"]["nodes"] == []


async def test_job_health_from_rollups_equals_a_brute_force_count(
    api: Api, alice: Persona, state: AppState
) -> None:
    jobs = [await job(api, alice, f"job-{i}") for i in range(4)]
    randomizer = random.Random(7)
    now = datetime.now(UTC)
    rates = [1.0, 0.9, 0.5, 0.97]
    for index, job_id in enumerate(jobs[:3] + jobs[3:]):
        for _ in range(60):
            at = now - timedelta(minutes=randomizer.randint(0, 60 * 24 * 10))
            await _ingest(state, alice, job_id, at, ok=randomizer.random() < rates[index])
    for window, span in [("H24", timedelta(hours=24)), ("D7", timedelta(days=7)),
                         ("D30", timedelta(days=30))]:  # fmt: skip
        figures = {
            h["jobId"]: h["figures"]
            for h in (await api.execute(JOB_HEALTH, {"window": window}, alice.access_token))[
                "jobHealth"
            ]
        }
        start = (now - span).replace(minute=0, second=0, microsecond=0)
        if window != "H24":  # long windows are summed from daily rows
            start = start.replace(hour=0)
        async with state.session() as session:
            rows = (
                await session.execute(
                    select(
                        Run.job_id,
                        func.count(),
                        func.sum(case((Run.status == RunStatus.SUCCESS, 1), else_=0)),
                    )
                    .where(Run.started_at >= start)
                    .group_by(Run.job_id)
                )
            ).all()
        brute = {str(job_id): (count, int(ok)) for job_id, count, ok in rows}
        for job_id in jobs:
            count, ok = brute.get(job_id, (0, 0))
            assert figures[job_id]["runs"] == count, window
            assert figures[job_id]["successes"] == ok, window
            expected = "UNKNOWN"
            if count:
                rate = ok / count
                expected = "HEALTHY" if rate >= 0.95 else "DEGRADED" if rate >= 0.7 else "FAILING"
            assert figures[job_id]["health"] == expected


async def test_retention_keeps_the_newest_runs_of_each_job(
    api: Api, alice: Persona, state: AppState
) -> None:
    job_id = await job(api, alice)
    state.ingest._retention = 20  # a small limit keeps the test fast
    now = datetime.now(UTC)
    for index in reversed(range(60)):  # oldest first, as runs arrive
        await _ingest(state, alice, job_id, now - timedelta(minutes=index), ok=True)
    await state.ingest.pruned()  # on PostgreSQL the last prune may still run alongside
    async with state.session() as session:
        kept = (await session.scalars(select(Run.started_at).order_by(Run.started_at))).all()
    # Pruning is amortised: at most retention/10 + 1 runs beyond the limit wait for the next pass.
    assert 20 <= len(kept) <= 20 + 20 // 10 + 1
    reported = sorted(now - timedelta(minutes=i) - timedelta(seconds=1) for i in range(60))
    assert kept == reported[-len(kept) :]


async def test_runs_that_only_ever_started_are_pruned_like_finished_ones(
    api: Api, alice: Persona, state: AppState
) -> None:
    job_id = await job(api, alice)
    state.ingest._retention = 20
    for _ in range(60):  # a wrapper killed every time: starts, never a finish
        started = await api.execute(
            CHECK_IN,
            {"input": {"runId": str(uuid.uuid4()), "jobId": job_id, "event": "START"}},
            alice.access_token,
        )
        assert started["checkIn"]["status"] == "RUNNING"
    await state.ingest.pruned()
    async with state.session() as session:
        kept = (await session.scalars(select(Run.status))).all()
    assert 20 <= len(kept) <= 20 + 20 // 10 + 1
    assert set(kept) == {RunStatus.RUNNING}


async def test_dashboard_totals(api: Api, alice: Persona, state: AppState) -> None:
    job_id = await job(api, alice)
    for ok in (True, False, False, False):
        await _ingest(state, alice, job_id, datetime.now(UTC), ok)
    data = await api.execute(
        "{ dashboard { jobsTotal endpointsTotal figures { runs failures } "
        "failingJobs { jobName } } }",
        token=alice.access_token,
    )
    assert data["dashboard"] == {
        "jobsTotal": 1,
        "endpointsTotal": 0,
        "figures": {"runs": 4, "failures": 3},
        "failingJobs": [{"jobName": "probe"}],
    }


async def test_run_events_reach_a_websocket_subscriber_of_the_same_tenant_only(
    live_server: LiveServer,
) -> None:
    alice, bob = await live_server.register("alice"), await live_server.register("bob")
    async with httpx.AsyncClient(base_url=live_server.url) as client:
        created = await client.post(
            "/graphql",
            json={"query": CREATE_JOB, "variables": {"name": "live", "ns": "default"}},
            headers={"Authorization": f"Bearer {alice}"},
        )
        job_id = created.json()["data"]["createJob"]["id"]

        async def subscriber(token: str) -> list[dict[str, Any]]:
            async with connect(live_server.ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
                init = {"authorization": f"Bearer {token}"}
                await ws.send(json.dumps({"type": "connection_init", "payload": init}))
                await ws.recv()
                query = "subscription { runEvents { kind run { id jobName status } } }"
                await ws.send(json.dumps({"id": "1", "type": "subscribe",
                                          "payload": {"query": query}}))  # fmt: skip
                received: list[dict[str, Any]] = []
                try:
                    while len(received) < 2:
                        message = json.loads(await asyncio.wait_for(ws.recv(), timeout=3))
                        received += message["payload"]["data"]["runEvents"]
                except TimeoutError:
                    pass
                return received

        alice_task = asyncio.create_task(subscriber(alice))
        bob_task = asyncio.create_task(subscriber(bob))
        await live_server.wait_for_subscribers(2)
        rid = str(uuid.uuid4())
        for event in ("start", "0"):
            response = await client.post(
                f"/checkin/{job_id}/{event}", params={"rid": rid},
                headers={"Authorization": f"Bearer {alice}"},
            )  # fmt: skip
            assert response.status_code == 200, response.text
        alice_events, bob_events = await alice_task, await bob_task
    assert [(e["kind"], e["run"]["status"]) for e in alice_events] == [
        ("STARTED", "RUNNING"),
        ("FINISHED", "SUCCESS"),
    ]
    assert alice_events[0]["run"]["jobName"] == "live"
    assert bob_events == []


@pytest.mark.parametrize("event", ["START", "SUCCESS"])
async def test_check_in_needs_authentication(api: Api, event: str) -> None:
    error = await api.error_of(
        CHECK_IN, {"input": {"runId": str(uuid.uuid4()), "jobId": str(uuid.uuid4()),
                             "event": event}},
    )  # fmt: skip
    assert error["extensions"]["code"] == "UNAUTHENTICATED"


CHECK_IN_FIELDS = """
mutation($input: CheckInInput!) {
  checkIn(input: $input) {
    __typename
    ... on Run { status durationMs exitCode output startedAt }
    ... on ValidationError { message fields { path message } }
  }
}
"""


@pytest.mark.parametrize(
    ("fields", "path", "allowed"),
    [
        ({"startedAt": "0046-02-24T15:19:41Z"}, "startedAt", "from 90 days ago to 10 minutes"),
        ({"finishedAt": "9999-12-31T23:59:59-14:00"}, "finishedAt", "from 90 days ago"),
        ({"finishedAt": "2026-11-26T02:00:00"}, "finishedAt", "needs a UTC offset"),
        ({"durationMs": -1}, "durationMs", "between 0 and 2147483000 milliseconds"),
        ({"exitCode": 1000}, "exitCode", "between -255 and 255"),
        ({"commitId": "x\u0000"}, "commitId", "4 to 64 hexadecimal digits"),
    ],
)
async def test_an_out_of_range_check_in_is_a_validation_error_naming_the_field(
    api: Api, alice: Persona, fields: dict[str, Any], path: str, allowed: str
) -> None:
    job_id = await job(api, alice)
    report = {"runId": str(uuid.uuid4()), "jobId": job_id, "event": "FAILURE", **fields}
    result = (await api.execute(CHECK_IN_FIELDS, {"input": report}, alice.access_token))["checkIn"]
    assert result["__typename"] == "ValidationError"
    assert [f["path"] for f in result["fields"]] == [["input", path]]
    assert allowed in result["fields"][0]["message"]


async def test_a_start_and_finish_reported_apart_never_overflow_the_duration(
    api: Api, alice: Persona
) -> None:
    job_id = await job(api, alice)
    now, rid = datetime.now(UTC), str(uuid.uuid4())
    for event, time_field, at in [("START", "startedAt", now - timedelta(days=80)),
                                  ("SUCCESS", "finishedAt", now)]:  # fmt: skip
        report = {"runId": rid, "jobId": job_id, "event": event, time_field: at.isoformat()}
        run = await api.execute(CHECK_IN_FIELDS, {"input": report}, alice.access_token)
    assert run["checkIn"]["durationMs"] == 2**31 - 1


async def test_output_with_nul_and_unpaired_surrogates_is_stored(api: Api, alice: Persona) -> None:
    job_id = await job(api, alice)
    report = {"runId": str(uuid.uuid4()), "jobId": job_id, "event": "FAILURE",
              "output": "a\u0000b\ud800c"}  # fmt: skip
    # ASCII JSON: the unpaired surrogate travels as the escape a client would send.
    body = json.dumps({"query": CHECK_IN_FIELDS, "variables": {"input": report}})
    response = await api.client.post(
        "/graphql",
        content=body,
        headers={"Authorization": f"Bearer {alice.access_token}",
                 "Content-Type": "application/json"},
    )  # fmt: skip
    assert response.json()["data"]["checkIn"]["output"] == "a\ufffdb\ufffdc"
