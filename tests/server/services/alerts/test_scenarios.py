"""Alerting end to end: check-ins and Git manifests in, incidents and real webhooks out."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from crontopus.core.enums import RunStatus
from crontopus.server.app import AppState
from crontopus.server.db.types import utcnow
from crontopus.server.services.alerts.channels.webhook import verify
from tests.server.conftest import Api, Persona
from tests.server.services.alerts.conftest import (
    Receiver,
    commit_job,
    create_channel,
    eventually,
    incidents,
    report,
    shift_clock,
)

SECRET = "a-webhook-secret-of-some-length"
SNOOZE = """
mutation($input: CreateSnoozeInput!) {
  createSnooze(input: $input) { __typename ... on Snooze { id until } ... on UserError { message } }
}
"""
WINDOW = """
mutation($input: CreateMaintenanceWindowInput!) {
  createMaintenanceWindow(input: $input) {
    __typename ... on MaintenanceWindow { id } ... on UserError { message }
  }
}
"""
DELIVERIES = """
query($incident: UUID) {
  notificationDeliveries(incidentId: $incident) {
    nodes { channelName event status attempts lastError holdUntil }
  }
}
"""

BY_TITLE = """
query($search: String) { incidents(filter: {search: $search}) { nodes { title } } }
"""
BY_STATUS = """
query($status: DeliveryStatus) {
  notificationDeliveries(status: $status) { nodes { status } }
}
"""


async def webhook(api: Api, persona: Persona, receiver: Receiver) -> None:
    created = await create_channel(
        api, persona, "ops", "WEBHOOK", {"url": f"{receiver.url}/hook", "secret": SECRET}
    )
    assert created["__typename"] == "Channel", created


async def test_a_job_that_stops_reporting_raises_a_missed_run_that_its_next_run_resolves(
    api: Api, state: AppState, alice: Persona, receiver: Receiver
) -> None:
    await webhook(api, alice, receiver)
    job_id = await commit_job(state, alice, "every-minute", schedule="*/1 * * * *", grace=30)
    # The job ran at its previous fire time, then its agent went quiet. The engine is moved
    # to 31 s past the next fire time: its grace is over, so one cycle must notice.
    now = utcnow()
    fire = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    await report(state, alice, job_id, RunStatus.SUCCESS, at=fire - timedelta(seconds=59))
    shift_clock(state, fire + timedelta(seconds=31))

    (opened,) = await receiver.wait_for(1, within=state.settings.alert_interval * 2 + 3)
    body = opened.json
    assert body["event"] == "trigger"
    assert body["incident"]["rule"] == "MISSED_RUN"
    assert body["incident"]["job"] == "default/every-minute"
    assert body["incident"]["details"]["expected_at"] == fire.isoformat()
    assert verify(
        SECRET,
        opened.headers["x-crontopus-timestamp"],
        opened.body,
        opened.headers["x-crontopus-signature"],
    )
    (incident,) = await incidents(api, alice)
    assert (incident["rule"], incident["status"]) == ("MISSED_RUN", "OPEN")

    await report(state, alice, job_id, RunStatus.SUCCESS, at=fire + timedelta(seconds=40))
    _, resolved = await receiver.wait_for(2)
    assert resolved.json["event"] == "resolve"
    assert resolved.json["incident"]["id"] == incident["id"]
    (incident,) = await incidents(api, alice)
    assert (incident["status"], incident["resolvedBy"]) == ("RESOLVED", "crontopus")


async def test_consecutive_failures_alert_on_the_third_failure_only(
    api: Api, state: AppState, alice: Persona, receiver: Receiver
) -> None:
    await webhook(api, alice, receiver)
    job_id = await commit_job(state, alice, "flaky", alerts="{consecutiveFailures: 3}")
    await report(state, alice, job_id, RunStatus.FAILURE)
    await report(state, alice, job_id, RunStatus.FAILURE)
    assert await incidents(api, alice) == []
    await report(state, alice, job_id, RunStatus.FAILURE)
    (incident,) = await incidents(api, alice)
    assert incident["rule"] == "FAILURE"
    assert incident["title"] == "default/flaky failed 3 times in a row (exit code 1)"
    # The incident list searches titles on the server, any case.
    for text, found in (("FLAKY", 1), ("steady", 0)):
        page = await api.execute(BY_TITLE, {"search": text}, alice.access_token)
        assert len(page["incidents"]["nodes"]) == found, text
    await report(state, alice, job_id, RunStatus.FAILURE)
    assert len(await incidents(api, alice)) == 1
    (sent,) = await receiver.wait_for(1)
    assert sent.json["incident"]["details"]["consecutive_failures"] == 3
    assert len(await receiver.quiet_for(1.5)) == 1

    await report(state, alice, job_id, RunStatus.SUCCESS)
    _, resolved = await receiver.wait_for(2)
    assert resolved.json["event"] == "resolve"


async def test_a_snoozed_job_stays_quiet(
    api: Api, state: AppState, alice: Persona, receiver: Receiver
) -> None:
    await webhook(api, alice, receiver)
    job_id = await commit_job(state, alice, "noisy", alerts="{onFailure: true}")
    until = (utcnow() + timedelta(hours=1)).isoformat()
    data = await api.execute(
        SNOOZE, {"input": {"jobId": str(job_id), "until": until}}, alice.access_token
    )
    assert data["createSnooze"]["__typename"] == "Snooze"
    await report(state, alice, job_id, RunStatus.FAILURE)
    assert await incidents(api, alice) == []
    assert await receiver.quiet_for(1.5) == []
    listed = await api.execute("{ snoozes { jobId jobName namespace } }", {}, alice.access_token)
    assert listed["snoozes"] == [{"jobId": str(job_id), "jobName": "noisy", "namespace": None}]


async def test_a_namespace_snooze_keeps_its_jobs_quiet_but_not_others(
    api: Api, state: AppState, alice: Persona, receiver: Receiver
) -> None:
    await webhook(api, alice, receiver)
    quiet = await commit_job(state, alice, "quiet", namespace="batch")
    loud = await commit_job(state, alice, "loud")
    until = (utcnow() + timedelta(hours=1)).isoformat()
    await api.execute(SNOOZE, {"input": {"namespace": "batch", "until": until}}, alice.access_token)
    await report(state, alice, quiet, RunStatus.FAILURE)
    await report(state, alice, loud, RunStatus.FAILURE)
    assert [i["jobName"] for i in await incidents(api, alice)] == ["loud"]


async def test_a_maintenance_window_holds_notifications_and_drops_those_resolved_within(
    api: Api, state: AppState, alice: Persona, receiver: Receiver
) -> None:
    await webhook(api, alice, receiver)
    job_id = await commit_job(state, alice, "migrating")
    now = utcnow()
    window = {
        "name": "db upgrade",
        "namespace": "default",
        "startsAt": (now - timedelta(minutes=5)).isoformat(),
        "endsAt": (now + timedelta(hours=1)).isoformat(),
    }
    data = await api.execute(WINDOW, {"input": window}, alice.access_token)
    assert data["createMaintenanceWindow"]["__typename"] == "MaintenanceWindow"
    await report(state, alice, job_id, RunStatus.FAILURE)
    (incident,) = await incidents(api, alice)
    assert incident["status"] == "OPEN"  # visible in the console, but nobody is paged
    log = await api.execute(DELIVERIES, {"incident": incident["id"]}, alice.access_token)
    (held,) = log["notificationDeliveries"]["nodes"]
    assert held["status"] == "HELD"
    # The delivery log filters by status on the server.
    by_status = await api.execute(BY_STATUS, {"status": "HELD"}, alice.access_token)
    assert by_status["notificationDeliveries"]["nodes"] == [{"status": "HELD"}]
    by_status = await api.execute(BY_STATUS, {"status": "DELIVERED"}, alice.access_token)
    assert by_status["notificationDeliveries"]["nodes"] == []
    await report(state, alice, job_id, RunStatus.SUCCESS)
    # The window ends: an incident resolved within it is never announced.
    shift_clock(state, now + timedelta(hours=1, seconds=5))
    assert await receiver.quiet_for(2.5) == []
    log = await api.execute(DELIVERIES, {"incident": incident["id"]}, alice.access_token)
    assert {n["status"] for n in log["notificationDeliveries"]["nodes"]} == {"DROPPED"}


async def test_alerts_held_by_a_window_are_sent_when_it_ends(
    api: Api, state: AppState, alice: Persona, receiver: Receiver
) -> None:
    await webhook(api, alice, receiver)
    job_id = await commit_job(state, alice, "nightly")
    now = utcnow()
    window = {
        "name": "patching",
        "jobId": str(job_id),
        "startsAt": (now - timedelta(minutes=5)).isoformat(),
        "endsAt": (now + timedelta(minutes=10)).isoformat(),
    }
    await api.execute(WINDOW, {"input": window}, alice.access_token)
    await report(state, alice, job_id, RunStatus.FAILURE)
    assert await receiver.quiet_for(1.2) == []
    shift_clock(state, now + timedelta(minutes=10, seconds=1))
    (sent,) = await receiver.wait_for(1)
    assert sent.json["event"] == "trigger"


async def test_a_failing_webhook_is_retried_with_backoff_and_logged(
    api: Api, state: AppState, alice: Persona, receiver: Receiver
) -> None:
    await webhook(api, alice, receiver)
    receiver.statuses = [503, 502]
    job_id = await commit_job(state, alice, "retried")
    await report(state, alice, job_id, RunStatus.FAILURE)
    requests = await receiver.wait_for(3)
    assert len({r.headers["x-crontopus-delivery"] for r in requests}) == 1
    (incident,) = await incidents(api, alice)

    async def delivered() -> dict[str, Any] | None:
        log = await api.execute(DELIVERIES, {"incident": incident["id"]}, alice.access_token)
        (row,) = log["notificationDeliveries"]["nodes"]
        return row if row["status"] != "SENDING" else None

    delivery = await eventually(delivered)
    assert (delivery["status"], delivery["attempts"], delivery["lastError"]) == (
        "DELIVERED",
        3,
        None,
    )


async def test_a_rejected_webhook_fails_at_once_without_retries(
    api: Api, state: AppState, alice: Persona, receiver: Receiver
) -> None:
    await webhook(api, alice, receiver)
    receiver.statuses = [404]
    job_id = await commit_job(state, alice, "misrouted")
    await report(state, alice, job_id, RunStatus.FAILURE)
    await receiver.wait_for(1)
    assert len(await receiver.quiet_for(1.5)) == 1
    (incident,) = await incidents(api, alice)
    log = await api.execute(DELIVERIES, {"incident": incident["id"]}, alice.access_token)
    (delivery,) = log["notificationDeliveries"]["nodes"]
    assert delivery["status"] == "FAILED"
    assert "answered 404" in delivery["lastError"]
    assert "retrying cannot help" in delivery["lastError"]


async def test_a_job_naming_an_unknown_channel_logs_why_nothing_was_sent(
    api: Api, state: AppState, alice: Persona, receiver: Receiver
) -> None:
    await webhook(api, alice, receiver)
    job_id = await commit_job(state, alice, "typo", alerts="{channels: [opps]}")
    await report(state, alice, job_id, RunStatus.FAILURE)
    (incident,) = await incidents(api, alice)
    log = await api.execute(DELIVERIES, {"incident": incident["id"]}, alice.access_token)
    (delivery,) = log["notificationDeliveries"]["nodes"]
    assert delivery["status"] == "FAILED"
    assert 'no channel is named "opps"' in delivery["lastError"]
    assert await receiver.quiet_for(1.2) == []


async def test_bob_never_sees_alices_incidents(
    api: Api, state: AppState, alice: Persona, bob: Persona
) -> None:
    job_id = await commit_job(state, alice, "private")
    await report(state, alice, job_id, RunStatus.FAILURE)
    (incident,) = await incidents(api, alice)
    assert await incidents(api, bob) == []
    data = await api.execute(
        "query($id: UUID!) { incident(id: $id) { id } }", {"id": incident["id"]}, bob.access_token
    )
    assert data["incident"] is None
    other = str(uuid.uuid4())
    data = await api.execute(
        "query($id: UUID!) { incident(id: $id) { id } }", {"id": other}, alice.access_token
    )
    assert data["incident"] is None


async def test_a_failure_rate_over_the_window_alerts_and_recovers(
    api: Api, state: AppState, alice: Persona
) -> None:
    job_id = await commit_job(
        state,
        alice,
        "shaky",
        alerts="{onFailure: false, failureRate: {percent: 50, window: 3600, minRuns: 4}}",
    )
    for status in (RunStatus.SUCCESS, RunStatus.FAILURE, RunStatus.SUCCESS):
        await report(state, alice, job_id, status)
    assert await incidents(api, alice) == []
    await report(state, alice, job_id, RunStatus.FAILURE)
    (incident,) = await incidents(api, alice)
    assert incident["rule"] == "FAILURE_RATE"
    assert incident["title"] == "default/shaky failed 2 of its last 4 runs (alerting at 50%)"
    await report(state, alice, job_id, RunStatus.SUCCESS)
    (incident,) = await incidents(api, alice)
    assert incident["status"] == "RESOLVED"


async def test_runs_that_finish_too_fast_or_take_too_long_alert(
    api: Api, state: AppState, alice: Persona
) -> None:
    job_id = await commit_job(
        state, alice, "timed", alerts="{onFailure: false, minDuration: 5, maxDuration: 60}"
    )
    await report(state, alice, job_id, RunStatus.SUCCESS, duration=0.5)
    await report(state, alice, job_id, RunStatus.FAILURE, duration=90)
    rules = {i["rule"]: i for i in await incidents(api, alice)}
    assert set(rules) == {"TOO_FAST", "TOO_LONG"}
    assert rules["TOO_FAST"]["title"] == "default/timed finished in 0.5 s, faster than 5 s"
    assert rules["TOO_LONG"]["title"] == "default/timed ran 90 s, longer than 60 s"
    await report(state, alice, job_id, RunStatus.SUCCESS, duration=30)
    assert await incidents(api, alice, status=["OPEN"]) == []


async def test_snoozes_and_windows_are_listed_and_removed(api: Api, alice: Persona) -> None:
    until = (utcnow() + timedelta(hours=2)).isoformat()
    snooze = await api.execute(
        SNOOZE, {"input": {"namespace": "batch", "until": until}}, alice.access_token
    )
    bad = await api.execute(
        SNOOZE, {"input": {"namespace": "batch", "until": "2001-01-01T00:00:00+00:00"}},
        alice.access_token,
    )  # fmt: skip
    assert bad["createSnooze"]["__typename"] == "ValidationError"
    window = await api.execute(
        WINDOW,
        {"input": {"name": "weekly", "schedule": "0 2 * * 0", "duration": 7200,
                   "timezone": "Europe/Berlin", "releaseHeld": False}},
        alice.access_token,
    )  # fmt: skip
    assert window["createMaintenanceWindow"]["__typename"] == "MaintenanceWindow"
    refused = await api.execute(
        WINDOW, {"input": {"name": "odd", "schedule": "0 2 * * 0"}}, alice.access_token
    )
    assert refused["createMaintenanceWindow"]["__typename"] == "ValidationError"
    listed = await api.execute(
        "{ snoozes { id namespace } maintenanceWindows { name schedule duration releaseHeld } }",
        token=alice.access_token,
    )
    assert listed["snoozes"] == [{"id": snooze["createSnooze"]["id"], "namespace": "batch"}]
    assert listed["maintenanceWindows"] == [
        {"name": "weekly", "schedule": "0 2 * * 0", "duration": 7200, "releaseHeld": False}
    ]
    removed = await api.execute(
        "mutation($id: UUID!) { deleteSnooze(id: $id) { __typename } }",
        {"id": snooze["createSnooze"]["id"]},
        alice.access_token,
    )
    assert removed["deleteSnooze"]["__typename"] == "Snooze"
    assert (await api.execute("{ snoozes { id } }", token=alice.access_token))["snoozes"] == []
