"""The agent channel: `agentEvents` tells an endpoint its own events; its socket is watched."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import event, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import async_sessionmaker
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from crontopus.server.db.engine import create_engine
from crontopus.server.db.models import Endpoint
from crontopus.server.db.types import utcnow
from crontopus.server.graphql.credentials import CredentialWatch, EndpointWatches, Lapse
from crontopus.server.security.identity_cache import Identity
from crontopus.server.services.authentication import EndpointLookups
from crontopus.server.services.channel import AgentChannels
from crontopus.server.settings import Settings
from tests.server.conftest import PASSWORD, REGISTER, Served, serve_in_process
from tests.server.graphql.test_enrollment import ENROLL, enrollment

AGENT_EVENTS = "subscription { agentEvents { kind commitId jobId requestId } }"
CREATE_ENROLLMENT_TOKEN = """
mutation { createEnrollmentToken(name: "agents") {
  ... on CreatedEnrollmentToken { plaintext } } }
"""
CREATE_JOB = """
mutation($input: JobInput!) { createJob(input: $input) { __typename ... on Job { id } } }
"""
HEAD = "{ repository { headCommit } }"
REVOKE = "mutation($id: UUID!) { revokeEndpoint(id: $id) { __typename } }"
#: Within the credential interval (1 s here) and a margin for a loaded machine.
NOTICE = 10.0


async def graphql(server: Served, query: str, variables: Any = None, token: str = "") -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        response = await client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
    body = response.json()
    assert not body.get("errors"), body
    return body["data"]


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[Served]:
    async with serve_in_process(replace(settings, auth_cache_seconds=1.0)) as served:
        yield served


async def tenant(server: Served) -> str:
    registered = await graphql(
        server,
        REGISTER,
        {"username": "alice", "email": "alice@example.com", "password": PASSWORD},
    )
    access: str = registered["register"]["accessToken"]
    return access


async def endpoint(server: Served, access: str, machine: str, role: str) -> tuple[str, str]:
    token = (await graphql(server, CREATE_ENROLLMENT_TOKEN, token=access))["createEnrollmentToken"]
    variables = enrollment(token["plaintext"], machine, labels=[{"key": "role", "value": role}])
    result = (await graphql(server, ENROLL, variables))["enrollEndpoint"]
    assert result["__typename"] == "EnrolledEndpoint", result
    return result["endpoint"]["id"], result["endpointToken"]


async def create_job(server: Served, access: str, name: str, role: str | None = None) -> str:
    spec: dict[str, Any] = {"name": name, "schedule": "0 2 * * *", "command": "true"}
    if role is not None:
        spec["targetLabels"] = [{"key": "role", "value": role}]
    created = (await graphql(server, CREATE_JOB, {"input": spec}, access))["createJob"]
    assert created["__typename"] == "Job", created
    head: str = (await graphql(server, HEAD, token=access))["repository"]["headCommit"]
    return head


@pytest.fixture
async def channel_of(server: Served) -> AsyncIterator[Any]:
    sockets: list[ClientConnection] = []

    async def open_channel(token: str) -> ClientConnection:
        ws = await connect(server.ws_url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
        sockets.append(ws)
        init = {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
        await ws.send(json.dumps(init))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        subscribe = {"id": "1", "type": "subscribe", "payload": {"query": AGENT_EVENTS}}
        await ws.send(json.dumps(subscribe))
        return ws

    yield open_channel
    for ws in sockets:
        await ws.close()


async def told(ws: ClientConnection) -> dict[str, Any]:
    message = json.loads(await asyncio.wait_for(ws.recv(), NOTICE))
    assert message["type"] == "next", message
    event: dict[str, Any] = message["payload"]["data"]["agentEvents"]
    return event


async def close_code(ws: ClientConnection) -> int | None:
    """Read until the server closes the socket; return the close code."""
    try:
        async with asyncio.timeout(NOTICE):
            while True:
                await ws.recv()
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd is not None else None


async def test_an_agent_is_told_head_first_then_only_the_commits_that_change_its_jobs(
    server: Served, channel_of: Any
) -> None:
    access = await tenant(server)
    _, web_token = await endpoint(server, access, "web-1", "web")
    first = await create_job(server, access, "everywhere")
    ws = await channel_of(web_token)

    assert await told(ws) == {
        "kind": "CONNECTED", "commitId": first, "jobId": None, "requestId": None,
    }  # fmt: skip
    await create_job(server, access, "db-only", role="db")
    web = await create_job(server, access, "web-only", role="web")

    # The db job's commit was not told: the next event is the web job's.
    event = await told(ws)
    assert event["kind"] == "REPOSITORY_CHANGED"
    assert event["commitId"] == web


async def test_agents_sharing_a_channel_are_each_told_only_their_own_events(
    server: Served, channel_of: Any
) -> None:
    access = await tenant(server)
    web_id, web_token = await endpoint(server, access, "web-1", "web")
    _, other_web_token = await endpoint(server, access, "web-2", "web")
    _, db_token = await endpoint(server, access, "db-1", "db")
    web, other_web, db = [await channel_of(t) for t in (web_token, other_web_token, db_token)]
    for ws in (web, other_web, db):
        assert (await told(ws))["kind"] == "CONNECTED"

    db_commit = await create_job(server, access, "db-only", role="db")
    web_commit = await create_job(server, access, "web-only", role="web")
    await graphql(server, REVOKE, {"id": web_id}, access)
    everywhere = await create_job(server, access, "everywhere")

    assert [(await told(db))["commitId"] for _ in range(2)] == [db_commit, everywhere]
    assert (await told(web))["commitId"] == web_commit
    assert (await told(web))["kind"] == "REVOKED"
    assert await close_code(web) == 4401
    # The other web agent shares the channel but not the revocation of its neighbour.
    assert [(await told(other_web))["commitId"] for _ in range(2)] == [web_commit, everywhere]


async def test_a_revoked_endpoint_is_told_and_its_socket_closed(
    server: Served, channel_of: Any
) -> None:
    access = await tenant(server)
    endpoint_id, token = await endpoint(server, access, "web-1", "web")
    ws = await channel_of(token)
    assert (await told(ws))["kind"] == "CONNECTED"

    await graphql(server, REVOKE, {"id": endpoint_id}, access)

    assert (await told(ws))["kind"] == "REVOKED"
    assert await close_code(ws) == 4401


UPDATE_LABELS = """
mutation($id: UUID!, $labels: [KeyValueInput!]) { updateEndpoint(id: $id, labels: $labels) {
  __typename } }
