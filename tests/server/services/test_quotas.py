"""Per-tenant quotas: past one, the answer names the quota, its limit and its setting."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.server.conftest import Api, Persona, register, start_server, stop_server
from tests.server.graphql.test_enrollment import (
    ENROLL,
    REVOKE_TOKEN,
    create_enrollment_token,
    enrolled_endpoint,
    enrollment,
)
from tests.server.graphql.test_rate_limits import client_from, server_with
from tests.server.graphql.test_tokens import CREATE as CREATE_API_TOKEN
from tests.server.services.alerts.conftest import create_channel
from tests.server.services.test_discovery import REPORT as REPORT_DISCOVERED
from tests.server.test_git_http import CREATE_JOB as GIT_CREATE_JOB
from tests.server.test_git_http import Session

QUOTA_FIELDS = "... on QuotaExceededError { quota limit setting }"
CREATE_JOB = f"""
mutation($name: String!) {{
  createJob(input: {{name: $name, schedule: "0 2 * * *", command: "/bin/true"}}) {{
    __typename ... on UserError {{ message }} {QUOTA_FIELDS}
  }}
}}
"""


@contextlib.asynccontextmanager
async def tenants(
    database_url: str, tmp_path: Path, **quotas: str
) -> AsyncIterator[tuple[Api, Persona, Persona]]:
    """A server with these CRONTOPUS_QUOTA_* settings; alice's and bob's tenants on it."""
    env = {f"CRONTOPUS_QUOTA_{name.upper()}": value for name, value in quotas.items()}
    async with server_with(database_url, tmp_path, env) as app, client_from(app, "::1") as client:
        api = Api(client)
        yield api, await register(api, "alice"), await register(api, "bob")


def refused(result: dict[str, Any], quota: str, limit: int, setting: str) -> None:
    assert result["__typename"] == "QuotaExceededError", result
    assert (result["quota"], result["limit"], result["setting"]) == (quota, limit, setting)
    assert f"may hold at most {limit}" in result["message"]
    assert setting in result["message"]


async def test_jobs_past_the_quota_are_refused_and_other_tenants_are_not_affected(
    database_url: str, tmp_path: Path
) -> None:
    async with tenants(database_url, tmp_path, jobs="2") as (api, alice, bob):
        for name in ("a", "b"):
            created = await api.execute(CREATE_JOB, {"name": name}, alice.access_token)
            assert created["createJob"]["__typename"] == "Job"
        third = await api.execute(CREATE_JOB, {"name": "c"}, alice.access_token)
        refused(third["createJob"], "jobs", 2, "CRONTOPUS_QUOTA_JOBS")
        assert "delete jobs you no longer need" in third["createJob"]["message"]
        bobs = await api.execute(CREATE_JOB, {"name": "c"}, bob.access_token)
        assert bobs["createJob"]["__typename"] == "Job"


async def test_endpoints_past_the_quota_are_refused_but_a_machine_may_enroll_again(
    database_url: str, tmp_path: Path
) -> None:
    async with tenants(database_url, tmp_path, endpoints="1") as (api, alice, _):
        token = (await create_enrollment_token(api, alice))["plaintext"]
        first = await api.execute(ENROLL, enrollment(token, "m1"))
        assert first["enrollEndpoint"]["__typename"] == "EnrolledEndpoint"
        # Re-enrolling a known machine proves itself with the endpoint's current token.
        proof = first["enrollEndpoint"]["endpointToken"]
        again = await api.execute(ENROLL, enrollment(token, "m1", endpointToken=proof))
        assert again["enrollEndpoint"]["reused"] is True
        other = await api.execute(
            ENROLL.replace("__typename", f"__typename {QUOTA_FIELDS}"), enrollment(token, "m2")
        )
        refused(other["enrollEndpoint"], "endpoints", 1, "CRONTOPUS_QUOTA_ENDPOINTS")


async def test_enrollment_tokens_past_the_quota_are_refused_until_one_is_revoked(
    database_url: str, tmp_path: Path
) -> None:
    async with tenants(database_url, tmp_path, enrollment_tokens="1") as (api, alice, _):
        first = await create_enrollment_token(api, alice, name="a")
        second = await api.execute(
            "mutation { createEnrollmentToken(name: \"b\") "
            f"{{ __typename ... on UserError {{ message }} {QUOTA_FIELDS} }} }}",
            token=alice.access_token,
        )  # fmt: skip
        refused(
            second["createEnrollmentToken"],
            "enrollment tokens",
            1,
            "CRONTOPUS_QUOTA_ENROLLMENT_TOKENS",
        )
        await api.execute(REVOKE_TOKEN, {"id": first["token"]["id"]}, alice.access_token)
        third = await create_enrollment_token(api, alice, name="c")
        assert third["__typename"] == "CreatedEnrollmentToken"


async def test_api_tokens_past_the_quota_are_refused(database_url: str, tmp_path: Path) -> None:
    async with tenants(database_url, tmp_path, api_tokens="1") as (api, alice, bob):
        query = CREATE_API_TOKEN.replace("__typename", f"__typename {QUOTA_FIELDS}")
        variables = {"name": "ci", "scopes": ["READ"]}
        first = await api.execute(query, variables, alice.access_token)
        assert first["createApiToken"]["__typename"] == "CreatedApiToken"
        second = await api.execute(query, variables, alice.access_token)
        refused(second["createApiToken"], "API tokens", 1, "CRONTOPUS_QUOTA_API_TOKENS")
        bobs = await api.execute(query, variables, bob.access_token)
        assert bobs["createApiToken"]["__typename"] == "CreatedApiToken"


async def test_channels_past_the_quota_are_refused(database_url: str, tmp_path: Path) -> None:
    async with tenants(database_url, tmp_path, channels="1") as (api, alice, _):
        slack = {"url": "https://8.8.8.8/x"}  # a public address: judged, saved, never called
        assert (await create_channel(api, alice, "one", "SLACK", slack))["__typename"] == "Channel"
        second = await create_channel(api, alice, "two", "SLACK", slack)
        assert second["__typename"] == "QuotaExceededError"
        assert "CRONTOPUS_QUOTA_CHANNELS" in second["message"]


async def test_discovered_jobs_past_the_quota_are_skipped_naming_the_quota(
    database_url: str, tmp_path: Path
) -> None:
    async with tenants(database_url, tmp_path, discovered_jobs="2") as (api, alice, _):
        _, endpoint_token = await enrolled_endpoint(api, alice)
        items = [discovered(f"/usr/local/bin/task-{n}") for n in range(3)]
        data = await api.execute(REPORT_DISCOVERED, {"items": items}, endpoint_token)
        results = data["reportDiscoveredJobs"]["results"]
        assert [r["outcome"] for r in results] == ["CREATED", "CREATED", "SKIPPED"]
        assert "CRONTOPUS_QUOTA_DISCOVERED_JOBS" in results[2]["message"]
        assert "may hold at most 2" in results[2]["message"]
        # Known entries are not new: reporting them again changes nothing and refuses nothing.
        again = await api.execute(REPORT_DISCOVERED, {"items": items[:2]}, endpoint_token)
        assert [r["outcome"] for r in again["reportDiscoveredJobs"]["results"]] == ["KNOWN"] * 2


def discovered(command: str) -> dict[str, str]:
    fingerprint = hashlib.sha256(command.encode()).hexdigest()
    return {
        "schedule": "*/5 * * * *",
        "command": command,
        "user": "root",
        "driver": "cron",
        "fingerprint": fingerprint,
    }


async def test_concurrent_creations_never_pass_the_quota_on_postgresql(
    database_url: str, tmp_path: Path
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite serialises writers; the advisory lock is PostgreSQL's")
    async with tenants(database_url, tmp_path, api_tokens="3") as (api, alice, _):
        answers = await asyncio.gather(
            *(
                api.execute(
                    CREATE_API_TOKEN, {"name": f"t{n}", "scopes": ["READ"]}, alice.access_token
                )
                for n in range(10)
            )
        )
    kinds = sorted(answer["createApiToken"]["__typename"] for answer in answers)
    assert kinds == ["CreatedApiToken"] * 3 + ["QuotaExceededError"] * 7


def test_a_push_past_the_jobs_quota_is_refused_naming_the_quota(tmp_path: Path) -> None:
    # The hook counts files in Git: one database (SQLite, the default) is enough.
    live = start_server(
        {"CRONTOPUS_DATA_DIR": str(tmp_path / "data"), "CRONTOPUS_QUOTA_JOBS": "1"}, migrate=True
    )
    try:
        session = Session(live, tmp_path)
        access = session.register("alice")
        session.graphql(GIT_CREATE_JOB, token=access)
        token = session.api_token(access, ["READ", "WRITE"])
        session.git("clone", session.clone_url("alice", token), "jobs")
        work = tmp_path / "jobs"
        original = (work / "default" / "backup.yaml").read_text()
        job_id = original.split("id: ", 1)[1].split()[0]
        copy = original.replace(job_id, str(uuid.uuid4())).replace("name: backup", "name: other")
        (work / "default" / "other.yaml").write_text(copy)
        session.git("add", ".", cwd=work)
        session.git("commit", "-m", "A second job", cwd=work)
        refused = session.git("push", "origin", "main", cwd=work, check=False)
        assert refused.returncode != 0
        assert "quota reached: this push leaves 2 jobs" in refused.stderr
        assert "at most 1 (set by CRONTOPUS_QUOTA_JOBS)" in refused.stderr
        # Removing jobs is always allowed, even with the tenant over its quota.
        session.git("reset", "--hard", "HEAD~1", cwd=work)
        session.git("rm", "default/backup.yaml", cwd=work)
        session.git("commit", "-m", "No more backups", cwd=work)
        assert session.git("push", "origin", "main", cwd=work, check=False).returncode == 0
    finally:
        stop_server(live)
