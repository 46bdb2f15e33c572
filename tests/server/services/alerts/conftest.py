"""Fixtures for alerting tests: a real HTTP receiver on 127.0.0.1, jobs committed to Git with
their `spec.alerts`, check-ins through the real ingest writer, and quick alert cycles."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from crontopus.core.enums import RunStatus
from crontopus.core.manifest import dump_manifest, parse_manifest
from crontopus.server.app import AppState
from crontopus.server.db.models import Endpoint
from crontopus.server.db.types import utcnow
from crontopus.server.gitstore import Author, Put
from crontopus.server.services.alerts.channels.network import Network
from crontopus.server.services.checkins import CheckIn, CheckInKind
from crontopus.server.settings import Settings, outbound_policy_of
from tests.server.conftest import Api, Persona, free_port

#: The operator's allow-list that lets channels reach the receivers these tests run on loopback.
LOCAL_RECEIVERS = "127.0.0.1/32"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Alert cycles every second and retries after a fifth of a second, so tests run quickly;
    channels may reach loopback, where the receivers listen."""
    return replace(
        settings,
        alert_interval=1,
        notification_backoff=0.2,
        outbound=outbound_policy_of(LOCAL_RECEIVERS),
    )


@contextlib.asynccontextmanager
async def local_network(allow: str = LOCAL_RECEIVERS) -> AsyncIterator[Network]:
    """What channels connect through, with `allow` as CRONTOPUS_OUTBOUND_ALLOW."""
    network = Network(outbound_policy_of(allow))
    try:
        yield network
    finally:
        await network.aclose()


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A real HTTP peer: records every request and answers with queued statuses (default 200)."""

    url: str
    requests: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    arrived: asyncio.Condition = field(default_factory=asyncio.Condition)
    #: When set, every answer waits for it (a slow peer); the request is recorded first.
    gate: asyncio.Event | None = None
    #: The body of every answer (JSON `{"status": "success"}` when None).
    answer: bytes | None = None

    async def wait_for(self, count: int, within: float = 10.0) -> list[Received]:
        """Wait until `count` requests arrived; return them all."""
        async with asyncio.timeout(within):
            async with self.arrived:
                await self.arrived.wait_for(lambda: len(self.requests) >= count)
        return list(self.requests)

    async def quiet_for(self, seconds: float) -> list[Received]:
        """Wait `seconds` and return what arrived meanwhile (for "nothing is sent" checks)."""
        await asyncio.sleep(seconds)
        return list(self.requests)


@contextlib.asynccontextmanager
async def serve_app(
    app: Starlette, *, ssl_certfile: str | None = None, ssl_keyfile: str | None = None
) -> AsyncIterator[int]:
    """Serve `app` on a free loopback port (with `ssl_certfile`/`ssl_keyfile` for HTTPS)."""
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(1000):  # up to 10 s for the port to open
        if server.started:
            break
        await asyncio.sleep(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        # A held answer would keep the server waiting for its connection to finish.
        server.force_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task


@contextlib.asynccontextmanager
async def serve_receiver() -> AsyncIterator[Receiver]:
    """Run a recording HTTP peer on a free loopback port."""
    peer = Receiver(url="")

    async def record(request: Request) -> Response:
        body = await request.body()
        async with peer.arrived:
            peer.requests.append(Received(request.url.path, dict(request.headers), body))
            peer.arrived.notify_all()
        if peer.gate is not None:
            await peer.gate.wait()
        status = peer.statuses.pop(0) if peer.statuses else 200
        if peer.answer is not None:
            return Response(peer.answer, status_code=status)
        return JSONResponse({"status": "success"}, status_code=status)

    app = Starlette(routes=[Route("/{path:path}", record, methods=["POST"])])
    async with serve_app(app) as port:
        peer.url = f"http://127.0.0.1:{port}"
        yield peer


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with serve_receiver() as peer:
        yield peer


JOB_TEMPLATE = """\
apiVersion: crontopus.io/v1
kind: Job
metadata:
  id: {id}
  name: {name}
  namespace: {namespace}
spec:
  schedule: "{schedule}"
  command: /bin/true
  graceTime: {grace}
