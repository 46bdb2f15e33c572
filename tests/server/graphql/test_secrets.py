"""The secret store: names for people, values for the agent of a targeted job, sealed at rest."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from crontopus.server.app import AppState
from crontopus.server.db.models import AuditEvent, Secret
from crontopus.server.security.secret_box import secret_box
from crontopus.server.settings import Settings
from tests.server.conftest import Api, Persona
from tests.server.graphql.test_enrollment import enrolled_endpoint

SET = """
mutation Set($name: String!, $value: String!) {
  setSecret(name: $name, value: $value) {
    __typename
    ... on Secret { name updatedBy createdAt updatedAt }
    ... on UserError { message }
    ... on ValidationError { fields { path message } }
  }
}
"""
DELETE = """
mutation Delete($name: String!) {
  deleteSecret(name: $name) {
    __typename
    ... on DeleteSecretPayload { secret { name } }
    ... on UserError { message }
  }
}
"""
LIST = "{ secrets { name updatedBy createdAt updatedAt } }"
JOB_SECRETS = """
query JobSecrets($jobId: UUID!) {
  jobSecrets(jobId: $jobId) {
    __typename
    ... on JobSecrets { items { variable secret value } }
    ... on UserError { message }
  }
}
"""
CREATE_JOB = """
mutation Create($input: JobInput!) {
  createJob(input: $input) {
    __typename
    ... on Job { id env { key value } secretEnv { key value } yaml blobId }
    ... on UserError { message }
    ... on ValidationError { fields { path message } }
  }
}
"""
UPDATE_JOB = """
mutation Update($id: UUID!, $blob: String!, $input: JobInput!) {
  updateJob(id: $id, expectedBlobId: $blob, input: $input) {
    __typename
    ... on Job { env { key value } secretEnv { key value } yaml }
    ... on UserError { message }
  }
}
"""
VALIDATE = """
query Validate($yaml: String!) {
  validateManifest(yaml: $yaml) { valid problems { path message } warnings { path message } }
}
"""


async def set_secret(api: Api, persona: Persona, name: str, value: str) -> dict[str, Any]:
    result: dict[str, Any] = (
        await api.execute(SET, {"name": name, "value": value}, persona.access_token)
    )["setSecret"]
    return result


async def create_job(api: Api, persona: Persona, **fields: Any) -> dict[str, Any]:
    job = {"name": "backup", "schedule": "@daily", "command": "/bin/true", **fields}
    result: dict[str, Any] = (await api.execute(CREATE_JOB, {"input": job}, persona.access_token))[
        "createJob"
    ]
    assert result["__typename"] == "Job", result
    return result


DB_JOB = {
    "targetLabels": [{"key": "role", "value": "db"}],
    "env": [{"key": "PGHOST", "value": "db1"}],
    "secretEnv": [{"key": "DB_PASSWORD", "value": "db-password"}],
}


async def test_a_secret_is_listed_by_name_and_its_value_is_sealed_at_rest(
    api: Api, alice: Persona, state: AppState, settings: Settings
) -> None:
    created = await set_secret(api, alice, "db-password", "hunter2")
    assert created["__typename"] == "Secret"
    assert created["updatedBy"] == "alice"
    listed = (await api.execute(LIST, token=alice.access_token))["secrets"]
    assert [s["name"] for s in listed] == ["db-password"]
    async with state.session() as session:
        row = await session.scalar(select(Secret))
    assert row is not None
    assert "hunter2" not in row.sealed
    assert row.sealed.startswith(f"v1.{secret_box(settings).current_key_id}.")
    assert (settings.data_dir / "secrets_key").stat().st_mode & 0o777 == 0o600


async def test_setting_again_replaces_the_value_and_every_change_is_audited(
    api: Api, alice: Persona, state: AppState
) -> None:
    first = await set_secret(api, alice, "db-password", "one")
    second = await set_secret(api, alice, "db-password", "two")
    assert second["createdAt"] == first["createdAt"]
    assert second["updatedAt"] >= first["updatedAt"]
    deleted = await api.execute(DELETE, {"name": "db-password"}, alice.access_token)
    assert deleted["deleteSecret"]["secret"]["name"] == "db-password"
    assert (await api.execute(LIST, token=alice.access_token))["secrets"] == []
    async with state.session() as session:
        events = (await session.scalars(select(AuditEvent).order_by(AuditEvent.created_at))).all()
    trail = [(e.action, e.target) for e in events if e.action.startswith("secret.")]
    assert trail == [
        ("secret.create", "secret:db-password"),
        ("secret.update", "secret:db-password"),
        ("secret.delete", "secret:db-password"),
    ]
    assert not any("one" in str(e.details) or "two" in str(e.details) for e in events)


async def test_names_and_values_are_bounded_with_a_fix_in_the_message(
    api: Api, alice: Persona
) -> None:
    bad = await set_secret(api, alice, "no spaces/here", "x" * (64 * 1024 + 1))
    assert bad["__typename"] == "ValidationError"
    fields = {tuple(f["path"]): f["message"] for f in bad["fields"]}
    assert "is not a secret name: use 1-63 letters" in fields[("name",)]
    assert "more than 65536 (64 KiB)" in fields[("value",)]
    largest = await set_secret(api, alice, "key.pem", "x" * (64 * 1024))
    assert largest["__typename"] == "Secret"


async def test_viewers_list_secrets_but_cannot_set_or_delete_them(
    api: Api, alice: Persona, carol: Persona
) -> None:
    await set_secret(api, alice, "db-password", "hunter2")
    assert (await api.execute(LIST, token=carol.access_token))["secrets"][0]["name"]
    refused = await set_secret(api, carol, "db-password", "mine")
    assert refused["__typename"] == "PermissionError"
    deleted = await api.execute(DELETE, {"name": "db-password"}, carol.access_token)
    assert deleted["deleteSecret"]["__typename"] == "PermissionError"


async def test_another_tenants_secret_is_not_found_and_not_listed(
    api: Api, alice: Persona, bob: Persona
) -> None:
    await set_secret(api, alice, "db-password", "hunter2")
    assert (await api.execute(LIST, token=bob.access_token))["secrets"] == []
    deleted = await api.execute(DELETE, {"name": "db-password"}, bob.access_token)
    assert deleted["deleteSecret"]["__typename"] == "NotFoundError"
    # bob's secret of the same name is his own; alice's stays as it was.
    assert (await set_secret(api, bob, "db-password", "other"))["__typename"] == "Secret"
    assert len((await api.execute(LIST, token=alice.access_token))["secrets"]) == 1


async def test_an_agent_reads_the_values_of_a_job_targeted_at_it_and_sees_rotation_at_once(
    api: Api, alice: Persona
) -> None:
    await set_secret(api, alice, "db-password", "hunter2")
    job = await create_job(api, alice, **DB_JOB)
    assert job["secretEnv"] == [{"key": "DB_PASSWORD", "value": "db-password"}]
    assert "secretRef: db-password" in job["yaml"]
    assert "hunter2" not in job["yaml"]
    _, token = await enrolled_endpoint(api, alice, "db1")  # labelled role=db
    result = (await api.execute(JOB_SECRETS, {"jobId": job["id"]}, token))["jobSecrets"]
    assert result["items"] == [
        {"variable": "DB_PASSWORD", "secret": "db-password", "value": "hunter2"}
    ]
    await set_secret(api, alice, "db-password", "rotated")
    result = (await api.execute(JOB_SECRETS, {"jobId": job["id"]}, token))["jobSecrets"]
    assert result["items"][0]["value"] == "rotated"


async def test_an_agent_cannot_read_secrets_of_a_job_not_targeted_at_it(
    api: Api, alice: Persona, bob: Persona
) -> None:
    await set_secret(api, alice, "db-password", "hunter2")
    web_job = await create_job(
        api, alice, **{**DB_JOB, "targetLabels": [{"key": "role", "value": "web"}]}
    )
    _, token = await enrolled_endpoint(api, alice, "db1")
    refused = (await api.execute(JOB_SECRETS, {"jobId": web_job["id"]}, token))["jobSecrets"]
    assert refused["__typename"] == "NotFoundError"
    # Nor of another tenant's job, even one its labels would match.
    bobs_job = await create_job(api, bob, **DB_JOB)
    refused = (await api.execute(JOB_SECRETS, {"jobId": bobs_job["id"]}, token))["jobSecrets"]
    assert refused["__typename"] == "NotFoundError"
    unknown = (await api.execute(JOB_SECRETS, {"jobId": str(uuid.uuid4())}, token))["jobSecrets"]
    assert unknown["__typename"] == "NotFoundError"


async def test_people_and_their_tokens_never_read_secret_values(api: Api, alice: Persona) -> None:
    await set_secret(api, alice, "db-password", "hunter2")
    job = await create_job(api, alice, **DB_JOB)
    body = await api.post(JOB_SECRETS, {"jobId": job["id"]}, alice.access_token)
    assert "hunter2" not in str(body)
    assert body["data"]["jobSecrets"]["__typename"] == "PermissionError"


async def test_a_missing_secret_fails_the_request_and_names_it(api: Api, alice: Persona) -> None:
    job = await create_job(api, alice, **DB_JOB)
    _, token = await enrolled_endpoint(api, alice, "db1")
    result = (await api.execute(JOB_SECRETS, {"jobId": job["id"]}, token))["jobSecrets"]
    assert result["__typename"] == "NotFoundError"
    assert result["message"] == (
        "secret db-password does not exist: set it with `crontopus secrets set NAME`"
    )


async def test_an_update_without_secret_env_keeps_the_references(api: Api, alice: Persona) -> None:
    job = await create_job(api, alice, **DB_JOB)
    old_client = {"name": "backup", "schedule": "@hourly", "command": "/bin/true",
                  "env": [{"key": "PGHOST", "value": "db2"}]}  # fmt: skip
    data = await api.execute(
        UPDATE_JOB, {"id": job["id"], "blob": job["blobId"], "input": old_client},
        alice.access_token,
    )  # fmt: skip
    updated = data["updateJob"]
    assert updated["secretEnv"] == [{"key": "DB_PASSWORD", "value": "db-password"}]
    assert updated["env"] == [{"key": "PGHOST", "value": "db2"}]


async def test_validation_warns_of_literal_secrets_and_missing_secrets(
    api: Api, alice: Persona
) -> None:
    await set_secret(api, alice, "here", "x")
    yaml = """\
apiVersion: crontopus.io/v1
kind: Job
metadata: {id: 550e8400-e29b-41d4-a716-446655440000, name: tick, namespace: default}
spec:
  schedule: "@hourly"
  command: /bin/true
  env:
    - {name: PASSWORD, value: hunter2}
    - {name: A, secretRef: here}
    - {name: B, secretRef: gone}
"""
    result = (await api.execute(VALIDATE, {"yaml": yaml}, alice.access_token))["validateManifest"]
    assert result["valid"] is True
    assert result["problems"] == []
    assert [w["path"] for w in result["warnings"]] == ["spec.env.PASSWORD", "spec.env.B"]
    assert 'secret "gone" does not exist' in result["warnings"][1]["message"]
