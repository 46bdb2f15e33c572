"""Every GraphQL query and mutation, fuzzed by schemathesis against a live server.

The server must never fail on its own account: no 5xx, no masked `INTERNAL_SERVER_ERROR`, and
no execution error without one of the codes the API documents for the caller's mistakes (a
serialisation failure such as an out-of-range `Int` carries none).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import graphql
import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.graphql import nodes

from crontopus.server.graphql.schema import schema_sdl
from tests.server.conftest import (
    BACKENDS,
    PASSWORD,
    REGISTER,
    LiveServer,
    create_postgres_database,
    drop_postgres_database,
    require_postgres,
    start_server,
    stop_server,
)

#: Execution errors that are the caller's doing, as the resolvers label them.
CALLER_CODES = frozenset({"UNAUTHENTICATED", "FORBIDDEN", "NOT_FOUND", "BAD_USER_INPUT"})
#: Examples per operation: enough to hit boundaries, few enough to keep the suite fast.
EXAMPLES = 6

_json_leaves = st.one_of(
    st.just(nodes.Null),
    st.booleans().map(nodes.Boolean),
    st.integers(min_value=-(2**53), max_value=2**53).map(nodes.Int),
    st.floats(allow_nan=False, allow_infinity=False).map(nodes.Float),
    st.text(max_size=40).map(nodes.String),
)
#: JSON values written as GraphQL literals (the `JSON` scalar takes any of them).
JSON_VALUES = st.recursive(
    _json_leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=4).map(nodes.List),
        st.dictionaries(st.from_regex(r"\A[a-z_]{1,12}\Z"), children, max_size=4).map(
            lambda fields: nodes.Object(
                [
                    graphql.ObjectFieldNode(name=graphql.NameNode(value=key), value=value)
                    for key, value in fields.items()
                ]
            )
        ),
    ),
    max_leaves=8,
)
schemathesis.graphql.scalar("JSON", JSON_VALUES)


#: The fuzzer should reach the resolvers; the limits themselves have their own tests.
NO_RATE_LIMITS = {
    f"CRONTOPUS_RATE_LIMIT_{name}": "off"
    for name in ("REGISTER", "ENROLL", "LOGIN", "LOGIN_ADDRESS", "CHECKINS", "MUTATIONS")
}


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """A live server on a fresh database: SQLite, and PostgreSQL when the suite has one."""
    data = tmp_path_factory.mktemp("fuzz")
    admin_url, name = None, f"crontopus_fuzz_{uuid.uuid4().hex[:10]}"
    if request.param == "sqlite":
        url = f"sqlite:///{Path(data) / 'crontopus.db'}"
    else:
        admin_url = require_postgres()
        url = asyncio.run(create_postgres_database(admin_url, name))
    live = start_server(
        {"CRONTOPUS_DATA_DIR": str(data), "CRONTOPUS_DATABASE_URL": url, **NO_RATE_LIMITS},
        migrate=True,
    )
    yield live
    stop_server(live)
    if admin_url is not None:
        asyncio.run(drop_postgres_database(admin_url, name))


@pytest.fixture(scope="module")
def token(server: LiveServer) -> str:
    response = httpx.post(
        f"{server.url}/graphql",
        json={"query": REGISTER, "variables": {
            "username": "fuzzer", "email": "fuzzer@example.com", "password": PASSWORD}},
    )  # fmt: skip
    access: str = response.json()["data"]["register"]["accessToken"]
    return access


# The schema the server serves, built in-process: the operations are known at collection time.
schema = schemathesis.graphql.from_file(schema_sdl())


def server_errors(response: Any) -> list[Any]:
    """The errors in `response` that are the server's fault."""
    if response.status_code >= 500:
        return [f"HTTP {response.status_code}"]
    body = response.json()
    found = []
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        if code == "INTERNAL_SERVER_ERROR" or ("path" in error and code not in CALLER_CODES):
            found.append(error)
    return found


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    # The same examples on every run, so a red build is reproducible; no example database.
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_operation_fails_on_the_servers_account(
    case: Any, server: LiveServer, token: str
) -> None:
    response = case.call(
        base_url=f"{server.url}/graphql", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert server_errors(response) == [], case.body


class _Answer:
    def __init__(self, status_code: int, body: dict[str, Any]) -> None:
        self.status_code, self._body = status_code, body

    def json(self) -> dict[str, Any]:
        return self._body


def test_the_judge_blames_the_server_for_unlabelled_execution_errors_only() -> None:
    serialisation = {"message": "Int cannot represent non 32-bit signed integer value: 1e12"}
    masked = {"message": "Unexpected server error", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}
    not_found = {"message": "no job", "path": ["job"], "extensions": {"code": "NOT_FOUND"}}
    invalid = {"message": "Expected value of type 'UUID!'"}  # refused before execution
    assert server_errors(_Answer(502, {})) == ["HTTP 502"]
    assert server_errors(_Answer(200, {"errors": [{**serialisation, "path": ["checkIn"]}]}))
    assert server_errors(_Answer(200, {"errors": [masked]})) == [masked]
    assert server_errors(_Answer(200, {"errors": [not_found, invalid]})) == []
