"""Platform operators over GraphQL: tenants and their usage, suspension, quotas, exports,
deletion, system health and the operator audit log, on both databases."""

from __future__ import annotations

import base64
import io
import json
import tarfile
import uuid
from typing import Any

from sqlalchemy import func, select

from crontopus.server.app import AppState
from crontopus.server.db.models import Run, Tenant, User
from crontopus.server.services.platform.operators import set_operator
from tests.server.conftest import LOGIN, PASSWORD, Api, Persona, login, register

TENANTS = """
query($search: String) { tenants(search: $search) { nodes {
  id slug suspended suspensionReason
  usage { members jobs endpointsOnline endpointsTotal runsStored runsPerDay { day runs }
          gitBytes runOutputBytes storageBytes }
  quotas { name limit default overridden setting }
  lastExport { id runs }
} } }
"""
SUSPEND = """
mutation($id: UUID!, $reason: String) { suspendTenant(id: $id, reason: $reason) {
  __typename ... on OperatorTenant { slug suspended suspensionReason }
  ... on UserError { message } } }
"""
RESUME = """
mutation($id: UUID!) { resumeTenant(id: $id) {
  __typename ... on OperatorTenant { slug suspended } ... on UserError { message } } }
"""
QUOTAS = """
mutation($id: UUID!, $quotas: [QuotaOverrideInput!]!) { setTenantQuotas(id: $id, quotas: $quotas) {
  __typename ... on OperatorTenant { quotas { name limit overridden } }
  ... on UserError { message } ... on ValidationError { fields { path message } } } }
"""
EXPORT = """
mutation($id: UUID!) { exportTenant(id: $id) {
  __typename ... on TenantExport { id runs headCommit sizeBytes downloadPath }
  ... on UserError { message } } }
"""
DELETE = """
mutation($id: UUID!) { deleteTenant(id: $id) {
  __typename ... on DeletedTenant { slug deletedUsers export { id } }
  ... on UserError { message } } }
"""
AUDIT = "{ operatorAuditEvents { nodes { actor action tenantSlug details } } }"
HEALTH = """
{ systemHealth {
  database { backend up latencyMs sizeBytes }
  ingest { queueDepth queueLimit batches lastBatchSeconds }
  alerts { inProcess lagSeconds pendingNotifications }
  eventBus { kind connected subscribers }
  disk { dataBytes gitBytes freeBytes totalBytes }
  dependencies { name up }
} }
"""
CREATE_TOKEN = """
mutation($name: String!, $scopes: [TokenScope!]!) { createApiToken(name: $name, scopes: $scopes) {
  __typename ... on CreatedApiToken { plaintext } ... on UserError { message } } }
"""


async def promote(state: AppState, persona: Persona) -> None:
    async with state.session() as session:
        await set_operator(session, persona.username, True)
        await session.commit()
    state.identities.forget_user(uuid.UUID(persona.user_id))


async def operator(api: Api, state: AppState) -> Persona:
    """`root`, a platform operator signed in to a tenant of their own."""
    root = await register(api, "root")
    await promote(state, root)
    return root


def tenant_named(data: dict[str, Any], slug: str) -> dict[str, Any]:
    nodes: list[dict[str, Any]] = data["tenants"]["nodes"]
    [found] = [t for t in nodes if t["slug"] == slug]
    return found


async def checkin(api: Api, token: str, job_id: uuid.UUID, event: str = "success") -> Any:
    return await api.client.post(
        f"/checkin/{job_id}/{event}",
        params={"rid": str(uuid.uuid4())},
        headers={"Authorization": f"Bearer {token}"},
        content=b"output",
    )


async def test_an_operator_sees_every_tenant_with_its_usage(
    api: Api, state: AppState, alice: Persona, bob: Persona
) -> None:
    root = await operator(api, state)
    assert (await checkin(api, alice.access_token, uuid.uuid4())).status_code == 200
    data = await api.execute(TENANTS, {}, root.access_token)
    assert {t["slug"] for t in data["tenants"]["nodes"]} == {"alice", "bob", "root"}
    usage = tenant_named(data, "alice")["usage"]
    assert usage["members"] == 1
    assert usage["jobs"] == 0
    assert usage["runsStored"] == 1
    assert usage["runOutputBytes"] == len(b"output")
    assert usage["gitBytes"] > 0
    assert usage["storageBytes"] == usage["gitBytes"] + usage["runOutputBytes"]
    assert len(usage["runsPerDay"]) == 7
    assert usage["runsPerDay"][-1]["runs"] == 1
    quotas = tenant_named(data, "alice")["quotas"]
    assert {"name": "JOBS", "limit": 1000, "default": 1000, "overridden": False,
            "setting": "CRONTOPUS_QUOTA_JOBS"} in quotas  # fmt: skip
    searched = await api.execute(TENANTS, {"search": "BO"}, root.access_token)
    assert [t["slug"] for t in searched["tenants"]["nodes"]] == ["bob"]


