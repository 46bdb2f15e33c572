"""`enrollment-tokens list|create|revoke`, `endpoints list|show|revoke` and `jobs adopt`, with an
endpoint enrolled and reporting over the real agent protocol (GraphQL, endpoint token)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.clients.conftest import Cli, Server

ENROLL = """
mutation Enroll($token: String!, $name: String!) {
  enrollEndpoint(enrollmentToken: $token, name: $name, hostname: "db1.example.com",
                 platform: "linux", machineId: $name, agentVersion: "0.1.0", drivers: ["cron"],
                 labels: [{key: "role", value: "db"}]) {
    __typename
    ... on EnrolledEndpoint { endpoint { id } endpointToken }
    ... on UserError { message }
  }
}
"""
REPORT_DISCOVERED = """
mutation Report($items: [DiscoveredJobInput!]!) {
  reportDiscoveredJobs(items: $items) {
    __typename ... on DiscoveredJobsReport { results { outcome jobId } }
  }
}
"""
REPORT_INSTANCES = """
mutation Report($items: [JobInstanceInput!]!) {
  reportJobInstances(items: $items) { __typename }
}
"""
ENDPOINT_KEYS = {
    "id", "name", "hostname", "platform", "machineId", "agentVersion", "driver", "drivers",
    "labels", "status", "enrolledAt", "lastSeenAt", "appliedCommit", "revokedAt",
}  # fmt: skip
ENROLLMENT_KEYS = {
    "id", "name", "hint", "createdBy", "createdAt", "expiresAt", "maxUses", "useCount",
    "lastUsedAt", "revokedAt",
}  # fmt: skip


def enroll(server: Server, token: str, name: str = "db1") -> dict[str, Any]:
    result: dict[str, Any] = server.graphql(ENROLL, {"token": token, "name": name})[
        "enrollEndpoint"
    ]
    return result


@pytest.fixture
def enrollment_token(logged_in: Cli) -> str:
    result = logged_in("enrollment-tokens", "create", "fleet", "--max-uses", "5", "--json")
    assert result.code == 0, result.err
    payload = result.json()
    assert set(payload) == {"plaintext", "token"}
    assert set(payload["token"]) == ENROLLMENT_KEYS
    plaintext: str = payload["plaintext"]
    return plaintext


@pytest.fixture
def endpoint(server: Server, enrollment_token: str) -> dict[str, Any]:
    enrolled = enroll(server, enrollment_token)
    assert enrolled["__typename"] == "EnrolledEndpoint", enrolled
    return enrolled


def test_enrollment_tokens_are_listed_by_hint_and_revoked(
    logged_in: Cli, server: Server, enrollment_token: str
) -> None:
    listed = logged_in("enrollment-tokens", "list", "--json").json()
    assert [(t["name"], t["hint"], t["maxUses"]) for t in listed] == [
        ("fleet", enrollment_token[-4:], 5)
    ]
    assert enrollment_token not in logged_in("enrollment-tokens", "list").out
    revoked = logged_in("enrollment-tokens", "revoke", listed[0]["id"])
    assert revoked.code == 0, revoked.err
    assert enroll(server, enrollment_token, "late")["__typename"] != "EnrolledEndpoint"


def test_endpoints_are_listed_shown_and_revoked(logged_in: Cli, endpoint: dict[str, Any]) -> None:
    assert logged_in("jobs", "create", "--name", "everywhere", "--schedule", "@daily",
                     "--command", "/bin/true").code == 0  # fmt: skip
    endpoint_id = endpoint["endpoint"]["id"]
    listed = logged_in("endpoints", "list", "--json").json()
    assert [e["id"] for e in listed] == [endpoint_id]
    assert set(listed[0]) == ENDPOINT_KEYS
    assert listed[0]["labels"] == [{"key": "role", "value": "db"}]
    assert logged_in("endpoints", "list", "--label", "role=web", "--json").json() == []
    assert len(logged_in("endpoints", "list", "--search", "db1", "--json").json()) == 1
    shown = logged_in("endpoints", "show", endpoint_id)
    assert shown.code == 0, shown.err
    assert "hostname:       db1.example.com" in shown.out
    assert "default/everywhere" in shown.out.split("Jobs:")[1]
    job = logged_in("jobs", "show", "default/everywhere", "--json").json()
    assert [row["endpoint"]["id"] for row in job["endpoints"]] == [endpoint_id]
    revoked = logged_in("endpoints", "revoke", endpoint_id, "--json")
    assert revoked.code == 0, revoked.err
    assert revoked.json()["status"] == "REVOKED"
    assert logged_in("endpoints", "show", str(uuid.uuid4())).code == 1


def test_a_discovered_job_is_adopted_into_a_namespace(
    logged_in: Cli, server: Server, endpoint: dict[str, Any]
) -> None:
    items = [{"schedule": "17 4 * * *", "command": "/usr/local/bin/rotate", "user": "root",
              "driver": "cron", "fingerprint": "f" * 16}]  # fmt: skip
    report = server.graphql(REPORT_DISCOVERED, {"items": items}, token=endpoint["endpointToken"])
    (result,) = report["reportDiscoveredJobs"]["results"]
    assert result["outcome"] == "CREATED"
    discovered = logged_in("jobs", "list", "--namespace", "discovered", "--json").json()
    assert [job["isDiscovered"] for job in discovered] == [True]
    editing = logged_in("jobs", "edit", discovered[0]["id"], env={"EDITOR": "true"})
    assert editing.code == 1
    assert "discovered jobs are read-only: adopt it first" in editing.err
    adopted = logged_in("jobs", "adopt", discovered[0]["id"], "--namespace", "default", "--json")
    assert adopted.code == 0, adopted.err
    job = adopted.json()
    assert (job["id"], job["namespace"], job["isDiscovered"]) == (result["jobId"], "default", False)


def test_a_job_the_endpoint_could_not_install_shows_why_in_jobs_and_endpoints_show(
    logged_in: Cli, server: Server, endpoint: dict[str, Any]
) -> None:
    created = logged_in("jobs", "create", "--name", "berlin", "--schedule", "30 2 * * *",
                        "--timezone", "Europe/Berlin", "--command", "/bin/true")  # fmt: skip
    job_id = created.out.strip()
    reason = 'time zone "Europe/Berlin": the machine runs in Etc/UTC and its cron has no CRON_TZ'
    item = {"jobId": job_id, "driver": "cron", "state": "FAILED", "failureReason": reason}
    reported = server.graphql(REPORT_INSTANCES, {"items": [item]}, endpoint["endpointToken"])
    assert reported["reportJobInstances"]["__typename"] == "JobInstanceReport"
    job = logged_in("jobs", "show", "default/berlin")
    assert job.code == 0, job.err
    assert f"Why not installed:\n  db1: {reason}\n" in job.out
    shown = logged_in("endpoints", "show", endpoint["endpoint"]["id"])
    assert f"Why not installed:\n  default/berlin: {reason}\n" in shown.out
    as_json = logged_in("jobs", "show", "default/berlin", "--json").json()
    assert [row["failureReason"] for row in as_json["endpoints"]] == [reason]


def test_endpoint_labels_are_set_and_removed_by_name_keeping_the_others(
    logged_in: Cli, server: Server, enrollment_token: str
) -> None:
    enroll(server, enrollment_token, "lab-1")
    added = logged_in("endpoints", "label", "lab-1", "tier=gold", "zone=eu", "--json")
    assert added.code == 0, added.err
    assert set(added.json()) == ENDPOINT_KEYS
    assert added.json()["labels"] == [
        {"key": "role", "value": "db"},
        {"key": "tier", "value": "gold"},
        {"key": "zone", "value": "eu"},
    ]
    changed = logged_in("endpoints", "label", "lab-1", "role=web", "--remove", "zone")
    assert changed.code == 0, changed.err
    assert "role=web,tier=gold" in changed.err
    listed = logged_in("endpoints", "list", "--label", "role=web", "--json").json()
    assert [e["name"] for e in listed] == ["lab-1"]


def test_bad_endpoint_labels_exit_2_and_unknown_names_exit_1(
    logged_in: Cli, server: Server, enrollment_token: str
) -> None:
    enroll(server, enrollment_token, "lab-2")
    bad_value = logged_in("endpoints", "label", "lab-2", "tier=not ok")
    assert bad_value.code == 2
    assert "tier=not ok" in bad_value.err
    assert logged_in("endpoints", "label", "lab-2", "tier").code == 2
    assert logged_in("endpoints", "label", "lab-2").code == 2
    unknown = logged_in("endpoints", "label", "nowhere", "tier=gold")
    assert unknown.code == 1
    assert "no endpoint named 'nowhere'" in unknown.err
    absent = logged_in("endpoints", "label", "lab-2", "--remove", "zone")
    assert (absent.code, "no label zone" in absent.err) == (1, True)
    shown = logged_in("endpoints", "list", "--search", "lab-2", "--json").json()
    assert shown[0]["labels"] == [{"key": "role", "value": "db"}]
