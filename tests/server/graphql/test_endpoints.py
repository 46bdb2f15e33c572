"""Endpoints: heartbeats, derived status, listing, revocation and live endpoint events."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import AsyncGenerator, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from starlette.requests import Request
from starlette.responses import Response
from websockets.asyncio.client import connect

from crontopus.server.app import AppState, CrontopusGraphQL
from crontopus.server.db.models import AuditEvent, Endpoint
from crontopus.server.events.broadcaster import Event
from crontopus.server.graphql.schema import create_schema
from crontopus.server.services.endpoints import ENDPOINT_EVENTS, detect_offline
from crontopus.server.settings import Settings
from tests.server.conftest import PASSWORD, REGISTER, Api, LiveServer, Persona
from tests.server.graphql.test_enrollment import (
    CREATE_TOKEN,
    ENROLL,
    enrolled_endpoint,
    enrollment,
    heartbeat,
)
from tests.server.graphql.test_instances import endpoint_jobs
from tests.server.graphql.test_jobs import create

COMMIT = "a" * 40
ENDPOINTS = """
query List($filter: EndpointFilter, $first: Int!, $after: String) {
  endpoints(filter: $filter, first: $first, after: $after) {
    nodes { id name status platform }
    pageInfo { hasNextPage endCursor }
  }
}
"""
ENDPOINT = """
query One($id: UUID!) {
  endpoint(id: $id) { id name status lastSeenAt agentVersion driver appliedCommit revokedAt }
}
"""
REVOKE = """
mutation Revoke($id: UUID!) {
  revokeEndpoint(id: $id) {
    __typename ... on Endpoint { status revokedAt } ... on UserError { message }
  }
}
"""


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """These tests call the offline detection themselves: no background cycle beside them."""
    return replace(settings, in_process_worker=False)


async def set_last_seen(state: AppState, endpoint_id: str, ago: timedelta) -> None:
    async with state.session() as session:
        await session.execute(
            update(Endpoint)
            .where(Endpoint.id == uuid.UUID(endpoint_id))
            .values(last_seen_at=datetime.now(UTC) - ago)
        )
        await session.commit()


async def status_of(api: Api, persona: Persona, endpoint_id: str) -> str:
    data = await api.execute(ENDPOINT, {"id": endpoint_id}, persona.access_token)
    status: str = data["endpoint"]["status"]
    return status


async def listed(api: Api, persona: Persona, **variables: Any) -> list[str]:
    variables.setdefault("first", 100)
    data = await api.execute(ENDPOINTS, variables, persona.access_token)
    return [node["name"] for node in data["endpoints"]["nodes"]]


async def test_a_heartbeat_records_version_driver_and_applied_commit(
    api: Api, alice: Persona
) -> None:
    endpoint_id, token = await enrolled_endpoint(api, alice)
    body = await heartbeat(api, token, agentVersion="1.1.0", driver="cron", appliedCommit=COMMIT)
    beat = body["data"]["heartbeat"]
    assert beat["__typename"] == "Endpoint"
    assert (beat["agentVersion"], beat["driver"], beat["appliedCommit"]) == (
        "1.1.0",
        "cron",
        COMMIT,
    )
    seen = await api.execute(ENDPOINT, {"id": endpoint_id}, alice.access_token)
    assert seen["endpoint"]["appliedCommit"] == COMMIT
    assert seen["endpoint"]["status"] == "ONLINE"


async def test_a_heartbeat_of_an_online_agent_records_the_commit_and_a_revoked_one_is_refused(
    api: Api, alice: Persona, state: AppState
) -> None:
    endpoint_id, token = await enrolled_endpoint(api, alice)
    await heartbeat(api, token, agentVersion="1.1.0", driver="cron")
    # Online and running what it ran: nothing changes but the commit.
    body = await heartbeat(api, token, agentVersion="1.1.0", driver="cron", appliedCommit=COMMIT)
    assert body["data"]["heartbeat"]["appliedCommit"] == COMMIT
    seen = await api.execute(ENDPOINT, {"id": endpoint_id}, alice.access_token)
    assert seen["endpoint"]["appliedCommit"] == COMMIT
    async with state.session() as session:
        await session.execute(
            update(Endpoint)
            .where(Endpoint.id == uuid.UUID(endpoint_id))
            .values(revoked_at=datetime.now(UTC))
        )
        await session.commit()

    body = await heartbeat(api, token, agentVersion="1.1.0", driver="cron", appliedCommit=COMMIT)

    assert body["data"]["heartbeat"]["__typename"] != "Endpoint"


async def test_a_heartbeat_is_audited_only_when_what_the_machine_runs_changes(
    api: Api, alice: Persona, state: AppState
) -> None:
    _, token = await enrolled_endpoint(api, alice)
    for _ in range(3):
        await heartbeat(api, token, driver="cron")
    await heartbeat(api, token, driver="systemd")
    async with state.session() as session:
        updates = (
            await session.scalars(
                select(AuditEvent.details).where(AuditEvent.action == "endpoint.update")
            )
        ).all()
    assert updates == [{"driver": "cron"}, {"driver": "systemd"}]


async def test_a_heartbeat_needs_an_endpoint_token(api: Api, alice: Persona) -> None:
    body = await heartbeat(api, alice.access_token)
    assert body["data"]["heartbeat"]["__typename"] == "PermissionError"
    assert "endpoint token" in body["data"]["heartbeat"]["message"]
    anonymous = await heartbeat(api, "")
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_heartbeat_input_is_validated_field_by_field(api: Api, alice: Persona) -> None:
    _, token = await enrolled_endpoint(api, alice)
    body = await heartbeat(api, token, agentVersion=" ", driver="x" * 51, appliedCommit="HEAD")
    result = body["data"]["heartbeat"]
    assert result["__typename"] == "ValidationError"
    assert {tuple(f["path"]) for f in result["fields"]} == {
        ("input", "agentVersion"),
        ("input", "driver"),
        ("input", "appliedCommit"),
    }


async def test_an_endpoint_goes_offline_after_three_silent_intervals(
    api: Api, alice: Persona, state: AppState
) -> None:
    endpoint_id, token = await enrolled_endpoint(api, alice)
    await set_last_seen(state, endpoint_id, timedelta(seconds=85))
    assert await status_of(api, alice, endpoint_id) == "ONLINE"
    await set_last_seen(state, endpoint_id, timedelta(seconds=95))
    assert await status_of(api, alice, endpoint_id) == "OFFLINE"
    await heartbeat(api, token)
    assert await status_of(api, alice, endpoint_id) == "ONLINE"


def test_the_heartbeat_interval_is_configurable(tmp_path: Any) -> None:
    settings = Settings.from_env(
        {"CRONTOPUS_DATA_DIR": str(tmp_path), "CRONTOPUS_HEARTBEAT_INTERVAL": "10"}
    )
    assert settings.offline_after == timedelta(seconds=30)


async def test_endpoints_are_listed_by_name_and_paged_with_cursors(
    api: Api, alice: Persona
) -> None:
    for machine in ("charlie", "alpha", "bravo"):
        await enrolled_endpoint(api, alice, machine)
    page = await api.execute(ENDPOINTS, {"first": 2}, alice.access_token)
    assert [n["name"] for n in page["endpoints"]["nodes"]] == ["alpha", "bravo"]
    assert page["endpoints"]["pageInfo"]["hasNextPage"] is True
    after = page["endpoints"]["pageInfo"]["endCursor"]
    rest = await api.execute(ENDPOINTS, {"first": 2, "after": after}, alice.access_token)
    assert [n["name"] for n in rest["endpoints"]["nodes"]] == ["charlie"]
    assert rest["endpoints"]["pageInfo"]["hasNextPage"] is False


async def test_page_size_is_capped_and_cursors_are_checked(api: Api, alice: Persona) -> None:
    error = await api.error_of(ENDPOINTS, {"first": 101}, alice.access_token)
    assert "first: must be between 1 and 100" in error["message"]
    error = await api.error_of(ENDPOINTS, {"first": 5, "after": "bogus"}, alice.access_token)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


async def test_endpoints_filter_by_status_platform_search_and_labels(
    api: Api, alice: Persona, state: AppState
) -> None:
    zone = "topology.example.com/zone"
    await enrolled_endpoint(
        api, alice, "db-1", labels=[{"key": "role", "value": "db"}, {"key": zone, "value": "a"}]
    )
    await enrolled_endpoint(
        api, alice, "db-2", labels=[{"key": "role", "value": "db"}, {"key": zone, "value": "b"}]
    )
    web_id, _ = await enrolled_endpoint(
        api, alice, "web-1", platform="windows", labels=[{"key": "role", "value": "web"}]
    )
    await set_last_seen(state, web_id, timedelta(hours=1))
    db = {"key": "role", "value": "db"}
    assert await listed(api, alice, filter={"label": db}) == ["db-1", "db-2"]
    both = [db, {"key": zone, "value": "b"}]
    assert await listed(api, alice, filter={"label": both}) == ["db-2"]
    assert await listed(api, alice, filter={"platform": "windows"}) == ["web-1"]
    assert await listed(api, alice, filter={"search": "WEB-1.EXAMPLE"}) == ["web-1"]
    assert await listed(api, alice, filter={"search": "%"}) == []
    assert await listed(api, alice, filter={"status": "OFFLINE"}) == ["web-1"]
    assert await listed(api, alice, filter={"status": "ONLINE"}) == ["db-1", "db-2"]
    assert await listed(api, alice, filter={"status": "REVOKED"}) == []


async def test_revoking_an_endpoint_kills_its_token_at_once_for_graphql_and_git(
    api: Api, alice: Persona, state: AppState
) -> None:
    endpoint_id, token = await enrolled_endpoint(api, alice)
    basic = base64.b64encode(f"agent:{token}".encode()).decode()
    refs = f"/git/{alice.tenant_slug}/jobs.git/info/refs?service=git-upload-pack"
    fetch = await api.client.get(refs, headers={"Authorization": f"Basic {basic}"})
    assert fetch.status_code == 200
    assert "errors" not in await heartbeat(api, token)  # now cached as a live identity
    revoked = await api.execute(REVOKE, {"id": endpoint_id}, alice.access_token)
    assert revoked["revokeEndpoint"]["status"] == "REVOKED"
    body = await heartbeat(api, token)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "revoked" in body["errors"][0]["message"]
    fetch = await api.client.get(refs, headers={"Authorization": f"Basic {basic}"})
    assert fetch.status_code == 401
    assert await listed(api, alice, filter={"status": "REVOKED"}) == ["machine-1"]
    async with state.session() as session:
        actions = (await session.scalars(select(AuditEvent.action))).all()
    assert "endpoint.revoke" in actions


async def test_only_admins_revoke_endpoints(api: Api, alice: Persona, carol: Persona) -> None:
    endpoint_id, token = await enrolled_endpoint(api, alice)
    denied = await api.execute(REVOKE, {"id": endpoint_id}, carol.access_token)
    assert denied["revokeEndpoint"]["__typename"] == "PermissionError"
    by_itself = await api.execute(REVOKE, {"id": endpoint_id}, token)
    assert by_itself["revokeEndpoint"]["__typename"] == "PermissionError"
    assert await status_of(api, carol, endpoint_id) == "ONLINE"


UNENROLL = """
mutation { unenrollEndpoint {
  __typename ... on Endpoint { id status revokedAt } ... on UserError { message } } }