"""


async def test_a_label_change_tells_the_agent_at_once_and_later_commits_follow_the_new_labels(
    server: Served, channel_of: Any
) -> None:
    access = await tenant(server)
    web_id, web_token = await endpoint(server, access, "web-1", "web")
    _, other_token = await endpoint(server, access, "web-2", "web")
    web, other = await channel_of(web_token), await channel_of(other_token)
    for ws in (web, other):
        assert (await told(ws))["kind"] == "CONNECTED"

    labels = [{"key": "role", "value": "db"}]
    changed = await graphql(server, UPDATE_LABELS, {"id": web_id, "labels": labels}, access)
    assert changed["updateEndpoint"]["__typename"] == "Endpoint"

    assert await told(web) == {
        "kind": "LABELS_CHANGED", "commitId": None, "jobId": None, "requestId": None,
    }  # fmt: skip
    # Past two credential checks (1 s apart here): the socket stays open with its new labels.
    await asyncio.sleep(2.5)
    web_commit = await create_job(server, access, "web-only", role="web")
    db_commit = await create_job(server, access, "db-only", role="db")
    event = await told(web)
    assert (event["kind"], event["commitId"]) == ("REPOSITORY_CHANGED", db_commit)
    # Its neighbour heard nothing of the label change, and keeps its own labels.
    event = await told(other)
    assert (event["kind"], event["commitId"]) == ("REPOSITORY_CHANGED", web_commit)


async def test_labels_changed_elsewhere_close_the_channel_so_the_agent_reconnects(
    server: Served, channel_of: Any, settings: Settings
) -> None:
    access = await tenant(server)
    endpoint_id, token = await endpoint(server, access, "web-1", "web")
    ws = await channel_of(token)
    assert (await told(ws))["kind"] == "CONNECTED"
    # As another server process would: straight in the database.
    engine = create_engine(settings.database_url)
    try:
        async with async_sessionmaker(engine)() as db:
            await db.execute(
                update(Endpoint)
                .where(Endpoint.id == uuid.UUID(endpoint_id))
                .values(labels={"role": "db"})
            )
            await db.commit()
    finally:
        await engine.dispose()

    assert await close_code(ws) == 4403


async def test_connected_endpoints_are_kept_online_in_one_statement(settings: Settings) -> None:
    engine = create_engine(settings.database_url)
    try:
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        async with serve_in_process(settings) as server:
            access = await tenant(server)
            ids = [
                uuid.UUID((await endpoint(server, access, f"m-{n}", "web"))[0]) for n in range(3)
            ]
        long_ago = utcnow() - timedelta(days=1)
        async with sessions() as db:
            await db.execute(update(Endpoint).values(last_seen_at=long_ago))
            await db.commit()
        channels = AgentChannels(sessions, interval=30)
        channels.opened(ids[0])
        channels.opened(ids[1])
        channels.opened(ids[1])
        channels.closed(ids[1])  # still one channel open

        assert await channels.stamp() == 2

        async with sessions() as db:
            rows = (await db.execute(select(Endpoint.id, Endpoint.last_seen_at))).all()
        seen = {endpoint_id: last for endpoint_id, last in rows if last is not None}
        assert seen[ids[0]] > long_ago
        assert seen[ids[1]] > long_ago
        assert seen[ids[2]] == long_ago
    finally:
        await engine.dispose()


async def test_endpoint_tokens_looked_up_at_once_are_read_in_one_statement(
    settings: Settings,
) -> None:
    engine = create_engine(settings.database_url)
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "token_hash" in statement:
            statements.append(statement)

    try:
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        async with serve_in_process(settings) as server:
            access = await tenant(server)
            enrolled = [await endpoint(server, access, f"m-{n}", "web") for n in range(3)]
            await graphql(server, REVOKE, {"id": enrolled[2][0]}, access)
        event.listen(engine.sync_engine, "before_cursor_execute", count)
        lookups = EndpointLookups(sessions)
        tokens = [token for _id, token in enrolled] + ["cte_" + "x" * 40]

        results = await asyncio.gather(
            *(lookups.identity(token) for token in tokens), return_exceptions=True
        )

        assert len(statements) == 1
        identities = [r for r in results if isinstance(r, Identity)]
        ids = [str(identity.principal.endpoint_id) for identity in identities]
        assert ids == [enrolled[0][0], enrolled[1][0]]
        assert [str(r) for r in results[2:]] == [
            "this endpoint was revoked; enroll the agent again",
            "unknown endpoint token; enroll the agent again",
        ]
    finally:
        await engine.dispose()


class _Socket:
    """What a credential watch reads of its socket: the principal and identity it was given."""

    def __init__(self, identity: Identity, token: str) -> None:
        self.principal = identity.principal
        self.identity = identity
        self.credential = token


async def test_a_credential_recheck_reads_only_the_endpoints_whose_credentials_changed(
    settings: Settings,
) -> None:
    engine = create_engine(settings.database_url)
    try:
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        async with serve_in_process(settings) as server:
            access = await tenant(server)
            enrolled = [await endpoint(server, access, f"m-{n}", "web") for n in range(3)]
        ids = [uuid.UUID(endpoint_id) for endpoint_id, _token in enrolled]
        lookups = EndpointLookups(sessions)
        now = [0.0]
        watches = EndpointWatches(sessions, 1.0, full_every=600.0, clock=lambda: now[0])
        lapses: dict[int, Lapse] = {}
        for number, (_id, token) in enumerate(enrolled):

            async def lapsed(lapse: Lapse, number: int = number) -> None:
                lapses[number] = lapse

            socket = _Socket(await lookups.identity(token), token)
            watches.add(CredentialWatch(socket, lookups.identity, lapsed, endpoints=watches))  # type: ignore[arg-type]

        assert await watches.check_all() == 0
        assert watches.rows_read == 3  # the first check reads every row
        # What a connected fleet writes all the time (presence, heartbeats) changes no credential.
        async with sessions() as db:
            await db.execute(
                update(Endpoint).values(last_seen_at=utcnow(), agent_version="2.0", driver="cron")
            )
            await db.commit()
        now[0] += 5
        assert await watches.check_all() == 0
        assert watches.rows_read == 0

        # Revoked straight in the database, as another server process would.
        async with sessions() as db:
            await db.execute(
                update(Endpoint).where(Endpoint.id == ids[1]).values(revoked_at=utcnow())
            )
            await db.commit()
        now[0] += 5
        assert await watches.check_all() == 1
        assert watches.rows_read == 1
        await asyncio.sleep(0.1)  # the socket closes in a task of its own
        assert list(lapses) == [1]
        assert lapses[1].close_code == 4401

        now[0] += 600  # every row again, changed or not, once in a while
        await watches.check_all()
        assert watches.rows_read == 2  # the revoked socket's watch has lapsed
    finally:
        await engine.dispose()


async def test_a_check_in_from_an_agent_with_its_channel_open_needs_no_token_look_up(
    server: Served, channel_of: Any, settings: Settings
) -> None:
    access = await tenant(server)
    (_first, first), (second_id, second) = [
        await endpoint(server, access, f"m-{n}", "web") for n in range(2)
    ]
    for token in (first, second):
        assert (await told(await channel_of(token)))["kind"] == "CONNECTED"
    await asyncio.sleep(1.2)  # what connecting cached has expired (the interval is 1 s here)
    looked_up: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "token_hash" in statement and "JOIN tenants" in statement:
            looked_up.append(statement)

    async def check_in(token: str) -> int:
        async with httpx.AsyncClient(base_url=server.url) as client:
            response = await client.post(
                f"/checkin/{uuid.uuid4()}/success",
                params={"rid": str(uuid.uuid4())},
                headers={"Authorization": f"Bearer {token}"},
            )
        return response.status_code

    event.listen(Engine, "before_cursor_execute", count)
    try:
        # The first reads its credential, and so its tenant; the second's channel answers.
        assert await check_in(first) == 200
        assert await check_in(second) == 200
        assert len(looked_up) == 1

        # Revoked straight in the database, as another server process would: the channel
        # closes within the interval, and the token is looked up (and refused) again.
        engine = create_engine(settings.database_url)
        try:
            async with async_sessionmaker(engine)() as db:
                revoked = update(Endpoint).where(Endpoint.id == uuid.UUID(second_id))
                await db.execute(revoked.values(revoked_at=utcnow()))
                await db.commit()
        finally:
            await engine.dispose()
        await asyncio.sleep(2.5)
        assert await check_in(second) == 401
    finally:
        event.remove(Engine, "before_cursor_execute", count)
