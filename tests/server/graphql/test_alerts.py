"""Alerting over GraphQL: channels, testChannel, incidents, acknowledging, defaults, events."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from crontopus.core.enums import RunStatus
from crontopus.server.app import AppState
from crontopus.server.settings import Settings, outbound_policy_of
from tests.server.conftest import Api, LiveServer, Persona, register
from tests.server.services.alerts.conftest import (
    LOCAL_RECEIVERS,
    Receiver,
    commit_job,
    create_channel,
    incidents,
    report,
    serve_receiver,
)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Channels may reach loopback, where the receivers listen."""
    return replace(settings, outbound=outbound_policy_of(LOCAL_RECEIVERS))


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with serve_receiver() as peer:
        yield peer


CHANNELS = "{ channels { id name kind config isDefault } }"
UPDATE = """
mutation($input: UpdateChannelInput!) {
  updateChannel(input: $input) {
    __typename ... on Channel { name config isDefault } ... on UserError { message }
  }
}
"""
DELETE = """
mutation($id: UUID!) { deleteChannel(id: $id) { __typename ... on Channel { name } } }
"""
TEST = """
mutation($id: UUID!) {
  testChannel(id: $id) {
    __typename
    ... on NotificationDelivery { event status attempts lastError channelName }
    ... on UserError { message }
  }
}
"""
ACK = """
mutation($id: UUID!) {
  acknowledgeIncident(id: $id) {
    __typename ... on Incident { status acknowledgedBy } ... on UserError { message }
  }
}
"""
RESOLVE = """
mutation($id: UUID!) {
  resolveIncident(id: $id) {
    __typename ... on Incident { status resolvedBy details } ... on UserError { message }
  }
}
"""
DEFAULTS = """
mutation($input: UpdateAlertDefaultsInput!) {
  updateAlertDefaults(input: $input) {
    __typename
    ... on AlertDefaults { onFailure consecutiveFailures missedRun endpointOffline }
    ... on UserError { message }
  }
}
"""


async def test_a_channel_is_created_listed_changed_and_deleted_with_secrets_hidden(
    api: Api, alice: Persona, receiver: Receiver
) -> None:
    created = await create_channel(
        api, alice, "ops", "WEBHOOK", {"url": f"{receiver.url}/a", "secret": "x" * 24}
    )
    assert created["config"] == {"url": f"{receiver.url}/a", "secret": "(set)"}
    data = await api.execute(
        UPDATE,
        {"input": {"id": created["id"], "name": "ops-2", "config": {"url": f"{receiver.url}/b"}}},
        alice.access_token,
    )
    assert data["updateChannel"] == {
        "__typename": "Channel",
        "name": "ops-2",
        "config": {"url": f"{receiver.url}/b", "secret": "(set)"},
        "isDefault": True,
    }
    (listed,) = (await api.execute(CHANNELS, token=alice.access_token))["channels"]
    assert listed["name"] == "ops-2"
    deleted = await api.execute(DELETE, {"id": created["id"]}, alice.access_token)
    assert deleted["deleteChannel"] == {"__typename": "Channel", "name": "ops-2"}
    assert (await api.execute(CHANNELS, token=alice.access_token))["channels"] == []


async def test_a_bad_channel_is_refused_with_the_field_and_the_fix(
    api: Api, alice: Persona, receiver: Receiver
) -> None:
    refused = await create_channel(api, alice, "Bad Name", "SLACK", {"url": "nope"})
    assert refused["__typename"] == "ValidationError"
    first = await create_channel(api, alice, "dup", "SLACK", {"url": f"{receiver.url}/x"})
    assert first["__typename"] == "Channel"
    again = await create_channel(api, alice, "dup", "SLACK", {"url": f"{receiver.url}/y"})
    assert again["__typename"] == "ConflictError"
    fields = await create_channel(api, alice, "pd", "PAGERDUTY", {"routing_key": "short"})
    assert fields["fields"][0]["path"] == ["input", "config", "routing_key"]


async def test_testing_a_channel_sends_now_and_answers_how_it_went(
    api: Api, alice: Persona, receiver: Receiver
) -> None:
    channel = await create_channel(api, alice, "ops", "WEBHOOK", {"url": f"{receiver.url}/t"})
    data = await api.execute(TEST, {"id": channel["id"]}, alice.access_token)
    assert data["testChannel"] == {
        "__typename": "NotificationDelivery",
        "event": "TEST",
        "status": "DELIVERED",
        "attempts": 1,
        "lastError": None,
        "channelName": "ops",
    }
    (got,) = await receiver.wait_for(1)
    assert got.json["event"] == "test"
    receiver.statuses = [410]
    data = await api.execute(TEST, {"id": channel["id"]}, alice.access_token)
    assert data["testChannel"]["status"] == "FAILED"
    assert "answered 410" in data["testChannel"]["lastError"]


