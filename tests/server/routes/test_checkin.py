"""`POST /checkin/...` stores runs durably for scripts, with clear answers for bad input."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from starlette.types import Message

from crontopus.server.app import AppState, create_app
from crontopus.server.db.models import JobHealthHour, Run
from crontopus.server.settings import Settings
from tests.server.conftest import Api, Persona

CREATE_JOB = """
mutation { createJob(input: {name: "backup", schedule: "0 2 * * *", command: "/bin/backup"}) {
  ... on Job { id } } }
"""
CREATE_TOKEN = """
mutation($scopes: [TokenScope!]!) {
  createApiToken(name: "reporter", scopes: $scopes) { ... on CreatedApiToken { plaintext } }
}
"""
RUNS = """
query($filter: RunFilter) {
  runs(filter: $filter, first: 100) {
    nodes {
      id jobId jobName namespace status exitCode durationMs output outputTruncated unknownJob
    }
  }
}
"""


async def setup(api: Api, persona: Persona, scopes: list[str] | None = None) -> tuple[str, str]:
    job_id = (await api.execute(CREATE_JOB, token=persona.access_token))["createJob"]["id"]
    token = (
        await api.execute(CREATE_TOKEN, {"scopes": scopes or ["CHECKIN"]}, persona.access_token)
    )["createApiToken"]["plaintext"]
    return job_id, token


async def post(
    api: Api, token: str | None, path: str, body: bytes = b"", **params: Any
) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await api.client.post(path, content=body, params=params, headers=headers)
    data: dict[str, Any] = response.json()
    return response.status_code, data


async def test_a_curl_style_start_and_finish_make_one_successful_run(
    api: Api, alice: Persona
) -> None:
    job_id, token = await setup(api, alice)
    rid = str(uuid.uuid4())
    status, body = await post(api, token, f"/checkin/{job_id}/start", rid=rid)
    assert (status, body["status"]) == (200, "RUNNING")
    status, body = await post(api, token, f"/checkin/{job_id}/0", b"all good\n", rid=rid)
    assert (status, body["status"]) == (200, "SUCCESS")
    runs = (await api.execute(RUNS, token=alice.access_token))["runs"]["nodes"]
    assert len(runs) == 1
    assert runs[0]["jobName"] == "backup"
    assert runs[0]["namespace"] == "default"
    assert runs[0]["exitCode"] == 0
    assert runs[0]["output"] == "all good\n"


async def test_a_nonzero_exit_code_is_a_failure_and_a_retry_is_not_counted_twice(
    api: Api, alice: Persona, state: AppState
) -> None:
    job_id, token = await setup(api, alice)
    rid = str(uuid.uuid4())
    for _ in range(3):
        status, body = await post(
            api, token, f"/checkin/{job_id}/2", b"oops", rid=rid, duration="1.5"
        )
        assert (status, body["status"]) == (200, "FAILURE")
    runs = (await api.execute(RUNS, token=alice.access_token))["runs"]["nodes"]
    assert [(r["status"], r["exitCode"], r["durationMs"]) for r in runs] == [("FAILURE", 2, 1500)]
    async with state.session() as session:
        assert await session.scalar(select(func.sum(JobHealthHour.runs))) == 1


async def test_a_check_in_for_an_unknown_job_is_kept_and_flagged(api: Api, alice: Persona) -> None:
    _job_id, token = await setup(api, alice)
    unknown = uuid.uuid4()
    status, body = await post(api, token, f"/checkin/{unknown}/success", rid=str(uuid.uuid4()))
    assert status == 200
    assert body["unknownJob"] is True
    runs = (await api.execute(RUNS, token=alice.access_token))["runs"]["nodes"]
    assert runs[0]["unknownJob"] is True
    assert runs[0]["jobId"] == str(unknown)


async def test_bad_input_gets_a_400_that_names_the_problem(api: Api, alice: Persona) -> None:
    job_id, token = await setup(api, alice)
    status, body = await post(api, token, f"/checkin/{job_id}/start")
    assert status == 400
    assert body["field"] == "rid"
    status, body = await post(api, token, f"/checkin/{job_id}/exploded", rid=str(uuid.uuid4()))
    assert status == 400
    assert "use start, success, fail, timeout or an exit code" in body["error"]
    status, body = await post(api, token, "/checkin/not-a-uuid/start", rid=str(uuid.uuid4()))
    assert (status, body["field"]) == (400, "job-id")
    status, body = await post(
        api, token, f"/checkin/{job_id}/0", rid=str(uuid.uuid4()), duration="x"
    )
    assert (status, body["field"]) == (400, "duration")


async def test_a_run_reported_with_trigger_manual_stays_manual_whichever_check_in_says_so(
    api: Api, alice: Persona
) -> None:
    job_id, token = await setup(api, alice)
    asked, scheduled = str(uuid.uuid4()), str(uuid.uuid4())
    # Only the start says so (the finish may come from an older spool): still MANUAL.
    await post(api, token, f"/checkin/{job_id}/start", rid=asked, trigger="manual")
    await post(api, token, f"/checkin/{job_id}/0", rid=asked)
    await post(api, token, f"/checkin/{job_id}/0", rid=scheduled)
    query = "query { runs(first: 10) { nodes { id trigger } } }"
    runs = (await api.execute(query, token=alice.access_token))["runs"]["nodes"]
    assert {run["id"]: run["trigger"] for run in runs} == {asked: "MANUAL", scheduled: "SCHEDULE"}
    status, body = await post(api, token, f"/checkin/{job_id}/0", rid=asked, trigger="cron")
    assert (status, body["field"]) == (400, "trigger")
    assert "use manual or schedule" in body["error"]


async def test_authentication_and_scope_are_checked(api: Api, alice: Persona) -> None:
    job_id, _token = await setup(api, alice)
    status, _ = await post(api, None, f"/checkin/{job_id}/start", rid=str(uuid.uuid4()))
    assert status == 401
    token = (await api.execute(CREATE_TOKEN, {"scopes": ["READ"]}, alice.access_token))[
        "createApiToken"
    ]["plaintext"]
    status, body = await post(api, token, f"/checkin/{job_id}/start", rid=str(uuid.uuid4()))
    assert status == 403
    assert "CHECKIN" in body["error"]


async def test_long_output_keeps_its_tail(api: Api, alice: Persona) -> None:
    job_id, token = await setup(api, alice)
    output = b"x" * 100_000 + b"the error at the end"
    await post(api, token, f"/checkin/{job_id}/1", output, rid=str(uuid.uuid4()))
    run = (await api.execute(RUNS, token=alice.access_token))["runs"]["nodes"][0]
    assert run["outputTruncated"] is True
    assert run["output"].endswith("the error at the end")
    assert len(run["output"]) == 64 * 1024


async def test_concurrent_check_ins_are_all_stored(
    api: Api, alice: Persona, state: AppState
) -> None:
    job_id, token = await setup(api, alice)
    results = await asyncio.gather(
        *(post(api, token, f"/checkin/{job_id}/0", rid=str(uuid.uuid4())) for _ in range(200))
    )
    assert all(status == 200 for status, _ in results)
    async with state.session() as session:
        assert await session.scalar(select(func.count()).select_from(Run)) == 200


async def test_runs_of_another_tenant_are_invisible(api: Api, alice: Persona, bob: Persona) -> None:
    job_id, token = await setup(api, alice)
    rid = str(uuid.uuid4())
    await post(api, token, f"/checkin/{job_id}/0", rid=rid)
    runs = (await api.execute(RUNS, token=bob.access_token))["runs"]["nodes"]
    assert runs == []
    one = await api.execute(
        "query($id: UUID!) { run(id: $id) { id } }", {"id": rid}, bob.access_token
    )
    assert one["run"] is None


async def test_a_client_that_disconnects_mid_body_is_answered_and_nothing_is_stored(
    api: Api, alice: Persona, state: AppState, settings: Settings
) -> None:
    job_id, token = await setup(api, alice)
    path = f"/checkin/{job_id}/success"
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": f"rid={uuid.uuid4()}".encode(),
        "headers": [(b"authorization", f"Bearer {token}".encode())],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    part: dict[str, Any] = {"type": "http.request", "body": b"half of the out", "more_body": True}
    messages = iter([part, {"type": "http.disconnect"}])
    sent: list[Message] = []

    async def receive() -> Message:
        return next(messages)

    async def send(message: Message) -> None:
        sent.append(message)

    await create_app(settings, state)(scope, receive, send)
    assert sent[0]["status"] == 400
    async with state.session() as session:
        assert await session.scalar(select(func.count()).select_from(Run)) == 0


@pytest.mark.parametrize(
    ("params", "field", "allowed"),
    [
        ({"started": "0001-01-01T00:00:00+14:00"}, "started", "from 90 days ago to 10 minutes"),
        ({"started": "2026-01-31T02:00:00"}, "started", "needs a UTC offset"),
        ({"duration": "inf"}, "duration", "not a finite number of seconds"),
        ({"duration": "-1"}, "duration", "between 0 and 2147483 seconds"),
        ({"commit": "main"}, "commit", "4 to 64 hexadecimal digits"),
    ],
)
async def test_an_out_of_range_value_gets_a_400_naming_the_field_and_the_allowed_range(
    api: Api, alice: Persona, state: AppState, params: dict[str, str], field: str, allowed: str
) -> None:
    job_id, token = await setup(api, alice)
    # The empty body is passed by position so no query parameter can take its place.
    status, body = await post(
        api, token, f"/checkin/{job_id}/1", b"", rid=str(uuid.uuid4()), **params
    )
    assert (status, body["field"]) == (400, field)
    assert allowed in body["error"]
    async with state.session() as session:
        assert await session.scalar(select(func.count()).select_from(Run)) == 0


@pytest.mark.parametrize(("event", "accepted"), [("-9", True), ("-255", True), ("256", False)])
async def test_exit_codes_from_minus_255_to_255_are_accepted(
    api: Api, alice: Persona, event: str, accepted: bool
) -> None:
    job_id, token = await setup(api, alice)
    status, body = await post(api, token, f"/checkin/{job_id}/{event}", rid=str(uuid.uuid4()))
    if accepted:
        assert (status, body["status"]) == (200, "FAILURE")
    else:
        assert (status, body["field"]) == (400, "event")
        assert "an exit code from -255 to 255" in body["error"]


async def test_output_with_nul_bytes_and_invalid_utf8_is_stored_with_replacement_characters(
    api: Api, alice: Persona
) -> None:
    job_id, token = await setup(api, alice)
    body = b"binary\x00junk \xff\xfe then the error\n"
    status, _ = await post(api, token, f"/checkin/{job_id}/3", body, rid=str(uuid.uuid4()))
    assert status == 200
    run = (await api.execute(RUNS, token=alice.access_token))["runs"]["nodes"][0]
    assert run["output"] == "binary\ufffdjunk \ufffd\ufffd then the error\n"


async def test_a_late_spooled_check_in_is_accepted(api: Api, alice: Persona) -> None:
    job_id, token = await setup(api, alice)
    started = (datetime.now(UTC) - timedelta(days=60)).isoformat()
    status, body = await post(
        api, token, f"/checkin/{job_id}/0", rid=str(uuid.uuid4()), started=started, duration="2"
    )
    assert (status, body["status"]) == (200, "SUCCESS")


async def test_a_year_one_start_from_one_tenant_does_not_fail_another_tenants_check_ins(
    api: Api, alice: Persona, bob: Persona, state: AppState
) -> None:
    alice_job, alice_token = await setup(api, alice)
    bob_job, bob_token = await setup(api, bob)
    poisoned = post(
        api,
        bob_token,
        f"/checkin/{bob_job}/0",
        rid=str(uuid.uuid4()),
        started="0001-01-01T00:00:00+14:00",
    )
    good = [
        post(api, alice_token, f"/checkin/{alice_job}/0", rid=str(uuid.uuid4())) for _ in range(60)
    ]
    results = await asyncio.gather(*good[:30], poisoned, *good[30:])
    assert results[30][0] == 400
    assert [status for status, _ in results[:30] + results[31:]] == [200] * 60
    async with state.session() as session:
        assert await session.scalar(select(func.count()).select_from(Run)) == 60
