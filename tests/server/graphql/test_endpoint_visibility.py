"""An endpoint token sees only what its agent needs: itself, its jobs, its own runs."""

from __future__ import annotations

import uuid
from typing import Any

from tests.server.conftest import Api, Persona
from tests.server.graphql.test_enrollment import enrolled_endpoint

CREATE_JOB = """
mutation Create($name: String!, $role: String!) {
  createJob(input: {name: $name, schedule: "@daily", command: "/bin/true",
                    targetLabels: [{key: "role", value: $role}]}) {
    __typename ... on Job { id }
  }
}
"""
JOBS = "{ jobs { nodes { name } } }"
JOB = "query Job($id: UUID!) { job(id: $id) { name endpoints { endpoint { name } } } }"
CHECK_IN = """
mutation CheckIn($input: CheckInInput!) {
  checkIn(input: $input) {
    __typename
    ... on Run { id status unknownJob endpointId }
    ... on UserError { message }
  }
}
"""
RUNS = "{ runs { nodes { id endpointId } } }"
RUN = "query Run($id: UUID!) { run(id: $id) { id output } }"


async def _job(api: Api, persona: Persona, name: str, role: str) -> str:
    data = await api.execute(CREATE_JOB, {"name": name, "role": role}, persona.access_token)
    job_id: str = data["createJob"]["id"]
    return job_id


async def _check_in(api: Api, token: str, job_id: str, run_id: str, event: str) -> dict[str, Any]:
    data = await api.execute(
        CHECK_IN, {"input": {"jobId": job_id, "runId": run_id, "event": event}}, token
    )
    result: dict[str, Any] = data["checkIn"]
    return result


async def test_an_endpoint_sees_only_the_jobs_targeted_at_it(api: Api, alice: Persona) -> None:
    db_job = await _job(api, alice, "backup", "db")
    web_job = await _job(api, alice, "rotate-logs", "web")
    _, token = await enrolled_endpoint(api, alice, "db1")  # labelled role=db
    assert (await api.execute(JOBS, token=token))["jobs"]["nodes"] == [{"name": "backup"}]
    assert (await api.execute(JOB, {"id": web_job}, token))["job"] is None
    assert (await api.execute(JOB, {"id": db_job}, token))["job"]["name"] == "backup"
    everything = await api.execute(JOBS, token=alice.access_token)
    assert len(everything["jobs"]["nodes"]) == 2


async def test_a_jobs_endpoints_show_an_agent_only_itself(api: Api, alice: Persona) -> None:
    job_id = await _job(api, alice, "backup", "db")
    _, first = await enrolled_endpoint(api, alice, "db1")
    await enrolled_endpoint(api, alice, "db2")
    seen_by_agent = (await api.execute(JOB, {"id": job_id}, first))["job"]["endpoints"]
    assert seen_by_agent == [{"endpoint": {"name": "db1"}}]
    seen_by_alice = (await api.execute(JOB, {"id": job_id}, alice.access_token))["job"]
    assert [e["endpoint"]["name"] for e in seen_by_alice["endpoints"]] == ["db1", "db2"]


async def test_an_endpoint_reads_only_its_own_runs_and_never_members(
    api: Api, alice: Persona
) -> None:
    job_id = await _job(api, alice, "backup", "db")
    first_id, first = await enrolled_endpoint(api, alice, "db1")
    _, second = await enrolled_endpoint(api, alice, "db2")
    own, other = str(uuid.uuid4()), str(uuid.uuid4())
    await _check_in(api, first, job_id, own, "SUCCESS")
    await _check_in(api, second, job_id, other, "SUCCESS")
    runs = (await api.execute(RUNS, token=first))["runs"]["nodes"]
    assert runs == [{"id": own, "endpointId": first_id}]
    assert (await api.execute(RUN, {"id": other}, first))["run"] is None
    error = await api.error_of("{ members { role } }", token=first)
    assert error["extensions"]["code"] == "FORBIDDEN"


async def test_an_endpoint_reports_its_jobs_and_jobs_not_in_git_yet_but_no_others(
    api: Api, alice: Persona
) -> None:
    web_job = await _job(api, alice, "rotate-logs", "web")
    _, token = await enrolled_endpoint(api, alice, "db1")
    refused = await _check_in(api, token, web_job, str(uuid.uuid4()), "START")
    assert refused["__typename"] == "PermissionError"
    assert "not targeted at this endpoint" in refused["message"]
    unknown = await _check_in(api, token, str(uuid.uuid4()), str(uuid.uuid4()), "START")
    assert unknown["__typename"] == "Run"
    assert unknown["unknownJob"] is True


async def test_an_endpoint_cannot_finish_a_run_another_endpoint_started(
    api: Api, alice: Persona
) -> None:
    job_id = await _job(api, alice, "backup", "db")
    first_id, first = await enrolled_endpoint(api, alice, "db1")
    _, second = await enrolled_endpoint(api, alice, "db2")
    run_id = str(uuid.uuid4())
    assert (await _check_in(api, first, job_id, run_id, "START"))["status"] == "RUNNING"
    refused = await _check_in(api, second, job_id, run_id, "FAILURE")
    assert refused["__typename"] == "PermissionError"
    assert "started by another endpoint" in refused["message"]
    run = (await api.execute(RUN, {"id": run_id}, alice.access_token))["run"]
    assert run is not None
    stored = await api.execute(
        "query R($id: UUID!) { run(id: $id) { status endpointId } }",
        {"id": run_id},
        alice.access_token,
    )
    assert stored["run"] == {"status": "RUNNING", "endpointId": first_id}
    assert (await _check_in(api, first, job_id, run_id, "SUCCESS"))["status"] == "SUCCESS"