"""


async def commit_job(
    state: AppState,
    persona: Persona,
    name: str,
    *,
    schedule: str = "0 3 1 1 *",  # yearly: clock shifts in tests do not make it miss a run
    grace: int = 300,
    namespace: str = "default",
    alerts: str | None = None,
    extra: str = "",
) -> uuid.UUID:
    """Commit a job manifest (with an optional `spec.alerts` block in YAML) as a git push would."""
    job_id = uuid.uuid4()
    text = JOB_TEMPLATE.format(
        id=job_id, name=name, namespace=namespace, schedule=schedule, grace=grace
    )
    if alerts is not None:
        text += "  alerts: " + alerts + "\n"
    text += extra
    manifest = parse_manifest(text)
    await state.gitstore.commit_changes(
        persona.tenant_slug,
        [Put(manifest.path, dump_manifest(manifest))],
        Author(persona.username, f"{persona.username}@example.com"),
        f"Add {name}",
    )
    return job_id


async def report(
    state: AppState,
    persona: Persona,
    job_id: uuid.UUID,
    status: RunStatus,
    *,
    at: datetime | None = None,
    duration: float = 1.0,
    endpoint_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """Report one finished run through the ingest writer and wait until alerting judged it."""
    finished = at or state.alerts.now()
    run_id = uuid.uuid4()
    await state.ingest.submit(
        CheckIn(
            tenant_id=uuid.UUID(persona.tenant_id),
            run_id=run_id,
            job_id=job_id,
            kind=CheckInKind.FINISH,
            at=finished,
            endpoint_id=endpoint_id,
            status=status,
            exit_code=0 if status is RunStatus.SUCCESS else 1,
            duration_ms=int(duration * 1000),
            started_at=finished - timedelta(seconds=duration),
        )
    )
    await state.alerts.runs.drain()
    return run_id


async def enroll(
    state: AppState, persona: Persona, name: str, labels: dict[str, str], seen: datetime | None
) -> uuid.UUID:
    """Add an endpoint row as enrollment would (heartbeats set `last_seen_at`)."""
    endpoint = Endpoint(
        tenant_id=uuid.UUID(persona.tenant_id),
        name=name,
        hostname=name,
        platform="linux",
        machine_id=uuid.uuid4().hex,
        agent_version="0.1.0",
        labels=labels,
        token_hash=uuid.uuid4().hex + uuid.uuid4().hex,
        enrolled_at=utcnow() - timedelta(days=1),
        last_seen_at=seen,
    )
    async with state.session() as session, session.begin():
        session.add(endpoint)
    return endpoint.id


CREATE_CHANNEL = """
mutation($input: CreateChannelInput!) {
  createChannel(input: $input) {
    __typename
    ... on Channel { id name kind config isDefault }
    ... on UserError { message }
    ... on ValidationError { fields { path message } }
  }
}
"""


async def create_channel(
    api: Api,
    persona: Persona,
    name: str,
    kind: str,
    config: dict[str, Any],
    *,
    is_default: bool = True,
) -> dict[str, Any]:
    data = await api.execute(
        CREATE_CHANNEL,
        {"input": {"name": name, "kind": kind, "config": config, "isDefault": is_default}},
        persona.access_token,
    )
    result: dict[str, Any] = data["createChannel"]
    return result


INCIDENTS = """
query($filter: IncidentFilter) {
  incidents(filter: $filter, first: 50) {
    nodes { id rule status title jobId jobName endpointId details resolvedBy }
  }
}
"""


async def incidents(api: Api, persona: Persona, **where: Any) -> list[dict[str, Any]]:
    data = await api.execute(INCIDENTS, {"filter": where or None}, persona.access_token)
    nodes: list[dict[str, Any]] = data["incidents"]["nodes"]
    return nodes


def shift_clock(state: AppState, to: datetime) -> None:
    """Run the alert engine as if it were `to` now (time keeps flowing from there)."""
    offset = to - utcnow()
    state.alerts.clock = lambda: utcnow() + offset


async def eventually(check: Any, within: float = 5.0) -> Any:
    """Await `check()` until it returns something truthy (results land just after requests)."""
    async with asyncio.timeout(within):
        while True:
            result = await check()
            if result:
                return result
            await asyncio.sleep(0.05)
