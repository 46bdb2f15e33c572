"""Jobs live in Git: the GraphQL jobs API reads manifests at HEAD and writes commits."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from crontopus.server.app import AppState
from crontopus.server.gitstore import Author, Put
from tests.server.conftest import Api, Persona

JOB_FIELDS = """
  id name namespace schedule timezone command args enabled paused concurrency graceTime
  labels { key value } env { key value } targetLabels { key value }
  isDiscovered path yaml blobId nextRuns(count: 3)
"""
CREATE = f"""
mutation Create($input: JobInput!) {{
  createJob(input: $input) {{
    __typename
    ... on Job {{ {JOB_FIELDS} }}
    ... on UserError {{ message }}
    ... on ValidationError {{ fields {{ path message }} }}
  }}
}}
"""
UPDATE = f"""
mutation Update($id: UUID!, $input: JobInput!, $blob: String!) {{
  updateJob(id: $id, input: $input, expectedBlobId: $blob) {{
    __typename
    ... on Job {{ {JOB_FIELDS} }}
    ... on UserError {{ message }}
    ... on ValidationError {{ fields {{ path message }} }}
  }}
}}
"""
DELETE = """
mutation Delete($id: UUID!, $blob: String!) {
  deleteJob(id: $id, expectedBlobId: $blob) {
    __typename
    ... on DeleteJobPayload { job { path } }
    ... on UserError { message }
  }
}
"""
ADOPT = """
mutation Adopt($id: UUID!, $ns: String!) {
  adoptJob(id: $id, targetNamespace: $ns) {
    __typename
    ... on Job { namespace path labels { key value } isDiscovered }
    ... on UserError { message }
  }
}
"""
JOBS = """
query Jobs($namespace: String, $search: String, $labels: [KeyValueInput!], $first: Int!,
           $after: String) {
  jobs(namespace: $namespace, search: $search, labels: $labels, first: $first, after: $after) {
    nodes { name namespace path }
    pageInfo { hasNextPage endCursor }
  }
}
"""
NAMESPACE = """
mutation Ns($name: String!) {
  createNamespace(name: $name) {
    __typename ... on Namespace { name jobCount isSystem } ... on UserError { message }
  }
}
"""
DELETE_NAMESPACE = """
mutation Ns($name: String!) {
  deleteNamespace(name: $name) {
    __typename ... on DeleteNamespacePayload { namespace { name } } ... on UserError { message }
  }
}
"""
HISTORY = """
query History($id: UUID!) {
  jobHistory(id: $id) { commitId authorName authorEmail message path yaml }
}
"""


def job_input(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "backup-database",
        "namespace": "default",
        "schedule": "0 2 * * *",
        "timezone": "Europe/Berlin",
        "command": "/opt/scripts/backup.sh",
        "args": ["--full"],
        "env": [{"key": "PGHOST", "value": "db1"}],
        "labels": [{"key": "team", "value": "platform"}],
        "targetLabels": [{"key": "role", "value": "db"}],
    }
    base.update(overrides)
    return base


async def create(api: Api, persona: Persona, **overrides: Any) -> dict[str, Any]:
    data = await api.execute(CREATE, {"input": job_input(**overrides)}, persona.access_token)
    result: dict[str, Any] = data["createJob"]
    return result


async def test_a_created_job_is_committed_as_a_manifest_and_read_back(
    api: Api, alice: Persona
) -> None:
    job = await create(api, alice)
    assert job["__typename"] == "Job", job
    assert job["path"] == "default/backup-database.yaml"
    assert job["schedule"] == "0 2 * * *"
    assert job["env"] == [{"key": "PGHOST", "value": "db1"}]
    assert job["targetLabels"] == [{"key": "role", "value": "db"}]
    assert f"id: {job['id']}" in job["yaml"]
    assert len(job["nextRuns"]) == 3
    assert all(run.endswith(("+01:00", "+02:00")) for run in job["nextRuns"])
    again = await api.execute(
        "query($id: UUID!) { job(id: $id) { name blobId } }", {"id": job["id"]}, alice.access_token
    )
    assert again["job"] == {"name": "backup-database", "blobId": job["blobId"]}


async def test_a_save_with_a_message_commits_it_above_the_servers_own_line(
    api: Api, alice: Persona
) -> None:
    created = await api.execute(
        "mutation($input: JobInput!, $m: String) { createJob(input: $input, message: $m) {"
        " ... on Job { id blobId } } }",
        {"input": job_input(), "m": "  Nightly backup for the billing database \n"},
        alice.access_token,
    )
    job = created["createJob"]
    updated = await api.execute(
        "mutation($id: UUID!, $b: String!, $y: String!, $m: String) {"
        " updateJob(id: $id, expectedBlobId: $b, manifest: $y, message: $m) { __typename } }",
        {
            "id": job["id"],
            "b": job["blobId"],
            "y": (
                await api.execute(
                    "query($id: UUID!) { job(id: $id) { yaml } }",
                    {"id": job["id"]},
                    alice.access_token,
                )
            )["job"]["yaml"].replace("0 2 * * *", "0 3 * * *"),
            "m": "Later: the dump now takes longer",
        },
        alice.access_token,
    )
    assert updated["updateJob"]["__typename"] == "Job"
    history = await api.execute(HISTORY, {"id": job["id"]}, alice.access_token)
    messages = [r["message"].strip() for r in history["jobHistory"]]
    assert messages == [
        "Later: the dump now takes longer\n\njobs: update default/backup-database",
        "Nightly backup for the billing database\n\njobs: create default/backup-database",
    ]


async def test_a_blank_commit_message_is_the_servers_own_and_a_huge_one_is_refused(
    api: Api, alice: Persona
) -> None:
    query = (
        "mutation($input: JobInput!, $m: String) { createJob(input: $input, message: $m) {"
        " __typename ... on ValidationError { fields { path message } } } }"
    )
    blank = await api.execute(query, {"input": job_input(), "m": "   "}, alice.access_token)
    assert blank["createJob"]["__typename"] == "Job"
    huge = await api.execute(
        query, {"input": job_input(name="other"), "m": "x" * 5000}, alice.access_token
    )
    assert huge["createJob"]["fields"][0]["path"] == ["message"]


async def test_a_job_commit_names_the_acting_user_and_reads_well(api: Api, alice: Persona) -> None:
    job = await create(api, alice)
    history = await api.execute(HISTORY, {"id": job["id"]}, alice.access_token)
    (revision,) = history["jobHistory"]
    assert revision["authorName"] == "alice"
    assert revision["authorEmail"] == "alice@example.com"
    assert revision["message"].startswith("jobs: create default/backup-database")
    assert revision["yaml"] == job["yaml"]


async def test_every_problem_of_the_input_is_reported_against_its_field(
    api: Api, alice: Persona
) -> None:
    result = await create(
        api, alice, schedule="5/15 * * * *", timezone="Mars/Olympus", name="Bad Name"
    )
    assert result["__typename"] == "ValidationError"
    fields = {tuple(f["path"]): f["message"] for f in result["fields"]}
    assert "a step needs a range or *" in fields[("input", "schedule")]
    assert ("input", "timezone") in fields
    assert ("input", "name") in fields


async def test_a_second_job_with_the_same_name_is_refused(api: Api, alice: Persona) -> None:
    await create(api, alice)
    again = await create(api, alice)
    assert again["__typename"] == "ValidationError"
    assert "already exists" in again["fields"][0]["message"]


async def test_jobs_filter_by_namespace_search_and_labels_and_page_by_path(
    api: Api, alice: Persona
) -> None:
    await api.execute(NAMESPACE, {"name": "reports"}, alice.access_token)
    await create(api, alice, name="nightly-report", namespace="reports", command="/bin/report")
    await create(api, alice, name="rotate-logs", labels=[{"key": "team", "value": "ops"}])
    await create(api, alice)

    async def names(**variables: Any) -> list[str]:
        data = await api.execute(JOBS, {"first": 50, **variables}, alice.access_token)
        return [n["name"] for n in data["jobs"]["nodes"]]

    assert await names() == ["backup-database", "rotate-logs", "nightly-report"]
    assert await names(namespace="reports") == ["nightly-report"]
    assert await names(search="REPORT") == ["nightly-report"]
    assert await names(labels=[{"key": "team", "value": "ops"}]) == ["rotate-logs"]

    page = await api.execute(JOBS, {"first": 2}, alice.access_token)
    assert page["jobs"]["pageInfo"]["hasNextPage"] is True
    rest = await api.execute(
        JOBS, {"first": 2, "after": page["jobs"]["pageInfo"]["endCursor"]}, alice.access_token
    )
    assert [n["name"] for n in rest["jobs"]["nodes"]] == ["nightly-report"]


async def test_an_update_with_the_current_blob_id_lands(api: Api, alice: Persona) -> None:
    job = await create(api, alice)
    data = await api.execute(
        UPDATE,
        {"id": job["id"], "input": job_input(schedule="30 3 * * 1-5"), "blob": job["blobId"]},
        alice.access_token,
    )
    updated = data["updateJob"]
    assert updated["__typename"] == "Job", updated
    assert updated["schedule"] == "30 3 * * 1-5"
    assert updated["id"] == job["id"]
    assert updated["blobId"] != job["blobId"]


async def test_an_update_with_a_stale_blob_id_conflicts_instead_of_overwriting(
    api: Api, alice: Persona
) -> None:
    job = await create(api, alice)
    first = await api.execute(
        UPDATE,
        {"id": job["id"], "input": job_input(schedule="1 1 * * *"), "blob": job["blobId"]},
        alice.access_token,
    )
    assert first["updateJob"]["__typename"] == "Job"
    second = await api.execute(
        UPDATE,
        {"id": job["id"], "input": job_input(schedule="2 2 * * *"), "blob": job["blobId"]},
        alice.access_token,
    )
    assert second["updateJob"]["__typename"] == "ConflictError"
    assert "changed since you read it" in second["updateJob"]["message"]
    current = await api.execute(
        "query($id: UUID!) { job(id: $id) { schedule } }", {"id": job["id"]}, alice.access_token
    )
    assert current["job"]["schedule"] == "1 1 * * *"


async def test_renaming_a_job_moves_its_file_and_keeps_its_id_and_history(
    api: Api, alice: Persona
) -> None:
    job = await create(api, alice)
    data = await api.execute(
        UPDATE,
        {"id": job["id"], "input": job_input(name="backup-db"), "blob": job["blobId"]},
        alice.access_token,
    )
    assert data["updateJob"]["path"] == "default/backup-db.yaml"
    history = await api.execute(HISTORY, {"id": job["id"]}, alice.access_token)
    assert [r["path"] for r in history["jobHistory"]] == [
        "default/backup-db.yaml",
        "default/backup-database.yaml",
    ]


async def test_delete_needs_the_current_blob_id(api: Api, alice: Persona) -> None:
    job = await create(api, alice)
    stale = await api.execute(DELETE, {"id": job["id"], "blob": "0" * 40}, alice.access_token)
    assert stale["deleteJob"]["__typename"] == "ConflictError"
    done = await api.execute(DELETE, {"id": job["id"], "blob": job["blobId"]}, alice.access_token)
    assert done["deleteJob"]["job"]["path"] == "default/backup-database.yaml"
    gone = await api.execute(
        "query($id: UUID!) { job(id: $id) { id } }", {"id": job["id"]}, alice.access_token
    )
    assert gone["job"] is None


async def test_namespaces_are_listed_created_and_deleted_only_when_empty(
    api: Api, alice: Persona
) -> None:
    listed = await api.execute(
        "{ namespaces { name isSystem jobCount } }", token=alice.access_token
    )
    assert listed["namespaces"] == [
        {"name": "default", "isSystem": True, "jobCount": 0},
        {"name": "discovered", "isSystem": True, "jobCount": 0},
    ]
    created = await api.execute(NAMESPACE, {"name": "backup"}, alice.access_token)
    assert created["createNamespace"]["name"] == "backup"
    await create(api, alice, namespace="backup")
    busy = await api.execute(DELETE_NAMESPACE, {"name": "backup"}, alice.access_token)
    assert busy["deleteNamespace"]["__typename"] == "ConflictError"
    assert "still holds" in busy["deleteNamespace"]["message"]
    protected = await api.execute(DELETE_NAMESPACE, {"name": "default"}, alice.access_token)
    assert "cannot be deleted" in protected["deleteNamespace"]["message"]


async def test_namespace_names_follow_the_kubernetes_rule_and_system_is_reserved(
    api: Api, alice: Persona
) -> None:
    for name in ["Backup", "-x", "system", "a" * 64]:
        data = await api.execute(NAMESPACE, {"name": name}, alice.access_token)
        assert data["createNamespace"]["__typename"] == "ValidationError", name


async def test_a_job_in_a_missing_namespace_is_refused_with_the_fix(
    api: Api, alice: Persona
) -> None:
    result = await create(api, alice, namespace="nowhere")
    assert result["__typename"] == "ValidationError"
    assert "create it first" in result["fields"][0]["message"]


async def _discovered_job(state: AppState, persona: Persona) -> str:
    job_id = "7d3e9f7a-2c55-4b8e-9a59-0d3d3f6f1c11"
    manifest = f"""apiVersion: crontopus.io/v1