"""


async def test_an_agent_unenrolls_itself_and_only_itself(
    api: Api, alice: Persona, state: AppState
) -> None:
    endpoint_id, token = await enrolled_endpoint(api, alice, "leaving")
    other_id, _ = await enrolled_endpoint(api, alice, "staying")

    left = await api.execute(UNENROLL, {}, token)

    assert left["unenrollEndpoint"]["id"] == endpoint_id
    assert left["unenrollEndpoint"]["status"] == "REVOKED"
    assert await status_of(api, alice, endpoint_id) == "REVOKED"
    assert await status_of(api, alice, other_id) == "ONLINE"
    body = await heartbeat(api, token)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    async with state.session() as session:
        actions = (await session.scalars(select(AuditEvent.action))).all()
    assert "endpoint.unenroll" in actions


async def test_a_person_cannot_unenroll_as_if_they_were_an_endpoint(
    api: Api, alice: Persona
) -> None:
    endpoint_id, _ = await enrolled_endpoint(api, alice)

    refused = await api.execute(UNENROLL, {}, alice.access_token)

    assert refused["unenrollEndpoint"]["__typename"] == "PermissionError"
    assert "endpoint token" in refused["unenrollEndpoint"]["message"]
    assert await status_of(api, alice, endpoint_id) == "ONLINE"


async def test_another_tenants_endpoint_answers_not_found(
    api: Api, alice: Persona, bob: Persona
) -> None:
    endpoint_id, _ = await enrolled_endpoint(api, alice)
    assert (await api.execute(ENDPOINT, {"id": endpoint_id}, bob.access_token))["endpoint"] is None
    assert await listed(api, bob) == []
    revoked = await api.execute(REVOKE, {"id": endpoint_id}, bob.access_token)
    assert revoked["revokeEndpoint"]["__typename"] == "NotFoundError"
    assert await status_of(api, alice, endpoint_id) == "ONLINE"


async def test_an_agent_reads_only_itself(api: Api, alice: Persona) -> None:
    first_id, token = await enrolled_endpoint(api, alice, "m1")
    other_id, _ = await enrolled_endpoint(api, alice, "m2")
    own = await api.execute(ENDPOINT, {"id": first_id}, token)
    assert own["endpoint"]["name"] == "m1"
    assert (await api.execute(ENDPOINT, {"id": other_id}, token))["endpoint"] is None
    error = await api.error_of(ENDPOINTS, {"first": 10}, token)
    assert error["extensions"]["code"] == "FORBIDDEN"


async def until(condition: Callable[[], bool]) -> None:
    """Wait for events that travel through the database (LISTEN/NOTIFY on PostgreSQL)."""
    async with asyncio.timeout(5):
        while not condition():  # noqa: ASYNC110 - the listener tasks append; nothing to await
            await asyncio.sleep(0.01)


async def _collect(state: AppState, tenant_id: str, events: list[Event]) -> None:
    async for event in state.broadcaster.subscribe(uuid.UUID(tenant_id), ENDPOINT_EVENTS):
        events.append(event)


async def test_endpoint_events_announce_enrolled_online_offline_and_revoked(
    api: Api, alice: Persona, bob: Persona, state: AppState, settings: Settings
) -> None:
    events: list[Event] = []
    bobs: list[Event] = []
    listeners = [
        asyncio.create_task(_collect(state, alice.tenant_id, events)),
        asyncio.create_task(_collect(state, bob.tenant_id, bobs)),
    ]
    await until(lambda: state.broadcaster.subscriber_count() == 2)
    endpoint_id, token = await enrolled_endpoint(api, alice)
    await set_last_seen(state, endpoint_id, timedelta(seconds=100))
    assert await detect_offline(state.session, state.broadcaster, settings) == 1
    assert await detect_offline(state.session, state.broadcaster, settings) == 0
    await heartbeat(api, token)
    await heartbeat(api, token)
    await api.execute(REVOKE, {"id": endpoint_id}, alice.access_token)
    await until(lambda: len(events) >= 4)
    await asyncio.sleep(0.05)
    for listener in listeners:
        listener.cancel()
    assert [e.data["kind"] for e in events] == ["enrolled", "offline", "online", "revoked"]
    assert {e.data["endpoint_id"] for e in events} == {endpoint_id}
    assert bobs == []


async def test_offline_detection_announces_each_crossing_once(
    api: Api, alice: Persona, state: AppState, settings: Settings
) -> None:
    endpoint_id, _ = await enrolled_endpoint(api, alice)
    now = datetime.now(UTC)
    assert await detect_offline(state.session, state.broadcaster, settings, now=now) == 0
    later = now + timedelta(seconds=89)
    assert await detect_offline(state.session, state.broadcaster, settings, now=later) == 0
    crossed = now + timedelta(seconds=100)
    assert await detect_offline(state.session, state.broadcaster, settings, now=crossed) == 1
    again = now + timedelta(seconds=200)
    assert await detect_offline(state.session, state.broadcaster, settings, now=again) == 0
    assert await status_of(api, alice, endpoint_id) == "ONLINE"  # real clock: still fresh


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_endpoint_events_subscription_yields_the_tenants_events(
    api: Api, alice: Persona, state: AppState, settings: Settings
) -> None:
    schema = create_schema(settings.limits)
    # The app's own context factory, given the request a WebSocket upgrade would carry.
    request = Request(
        {
            "type": "http",
            "method": "GET",
            "path": "/graphql",
            "headers": [(b"authorization", f"Bearer {alice.access_token}".encode())],
            "client": ("127.0.0.1", 40000),
            "query_string": b"",
        }
    )
    context = await CrontopusGraphQL(state).get_context(request, Response())
    stream = await schema.subscribe(
        "subscription { endpointEvents { kind endpointId name occurredAt } }",
        context_value=context,
    )
    assert isinstance(stream, AsyncGenerator)
    first = asyncio.ensure_future(stream.__anext__())
    await until(lambda: state.broadcaster.subscriber_count() == 1)
    endpoint_id, _ = await enrolled_endpoint(api, alice)
    result = await asyncio.wait_for(first, 5)
    assert result.errors is None
    assert result.data is not None
    event = result.data["endpointEvents"]
    assert (event["kind"], event["endpointId"], event["name"]) == (
        "ENROLLED",
        endpoint_id,
        "machine-1",
    )
    await stream.aclose()


async def test_a_websocket_client_of_a_running_server_sees_an_endpoint_enroll(
    live_server: LiveServer,
) -> None:
    async with httpx.AsyncClient(base_url=live_server.url) as client:

        async def graphql(query: str, variables: dict[str, Any], token: str = "") -> Any:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            response = await client.post(
                "/graphql", json={"query": query, "variables": variables}, headers=headers
            )
            return response.json()["data"]

        registered = await graphql(
            REGISTER, {"username": "alice", "email": "alice@example.com", "password": PASSWORD}
        )
        access = registered["register"]["accessToken"]
        created = await graphql(CREATE_TOKEN, {"name": "fleet"}, access)
        enrollment_token = created["createEnrollmentToken"]["plaintext"]
        async with connect(live_server.ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
            init = {"type": "connection_init", "payload": {"authorization": f"Bearer {access}"}}
            await ws.send(json.dumps(init))
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            query = "subscription { endpointEvents { kind endpointId name } }"
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
            await live_server.wait_for_subscribers()
            enrolled = await graphql(ENROLL, enrollment(enrollment_token))
            endpoint_id = enrolled["enrollEndpoint"]["endpoint"]["id"]
            message = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert message["type"] == "next", message
    assert message["payload"]["data"]["endpointEvents"] == {
        "kind": "ENROLLED",
        "endpointId": endpoint_id,
        "name": "machine-1",
    }


UPDATE = """
mutation Update($id: UUID!, $name: String, $labels: [KeyValueInput!]) {
  updateEndpoint(id: $id, name: $name, labels: $labels) {
    __typename
    ... on Endpoint { name labels { key value } }
    ... on UserError { message }
    ... on ValidationError { fields { path message } }
  }
}
"""
BEAT_LABELS = """
mutation { heartbeat(input: {agentVersion: "1.0.0"}) {
  ... on Endpoint { labels { key value } } } }
