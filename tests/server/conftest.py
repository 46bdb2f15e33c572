"""Fixtures for server tests: a migrated database per test on SQLite and PostgreSQL,
the ASGI app, a GraphQL client and the personas alice, bob and carol."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from crontopus.server.app import AppState, create_app, create_state
from crontopus.server.db.engine import create_engine
from crontopus.server.db.migrate import upgrade
from crontopus.server.db.models import Base
from crontopus.server.settings import Settings, normalise_database_url
from tests.support import POSTGRES_URL_VARIABLE, postgres_url

BACKENDS = ["sqlite", "postgresql"]
PASSWORD = "correct horse battery staple"


async def create_postgres_database(admin_url: str, name: str) -> str:
    """Create an empty database next to `admin_url`'s and return its async URL."""
    admin = create_engine(normalise_database_url(admin_url), isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await admin.dispose()
    url = make_url(normalise_database_url(admin_url)).set(database=name)
    return url.render_as_string(hide_password=False)


async def drop_postgres_database(admin_url: str, name: str) -> None:
    admin = create_engine(normalise_database_url(admin_url), isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


def require_postgres() -> str:
    url = postgres_url()
    if url is None:
        pytest.skip(f"PostgreSQL half skipped: set {POSTGRES_URL_VARIABLE} (CI sets it)")
    return url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating each time would be slow)."""
    path = tmp_path_factory.mktemp("template") / "crontopus.db"
    asyncio.run(upgrade(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """A migrated PostgreSQL database shared by the session; tests truncate it."""
    admin_url = require_postgres()
    name = f"crontopus_test_{uuid.uuid4().hex[:10]}"
    url = asyncio.run(create_postgres_database(admin_url, name))
    asyncio.run(upgrade(url))
    yield url
    asyncio.run(drop_postgres_database(admin_url, name))


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database: once on SQLite, once on PostgreSQL."""
    if request.param == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        path = tmp_path / "crontopus.db"
        shutil.copyfile(template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    url = request.getfixturevalue("postgres_template")
    asyncio.run(_truncate(url))
    yield url


async def _truncate(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
            await connection.execute(text(f"TRUNCATE {tables} CASCADE"))
    finally:
        await engine.dispose()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings.from_env(
        {
            "CRONTOPUS_DATA_DIR": str(tmp_path / "data"),
            "CRONTOPUS_DATABASE_URL": database_url,
        }
    )


@pytest.fixture
async def state(settings: Settings) -> AsyncIterator[AppState]:
    state = create_state(settings)
    await state.start()
    yield state
    await state.stop()


class GraphQLFailed(AssertionError):
    pass


@dataclass
class Api:
    """A GraphQL client over the app's real ASGI stack."""

    client: httpx.AsyncClient
    headers: dict[str, str] = field(default_factory=dict)
    app: Any = None

    def client_from(self, host: str) -> httpx.AsyncClient:
        """Another client of the same app, whose requests come from `host`."""
        transport = httpx.ASGITransport(app=self.app, client=(host, 40001))
        return httpx.AsyncClient(transport=transport, base_url="http://testserver")

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        headers = dict(self.headers)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def execute(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        """Run an operation that must succeed without GraphQL errors; return `data`."""
        body = await self.post(query, variables, token)
        if body.get("errors"):
            raise GraphQLFailed(body["errors"])
        data: dict[str, Any] = body["data"]
        return data

    async def error_of(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        """Run an operation that must fail with a GraphQL error; return the first error."""
        body = await self.post(query, variables, token)
        assert body.get("errors"), body
        error: dict[str, Any] = body["errors"][0]
        return error


@pytest.fixture
async def api(state: AppState, settings: Settings) -> AsyncIterator[Api]:
    app = create_app(settings, state)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield Api(client, app=app)


REGISTER = """
mutation Register($username: String!, $email: String!, $password: String!) {
  register(username: $username, email: $email, password: $password) {
    __typename
    ... on AuthPayload { accessToken refreshToken role user { id username } tenant { id slug } }
    ... on UserError { message }
    ... on ValidationError { fields { path message } }
  }
}
"""

ADD_MEMBER = """
mutation Add($username: String!, $role: Role!) {
  addMember(username: $username, role: $role) {
    __typename
    ... on Membership { role user { username } }
    ... on UserError { message }
  }
}
"""

LOGIN = """
mutation Login($username: String!, $password: String!, $tenant: String) {
  login(username: $username, password: $password, tenant: $tenant) {
    __typename
    ... on AuthPayload { accessToken refreshToken role tenant { id slug } user { id } }
    ... on UserError { message }
    ... on RateLimitedError { retryAfterSeconds }
  }
}
"""


@dataclass
class Persona:
    username: str
    password: str
    user_id: str
    tenant_id: str
    tenant_slug: str
    access_token: str
    refresh_token: str


async def register(api: Api, username: str) -> Persona:
    data = await api.execute(
        REGISTER, {"username": username, "email": f"{username}@example.com", "password": PASSWORD}
    )
    result = data["register"]
    assert result["__typename"] == "AuthPayload", result
    return Persona(
        username=username,
        password=PASSWORD,
        user_id=result["user"]["id"],
        tenant_id=result["tenant"]["id"],
        tenant_slug=result["tenant"]["slug"],
        access_token=result["accessToken"],
        refresh_token=result["refreshToken"],
    )


async def login(api: Api, username: str, tenant: str | None = None) -> Persona:
    data = await api.execute(LOGIN, {"username": username, "password": PASSWORD, "tenant": tenant})
    result = data["login"]
    assert result["__typename"] == "AuthPayload", result
    return Persona(
        username=username,
        password=PASSWORD,
        user_id=result["user"]["id"],
        tenant_id=result["tenant"]["id"],
        tenant_slug=result["tenant"]["slug"],
        access_token=result["accessToken"],
        refresh_token=result["refreshToken"],
    )


@pytest.fixture
async def alice(api: Api) -> Persona:
    """Owner of tenant `alice`."""
    return await register(api, "alice")


@pytest.fixture
async def bob(api: Api) -> Persona:
    """Owner of tenant `bob`: never sees anything of alice's."""
    return await register(api, "bob")


@pytest.fixture
async def carol(api: Api, alice: Persona) -> Persona:
    """A viewer in alice's tenant (her own tenant is `carol`)."""
    await register(api, "carol")
    data = await api.execute(
        ADD_MEMBER, {"username": "carol", "role": "VIEWER"}, alice.access_token
    )
    assert data["addMember"]["__typename"] == "Membership", data
    return await login(api, "carol", tenant="alice")


@dataclass
class LiveServer:
    """A real `crontopus-server serve` process on a loopback port."""

    url: str
    process: subprocess.Popen[bytes]

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/graphql"

    async def register(self, username: str) -> str:
        """Register a user (and their tenant) over HTTP; return their access token."""
        # A sign-up hashes a password and creates a repository: on a machine busy with other
        # test workers that can take longer than httpx's 5-second default.
        async with httpx.AsyncClient(base_url=self.url, timeout=30) as client:
            response = await client.post(
                "/graphql",
                json={"query": REGISTER, "variables": {
                    "username": username, "email": f"{username}@example.com",
                    "password": PASSWORD}},
            )  # fmt: skip
        token: str = response.json()["data"]["register"]["accessToken"]
        return token

    async def wait_for_subscribers(self, count: int = 1) -> None:
        """Wait until the server holds `count` live subscriptions (its /metrics gauge says so).

        A subscription registers with the event bus once its resolver starts, a moment after
        the client sent it: an event published before that is not for it.
        """
        gauge = "crontopus_subscriptions_active "
        async with asyncio.timeout(20), httpx.AsyncClient(base_url=self.url) as client:
            while True:
                text = (await client.get("/metrics")).text
                values = [
                    float(line.split()[1]) for line in text.splitlines() if line.startswith(gauge)
                ]
                if values and values[0] >= count:
                    return
                await asyncio.sleep(0.05)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(env: dict[str, str], *, migrate: bool = False) -> LiveServer:
    """Start the server command and wait until /health answers."""
    port = free_port()
    command = [str(Path(sys.executable).parent / "crontopus-server"), "--log-level", "warning"]
    command += ["serve", "--host", "127.0.0.1", "--port", str(port)]
    if migrate:
        command.append("--migrate")
    process = subprocess.Popen(command, env={**os.environ, **env})
    url = f"http://127.0.0.1:{port}"
    # Generous: on a loaded machine the server takes seconds to import and start.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"crontopus-server exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return LiveServer(url, process)
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    process.wait()  # reaped here, not reported as a leak in whichever test runs next
    raise RuntimeError("crontopus-server did not become healthy within 60 s")


def stop_server(server: LiveServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@dataclass(frozen=True)
class Served:
    """The app served by uvicorn inside the test's own process, on a loopback port."""

    url: str

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/graphql"


@contextlib.asynccontextmanager
async def serve_in_process(settings: Settings) -> AsyncIterator[Served]:
    """Serve `create_app(settings)` with the server's own uvicorn options until the block ends.

    Real sockets and a real WebSocket stack, without the seconds a child interpreter costs;
    the test can also reach into the same process (a patched resolver, the identity cache).
    """
    import uvicorn

    from crontopus.server.serving import uvicorn_options

    port = free_port()
    config = uvicorn.Config(
        create_app(settings),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        **uvicorn_options(settings),
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "uvicorn did not start"
        await asyncio.sleep(0.02)
    try:
        yield Served(f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        await task


@pytest.fixture
def live_server(settings: Settings) -> Iterator[LiveServer]:
    server = start_server(
        {
            "CRONTOPUS_DATA_DIR": str(settings.data_dir),
            "CRONTOPUS_DATABASE_URL": settings.database_url,
        }
    )
    yield server
    stop_server(server)


@contextlib.contextmanager
def sqlite_server(template: Path, directory: Path, env: dict[str, str]) -> Iterator[LiveServer]:
    """A live server on a copy of the migrated SQLite template, with extra settings in `env`."""
    path = directory / "crontopus.db"
    shutil.copyfile(template, path)
    server = start_server(
        {
            "CRONTOPUS_DATA_DIR": str(directory / "data"),
            "CRONTOPUS_DATABASE_URL": f"sqlite+aiosqlite:///{path}",
            **env,
        }
    )
    try:
        yield server
    finally:
        stop_server(server)
