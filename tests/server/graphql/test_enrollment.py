"""Enrollment: admins hand out tokens, agents trade one for an endpoint and its own token."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from crontopus.server.app import AppState
from crontopus.server.db.models import AuditEvent, Endpoint, EnrollmentToken
from tests.server.conftest import Api, Persona

CREATE_TOKEN = """
mutation Create($name: String!, $days: Int, $maxUses: Int) {
  createEnrollmentToken(name: $name, expiresInDays: $days, maxUses: $maxUses) {
    __typename
    ... on CreatedEnrollmentToken {
      plaintext token { id name hint createdBy maxUses useCount lastUsedAt expiresAt revokedAt }
    }
    ... on UserError { message }
    ... on ValidationError { fields { path message } }
  }
}
"""
LIST_TOKENS = "{ enrollmentTokens { id name hint useCount lastUsedAt maxUses revokedAt } }"
REVOKE_TOKEN = """
mutation Revoke($id: UUID!) {
  revokeEnrollmentToken(id: $id) {
    __typename ... on EnrollmentToken { revokedAt } ... on UserError { message }
  }
}
"""
ENROLL = """
mutation Enroll($token: String!, $name: String!, $hostname: String!, $platform: String!,
                $machineId: String!, $agentVersion: String!, $drivers: [String!],
                $labels: [KeyValueInput!], $endpointToken: String) {
  enrollEndpoint(enrollmentToken: $token, name: $name, hostname: $hostname, platform: $platform,
                 machineId: $machineId, agentVersion: $agentVersion, drivers: $drivers,
                 labels: $labels, endpointToken: $endpointToken) {
    __typename
    ... on EnrollmentPending { id machineId endpointToken message }
    ... on EnrolledEndpoint {
      endpointToken reused heartbeatIntervalSeconds
      endpoint { id name hostname platform machineId agentVersion drivers status lastSeenAt
                 labels { key value } }
    }
    ... on UserError { message }
    ... on ValidationError { fields { path message } }
  }
}
"""
HEARTBEAT = """
mutation Beat($input: HeartbeatInput!) {
  heartbeat(input: $input) {
    __typename
    ... on Endpoint { id agentVersion driver appliedCommit lastSeenAt status }
    ... on UserError { message }
    ... on ValidationError { fields { path message } }
  }
}
"""


async def create_enrollment_token(
    api: Api, persona: Persona, name: str = "fleet", **variables: Any
) -> dict[str, Any]:
    data = await api.execute(CREATE_TOKEN, {"name": name, **variables}, persona.access_token)
    result: dict[str, Any] = data["createEnrollmentToken"]
    return result


def enrollment(token: str, machine_id: str = "machine-1", **overrides: Any) -> dict[str, Any]:
    variables: dict[str, Any] = {
        "token": token,
        "name": machine_id,
        "hostname": f"{machine_id}.example.com",
        "platform": "linux",
        "machineId": machine_id,
        "agentVersion": "1.0.0",
        "drivers": ["cron", "systemd"],
        "labels": [{"key": "role", "value": "db"}],
    }
    variables.update(overrides)
    return variables


async def enroll(api: Api, token: str, machine_id: str = "machine-1", **overrides: Any) -> Any:
    data = await api.execute(ENROLL, enrollment(token, machine_id, **overrides))
    return data["enrollEndpoint"]


async def enrolled_endpoint(
    api: Api, persona: Persona, machine_id: str = "machine-1", **overrides: Any
) -> tuple[str, str]:
    """Enroll a machine in the persona's tenant; return (endpoint id, endpoint token)."""
    token = (await create_enrollment_token(api, persona, name=f"for {machine_id}"))["plaintext"]
    result = await enroll(api, token, machine_id, **overrides)
    assert result["__typename"] == "EnrolledEndpoint", result
    return result["endpoint"]["id"], result["endpointToken"]


async def heartbeat(api: Api, token: str, **input: Any) -> dict[str, Any]:
    body = await api.post(HEARTBEAT, {"input": {"agentVersion": "1.0.0", **input}}, token)
    return body


async def test_an_enrollment_token_is_shown_once_and_listed_with_its_usage(
    api: Api, alice: Persona
) -> None:
    created = await create_enrollment_token(api, alice, maxUses=5, days=30)
    plaintext = created["plaintext"]
    assert plaintext.startswith("cten_")
    assert created["token"]["hint"] == plaintext[-4:]
    assert created["token"]["createdBy"] == "alice"
    assert created["token"]["useCount"] == 0
    assert created["token"]["expiresAt"] is not None
    await enroll(api, plaintext)
    listed = (await api.execute(LIST_TOKENS, token=alice.access_token))["enrollmentTokens"]
    assert plaintext not in str(listed)
    assert listed[0]["useCount"] == 1
    assert listed[0]["maxUses"] == 5
    assert listed[0]["lastUsedAt"] is not None


