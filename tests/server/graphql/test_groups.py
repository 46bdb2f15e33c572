"""Shared subscriptions: subscribers with equal results share one execution, nobody else does."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, cast

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from crontopus.core.enums import RunStatus, RunTrigger
from crontopus.server.db.models import Role
from crontopus.server.events.broadcaster import Event, InProcessBroadcaster
from crontopus.server.events.codec import to_event
from crontopus.server.events.topics import RunChanged, RunChangeKind
from crontopus.server.graphql.context import Context
from crontopus.server.graphql.groups import SubscriptionGroups
from crontopus.server.graphql.schema import create_schema
from crontopus.server.security.principal import Principal, PrincipalKind, Scope
from tests.server.conftest import LiveServer

RUN_EVENTS_QUERY = "subscription($f: RunFilter) { runEvents(filter: $f) { kind run { id jobId } } }"
SAMPLES = ("crontopus_subscription_groups", "crontopus_subscriptions_active")


async def _check_in(server: LiveServer, token: str, job_id: str) -> str:
    run_id = str(uuid.uuid4())
    async with httpx.AsyncClient(base_url=server.url) as client:
        response = await client.post(
            f"/checkin/{job_id}/0", params={"rid": run_id},
            headers={"Authorization": f"Bearer {token}"},
        )  # fmt: skip
    assert response.status_code == 200, response.text
    return run_id


async def _gauges(server: LiveServer) -> tuple[float, float]:
    """Return (shared executions, live subscribers) from /metrics."""
    async with httpx.AsyncClient(base_url=server.url) as client:
        text = (await client.get("/metrics")).text
    values = dict.fromkeys(SAMPLES, -1.0)
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in values:
            values[name] = float(value)
    return values[SAMPLES[0]], values[SAMPLES[1]]


async def _wait_for_gauges(server: LiveServer, groups: int, subscribers: int) -> None:
    deadline = time.monotonic() + 5
    while (seen := await _gauges(server)) != (groups, subscribers):
        assert time.monotonic() < deadline, f"(groups, subscribers) stayed {seen}"
        await asyncio.sleep(0.05)


class Stream:
    """One subscription over a real WebSocket, in either protocol."""

    def __init__(self, ws: ClientConnection, protocol: str, operation_id: str) -> None:
        self.ws = ws
        self.protocol = protocol
        self.id = operation_id

    async def message(self, within: float = 3) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(await asyncio.wait_for(self.ws.recv(), within))
        return message

    async def events(self, count: int, within: float = 3) -> list[dict[str, Any]]:
        """Return the next `count` runEvents (checking every frame's id and type)."""
        events: list[dict[str, Any]] = []
        while len(events) < count:
            message = await self.message(within)
            assert message["id"] == self.id
            assert message["type"] == {"graphql-transport-ws": "next"}.get(self.protocol, "data")
            events += message["payload"]["data"]["runEvents"]
        return events

    async def silent(self, seconds: float = 0.5) -> bool:
        try:
            await asyncio.wait_for(self.ws.recv(), seconds)
        except TimeoutError:
            return True
        return False

    async def stop(self) -> None:
        kind = "complete" if self.protocol == "graphql-transport-ws" else "stop"
        await self.ws.send(json.dumps({"id": self.id, "type": kind}))


@asynccontextmanager
async def subscription(
    server: LiveServer,
    token: str | None,
    variables: dict[str, Any] | None = None,
    *,
    query: str = RUN_EVENTS_QUERY,
    protocol: str = "graphql-transport-ws",
    operation_id: str = "1",
) -> AsyncIterator[Stream]:
    async with connect(server.ws_url, subprotocols=[protocol]) as ws:  # type: ignore[list-item]
        init = {"authorization": f"Bearer {token}"} if token else {}
        await ws.send(json.dumps({"type": "connection_init", "payload": init}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        start = "subscribe" if protocol == "graphql-transport-ws" else "start"
        payload = {"query": query, "variables": variables or {}}
        await ws.send(json.dumps({"id": operation_id, "type": start, "payload": payload}))
        yield Stream(ws, protocol, operation_id)


async def test_subscribers_of_one_tenant_with_the_same_document_share_one_execution(
    live_server: LiveServer,
) -> None:
    alice = await live_server.register("alice")
    async with (
        subscription(live_server, alice) as first,
        subscription(live_server, alice) as second,
        subscription(live_server, alice) as third,
    ):
        await _wait_for_gauges(live_server, groups=1, subscribers=3)
        job_id = str(uuid.uuid4())
        run_id = await _check_in(live_server, alice, job_id)
        received = [await stream.events(1) for stream in (first, second, third)]
    assert received[0] == received[1] == received[2]
    assert received[0] == [{"kind": "FINISHED", "run": {"id": run_id, "jobId": job_id}}]
    await _wait_for_gauges(live_server, groups=0, subscribers=0)


async def test_other_tenants_and_other_arguments_get_executions_of_their_own(
    live_server: LiveServer,
) -> None:
    alice, bob = await live_server.register("alice"), await live_server.register("bob")
    watched, other = str(uuid.uuid4()), str(uuid.uuid4())
    async with (
        subscription(live_server, alice, {"f": {"jobId": watched}}) as alice_watched,
        subscription(live_server, alice, {"f": {"jobId": other}}) as alice_other,
        subscription(live_server, bob, {"f": {"jobId": watched}}) as bob_watched,
    ):
        await _wait_for_gauges(live_server, groups=3, subscribers=3)
        run_id = await _check_in(live_server, alice, watched)
        events = await alice_watched.events(1)
        assert events[0]["run"]["id"] == run_id
        assert await alice_other.silent()
        assert await bob_watched.silent()


async def test_both_websocket_protocols_share_an_execution_with_their_own_operation_ids(
    live_server: LiveServer,
) -> None:
    alice = await live_server.register("alice")
    async with (
        subscription(live_server, alice, operation_id="new") as modern,
        subscription(live_server, alice, protocol="graphql-ws", operation_id="old") as legacy,
    ):
        await _wait_for_gauges(live_server, groups=1, subscribers=2)
        run_id = await _check_in(live_server, alice, str(uuid.uuid4()))
        assert [e["run"]["id"] for e in await modern.events(1)] == [run_id]
        assert [e["run"]["id"] for e in await legacy.events(1)] == [run_id]


async def test_the_stream_goes_on_for_the_others_when_the_first_subscriber_leaves(
    live_server: LiveServer,
) -> None:
    alice = await live_server.register("alice")
    async with subscription(live_server, alice) as second:
        async with subscription(live_server, alice) as first:
            await _wait_for_gauges(live_server, groups=1, subscribers=2)
            await first.stop()
            await _wait_for_gauges(live_server, groups=1, subscribers=1)
        run_id = await _check_in(live_server, alice, str(uuid.uuid4()))
        assert [e["run"]["id"] for e in await second.events(1)] == [run_id]
    await _wait_for_gauges(live_server, groups=0, subscribers=0)


async def test_an_unauthenticated_subscriber_is_refused_and_joins_no_group(
    live_server: LiveServer,
) -> None:
    alice = await live_server.register("alice")
    async with subscription(live_server, alice):
        await _wait_for_gauges(live_server, groups=1, subscribers=1)
        async with subscription(live_server, None) as anonymous:
            message = await anonymous.message()
        errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
        assert "authentication required" in errors[0]["message"]
        assert await _gauges(live_server) == (1, 1)


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
async def test_an_invalid_selection_of_a_shared_field_is_refused_to_each_subscriber(
    live_server: LiveServer, protocol: str
) -> None:
    alice = await live_server.register("alice")
    query = "subscription { runEvents { nope } }"
    async with (
        subscription(live_server, alice, query=query, protocol=protocol) as first,
        subscription(live_server, alice, query=query, protocol=protocol) as second,
    ):
        for stream in (first, second):
            message = await stream.message()
            assert message["type"] == "error"
            error = (
                message["payload"][0]
                if isinstance(message["payload"], list)
                else message["payload"]
            )
            assert "Cannot query field 'nope'" in error["message"]
    await _wait_for_gauges(live_server, groups=0, subscribers=0)


def _principal(**changes: Any) -> Principal:
    values: dict[str, Any] = {
        "kind": PrincipalKind.USER,
        "tenant_id": uuid.UUID(int=1),
        "tenant_slug": "alice",
        "role": Role.OWNER,
        "user_id": uuid.UUID(int=10),
        "username": "alice",
    }
    return Principal(**(values | changes))


def _context(principal: Principal | None, broadcaster: InProcessBroadcaster) -> Context:
    fields: dict[str, Any] = dict.fromkeys(
        ("settings", "session", "limiter", "identities", "gitstore", "ingest", "job_directory",
         "request"),
    )  # fmt: skip
    return Context(
        **fields,
        broadcaster=broadcaster,
        request_id="test",
        client_address="127.0.0.1",
        principal=principal,
    )


def test_principals_that_may_see_different_data_never_share_an_execution() -> None:
    groups = SubscriptionGroups(create_schema())
    bus = InProcessBroadcaster()

    def key(principal: Principal | None, variables: dict[str, Any] | None = None) -> object:
        return groups.key_for(_context(principal, bus), RUN_EVENTS_QUERY, variables, None)

    owner = key(_principal())
    assert owner is not None
    # Another person of the same role in the same tenant sees the same runs.
    assert key(_principal(user_id=uuid.UUID(int=11), username="dave")) == owner
    different = [
        key(_principal(tenant_id=uuid.UUID(int=2), tenant_slug="bob")),
        key(_principal(role=Role.VIEWER)),
        key(_principal(kind=PrincipalKind.API_TOKEN, scopes=frozenset({Scope.READ}))),
        key(_principal(kind=PrincipalKind.ENDPOINT, endpoint_id=uuid.UUID(int=5))),
        key(_principal(), {"f": {"status": "FAILED"}}),
    ]
    assert owner not in different
    assert len(set(different)) == len(different)
    assert key(None) is None
    # Only fields marked shared are grouped: the heartbeat starts its own clock.
    heartbeat = groups.key_for(_context(_principal(), bus), "subscription { heartbeat }", {}, None)
    assert heartbeat is None


def _run_event() -> Event:
    started = datetime(2026, 1, 1, tzinfo=UTC)
    changed = RunChanged(
        kind=RunChangeKind.FINISHED,
        id=uuid.uuid4(),
        job_id=uuid.uuid4(),
        job_name=None,
        namespace=None,
        endpoint_id=None,
        status=RunStatus.SUCCESS,
        started_at=started,
        finished_at=started,
        duration_ms=0,
        exit_code=0,
        unknown_job=False,
        trigger=RunTrigger.SCHEDULE,
    )
    return to_event(uuid.UUID(int=1), changed)


def _run_ids(delivery: object) -> list[str]:
    payload = json.loads(cast(str, delivery))
    return [event["run"]["id"] for event in payload["data"]["runEvents"]]


async def test_a_member_that_stops_reading_is_cut_off_and_the_others_go_on() -> None:
    bus = InProcessBroadcaster()
    groups = SubscriptionGroups(create_schema(), capacity=2)
    context = _context(_principal(), bus)
    key = groups.key_for(context, RUN_EVENTS_QUERY, None, None)
    assert key is not None
    slow, fast = groups.stream(key, context), groups.stream(key, context)
    slow_first, fast_first = asyncio.ensure_future(anext(slow)), asyncio.ensure_future(anext(fast))
    while bus.subscriber_count() == 0:  # noqa: ASYNC110 - the group's task subscribes
        await asyncio.sleep(0.01)
    bus.publish_nowait(first := _run_event())
    assert _run_ids(await slow_first) == _run_ids(await fast_first) == [str(first.data["id"])]

    # The slow member reads no more; each event is its own message (one coalescing window).
    for _ in range(3):
        bus.publish_nowait(event := _run_event())
        assert _run_ids(await anext(fast)) == [event.data["id"]]
    left = [json.loads(cast(str, delivery)) async for delivery in slow]
    assert [message["data"] for message in left] == [None]
    message = left[0]["errors"][0]["message"]
    assert "more than 2 runEvents messages were waiting for this subscriber" in message
    assert "resubscribe and reload" in message

    bus.publish_nowait(event := _run_event())
    assert _run_ids(await anext(fast)) == [event.data["id"]]
    assert groups.group_count() == 1
    await fast.aclose()
    assert groups.group_count() == 0
