"""Rate limits as clients meet them: HTTP 429 with Retry-After, GraphQL RateLimitedError."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from starlette.applications import Starlette

from crontopus.server.app import create_app, create_state
from crontopus.server.settings import Settings
from tests.server.conftest import (
    LOGIN,
    PASSWORD,
    REGISTER,
    Api,
    _truncate,
    register,
    start_server,
    stop_server,
)
from tests.server.graphql.test_enrollment import ENROLL, create_enrollment_token, enrollment
from tests.server.graphql.test_runs import CHECK_IN
from tests.server.routes.test_checkin import setup

ATTACKER = "198.51.100.66"
CREATE_JOB = """
mutation($name: String!) { createJob(input: {name: $name, schedule: "0 2 * * *", command: "/x"}) {
  __typename ... on RateLimitedError { retryAfterSeconds message } } }
"""


@contextlib.asynccontextmanager
async def server(database_url: str, tmp_path: Path, **limits: str) -> AsyncIterator[Starlette]:
    """A server with these CRONTOPUS_RATE_LIMIT_* settings (the rest default)."""
    env = {f"CRONTOPUS_RATE_LIMIT_{name.upper()}": value for name, value in limits.items()}
    async with server_with(database_url, tmp_path, env) as app:
        yield app


@contextlib.asynccontextmanager
async def server_with(
    database_url: str, tmp_path: Path, env: dict[str, str]
) -> AsyncIterator[Starlette]:
    """The app with these settings on top of the test database, started and stopped."""
    settings = Settings.from_env(
        {"CRONTOPUS_DATA_DIR": str(tmp_path / "data"), "CRONTOPUS_DATABASE_URL": database_url} | env
    )
    state = create_state(settings)
    await state.start()
    try:
        yield create_app(settings, state)
    finally:
        await state.stop()


def client_from(app: Starlette, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def test_sign_ups_from_one_address_stop_at_the_limit_and_others_still_sign_up(
    database_url: str, tmp_path: Path
) -> None:
    # The default (10 an hour) is the settings' test; a smaller one keeps this one fast.
    async with (
        server(database_url, tmp_path, register="3/hour") as app,
        client_from(app, "203.0.113.7") as client,
    ):
        api = Api(client)
        for index in range(3):
            await register(api, f"user{index}")
        data = await api.execute(
            REGISTER,
            {"username": "user10", "email": "u10@example.com", "password": PASSWORD},
        )
        refused = data["register"]
        assert refused["__typename"] == "RateLimitedError"
        assert "sign-ups from your address" in refused["message"]
        assert "CRONTOPUS_RATE_LIMIT_REGISTER" in refused["message"]
        async with client_from(app, "203.0.113.8") as elsewhere:
            await register(Api(elsewhere), "user10")


async def test_a_guesser_elsewhere_cannot_lock_the_owner_out(
    database_url: str, tmp_path: Path
) -> None:
    async with (
        server(database_url, tmp_path, login="3/15m") as app,
        client_from(app, "203.0.113.7") as own,
        client_from(app, ATTACKER) as bad,
    ):
        owner, attacker = Api(own), Api(bad)
        await register(owner, "alice")
        for _ in range(3):
            wrong = {"username": "alice", "password": "not-the-password"}
            assert (await attacker.execute(LOGIN, wrong))["login"][
                "__typename"
            ] == "AuthenticationError"
        refused = (await attacker.execute(LOGIN, {"username": "alice", "password": PASSWORD}))[
            "login"
        ]
        assert refused["__typename"] == "RateLimitedError"
        assert 0 < refused["retryAfterSeconds"] <= 300
        for _ in range(2):  # the owner, from her own address, is not affected
            ok = await owner.execute(LOGIN, {"username": "alice", "password": PASSWORD})
            assert ok["login"]["__typename"] == "AuthPayload"


async def test_logins_from_one_address_are_limited_across_accounts(
    database_url: str, tmp_path: Path
) -> None:
    async with (
        server(database_url, tmp_path, login_address="4/minute") as app,
        client_from(app, ATTACKER) as bad,
    ):
        attacker = Api(bad)
        answers = [
            (await attacker.execute(LOGIN, {"username": f"u{n}", "password": "guess-guess"}))[
                "login"
            ]["__typename"]
            for n in range(6)
        ]
    assert answers == ["AuthenticationError"] * 4 + ["RateLimitedError"] * 2


async def test_enrollments_are_limited_per_address(database_url: str, tmp_path: Path) -> None:
    async with (
        server(database_url, tmp_path, enroll="2/minute") as app,
        client_from(app, "203.0.113.7") as own,
        client_from(app, ATTACKER) as bad,
    ):
        alice = await register(Api(own), "alice")
        token = (await create_enrollment_token(Api(own), alice))["plaintext"]
        answers = []
        for machine in ("m1", "m2", "m3"):
            data = await Api(bad).execute(ENROLL, enrollment(token, machine))
            answers.append(data["enrollEndpoint"]["__typename"])
        assert answers == ["EnrolledEndpoint", "EnrolledEndpoint", "RateLimitedError"]
        data = await Api(own).execute(ENROLL, enrollment(token, "m4"))
        assert data["enrollEndpoint"]["__typename"] == "EnrolledEndpoint"


async def test_check_ins_over_a_tenants_rate_get_429_with_retry_after(
    database_url: str, tmp_path: Path
) -> None:
    async with (
        server(database_url, tmp_path, checkins="3/minute") as app,
        client_from(app, "203.0.113.7") as client,
    ):
        api = Api(client)
        alice, bob = await register(api, "alice"), await register(api, "bob")
        (job, token), (bobs_job, bobs_token) = await setup(api, alice), await setup(api, bob)
        statuses = []
        for _ in range(4):
            response = await client.post(
                f"/checkin/{job}/0",
                params={"rid": str(uuid.uuid4())},
                headers={"Authorization": f"Bearer {token}"},
            )
            statuses.append(response.status_code)
        assert statuses == [200, 200, 200, 429]
        assert 1 <= int(response.headers["Retry-After"]) <= 20
        assert response.json()["retryAfterSeconds"] == int(response.headers["Retry-After"])
        assert "check-ins for this tenant" in response.json()["error"]
        over_graphql = await api.execute(
            CHECK_IN.replace("__typename", "__typename ... on RateLimitedError { message }"),
            {"input": {"runId": str(uuid.uuid4()), "jobId": job, "event": "START"}},
            alice.access_token,
        )
        assert over_graphql["checkIn"]["__typename"] == "RateLimitedError"
        response = await client.post(
            f"/checkin/{bobs_job}/0",
            params={"rid": str(uuid.uuid4())},
            headers={"Authorization": f"Bearer {bobs_token}"},
        )
        assert response.status_code == 200  # another tenant has its own budget


async def test_mutations_are_limited_per_principal(database_url: str, tmp_path: Path) -> None:
    async with (
        server(database_url, tmp_path, mutations="4/minute") as app,
        client_from(app, "203.0.113.7") as first,
        client_from(app, ATTACKER) as second,
    ):
        alice = await register(Api(first), "alice")
        bob = await register(Api(second), "bob")
        answers = []
        for n in range(5):
            data = await Api(first).execute(CREATE_JOB, {"name": f"j{n}"}, alice.access_token)
            answers.append(data["createJob"]["__typename"])
        assert answers == ["Job"] * 4 + ["RateLimitedError"]
        data = await Api(first).execute(CREATE_JOB, {"name": "j9"}, alice.access_token)
        assert "changes (mutations) by you" in data["createJob"]["message"]
        data = await Api(first).execute(CREATE_JOB, {"name": "j1"}, bob.access_token)
        assert data["createJob"]["__typename"] == "Job"


def test_a_limit_holds_across_two_server_processes_on_postgresql(
    postgres_template: str, tmp_path: Path
) -> None:
    asyncio.run(_truncate(postgres_template))
    env = {
        "CRONTOPUS_DATA_DIR": str(tmp_path / "data"),
        "CRONTOPUS_DATABASE_URL": postgres_template,
        "CRONTOPUS_RATE_LIMIT_REGISTER": "4/hour",
    }
    first = start_server(env)
    try:
        second = start_server(env)
        try:
            answers = []
            for n in range(6):
                server = (first, second)[n % 2]
                variables = {
                    "username": f"user{n}",
                    "email": f"user{n}@example.com",
                    "password": PASSWORD,
                }
                response = httpx.post(
                    f"{server.url}/graphql", json={"query": REGISTER, "variables": variables}
                )
                answers.append(response.json()["data"]["register"]["__typename"])
        finally:
            stop_server(second)
    finally:
        stop_server(first)
    assert answers == ["AuthPayload"] * 4 + ["RateLimitedError"] * 2