async def test_only_admins_create_list_and_revoke_enrollment_tokens(
    api: Api, alice: Persona, carol: Persona
) -> None:
    created = await create_enrollment_token(api, alice)
    denied = await create_enrollment_token(api, carol)
    assert denied["__typename"] == "PermissionError"
    assert "ADMIN role" in denied["message"]
    error = await api.error_of(LIST_TOKENS, token=carol.access_token)
    assert error["extensions"]["code"] == "FORBIDDEN"
    revoked = await api.execute(REVOKE_TOKEN, {"id": created["token"]["id"]}, carol.access_token)
    assert revoked["revokeEnrollmentToken"]["__typename"] == "PermissionError"


async def test_enrollment_token_input_is_validated_field_by_field(api: Api, alice: Persona) -> None:
    result = await create_enrollment_token(api, alice, name=" ", days=0, maxUses=0)
    assert result["__typename"] == "ValidationError"
    assert {tuple(f["path"]) for f in result["fields"]} == {
        ("name",),
        ("expiresInDays",),
        ("maxUses",),
    }


async def test_an_agent_enrolls_with_only_an_enrollment_token(
    api: Api, alice: Persona, state: AppState
) -> None:
    token = (await create_enrollment_token(api, alice))["plaintext"]
    result = await enroll(api, token)
    assert result["__typename"] == "EnrolledEndpoint", result
    assert result["endpointToken"].startswith("cte_")
    assert result["reused"] is False
    assert result["heartbeatIntervalSeconds"] == 30
    endpoint = result["endpoint"]
    assert endpoint["hostname"] == "machine-1.example.com"
    assert endpoint["drivers"] == ["cron", "systemd"]
    assert endpoint["labels"] == [{"key": "role", "value": "db"}]
    assert endpoint["status"] == "ONLINE"
    beat = await heartbeat(api, result["endpointToken"])
    assert beat["data"]["heartbeat"]["id"] == endpoint["id"]
    async with state.session() as session:
        actions = (await session.scalars(select(AuditEvent.action))).all()
    assert "endpoint.enroll" in actions
    assert "enrollment_token.create" in actions


async def test_a_token_with_max_uses_refuses_the_next_enrollment(api: Api, alice: Persona) -> None:
    token = (await create_enrollment_token(api, alice, maxUses=2))["plaintext"]
    assert (await enroll(api, token, "m1"))["__typename"] == "EnrolledEndpoint"
    assert (await enroll(api, token, "m2"))["__typename"] == "EnrolledEndpoint"
    third = await enroll(api, token, "m3")
    assert third["__typename"] == "AuthenticationError"
    assert "used its 2 times" in third["message"]


async def test_concurrent_enrollments_never_exceed_max_uses(api: Api, alice: Persona) -> None:
    token = (await create_enrollment_token(api, alice, maxUses=2))["plaintext"]
    results = await asyncio.gather(*(enroll(api, token, f"m{i}") for i in range(6)))
    kinds = sorted(r["__typename"] for r in results)
    assert kinds == ["AuthenticationError"] * 4 + ["EnrolledEndpoint"] * 2
    listed = (await api.execute(LIST_TOKENS, token=alice.access_token))["enrollmentTokens"]
    assert listed[0]["useCount"] == 2