async def test_viewers_read_but_do_not_change_alerting(
    api: Api, alice: Persona, carol: Persona, bob: Persona, receiver: Receiver
) -> None:
    channel = await create_channel(api, alice, "ops", "SLACK", {"url": f"{receiver.url}/x"})
    assert len((await api.execute(CHANNELS, token=carol.access_token))["channels"]) == 1
    refused = await create_channel(api, carol, "mine", "SLACK", {"url": f"{receiver.url}/y"})
    assert refused["__typename"] == "PermissionError"
    data = await api.execute(DELETE, {"id": channel["id"]}, bob.access_token)
    assert data["deleteChannel"]["__typename"] == "NotFoundError"
    assert (await api.execute(CHANNELS, token=bob.access_token))["channels"] == []


async def test_an_incident_is_acknowledged_then_resolved_by_hand(
    api: Api, state: AppState, alice: Persona, carol: Persona
) -> None:
    job_id = await commit_job(state, alice, "cleanup")
    await report(state, alice, job_id, RunStatus.FAILURE)
    (incident,) = await incidents(api, alice)
    denied = await api.execute(ACK, {"id": incident["id"]}, carol.access_token)
    assert denied["acknowledgeIncident"]["__typename"] == "PermissionError"
    acked = await api.execute(ACK, {"id": incident["id"]}, alice.access_token)
    assert acked["acknowledgeIncident"] == {
        "__typename": "Incident",
        "status": "ACKNOWLEDGED",
        "acknowledgedBy": "alice",
    }
    done = await api.execute(RESOLVE, {"id": incident["id"]}, alice.access_token)
    assert done["resolveIncident"]["status"] == "RESOLVED"
    assert done["resolveIncident"]["resolvedBy"] == "alice"
    assert await incidents(api, alice, status=["OPEN", "ACKNOWLEDGED"]) == []
    # Resolved, the rule may open a new incident for the next failure.
    await report(state, alice, job_id, RunStatus.SUCCESS)
    await report(state, alice, job_id, RunStatus.FAILURE)
    assert len(await incidents(api, alice, status=["OPEN"])) == 1


async def test_tenant_defaults_apply_to_jobs_that_say_nothing(
    api: Api, state: AppState, alice: Persona
) -> None:
    data = await api.execute(DEFAULTS, {"input": {"consecutiveFailures": 2}}, alice.access_token)
    assert data["updateAlertDefaults"] == {
        "__typename": "AlertDefaults",
        "onFailure": True,
        "consecutiveFailures": 2,
        "missedRun": True,
        "endpointOffline": True,
    }
    silent = await commit_job(state, alice, "silent")
    own = await commit_job(state, alice, "own-rules", alerts="{onFailure: true}")
    await report(state, alice, silent, RunStatus.FAILURE)
    await report(state, alice, own, RunStatus.FAILURE)
    assert [i["jobName"] for i in await incidents(api, alice)] == ["own-rules"]
    await report(state, alice, silent, RunStatus.FAILURE)
    assert {i["jobName"] for i in await incidents(api, alice)} == {"own-rules", "silent"}
    data = await api.execute(DEFAULTS, {"input": {"onFailure": False}}, alice.access_token)
    assert data["updateAlertDefaults"]["onFailure"] is False


async def _subscribe(ws: Any, token: str) -> None:
    await ws.send(
        json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
    )
    assert json.loads(await ws.recv())["type"] == "connection_ack"
    await ws.send(
        json.dumps(
            {
                "id": "1",
                "type": "subscribe",
                "payload": {
                    "query": "subscription { incidentEvents { kind incident { rule title } } }"
                },
            }
        )
    )


async def test_incident_events_reach_a_live_subscriber(live_server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=live_server.url) as client:
        api = Api(client)
        alice = await register(api, "alice")
        async with connect(live_server.ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
            await _subscribe(ws, alice.access_token)
            await live_server.wait_for_subscribers()
            job = await api.execute(
                'mutation { createJob(input: {name: "probe", namespace: "default", '
                'schedule: "0 3 1 1 *", command: "/bin/true"}) { ... on Job { id } } }',
                token=alice.access_token,
            )
            job_id = job["createJob"]["id"]
            await api.execute(
                "mutation($i: CheckInInput!) { checkIn(input: $i) { __typename } }",
                {"i": {"runId": "5f0c8ad4-8f4e-4bd4-9a57-6d8e3f0d8a11", "jobId": job_id,
                       "event": "FAILURE", "exitCode": 3}},
                alice.access_token,
            )  # fmt: skip
            async with asyncio.timeout(10):
                message = json.loads(await ws.recv())
    (event,) = message["payload"]["data"]["incidentEvents"]
    assert event == {
        "kind": "OPENED",
        "incident": {"rule": "FAILURE", "title": "default/probe failed (exit code 3)"},
    }
