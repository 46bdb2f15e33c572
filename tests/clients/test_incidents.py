"""`incidents list|ack|resolve` against a real server, an incident opened by a failed check-in."""

from __future__ import annotations

import time
import uuid
from typing import Any

from tests.clients.conftest import Cli, Server
from tests.clients.test_runs import check_in, checkin_token, job_id

__all__ = ["checkin_token", "job_id"]  # fixtures, used by name

INCIDENT_KEYS = {
    "id", "status", "rule", "title", "jobId", "jobName", "namespace", "endpointId", "openedAt",
    "acknowledgedAt", "acknowledgedBy", "resolvedAt", "resolvedBy", "details",
}  # fmt: skip


def opened(cli: Cli) -> list[dict[str, Any]]:
    """Wait (bounded) for the alert engine to open the failure's incident."""
    deadline = time.monotonic() + 15
    while True:
        listed: list[dict[str, Any]] = cli("incidents", "list", "--json").json()
        if listed or time.monotonic() > deadline:
            return listed
        time.sleep(0.2)


def test_an_incident_is_listed_acknowledged_and_resolved(
    logged_in: Cli, server: Server, job_id: str, checkin_token: str
) -> None:
    check_in(server.url, checkin_token, job_id, "1", str(uuid.uuid4()), "broken\n")
    (incident,) = opened(logged_in)
    assert set(incident) == INCIDENT_KEYS
    assert (incident["status"], incident["rule"], incident["jobId"]) == ("OPEN", "FAILURE", job_id)
    table = logged_in("incidents", "list", "--status", "open")
    assert incident["id"] in table.out
    acked = logged_in("incidents", "ack", incident["id"], "--json")
    assert acked.code == 0, acked.err
    assert acked.json()["status"] == "ACKNOWLEDGED"
    resolved = logged_in("incidents", "resolve", incident["id"])
    assert resolved.code == 0, resolved.err
    assert f"Resolved incident {incident['id']}" in resolved.err
    assert logged_in("incidents", "list", "--status", "open", "--json").json() == []
    assert [i["status"] for i in logged_in("incidents", "list", "--json").json()] == ["RESOLVED"]


def test_an_unknown_or_malformed_incident_id_is_refused(logged_in: Cli) -> None:
    unknown = logged_in("incidents", "ack", str(uuid.uuid4()))
    assert unknown.code == 1
    assert "not found" in unknown.err.lower() or "no incident" in unknown.err.lower()
    assert logged_in("incidents", "resolve", "nope").code == 2
    assert logged_in("incidents", "list", "--status", "closed").code == 2
