"""Job instances: what endpoints hold, cross-referenced with Git and flagged where they drift."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import event, select

from crontopus.server.app import AppState
from crontopus.server.db.models import AuditEvent, JobInstance
from tests.server.conftest import Api, Persona
from tests.server.graphql.test_enrollment import enrolled_endpoint
from tests.server.graphql.test_jobs import create

REPORT = """
mutation Report($items: [JobInstanceInput!]!) {
  reportJobInstances(items: $items) {
    __typename
    ... on JobInstanceReport { added updated removed total }
    ... on UserError { message }
    ... on ValidationError { fields { path message } }
  }
}
"""
ENDPOINT_JOBS = """
query($id: UUID!) {
  endpoint(id: $id) {
    jobs { jobId job { name } state driver source drift driftReason failureReason reportedAt }
  }
}
"""
JOB_ENDPOINTS = """
query($id: UUID!) {
  job(id: $id) { endpoints { endpoint { name status } state drift driftReason } }
}
"""
ALL_JOBS_ENDPOINTS = """
{ jobs(first: 50) { nodes { name endpoints { endpoint { name } drift } } } }
"""
JOB_REASONS = "query($id: UUID!) { job(id: $id) { endpoints { state failureReason } } }"
REVOKE = "mutation($id: UUID!) { revokeEndpoint(id: $id) { __typename } }"


def item(job_id: str, state: str = "INSTALLED", **overrides: Any) -> dict[str, Any]:
    return {"jobId": job_id, "driver": "cron", "state": state, "source": "MANAGED", **overrides}


async def report(api: Api, token: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    data = await api.execute(REPORT, {"items": items}, token)
    result: dict[str, Any] = data["reportJobInstances"]
    return result


async def endpoint_jobs(api: Api, persona: Persona, endpoint_id: str) -> list[dict[str, Any]]:
    data = await api.execute(ENDPOINT_JOBS, {"id": endpoint_id}, persona.access_token)
    jobs: list[dict[str, Any]] = data["endpoint"]["jobs"]
    return jobs


async def job_endpoints(api: Api, persona: Persona, job_id: str) -> list[dict[str, Any]]:
    data = await api.execute(JOB_ENDPOINTS, {"id": job_id}, persona.access_token)
    endpoints: list[dict[str, Any]] = data["job"]["endpoints"]
    return endpoints


async def test_reported_instances_show_on_the_endpoint_and_on_the_job(
    api: Api, alice: Persona
) -> None:
    job = await create(api, alice, targetLabels=[])
    endpoint_id, token = await enrolled_endpoint(api, alice)
    result = await report(api, token, [item(job["id"])])
    assert result == {
        "__typename": "JobInstanceReport",
        "added": 1,
        "updated": 0,
        "removed": 0,
        "total": 1,
    }
    (held,) = await endpoint_jobs(api, alice, endpoint_id)
    assert held["job"] == {"name": "backup-database"}
    assert (held["state"], held["driver"], held["source"]) == ("INSTALLED", "cron", "MANAGED")
    assert held["drift"] is False
    assert held["driftReason"] is None
    assert held["reportedAt"] is not None
    (holder,) = await job_endpoints(api, alice, job["id"])
    assert holder == {
        "endpoint": {"name": "machine-1", "status": "ONLINE"},
        "state": "INSTALLED",
        "drift": False,
        "driftReason": None,
    }


async def test_a_failed_instance_carries_the_drivers_reason_to_the_endpoint_and_the_job(
    api: Api, alice: Persona
) -> None:
    job = await create(api, alice, targetLabels=[])
    endpoint_id, token = await enrolled_endpoint(api, alice)
    reason = 'the schedule "30 2 * * *" in Europe/Berlin meets a daylight-saving change'
    await report(api, token, [item(job["id"], "FAILED", failureReason=reason)])
    (held,) = await endpoint_jobs(api, alice, endpoint_id)
    assert (held["state"], held["failureReason"]) == ("FAILED", reason)
    data = await api.execute(JOB_REASONS, {"id": job["id"]}, alice.access_token)
    assert data["job"]["endpoints"] == [{"state": "FAILED", "failureReason": reason}]
    fixed = await report(api, token, [item(job["id"])])
    assert fixed["updated"] == 1
    (held,) = await endpoint_jobs(api, alice, endpoint_id)
    assert (held["state"], held["failureReason"]) == ("INSTALLED", None)


async def test_a_failure_reason_is_refused_for_other_states_and_when_too_long(
    api: Api, alice: Persona
) -> None:
    job = await create(api, alice, targetLabels=[])
    _, token = await enrolled_endpoint(api, alice)
    result = await report(
        api,
        token,
        [item(job["id"], "INSTALLED", failureReason="no")],
    )
    assert result["fields"] == [
        {
            "path": ["items", "0", "failureReason"],
            "message": "is only for state FAILED, not INSTALLED: leave it out",
        }
    ]
    long = await report(api, token, [item(job["id"], "FAILED", failureReason="x" * 2001)])
    assert long["fields"][0]["message"] == ("is 2001 characters long, more than 2000: shorten it")


async def test_an_instance_not_reported_again_is_removed(
    api: Api, alice: Persona, state: AppState
) -> None:
    first = await create(api, alice, name="first", targetLabels=[])
    second = await create(api, alice, name="second", targetLabels=[{"key": "role", "value": "x"}])
    endpoint_id, token = await enrolled_endpoint(api, alice)
    await report(api, token, [item(first["id"]), item(second["id"])])
    again = await report(api, token, [item(first["id"], state="DISABLED")])
    assert (again["added"], again["updated"], again["removed"], again["total"]) == (0, 1, 1, 1)
    held = await endpoint_jobs(api, alice, endpoint_id)
    assert [(h["job"]["name"], h["state"]) for h in held] == [("first", "DISABLED")]
    unchanged = await report(api, token, [item(first["id"], state="DISABLED")])
    assert (unchanged["added"], unchanged["updated"], unchanged["removed"]) == (0, 0, 0)
    async with state.session() as session:
        audited = (
            await session.scalars(
                select(AuditEvent.id).where(AuditEvent.action == "endpoint.instances")
            )
        ).all()
    assert len(audited) == 2  # the unchanged report wrote no audit line


async def test_a_job_targeting_an_endpoint_that_does_not_hold_it_is_drift(
    api: Api, alice: Persona
) -> None:
    job = await create(api, alice)  # targets role=db
    endpoint_id, _ = await enrolled_endpoint(api, alice, "db-1")
    await enrolled_endpoint(api, alice, "web-1", labels=[{"key": "role", "value": "web"}])
    (missing,) = await endpoint_jobs(api, alice, endpoint_id)
    assert (missing["job"]["name"], missing["state"]) == ("backup-database", None)
    assert (missing["drift"], missing["driftReason"]) == (True, "MISSING")
    holders = await job_endpoints(api, alice, job["id"])
    assert holders == [
        {
            "endpoint": {"name": "db-1", "status": "ONLINE"},
            "state": None,
            "drift": True,
            "driftReason": "MISSING",
        }
    ]


async def test_holding_an_unknown_or_untargeted_job_is_drift(api: Api, alice: Persona) -> None:
    job = await create(api, alice)  # targets role=db
    endpoint_id, token = await enrolled_endpoint(
        api, alice, labels=[{"key": "role", "value": "web"}]
    )
    ghost = str(uuid.uuid4())
    await report(
        api, token, [item(job["id"]), item(ghost), item(str(uuid.uuid4()), source="DISCOVERED")]
    )
    held = {h["jobId"]: h for h in await endpoint_jobs(api, alice, endpoint_id)}
    assert held[job["id"]]["driftReason"] == "NOT_TARGETED"
    assert held[ghost]["job"] is None
    assert held[ghost]["driftReason"] == "UNKNOWN_JOB"
    discovered = [h for h in held.values() if h["source"] == "DISCOVERED"]
    assert discovered[0]["drift"] is False
    (holder,) = await job_endpoints(api, alice, job["id"])
    assert holder["driftReason"] == "NOT_TARGETED"


async def test_reports_need_an_endpoint_token_and_valid_items(api: Api, alice: Persona) -> None:
    job = await create(api, alice)
    denied = await report(api, alice.access_token, [item(job["id"])])
    assert denied["__typename"] == "PermissionError"
    _, token = await enrolled_endpoint(api, alice)
    twice = await report(api, token, [item(job["id"]), item(job["id"], driver=" ")])
    assert twice["__typename"] == "ValidationError"
    assert {tuple(f["path"]) for f in twice["fields"]} == {
        ("items", "1", "jobId"),
        ("items", "1", "driver"),
    }


async def test_a_revoked_endpoint_holds_nothing_and_is_no_drift(api: Api, alice: Persona) -> None:
    job = await create(api, alice, targetLabels=[])
    endpoint_id, token = await enrolled_endpoint(api, alice)
    await report(api, token, [item(job["id"])])
    await api.execute(REVOKE, {"id": endpoint_id}, alice.access_token)
    assert await endpoint_jobs(api, alice, endpoint_id) == []
    assert await job_endpoints(api, alice, job["id"]) == []


async def test_instances_of_another_tenant_stay_invisible(
    api: Api, alice: Persona, bob: Persona
) -> None:
    job = await create(api, alice, targetLabels=[])
    _, bob_token = await enrolled_endpoint(api, bob)
    # Bob's agent claims to hold alice's job id: it lands in bob's tenant only.
    await report(api, bob_token, [item(job["id"])])
    assert await job_endpoints(api, alice, job["id"]) == []


async def test_listing_many_jobs_with_their_endpoints_costs_a_fixed_number_of_queries(
    api: Api, alice: Persona, state: AppState
) -> None:
    jobs = [await create(api, alice, name=f"job-{i}", targetLabels=[]) for i in range(6)]
    for machine in ("m1", "m2", "m3"):
        _, token = await enrolled_endpoint(api, alice, machine)
        await report(api, token, [item(j["id"]) for j in jobs[:3]])
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "job_instances" in statement or "FROM endpoints" in statement:
            statements.append(statement)

    event.listen(state.engine.sync_engine, "before_cursor_execute", count)
    try:
        data = await api.execute(ALL_JOBS_ENDPOINTS, token=alice.access_token)
    finally:
        event.remove(state.engine.sync_engine, "before_cursor_execute", count)
    nodes = data["jobs"]["nodes"]
    assert len(nodes) == 6
    assert all(len(n["endpoints"]) == 3 for n in nodes)
    assert sum(e["drift"] for n in nodes for e in n["endpoints"]) == 9  # 3 jobs on 3 endpoints each
    assert len(statements) == 2, statements  # one for the instances, one for the endpoints
    async with state.session() as session:
        assert len((await session.scalars(select(JobInstance))).all()) == 9