kind: Job
metadata:
  id: {job_id}
  name: cleanup-tmp
  namespace: discovered
  labels: {{source: discovered}}
spec:
  schedule: "15 4 * * *"
  command: find /tmp -mtime +7 -delete
"""
    await state.gitstore.commit_changes(
        persona.tenant_slug,
        [Put("discovered/cleanup-tmp.yaml", manifest)],
        Author("agent", "agent@example.com"),
        "discovery: cleanup-tmp",
    )
    return job_id


async def test_discovered_jobs_are_read_only_until_adopted(
    api: Api, alice: Persona, state: AppState
) -> None:
    job_id = await _discovered_job(state, alice)
    job = (
        await api.execute(
            "query($id: UUID!) { job(id: $id) { blobId isDiscovered } }",
            {"id": job_id},
            alice.access_token,
        )
    )["job"]
    assert job["isDiscovered"] is True
    edit = await api.execute(
        UPDATE, {"id": job_id, "input": job_input(), "blob": job["blobId"]}, alice.access_token
    )
    assert "adopt" in edit["updateJob"]["message"]
    delete = await api.execute(DELETE, {"id": job_id, "blob": job["blobId"]}, alice.access_token)
    assert "adopt" in delete["deleteJob"]["message"]

    adopted = await api.execute(ADOPT, {"id": job_id, "ns": "default"}, alice.access_token)
    assert adopted["adoptJob"] == {
        "__typename": "Job",
        "namespace": "default",
        "path": "default/cleanup-tmp.yaml",
        "labels": [],
        "isDiscovered": False,
    }


async def test_only_discovered_jobs_can_be_adopted(api: Api, alice: Persona) -> None:
    job = await create(api, alice)
    data = await api.execute(ADOPT, {"id": job["id"], "ns": "default"}, alice.access_token)
    assert data["adoptJob"]["__typename"] == "ValidationError"


async def test_a_broken_file_is_reported_and_hides_no_other_job(
    api: Api, alice: Persona, state: AppState
) -> None:
    await create(api, alice)
    await state.gitstore.commit_changes(
        alice.tenant_slug,
        [Put("default/broken.yaml", "apiVersion: crontopus.io/v1\nkind: Job\nspec: [\n")],
        Author("someone", "someone@example.com"),
        "a broken push",
    )
    problems = await api.execute(
        "{ repositoryProblems { file path message } }", token=alice.access_token
    )
    assert [p["file"] for p in problems["repositoryProblems"]] == ["default/broken.yaml"]
    jobs = await api.execute(JOBS, {"first": 10}, alice.access_token)
    assert [n["name"] for n in jobs["jobs"]["nodes"]] == ["backup-database"]


async def test_validate_manifest_reports_problems_without_saving(api: Api, alice: Persona) -> None:
    query = "query($y: String!) { validateManifest(yaml: $y) { valid problems { path message } } }"
    text = "apiVersion: v1\nkind: Job\nmetadata: {name: x}\nspec: {shedule: '* * * * *'}\n"
    bad = await api.execute(query, {"y": text}, alice.access_token)
    result = bad["validateManifest"]
    assert result["valid"] is False
    assert any("schedule" in p["message"] or "schedule" in p["path"] for p in result["problems"])
    listed = await api.execute(JOBS, {"first": 10}, alice.access_token)
    assert listed["jobs"]["nodes"] == []


async def test_schedule_preview_follows_cron_and_explains_bad_input(
    api: Api, alice: Persona
) -> None:
    query = """query($s: String!, $tz: String!) {
      schedulePreview(schedule: $s, timezone: $tz, count: 2) {
      __typename ... on SchedulePreview { expression nextRuns }
      ... on ValidationError { fields { path message } } } }"""
    good = await api.execute(query, {"s": "@weekly", "tz": "UTC"}, alice.access_token)
    assert good["schedulePreview"]["expression"] == "0 0 * * 0"
    assert all("T00:00:00" in run for run in good["schedulePreview"]["nextRuns"])
    bad = await api.execute(query, {"s": "0 0 30 2 *", "tz": "UTC"}, alice.access_token)
    assert bad["schedulePreview"]["fields"][0]["path"] == ["schedule"]


async def test_the_repository_tells_where_to_clone_from(api: Api, alice: Persona) -> None:
    query = "{ repository { cloneUrl headCommit pendingCommit } }"
    data = await api.execute(query, token=alice.access_token)
    assert data["repository"]["cloneUrl"] == "http://testserver/git/alice/jobs.git"
    assert len(data["repository"]["headCommit"]) == 40
    # A managed repository validates pushes before they land: nothing is ever pending.
    assert data["repository"]["pendingCommit"] is None


async def test_another_tenants_job_is_not_found_and_cannot_be_touched(
    api: Api, alice: Persona, bob: Persona
) -> None:
    job = await create(api, alice)
    seen = await api.execute(
        "query($id: UUID!) { job(id: $id) { id } }", {"id": job["id"]}, bob.access_token
    )
    assert seen["job"] is None
    deleted = await api.execute(DELETE, {"id": job["id"], "blob": job["blobId"]}, bob.access_token)
    assert deleted["deleteJob"]["__typename"] == "NotFoundError"
    history = await api.error_of(HISTORY, {"id": job["id"]}, bob.access_token)
    assert history["extensions"]["code"] == "NOT_FOUND"


async def test_a_viewer_reads_jobs_but_cannot_change_them(
    api: Api, alice: Persona, carol: Persona
) -> None:
    await create(api, alice)
    listed = await api.execute(JOBS, {"first": 10}, carol.access_token)
    assert len(listed["jobs"]["nodes"]) == 1
    denied = await create(api, carol, name="sneaky")
    assert denied["__typename"] == "PermissionError"


async def test_an_api_edit_keeps_manifest_fields_the_job_input_cannot_express(
    api: Api, alice: Persona, state: AppState
) -> None:
    job_id = "1f2e3d4c-5b6a-4978-8a9b-0c1d2e3f4a5b"
    manifest = f"""apiVersion: crontopus.io/v1