async def test_an_expired_enrollment_token_is_refused(
    api: Api, alice: Persona, state: AppState
) -> None:
    token = (await create_enrollment_token(api, alice, days=1))["plaintext"]
    async with state.session() as session:
        await session.execute(
            update(EnrollmentToken).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        await session.commit()
    result = await enroll(api, token)
    assert result["__typename"] == "AuthenticationError"
    assert "expired" in result["message"]


async def test_a_revoked_enrollment_token_is_refused(api: Api, alice: Persona) -> None:
    created = await create_enrollment_token(api, alice)
    revoked = await api.execute(REVOKE_TOKEN, {"id": created["token"]["id"]}, alice.access_token)
    assert revoked["revokeEnrollmentToken"]["revokedAt"] is not None
    result = await enroll(api, created["plaintext"])
    assert result["__typename"] == "AuthenticationError"
    assert "revoked" in result["message"]


async def test_anything_but_a_known_enrollment_token_is_refused(api: Api, alice: Persona) -> None:
    token = (await create_enrollment_token(api, alice))["plaintext"]
    mistyped = token[:-1] + ("a" if token[-1] != "a" else "b")
    for candidate in (mistyped, alice.access_token, "cten_nonsense"):
        result = await enroll(api, candidate)
        assert result["__typename"] == "AuthenticationError"
        assert "not an enrollment token" in result["message"]
    endpoint_token = (await enroll(api, token))["endpointToken"]
    result = await enroll(api, endpoint_token, "m2")
    assert result["__typename"] == "AuthenticationError"


async def test_the_same_machine_with_its_token_reuses_its_endpoint_and_the_old_token_dies(
    api: Api, alice: Persona, state: AppState
) -> None:
    token = (await create_enrollment_token(api, alice))["plaintext"]
    first = await enroll(api, token)
    # Authenticate once so the old token sits in the identity cache.
    assert "errors" not in await heartbeat(api, first["endpointToken"])
    web = [{"key": "role", "value": "web"}]
    second = await enroll(api, token, labels=web, endpointToken=first["endpointToken"])
    assert second["reused"] is True
    assert second["endpoint"]["id"] == first["endpoint"]["id"]
    assert second["endpoint"]["labels"] == [{"key": "role", "value": "web"}]
    stale = await heartbeat(api, first["endpointToken"])
    assert stale["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "errors" not in await heartbeat(api, second["endpointToken"])
    async with state.session() as session:
        assert len((await session.scalars(select(Endpoint))).all()) == 1


async def test_the_same_machine_in_another_tenant_is_another_endpoint(
    api: Api, alice: Persona, bob: Persona
) -> None:
    alice_id, _ = await enrolled_endpoint(api, alice)
    bob_id, _ = await enrolled_endpoint(api, bob)
    assert alice_id != bob_id


async def test_enrollment_input_is_validated_and_uses_no_token_use(
    api: Api, alice: Persona
) -> None:
    token = (await create_enrollment_token(api, alice, maxUses=1))["plaintext"]
    result = await enroll(
        api,
        token,
        hostname=" ",
        labels=[{"key": "bad key", "value": "x"}, {"key": "zone", "value": "-nope"}],
    )
    assert result["__typename"] == "ValidationError"
    paths = {tuple(f["path"]) for f in result["fields"]}
    assert paths == {("hostname",), ("labels", "bad key"), ("labels", "zone")}
    assert (await enroll(api, token))["__typename"] == "EnrolledEndpoint"


async def test_a_label_given_twice_is_refused(api: Api, alice: Persona) -> None:
    token = (await create_enrollment_token(api, alice))["plaintext"]
    labels = [{"key": "role", "value": "db"}, {"key": "role", "value": "web"}]
    result = await enroll(api, token, labels=labels)
    assert result["__typename"] == "ValidationError"


async def test_another_tenants_enrollment_tokens_cannot_be_seen_or_revoked(
    api: Api, alice: Persona, bob: Persona
) -> None:
    created = await create_enrollment_token(api, alice)
    listed = await api.execute(LIST_TOKENS, token=bob.access_token)
    assert listed["enrollmentTokens"] == []
    revoked = await api.execute(REVOKE_TOKEN, {"id": created["token"]["id"]}, bob.access_token)
    assert revoked["revokeEnrollmentToken"]["__typename"] == "NotFoundError"
    assert (await enroll(api, created["plaintext"]))["__typename"] == "EnrolledEndpoint"


async def test_one_machine_enrolling_twice_at_once_ends_as_one_endpoint(
    api: Api, alice: Persona, state: AppState
) -> None:
    first = (await create_enrollment_token(api, alice, name="a"))["plaintext"]
    second = (await create_enrollment_token(api, alice, name="b"))["plaintext"]
    results = await asyncio.gather(enroll(api, first), enroll(api, second))
    # The loser found the winner's endpoint and has no proof: it waits for an admin.
    kinds = sorted(r["__typename"] for r in results)
    assert kinds == ["EnrolledEndpoint", "EnrollmentPending"]
    working = [r for r in results if "errors" not in await heartbeat(api, r["endpointToken"])]
    assert len(working) == 1
    async with state.session() as session:
        assert len((await session.scalars(select(Endpoint))).all()) == 1


PENDING = """{ pendingEnrollments { id machineId name requestedFrom enrollmentToken
                                    labels { key value } endpoint { id status } } }"""
APPROVE = """
mutation Approve($id: UUID!) {
  approveEnrollment(id: $id) {
    __typename ... on Endpoint { id status } ... on UserError { message }
  }
}
"""
REJECT = """
mutation Reject($id: UUID!) {
  rejectEnrollment(id: $id) {
    __typename ... on PendingEnrollment { id } ... on UserError { message }
  }
}
"""
REVOKE_ENDPOINT = "mutation R($id: UUID!) { revokeEndpoint(id: $id) { __typename } }"


async def test_a_known_machine_without_its_token_waits_for_an_admin_to_approve(
    api: Api, alice: Persona, bob: Persona
) -> None:
    token = (await create_enrollment_token(api, alice))["plaintext"]
    first = await enroll(api, token)
    claim = await enroll(api, token, labels=[{"key": "role", "value": "web"}])
    assert claim["__typename"] == "EnrollmentPending"
    assert "an admin must approve" in claim["message"]
    # Nothing changed yet: the old token works, the new one does not.
    assert "errors" not in await heartbeat(api, first["endpointToken"])
    waiting = await heartbeat(api, claim["endpointToken"])
    assert waiting["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    (pending,) = (await api.execute(PENDING, token=alice.access_token))["pendingEnrollments"]
    assert pending["machineId"] == "machine-1"
    assert pending["requestedFrom"] == "203.0.113.7"
    assert pending["labels"] == [{"key": "role", "value": "web"}]
    assert pending["endpoint"]["id"] == first["endpoint"]["id"]
    foreign = await api.execute(APPROVE, {"id": pending["id"]}, bob.access_token)
    assert foreign["approveEnrollment"]["__typename"] == "NotFoundError"

    approved = await api.execute(APPROVE, {"id": pending["id"]}, alice.access_token)
    assert approved["approveEnrollment"]["id"] == first["endpoint"]["id"]
    assert "errors" not in await heartbeat(api, claim["endpointToken"])
    stale = await heartbeat(api, first["endpointToken"])
    assert stale["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert (await api.execute(PENDING, token=alice.access_token))["pendingEnrollments"] == []


async def test_a_revoked_endpoint_is_reinstated_only_by_an_admins_approval(
    api: Api, alice: Persona
) -> None:
    token = (await create_enrollment_token(api, alice))["plaintext"]
    first = await enroll(api, token)
    endpoint_id = first["endpoint"]["id"]
    await api.execute(REVOKE_ENDPOINT, {"id": endpoint_id}, alice.access_token)
    again = await enroll(api, token, endpointToken=first["endpointToken"])
    assert again["__typename"] == "EnrollmentPending"
    (pending,) = (await api.execute(PENDING, token=alice.access_token))["pendingEnrollments"]
    assert pending["endpoint"]["status"] == "REVOKED"
    rejected = await api.execute(REJECT, {"id": pending["id"]}, alice.access_token)
    assert rejected["rejectEnrollment"]["__typename"] == "PendingEnrollment"
    assert (await api.execute(PENDING, token=alice.access_token))["pendingEnrollments"] == []
    refused = await heartbeat(api, again["endpointToken"])
    assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

    retry = await enroll(api, token)
    approved = await api.execute(APPROVE, {"id": retry["id"]}, alice.access_token)
    assert approved["approveEnrollment"]["status"] != "REVOKED"
    assert "errors" not in await heartbeat(api, retry["endpointToken"])


async def test_enrollment_tokens_expire_after_seven_days_unless_told_otherwise(
    api: Api, alice: Persona
) -> None:
    created = await create_enrollment_token(api, alice)
    expires = datetime.fromisoformat(created["token"]["expiresAt"])
    assert abs(expires - (datetime.now(UTC) + timedelta(days=7))) < timedelta(minutes=1)
    longer = await create_enrollment_token(api, alice, name="longer", days=30)
    expires = datetime.fromisoformat(longer["token"]["expiresAt"])
    assert abs(expires - (datetime.now(UTC) + timedelta(days=30))) < timedelta(minutes=1)


def test_the_default_enrollment_token_lifetime_is_a_setting(tmp_path: Any) -> None:
    from crontopus.server.settings import Settings

    environ = {"CRONTOPUS_DATA_DIR": str(tmp_path), "CRONTOPUS_ENROLLMENT_TOKEN_DAYS": "2"}
    assert Settings.from_env(environ).enrollment_token_days == 2
    assert Settings.from_env({"CRONTOPUS_DATA_DIR": str(tmp_path)}).enrollment_token_days == 7
