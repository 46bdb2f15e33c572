"""Every operation of the schema, with every role and scope, against docs/security.md's matrix.

The operations come from introspecting a real server, so a new query, mutation or subscription
without a row in the matrix fails here. Each is sent with placeholder arguments: what matters is
whether the answer is a refusal (FORBIDDEN / UNAUTHENTICATED, or a PermissionError or
AuthenticationError as data) or anything else (data, "not found", a validation error).
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    Undefined,
    build_client_schema,
    get_introspection_query,
    get_named_type,
    is_leaf_type,
)
from sqlalchemy.ext.asyncio import async_sessionmaker
from websockets.asyncio.client import connect

from crontopus.server.db.engine import create_engine
from crontopus.server.db.models import ApiToken
from crontopus.server.security.tokens import TokenKind, issue_token
from crontopus.server.services.platform.operators import set_operator
from crontopus.server.settings import Settings
from tests.server.conftest import ADD_MEMBER, LOGIN, PASSWORD, REGISTER, Served, serve_in_process

MATRIX = Path(__file__).parents[3] / "docs" / "security.md"
ROLES = ("OWNER", "ADMIN", "MEMBER", "VIEWER")
SCOPES = ("READ", "WRITE", "CHECKIN")
RANK = {"VIEWER": 0, "MEMBER": 1, "ADMIN": 2, "OWNER": 3}
REFUSED_CODES = {"FORBIDDEN", "UNAUTHENTICATED"}
REFUSED_TYPES = {"PermissionError", "AuthenticationError"}
#: Operations that end the caller's session: each caller runs them after everything else.
SELF_ENDING = ("unenrollEndpoint", "signOutEverywhere", "logout")
#: How long a subscription that was let in may stay silent before it counts as running.
SUBSCRIPTION_SETTLE = 1.0

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@dataclass(frozen=True)
class Caller:
    """One way to call the API: nobody, a session, an API token with one scope, an endpoint."""

    name: str
    token: str | None
    role: str | None = None
    credential: str = "anonymous"  # anonymous | session | token | endpoint
    scope: str | None = None
    operator: bool = False  # a platform operator (of their own tenant, as its owner)


@dataclass(frozen=True)
class Rule:
    access: str
    endpoint: bool


def matrix() -> dict[tuple[str, str], Rule]:
    """Read the operation table of docs/security.md: (type, operation) → rule."""
    rules = {}
    row = re.compile(r"^\| `(\w+)` \| (query|mutation|subscription) \| ([\w-]+) \| (.+) \|$")
    for line in MATRIX.read_text().splitlines():
        if match := row.match(line):
            name, kind, access, endpoint = match.groups()
            rules[(kind, name)] = Rule(access, endpoint.strip() != "—")
    return rules


def allowed(rule: Rule, caller: Caller) -> bool:
    """What the matrix says `caller` may do."""
    if rule.access == "public":
        return True
    if caller.credential == "endpoint":
        return rule.endpoint
    if caller.credential == "anonymous" or rule.access == "agent":
        return False
    assert caller.role is not None
    session = caller.credential == "session"
    scope = caller.scope
    reads = session or scope in ("READ", "WRITE")
    writes = session or scope == "WRITE"
    rank = RANK[caller.role]
    match rule.access:
        case "read":
            return reads
        case "write":
            return writes and rank >= RANK["MEMBER"]
        case "own-write":
            return writes
        case "admin-read":
            return reads and rank >= RANK["ADMIN"]
        case "admin":
            return writes and rank >= RANK["ADMIN"]
        case "check-in":
            return (session or scope == "CHECKIN") and rank >= RANK["MEMBER"]
        case "session":
            return session
        case "operator":
            return session and caller.operator
    raise AssertionError(f"docs/security.md: unknown access {rule.access!r}")


def placeholder(kind: GraphQLInputType) -> Any:
    """A value of the right type for a required argument."""
    if isinstance(kind, GraphQLNonNull):
        return placeholder(kind.of_type)
    if isinstance(kind, GraphQLList):
        return []
    if isinstance(kind, GraphQLEnumType):
        # The last value: for `Role` that is VIEWER, which an admin may grant.
        return list(kind.values)[-1]
    if isinstance(kind, GraphQLInputObjectType):
        return {
            name: placeholder(field.type)
            for name, field in kind.fields.items()
            if isinstance(field.type, GraphQLNonNull) and field.default_value is Undefined
        }
    assert isinstance(kind, GraphQLScalarType)
    return {
        "String": "x",
        "ID": str(uuid.uuid4()),
        "UUID": str(uuid.uuid4()),
        "Int": 1,
        "Float": 1.0,
        "Boolean": False,
        "DateTime": "2030-01-01T00:00:00+00:00",
        "JSON": {},
    }[kind.name]


@dataclass(frozen=True)
class Operation:
    kind: str
    name: str
    document: str
    variables: dict[str, Any]


def operations(schema: GraphQLSchema) -> Iterator[Operation]:
    """One document per root field, with placeholders for its required arguments."""
    roots = (
        ("query", schema.query_type),
        ("mutation", schema.mutation_type),
        ("subscription", schema.subscription_type),
    )
    for kind, root in roots:
        assert isinstance(root, GraphQLObjectType)
        for name, field in root.fields.items():
            required = {
                arg_name: arg
                for arg_name, arg in field.args.items()
                if isinstance(arg.type, GraphQLNonNull) and arg.default_value is Undefined
            }
            declared = ", ".join(f"${a}: {arg.type}" for a, arg in required.items())
            passed = ", ".join(f"{a}: ${a}" for a in required)
            selection = "" if is_leaf_type(get_named_type(field.type)) else " { __typename }"
            document = (
                f"{kind} Probe{f'({declared})' if declared else ''} "
                f"{{ {name}{f'({passed})' if passed else ''}{selection} }}"
            )
            variables = {a: placeholder(arg.type) for a, arg in required.items()}
            yield Operation(kind, name, document, variables)


def refused(name: str, body: dict[str, Any], public: bool) -> bool:
    """Whether an answer is a refusal; any unexpected server error fails the test."""
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        assert code != "INTERNAL_SERVER_ERROR", (name, error)
        if code in REFUSED_CODES:
            return True
    value = (body.get("data") or {}).get(name)
    return not public and isinstance(value, dict) and value.get("__typename") in REFUSED_TYPES


async def _post(client: httpx.AsyncClient, query: str, variables: dict[str, Any], token: str | None
                ) -> dict[str, Any]:  # fmt: skip
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _subscriptions_refused(
    server: Served, caller: Caller, probes: list[Operation]
) -> dict[str, bool]:
    """Open one socket for the caller, start every subscription, see which are refused."""
    init = {"authorization": f"Bearer {caller.token}"} if caller.token else {}
    outcome = dict.fromkeys((p.name for p in probes), False)
    async with connect(server.ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": init}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        for probe in probes:
            payload = {"query": probe.document, "variables": probe.variables}
            await ws.send(json.dumps({"id": probe.name, "type": "subscribe", "payload": payload}))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SUBSCRIPTION_SETTLE
        while (left := deadline - loop.time()) > 0:
            try:
                message = json.loads(await asyncio.wait_for(ws.recv(), left))
            except TimeoutError:
                break
            if message["type"] == "error":
                outcome[message["id"]] = refused(
                    message["id"], {"errors": message["payload"]}, False
                )
            elif message["type"] == "next":
                outcome[message["id"]] |= refused(message["id"], message["payload"], False)
    return outcome


async def _callers(server: Served, settings: Settings) -> list[Caller]:
    callers = [Caller("anonymous", None)]
    users: dict[str, tuple[str, str]] = {}  # role → (user id, session token)
    tenant_id = ""
    async with httpx.AsyncClient(base_url=server.url) as client:
        for role in ROLES:
            username = role.lower()
            variables = {"username": username, "email": f"{username}@example.com"}
            registered = await _post(client, REGISTER, {**variables, "password": PASSWORD}, None)
            result = registered["data"]["register"]
            token = result["accessToken"]
            if role == "OWNER":
                tenant_id = result["tenant"]["id"]
            else:
                wanted = {"username": username, "role": role}
                added = await _post(client, ADD_MEMBER, wanted, users["OWNER"][1])
                assert added["data"]["addMember"]["__typename"] == "Membership", added
                login = {"username": username, "password": PASSWORD, "tenant": "owner"}
                token = (await _post(client, LOGIN, login, None))["data"]["login"]["accessToken"]
            users[role] = (result["user"]["id"], token)
            callers.append(Caller(f"{role} session", token, role, "session"))
        enrollment = await _post(
            client,
            'mutation { createEnrollmentToken(name: "matrix") {'
            " ... on CreatedEnrollmentToken { plaintext } } }",
            {},
            users["OWNER"][1],
        )
        enrolled = await _post(
            client,
            'mutation E($t: String!) { enrollEndpoint(enrollmentToken: $t, name: "m",'
            ' hostname: "m", platform: "linux", machineId: "matrix-machine", agentVersion: "1") {'
            " ... on EnrolledEndpoint { endpointToken } } }",
            {"t": enrollment["data"]["createEnrollmentToken"]["plaintext"]},
            None,
        )
        endpoint_token = enrolled["data"]["enrollEndpoint"]["endpointToken"]
    # Tokens go straight into the database: a member demoted to viewer keeps a WRITE token,
    # and the matrix must hold for it too.
    engine = create_engine(settings.database_url)
    try:
        async with async_sessionmaker(engine)() as session:
            for role, (user_id, _) in users.items():
                for scope in SCOPES:
                    issued = issue_token(TokenKind.API)
                    session.add(
                        ApiToken(
                            tenant_id=uuid.UUID(tenant_id),
                            user_id=uuid.UUID(user_id),
                            name=f"{role} {scope}",
                            token_hash=issued.digest,
                            hint=issued.hint,
                            scopes=[scope.lower()],
                        )
                    )
                    callers.append(
                        Caller(f"{role} {scope} token", issued.plaintext, role, "token", scope)
                    )
            await session.commit()
    finally:
        await engine.dispose()
    callers.append(Caller("endpoint", endpoint_token, credential="endpoint"))
    callers.append(await _operator(server, settings))
    return callers


async def _operator(server: Served, settings: Settings) -> Caller:
    """A platform operator, signed in to a tenant of their own (which they own)."""
    async with httpx.AsyncClient(base_url=server.url) as client:
        variables = {"username": "platform", "email": "platform@example.com"}
        await _post(client, REGISTER, {**variables, "password": PASSWORD}, None)
        engine = create_engine(settings.database_url)
        try:
            async with async_sessionmaker(engine)() as session:
                await set_operator(session, "platform", True)
                await session.commit()
        finally:
            await engine.dispose()
        login = {"username": "platform", "password": PASSWORD, "tenant": None}
        token = (await _post(client, LOGIN, login, None))["data"]["login"]["accessToken"]
    return Caller("operator session", token, "OWNER", "session", operator=True)


@pytest.fixture
async def live_server(settings: Settings) -> AsyncIterator[Served]:
    async with serve_in_process(settings) as served:
        yield served


async def test_every_operation_answers_every_role_and_scope_as_the_matrix_says(
    live_server: Served, settings: Settings
) -> None:
    rules = matrix()
    callers = await _callers(live_server, settings)
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as client:
        introspection = await _post(client, get_introspection_query(), {}, None)
        schema = build_client_schema(introspection["data"])
        probes = list(operations(schema))
        missing = [f"{p.kind} {p.name}" for p in probes if (p.kind, p.name) not in rules]
        assert not missing, f"docs/security.md has no access-matrix row for: {missing}"
        mismatches: list[str] = []

        async def walk(caller: Caller) -> None:
            for probe in probes:
                if probe.kind == "subscription":
                    continue
                rule = rules[(probe.kind, probe.name)]
                body = await _post(client, probe.document, probe.variables, caller.token)
                was_refused = refused(probe.name, body, rule.access == "public")
                if was_refused == allowed(rule, caller):
                    mismatches.append(
                        f"{probe.kind} {probe.name} as {caller.name}: "
                        f"{'refused' if was_refused else 'allowed'}, matrix says "
                        f"{'allowed' if allowed(rule, caller) else 'refused'}: {body}"
                    )

        async def watch(caller: Caller) -> None:
            subscriptions = [p for p in probes if p.kind == "subscription"]
            outcome = await _subscriptions_refused(live_server, caller, subscriptions)
            for name, was_refused in outcome.items():
                if was_refused == allowed(rules[("subscription", name)], caller):
                    mismatches.append(
                        f"subscription {name} as {caller.name}: refused={was_refused}"
                    )

        # Subscriptions first, and the operations that end the caller's own session last.
        await asyncio.gather(*(watch(c) for c in callers))
        probes.sort(key=lambda p: SELF_ENDING.index(p.name) + 1 if p.name in SELF_ENDING else 0)
        # One caller at a time over HTTP: callers racing for the same rows would test races.
        for caller in callers:
            await walk(caller)
    assert not mismatches, "\n".join(mismatches)