kind: Job
metadata:
  id: {job_id}
  name: backup-database
  namespace: default
spec:
  schedule: "30 2 * * *"
  timezone: Europe/Berlin
  command: /opt/scripts/backup.sh
  systemd:
    acceptDstDifferences: true
"""
    await state.gitstore.commit_changes(
        alice.tenant_slug,
        [Put("default/backup-database.yaml", manifest)],
        Author("alice", "alice@example.com"),
        "hand-written",
    )
    job = (
        await api.execute(
            "query($id: UUID!) { job(id: $id) { blobId } }", {"id": job_id}, alice.access_token
        )
    )["job"]
    data = await api.execute(
        UPDATE,
        {"id": job_id, "input": job_input(schedule="45 2 * * *"), "blob": job["blobId"]},
        alice.access_token,
    )
    assert data["updateJob"]["schedule"] == "45 2 * * *"
    assert "acceptDstDifferences: true" in data["updateJob"]["yaml"]


SECTIONS = (
    "alerts { onFailure consecutiveFailures failureRate { percent window minRuns } "
    "missedRun maxDuration minDuration channels } systemd { acceptDstDifferences } "
    "taskScheduler { acceptDstDifferences }"
)
CREATE_FROM_MANIFEST = f"""
mutation Create($manifest: String!) {{
  createJob(manifest: $manifest) {{
    __typename
    ... on Job {{ id path yaml blobId {SECTIONS} }}
    ... on UserError {{ message }}
    ... on ValidationError {{ fields {{ path message }} }}
  }}
}}
"""
UPDATE_FROM_MANIFEST = f"""
mutation Update($id: UUID!, $manifest: String!, $blob: String!) {{
  updateJob(id: $id, manifest: $manifest, expectedBlobId: $blob) {{
    __typename
    ... on Job {{ id path yaml blobId {SECTIONS} }}
    ... on UserError {{ message }}
    ... on ValidationError {{ fields {{ path message }} }}
  }}
}}
"""
UPDATE_SECTIONS = f"""
mutation Update($id: UUID!, $input: JobInput!, $blob: String!) {{
  updateJob(id: $id, input: $input, expectedBlobId: $blob) {{
    __typename
    ... on Job {{ blobId yaml {SECTIONS} }}
    ... on UserError {{ message }}
    ... on ValidationError {{ fields {{ path message }} }}
  }}
}}
"""
WHOLE_MANIFEST = """apiVersion: crontopus.io/v1
kind: Job
metadata:
  id: 0b1c2d3e-4f50-4617-8283-94a5b6c7d8e9
  name: nightly-report
  namespace: default
