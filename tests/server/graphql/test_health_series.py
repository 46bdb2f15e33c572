"""healthSeries: runs, failures, success rate and duration percentiles per bucket, for charts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from crontopus.core.enums import RunStatus
from crontopus.server.app import AppState
from crontopus.server.db.models import Role
from crontopus.server.security.principal import Principal, PrincipalKind, Scope
from crontopus.server.services.checkin_validation import Report
from crontopus.server.services.checkins import CheckInKind
from crontopus.server.services.runs import check_in
from tests.server.conftest import Api, Persona
from tests.server.graphql.test_enrollment import enrolled_endpoint
from tests.server.graphql.test_runs import job

SERIES = """
query($jobId: UUID, $endpointId: UUID, $tenant: Boolean! = false, $window: HealthWindow,
      $bucket: HealthBucket) {
  healthSeries(jobId: $jobId, endpointId: $endpointId, tenant: $tenant, window: $window,
               bucket: $bucket) {
    bucket start
    points { at runs successes failures successRate durationP50Ms durationP95Ms }
  }
}
"""


async def report(
    state: AppState,
    persona: Persona,
    job_id: str,
    at: datetime,
    ok: bool,
    duration_ms: int,
    endpoint_id: str | None = None,
) -> None:
    """Report a finished run through the check-in service, as a user or as an endpoint."""
    principal = Principal(
        kind=PrincipalKind.ENDPOINT if endpoint_id else PrincipalKind.USER,
        tenant_id=uuid.UUID(persona.tenant_id),
        tenant_slug=persona.tenant_slug,
        role=Role.OWNER,
        user_id=None if endpoint_id else uuid.UUID(persona.user_id),
        scopes=frozenset(Scope),
        endpoint_id=uuid.UUID(endpoint_id) if endpoint_id else None,
    )
    result = Report(
        job_id=uuid.UUID(job_id),
        run_id=uuid.uuid4(),
        kind=CheckInKind.FINISH,
        status=RunStatus.SUCCESS if ok else RunStatus.FAILURE,
        exit_code=0 if ok else 1,
        duration_ms=duration_ms,
        finished_at=at + timedelta(milliseconds=duration_ms),
    )
    await check_in(
        principal, state.ingest, state.job_directory, result, state.settings.checkin_limits
    )


async def series(api: Api, persona: Persona, **variables: Any) -> dict[str, Any]:
    data = await api.execute(SERIES, variables, persona.access_token)
    result: dict[str, Any] = data["healthSeries"]
    return result


def hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


async def test_a_job_series_counts_each_hour_and_its_duration_percentiles(
    api: Api, alice: Persona, state: AppState
) -> None:
    job_id = await job(api, alice)
    now = datetime.now(UTC)
    earlier = hour(now) - timedelta(hours=3)
    durations = list(range(100, 2100, 100))  # 20 runs: p50 1,000 ms, p95 1,900 ms
    for index, duration in enumerate(durations):
        await report(state, alice, job_id, earlier + timedelta(minutes=index), index % 4 != 0,
                     duration)  # fmt: skip
    await report(state, alice, job_id, hour(now), ok=False, duration_ms=50)

    result = await series(api, alice, jobId=job_id, window="H24")

    assert result["bucket"] == "HOUR"
    points = {datetime.fromisoformat(p["at"]): p for p in result["points"]}
    assert len(points) in (25, 26)  # from the hour 24 hours back to the current hour
    assert sorted(points) == [datetime.fromisoformat(p["at"]) for p in result["points"]]
    assert points[earlier] == {
        "at": points[earlier]["at"],
        "runs": 20,
        "successes": 15,
        "failures": 5,
        "successRate": 0.75,
        "durationP50Ms": 1000,
        "durationP95Ms": 1900,
    }
    assert points[hour(now)]["failures"] == 1
    assert points[hour(now)]["durationP50Ms"] == 50
    quiet = points[earlier + timedelta(hours=1)]
    assert quiet["runs"] == 0
    assert quiet["successRate"] is None
    assert quiet["durationP50Ms"] is None


async def test_a_daily_series_sums_the_daily_rollups(
    api: Api, alice: Persona, state: AppState
) -> None:
    job_id = await job(api, alice)
    today = hour(datetime.now(UTC)).replace(hour=0)
    for days_ago, runs in [(0, 2), (3, 4), (6, 1)]:
        for index in range(runs):
            await report(state, alice, job_id, today - timedelta(days=days_ago, minutes=-index),
                         ok=index != 0, duration_ms=10)  # fmt: skip

    result = await series(api, alice, jobId=job_id, window="D7")

    assert result["bucket"] == "DAY"
    runs_on = {datetime.fromisoformat(p["at"]): p["runs"] for p in result["points"]}
    assert len(runs_on) == 8  # the day 7 days back through today
    assert runs_on[today] == 2
    assert runs_on[today - timedelta(days=3)] == 4
    assert runs_on[today - timedelta(days=6)] == 1
    assert sum(runs_on.values()) == 7


async def test_endpoint_and_tenant_series_sum_their_own_runs(
    api: Api, alice: Persona, state: AppState
) -> None:
    first, second = await job(api, alice, "first"), await job(api, alice, "second")
    endpoint_id, _ = await enrolled_endpoint(api, alice)
    now = datetime.now(UTC)
    await report(state, alice, first, now, ok=True, duration_ms=10, endpoint_id=endpoint_id)
    await report(state, alice, second, now, ok=False, duration_ms=30, endpoint_id=endpoint_id)
    await report(state, alice, second, now, ok=True, duration_ms=20)  # not from the endpoint

    on_endpoint = await series(api, alice, endpointId=endpoint_id)
    tenant = await series(api, alice, tenant=True)

    assert on_endpoint["points"][-1]["runs"] == 2
    assert on_endpoint["points"][-1]["durationP95Ms"] == 30
    assert tenant["points"][-1]["runs"] == 3
    assert tenant["points"][-1]["failures"] == 1
    assert tenant["points"][-1]["durationP50Ms"] == 20


async def test_another_tenants_job_or_endpoint_is_not_found(
    api: Api, alice: Persona, bob: Persona, state: AppState
) -> None:
    job_id = await job(api, alice)
    endpoint_id, _ = await enrolled_endpoint(api, alice)
    await report(state, alice, job_id, datetime.now(UTC), ok=True, duration_ms=10)

    for variables in ({"jobId": job_id}, {"endpointId": endpoint_id}):
        error = await api.error_of(SERIES, variables, bob.access_token)
        assert error["extensions"]["code"] == "NOT_FOUND", error
    unknown = await api.error_of(SERIES, {"jobId": str(uuid.uuid4())}, alice.access_token)
    assert unknown["extensions"]["code"] == "NOT_FOUND"
    assert (await series(api, bob, tenant=True))["points"][-1]["runs"] == 0


async def test_a_series_needs_exactly_one_subject_and_a_bounded_bucket(
    api: Api, alice: Persona
) -> None:
    job_id = await job(api, alice)
    none = await api.error_of(SERIES, {}, alice.access_token)
    both = await api.error_of(SERIES, {"jobId": job_id, "tenant": True}, alice.access_token)
    hourly = await api.error_of(
        SERIES, {"tenant": True, "window": "D30", "bucket": "HOUR"}, alice.access_token
    )

    for error in (none, both):
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert "exactly one of jobId, endpointId or tenant" in error["message"]
    assert hourly["extensions"]["code"] == "BAD_USER_INPUT"
    assert "hourly buckets cover at most 7 days" in hourly["message"]
    week = await series(api, alice, tenant=True, window="D7", bucket="HOUR")
    assert len(week["points"]) in (169, 170)


SPARKLINES = """
query($jobIds: [UUID!], $endpointIds: [UUID!], $window: HealthWindow) {
  healthSparklines(jobIds: $jobIds, endpointIds: $endpointIds, window: $window) {
    id points { runs failures durationP50Ms }
  }
}
"""


async def test_sparklines_answer_many_jobs_in_one_read_and_nothing_of_another_tenant(
    api: Api, alice: Persona, bob: Persona, state: AppState
) -> None:
    busy, idle = await job(api, alice, "busy"), await job(api, alice, "idle")
    now = datetime.now(UTC)
    for ok in (True, False, True):
        await report(state, alice, busy, now, ok=ok, duration_ms=10)

    mine = await api.execute(SPARKLINES, {"jobIds": [busy, idle]}, alice.access_token)
    theirs = await api.execute(SPARKLINES, {"jobIds": [busy]}, bob.access_token)

    lines = {line["id"]: line["points"] for line in mine["healthSparklines"]}
    assert list(lines) == [busy, idle]
    assert lines[busy][-1] == {"runs": 3, "failures": 1, "durationP50Ms": None}
    assert sum(p["runs"] for p in lines[idle]) == 0
    assert sum(p["runs"] for p in theirs["healthSparklines"][0]["points"]) == 0
    neither = await api.error_of(SPARKLINES, {}, alice.access_token)
    assert neither["extensions"]["code"] == "BAD_USER_INPUT"