async def test_owners_and_tokens_are_not_operators(
    api: Api, state: AppState, alice: Persona
) -> None:
    error = await api.error_of(TENANTS, {}, alice.access_token)
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert "platform operator" in error["message"]
    refused = await api.execute(SUSPEND, {"id": alice.tenant_id}, alice.access_token)
    assert refused["suspendTenant"]["__typename"] == "PermissionError"
    # An operator's API token is no operator: operator actions need a signed-in person.
    root = await operator(api, state)
    created = await api.execute(CREATE_TOKEN, {"name": "t", "scopes": ["WRITE"]}, root.access_token)
    token = created["createApiToken"]["plaintext"]
    error = await api.error_of(HEALTH, {}, token)
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert "tokens cannot" in error["message"]


async def test_a_demoted_operator_is_refused_at_the_next_check(
    api: Api, state: AppState, alice: Persona
) -> None:
    root = await operator(api, state)
    assert (await api.execute(HEALTH, {}, root.access_token))["systemHealth"]["database"]["up"]
    async with state.session() as session:
        await set_operator(session, "root", False)
        await session.commit()
    state.identities.forget_user(uuid.UUID(root.user_id))
    error = await api.error_of(HEALTH, {}, root.access_token)
    assert error["extensions"]["code"] == "FORBIDDEN"