spec:
  schedule: "0 3 * * *"
  timezone: Europe/Berlin
  command: /opt/report.sh
  alerts:
    onFailure: false
    consecutiveFailures: 3
    failureRate: {percent: 50, window: 3600}
    maxDuration: 600
    channels: [ops]
  systemd:
    acceptDstDifferences: true
  taskScheduler:
    acceptDstDifferences: true
"""


async def test_a_whole_manifest_creates_a_job_with_every_section_under_a_new_id(
    api: Api, alice: Persona
) -> None:
    data = await api.execute(CREATE_FROM_MANIFEST, {"manifest": WHOLE_MANIFEST}, alice.access_token)
    job = data["createJob"]
    assert job["__typename"] == "Job", job
    assert job["id"] != "0b1c2d3e-4f50-4617-8283-94a5b6c7d8e9"
    assert f"id: {job['id']}" in job["yaml"]
    assert job["alerts"] == {
        "onFailure": False,
        "consecutiveFailures": 3,
        "failureRate": {"percent": 50, "window": 3600, "minRuns": 3},
        "missedRun": None,
        "maxDuration": 600,
        "minDuration": None,
        "channels": ["ops"],
    }
    assert job["systemd"] == job["taskScheduler"] == {"acceptDstDifferences": True}


async def test_a_whole_manifest_reports_every_problem_by_its_manifest_field(
    api: Api, alice: Persona
) -> None:
    broken = WHOLE_MANIFEST.replace("percent: 50", "percent: 500").replace(
        'schedule: "0 3 * * *"', 'schedule: "61 3 * * *"'
    )
    data = await api.execute(CREATE_FROM_MANIFEST, {"manifest": broken}, alice.access_token)
    result = data["createJob"]
    assert result["__typename"] == "ValidationError"
    paths = {tuple(f["path"]): f["message"] for f in result["fields"]}
    assert "out of range" in paths[("manifest", "spec.alerts.failureRate.percent")]
    assert ("manifest", "spec.schedule") in paths
    listed = await api.execute(JOBS, {"first": 10}, alice.access_token)
    assert listed["jobs"]["nodes"] == []


async def test_a_whole_manifest_replaces_a_job_only_over_the_version_read(
    api: Api, alice: Persona
) -> None:
    job = (
        await api.execute(CREATE_FROM_MANIFEST, {"manifest": WHOLE_MANIFEST}, alice.access_token)
    )["createJob"]
    without_id = WHOLE_MANIFEST.replace("  id: 0b1c2d3e-4f50-4617-8283-94a5b6c7d8e9\n", "")
    edited = without_id.replace("maxDuration: 600", "maxDuration: 900").replace(
        "  taskScheduler:\n    acceptDstDifferences: true\n", ""
    )
    variables = {"id": job["id"], "manifest": edited, "blob": job["blobId"]}
    saved = (await api.execute(UPDATE_FROM_MANIFEST, variables, alice.access_token))["updateJob"]
    assert saved["__typename"] == "Job", saved
    assert saved["alerts"]["maxDuration"] == 900
    assert saved["taskScheduler"] == {"acceptDstDifferences": False}
    assert "taskScheduler" not in saved["yaml"]
    stale = await api.execute(UPDATE_FROM_MANIFEST, variables, alice.access_token)
    assert stale["updateJob"]["__typename"] == "ConflictError"


async def test_a_whole_manifest_cannot_change_a_jobs_id(api: Api, alice: Persona) -> None:
    job = (
        await api.execute(CREATE_FROM_MANIFEST, {"manifest": WHOLE_MANIFEST}, alice.access_token)
    )["createJob"]
    variables = {"id": job["id"], "manifest": WHOLE_MANIFEST, "blob": job["blobId"]}
    result = (await api.execute(UPDATE_FROM_MANIFEST, variables, alice.access_token))["updateJob"]
    assert result["__typename"] == "ValidationError"
    (problem,) = result["fields"]
    assert problem["path"] == ["manifest", "metadata.id"]
    assert job["id"] in problem["message"]


async def test_a_job_takes_either_its_fields_or_a_manifest_not_both_or_neither(
    api: Api, alice: Persona
) -> None:
    both = await api.execute(
        "mutation($i: JobInput!, $m: String!) { createJob(input: $i, manifest: $m) "
        "{ __typename ... on UserError { message } } }",
        {"i": job_input(), "m": WHOLE_MANIFEST},
        alice.access_token,
    )
    assert "not both" in both["createJob"]["message"]
    neither = await api.execute(
        "mutation { createJob { __typename ... on UserError { message } } }",
        {},
        alice.access_token,
    )
    assert "not neither" in neither["createJob"]["message"]


async def test_the_job_input_sets_keeps_and_removes_alert_rules_and_scheduler_choices(
    api: Api, alice: Persona
) -> None:
    job = await create(
        api,
        alice,
        alerts={"missedRun": True, "failureRate": {"percent": 20, "window": 600, "minRuns": 5}},
        systemd={"acceptDstDifferences": True},
    )
    assert job["__typename"] == "Job", job
    assert "minRuns: 5" in job["yaml"]
    assert "acceptDstDifferences: true" in job["yaml"]

    async def update(blob: str, **overrides: Any) -> dict[str, Any]:
        variables = {"id": job["id"], "input": job_input(**overrides), "blob": blob}
        result: dict[str, Any] = (
            await api.execute(UPDATE_SECTIONS, variables, alice.access_token)
        )["updateJob"]
        return result

    kept = await update(job["blobId"], command="/bin/other")
    assert kept["alerts"]["missedRun"] is True
    assert kept["systemd"] == {"acceptDstDifferences": True}
    bad = await update(kept["blobId"], alerts={"maxDuration": 10, "minDuration": 60})
    assert bad["__typename"] == "ValidationError"
    assert bad["fields"][0]["path"] == ["input", "alerts", "minDuration"]
    removed = await update(kept["blobId"], alerts=None, systemd=None)
    assert removed["alerts"] is None
    assert removed["systemd"] == {"acceptDstDifferences": False}
    assert "alerts" not in removed["yaml"]
    assert "systemd" not in removed["yaml"]


STATUS_FIELDS = """
query Job($id: UUID!) {
  job(id: $id) {
    status scheduleDescription nextRunAt checkinUrl lastRun { status exitCode output }
  }
}
"""
CHECK_IN = "mutation($i: CheckInInput!) { checkIn(input: $i) { __typename } }"
DASHBOARD = "{ dashboard { needsAttention { name status } } }"
JOB_LIST = "{ jobs { nodes { name status lastRun { status } } } }"


async def test_a_job_says_its_status_schedule_next_run_and_check_in_url(
    api: Api, alice: Persona
) -> None:
    job = await create(api, alice, schedule="30 2 * * *")
    data = await api.execute(STATUS_FIELDS, {"id": job["id"]}, alice.access_token)
    shown = data["job"]
    assert shown["status"] == "NEW"
    assert shown["lastRun"] is None
    assert shown["scheduleDescription"] == "at 02:30 every day, Europe/Berlin"
    assert shown["nextRunAt"] is not None
    assert shown["checkinUrl"].endswith(f"/checkin/{job['id']}")
    assert (await api.execute(DASHBOARD, None, alice.access_token))["dashboard"] == {
        "needsAttention": []
    }

    # A failed run makes it FAILING, in the list, on its page and first on the dashboard.
    report = {"runId": "5f0c8ad4-8f4e-4bd4-9a57-6d8e3f0d8a11", "jobId": job["id"]}
    await api.execute(
        CHECK_IN, {"i": {**report, "event": "FAILURE", "exitCode": 3}}, alice.access_token
    )
    data = await api.execute(STATUS_FIELDS, {"id": job["id"]}, alice.access_token)
    assert data["job"]["status"] == "FAILING"
    assert data["job"]["lastRun"] == {"status": "FAILURE", "exitCode": 3, "output": None}
    listed = (await api.execute(JOB_LIST, None, alice.access_token))["jobs"]["nodes"]
    assert listed == [
        {"name": "backup-database", "status": "FAILING", "lastRun": {"status": "FAILURE"}}
    ]
    assert (await api.execute(DASHBOARD, None, alice.access_token))["dashboard"] == {
        "needsAttention": [{"name": "backup-database", "status": "FAILING"}]
    }


async def test_a_paused_job_is_paused_with_no_next_run(api: Api, alice: Persona) -> None:
    job = await create(api, alice, paused=True)
    data = await api.execute(STATUS_FIELDS, {"id": job["id"]}, alice.access_token)
    assert (data["job"]["status"], data["job"]["nextRunAt"]) == ("PAUSED", None)


async def test_the_status_of_many_jobs_costs_the_same_few_queries(
    api: Api, alice: Persona, state: AppState
) -> None:
    for number in range(12):
        await create(api, alice, name=f"job-{number}")
    statements: list[str] = []
    engine = state.engine.sync_engine

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", count)
    try:
        data = await api.execute(JOB_LIST, None, alice.access_token)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(data["jobs"]["nodes"]) == 12
    assert len([s for s in statements if "FROM runs" in s or "FROM incidents" in s]) <= 3