"""


async def edit_endpoint(api: Api, persona: Persona, endpoint_id: str, **variables: Any) -> Any:
    data = await api.execute(UPDATE, {"id": endpoint_id, **variables}, persona.access_token)
    return data["updateEndpoint"]


async def test_an_admin_relabels_an_endpoint_and_its_agent_and_drift_follow_at_once(
    api: Api, alice: Persona, state: AppState
) -> None:
    await create(api, alice)  # targets role=db
    endpoint_id, token = await enrolled_endpoint(
        api, alice, labels=[{"key": "role", "value": "web"}]
    )
    assert await endpoint_jobs(api, alice, endpoint_id) == []

    updated = await edit_endpoint(
        api, alice, endpoint_id, name="db-7", labels=[{"key": "role", "value": "db"}]
    )

    assert updated == {
        "__typename": "Endpoint",
        "name": "db-7",
        "labels": [{"key": "role", "value": "db"}],
    }
    beat = await api.execute(BEAT_LABELS, {}, token)
    assert beat["heartbeat"]["labels"] == [{"key": "role", "value": "db"}]
    (missing,) = await endpoint_jobs(api, alice, endpoint_id)
    assert (missing["job"]["name"], missing["driftReason"]) == ("backup-database", "MISSING")
    async with state.session() as session:
        audited = (
            await session.scalars(select(AuditEvent).where(AuditEvent.action == "endpoint.edit"))
        ).all()
    assert [a.target for a in audited] == ["endpoint:db-7"]


async def test_omitted_arguments_keep_their_values_and_an_empty_list_clears_labels(
    api: Api, alice: Persona
) -> None:
    endpoint_id, _ = await enrolled_endpoint(api, alice, "keep")
    renamed = await edit_endpoint(api, alice, endpoint_id, name="kept")
    assert renamed["labels"] == [{"key": "role", "value": "db"}]
    cleared = await edit_endpoint(api, alice, endpoint_id, labels=[])
    assert (cleared["name"], cleared["labels"]) == ("kept", [])


async def test_endpoint_labels_are_checked_with_the_enrollment_rules(
    api: Api, alice: Persona
) -> None:
    endpoint_id, _ = await enrolled_endpoint(api, alice)
    bad = await edit_endpoint(
        api,
        alice,
        endpoint_id,
        name=" ",
        labels=[{"key": "bad key", "value": "ok"}, {"key": "tier", "value": "x" * 64}],
    )
    assert bad["__typename"] == "ValidationError"
    paths = [tuple(f["path"]) for f in bad["fields"]]
    assert paths == [("name",), ("labels", "bad key"), ("labels", "tier")]
    twice = await edit_endpoint(
        api, alice, endpoint_id, labels=[{"key": "a", "value": "1"}, {"key": "a", "value": "2"}]
    )
    assert "given twice" in twice["fields"][0]["message"]
    assert (await edit_endpoint(api, alice, endpoint_id))["labels"] == [
        {"key": "role", "value": "db"}
    ]


async def test_only_admins_of_the_tenant_change_endpoints(
    api: Api, alice: Persona, bob: Persona, carol: Persona
) -> None:
    endpoint_id, token = await enrolled_endpoint(api, alice)
    web = [{"key": "role", "value": "web"}]
    assert (await edit_endpoint(api, carol, endpoint_id, labels=web))[
        "__typename"
    ] == "PermissionError"
    by_itself = await api.execute(UPDATE, {"id": endpoint_id, "labels": web}, token)
    assert by_itself["updateEndpoint"]["__typename"] == "PermissionError"
    assert (await edit_endpoint(api, bob, endpoint_id, labels=web))["__typename"] == "NotFoundError"
    assert (await edit_endpoint(api, alice, endpoint_id))["labels"] == [
        {"key": "role", "value": "db"}
    ]