async def test_a_suspended_tenant_is_refused_everywhere_but_its_check_ins_are_kept(
    api: Api, state: AppState, alice: Persona, bob: Persona
) -> None:
    root = await operator(api, state)
    created = await api.execute(CREATE_TOKEN, {"name": "git", "scopes": ["WRITE"]},
                                alice.access_token)  # fmt: skip
    api_token = created["createApiToken"]["plaintext"]
    suspended = await api.execute(
        SUSPEND, {"id": alice.tenant_id, "reason": "unpaid"}, root.access_token
    )
    assert suspended["suspendTenant"] == {
        "__typename": "OperatorTenant", "slug": "alice", "suspended": True,
        "suspensionReason": "unpaid",
    }  # fmt: skip
    # API calls with a session or a token of the tenant: a clear "suspended" answer.
    error = await api.error_of("{ me { user { username } } }", {}, alice.access_token)
    assert error["extensions"]["code"] == "TENANT_SUSPENDED"
    assert "'alice' is suspended" in error["message"]
    assert "unpaid" in error["message"]
    error = await api.error_of("{ me { user { username } } }", {}, api_token)
    assert error["extensions"]["code"] == "TENANT_SUSPENDED"
    # Logins.
    answer = await api.execute(LOGIN, {"username": "alice", "password": PASSWORD})
    assert answer["login"]["__typename"] == "AuthenticationError"
    assert "suspended" in answer["login"]["message"]
    # Git over HTTP.
    basic = base64.b64encode(f"x:{api_token}".encode()).decode()
    refs = await api.client.get(
        "/git/alice/jobs.git/info/refs",
        params={"service": "git-upload-pack"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert refs.status_code == 403
    assert "suspended" in refs.text
    # Check-ins over HTTP and GraphQL: refused, and stored all the same.
    job = uuid.uuid4()
    answer = await checkin(api, alice.access_token, job)
    assert answer.status_code == 403
    body = answer.json()
    assert body["suspended"] is True
    assert body["kept"] is True
    assert "kept" in body["error"]
    error = await api.error_of(
        """mutation($job: UUID!, $run: UUID!) { checkIn(input: {jobId: $job, runId: $run,
           event: SUCCESS}) { __typename } }""",
        {"job": str(job), "run": str(uuid.uuid4())},
        alice.access_token,
    )
    assert error["extensions"]["code"] == "TENANT_SUSPENDED"
    assert error["extensions"]["kept"]
    async with state.session() as session:
        stored = await session.scalar(
            select(func.count()).select_from(Run).where(Run.tenant_id == uuid.UUID(alice.tenant_id))
        )
    assert stored == 2
    # Other tenants go on as before.
    assert (await checkin(api, bob.access_token, job)).status_code == 200
    # Resumed: the same session works again and sees the runs kept meanwhile.
    resumed = await api.execute(RESUME, {"id": alice.tenant_id}, root.access_token)
    assert resumed["resumeTenant"]["suspended"] is False
    runs = await api.execute("{ runs { nodes { id } } }", {}, alice.access_token)
    assert len(runs["runs"]["nodes"]) == 2
    assert (await login(api, "alice")).tenant_slug == "alice"


async def test_a_login_without_a_tenant_named_skips_suspended_ones(
    api: Api, state: AppState, alice: Persona, carol: Persona
) -> None:
    root = await operator(api, state)
    # carol belongs to her own tenant and to alice's; alice's is suspended.
    await api.execute(SUSPEND, {"id": alice.tenant_id}, root.access_token)
    assert (await login(api, "carol")).tenant_slug == "carol"
    answer = await api.execute(LOGIN, {"username": "carol", "password": PASSWORD,
                                       "tenant": "alice"})  # fmt: skip
    assert "suspended" in answer["login"]["message"]


async def test_an_operator_cannot_suspend_or_delete_the_tenant_they_are_signed_in_to(
    api: Api, state: AppState
) -> None:
    root = await operator(api, state)
    refused = await api.execute(SUSPEND, {"id": root.tenant_id}, root.access_token)
    assert refused["suspendTenant"]["__typename"] == "ValidationError"
    assert "lock you out" in refused["suspendTenant"]["message"]
    missing = await api.execute(SUSPEND, {"id": str(uuid.uuid4())}, root.access_token)
    assert missing["suspendTenant"]["__typename"] == "NotFoundError"


async def test_a_tenant_quota_overrides_the_servers_default(
    api: Api, state: AppState, alice: Persona, bob: Persona
) -> None:
    root = await operator(api, state)
    changed = await api.execute(
        QUOTAS, {"id": alice.tenant_id, "quotas": [{"name": "API_TOKENS", "limit": 1}]},
        root.access_token,
    )  # fmt: skip
    tokens = [q for q in changed["setTenantQuotas"]["quotas"] if q["name"] == "API_TOKENS"]
    assert tokens == [{"name": "API_TOKENS", "limit": 1, "overridden": True}]
    first = await api.execute(CREATE_TOKEN, {"name": "a", "scopes": ["READ"]}, alice.access_token)
    assert first["createApiToken"]["__typename"] == "CreatedApiToken"
    second = await api.execute(CREATE_TOKEN, {"name": "b", "scopes": ["READ"]}, alice.access_token)
    assert second["createApiToken"]["__typename"] == "QuotaExceededError"
    assert "set for this tenant by the server's operator" in second["createApiToken"]["message"]
    # Other tenants keep the default.
    for name in ("a", "b"):
        made = await api.execute(CREATE_TOKEN, {"name": name, "scopes": ["READ"]}, bob.access_token)
        assert made["createApiToken"]["__typename"] == "CreatedApiToken"
    # Back to the default, and bounds are checked.
    await api.execute(QUOTAS, {"id": alice.tenant_id, "quotas": [{"name": "API_TOKENS",
                      "limit": None}]}, root.access_token)  # fmt: skip
    again = await api.execute(CREATE_TOKEN, {"name": "c", "scopes": ["READ"]}, alice.access_token)
    assert again["createApiToken"]["__typename"] == "CreatedApiToken"
    bad = await api.execute(QUOTAS, {"id": alice.tenant_id, "quotas": [{"name": "JOBS",
                            "limit": -1}]}, root.access_token)  # fmt: skip
    assert bad["setTenantQuotas"]["fields"][0]["path"] == ["quotas", "JOBS"]


async def test_a_tenant_is_deleted_only_suspended_and_after_an_export_that_holds_everything(
    api: Api, state: AppState, alice: Persona, bob: Persona
) -> None:
    root = await operator(api, state)
    tenant = {"id": alice.tenant_id}
    job = uuid.uuid4()
    assert (await checkin(api, alice.access_token, job)).status_code == 200
    refused = await api.execute(DELETE, tenant, root.access_token)
    assert "suspend the tenant 'alice' first" in refused["deleteTenant"]["message"]
    await api.execute(SUSPEND, tenant, root.access_token)
    refused = await api.execute(DELETE, tenant, root.access_token)
    assert "export the tenant 'alice' first" in refused["deleteTenant"]["message"]
    exported = (await api.execute(EXPORT, tenant, root.access_token))["exportTenant"]
    assert exported["runs"] == 1
    assert exported["headCommit"]
    # A check-in kept after the export asks for a new one.
    assert (await checkin(api, alice.access_token, job)).status_code == 403
    refused = await api.execute(DELETE, tenant, root.access_token)
    assert "1 runs arrived since the latest export" in refused["deleteTenant"]["message"]
    exported = (await api.execute(EXPORT, tenant, root.access_token))["exportTenant"]
    assert exported["runs"] == 2
    # The archive: the repository as a bundle, the runs, and the tenant without secrets.
    download = await api.client.get(
        exported["downloadPath"], headers={"Authorization": f"Bearer {root.access_token}"}
    )
    assert download.status_code == 200
    with tarfile.open(fileobj=io.BytesIO(download.content)) as archive:
        names = set(archive.getnames())
        runs = archive.extractfile("runs.jsonl").read().decode().splitlines()  # type: ignore[union-attr]
        summary = json.loads(archive.extractfile("tenant.json").read())  # type: ignore[union-attr]
    assert names == {"tenant.json", "repository.bundle", "runs.jsonl"}
    assert len(runs) == 2
    assert json.loads(runs[0])["jobId"] == str(job)
    assert summary["members"] == [{"username": "alice", "email": "alice@example.com",
                                   "role": "OWNER"}]  # fmt: skip
    assert "hash" not in json.dumps(summary)
    # Nobody but an operator downloads it.
    forbidden = await api.client.get(
        exported["downloadPath"], headers={"Authorization": f"Bearer {bob.access_token}"}
    )
    assert forbidden.status_code == 403
    deleted = (await api.execute(DELETE, tenant, root.access_token))["deleteTenant"]
    assert deleted == {"__typename": "DeletedTenant", "slug": "alice", "deletedUsers": ["alice"],
                       "export": {"id": exported["id"]}}  # fmt: skip
    async with state.session() as session:
        assert await session.get(Tenant, uuid.UUID(alice.tenant_id)) is None
        assert await session.scalar(select(User).where(User.username == "alice")) is None
        assert await session.scalar(select(func.count()).select_from(Run)) == 0
    assert not (state.settings.data_dir / "git" / "alice.git").exists()
    # The export outlives the tenant.
    listed = await api.execute("{ tenantExports { nodes { id tenantSlug } } }", {},
                               root.access_token)  # fmt: skip
    assert {"id": exported["id"], "tenantSlug": "alice"} in listed["tenantExports"]["nodes"]
    again = await api.client.get(
        exported["downloadPath"], headers={"Authorization": f"Bearer {root.access_token}"}
    )
    assert again.status_code == 200
    # Every step is in the operator audit log, newest first.
    audit = await api.execute(AUDIT, {}, root.access_token)
    actions = [e["action"] for e in audit["operatorAuditEvents"]["nodes"]]
    assert actions[:3] == ["tenant.export.download", "tenant.delete", "tenant.export.download"]
    assert "tenant.suspend" in actions
    assert actions.count("tenant.export") == 2
    assert all(e["actor"] == "root" for e in audit["operatorAuditEvents"]["nodes"]
               if e["action"].startswith("tenant."))  # fmt: skip


async def test_system_health_gathers_the_database_ingest_alerts_bus_and_disk(
    api: Api, state: AppState, alice: Persona
) -> None:
    root = await operator(api, state)
    assert (await checkin(api, alice.access_token, uuid.uuid4())).status_code == 200
    health = (await api.execute(HEALTH, {}, root.access_token))["systemHealth"]
    assert health["database"]["up"]
    assert health["database"]["sizeBytes"] > 0
    assert health["database"]["latencyMs"] >= 0
    assert health["ingest"]["batches"] >= 1
    assert health["ingest"]["lastBatchSeconds"] > 0
    assert health["ingest"]["queueLimit"] == state.settings.ingest_queue_limit
    assert health["eventBus"]["connected"] is True
    assert health["disk"]["gitBytes"] > 0
    assert health["disk"]["totalBytes"] > 0
    assert {d["name"]: d["up"] for d in health["dependencies"]} == {
        "database": True, "gitStore": True,
    }  # fmt: skip
