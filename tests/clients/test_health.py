"""`health jobs|endpoints` and `audit` against a real server."""

from __future__ import annotations

import uuid

from tests.clients.conftest import Cli, Server
from tests.clients.test_runs import check_in

FIGURE_KEYS = {"health", "runs", "successes", "failures", "successRate", "lastRunAt"}


def test_job_health_counts_runs_in_the_window(logged_in: Cli, server: Server) -> None:
    job = logged_in("jobs", "create", "--name", "measured", "--schedule", "@hourly",
                    "--command", "/bin/true").out.strip()  # fmt: skip
    idle = logged_in("jobs", "create", "--name", "idle", "--schedule", "@daily",
                     "--command", "/bin/true").out.strip()  # fmt: skip
    token = logged_in("tokens", "create", "agent", "--scope", "checkin").out.strip()
    for event in ("0", "0", "0", "1"):
        check_in(server.url, token, job, event, str(uuid.uuid4()))
    result = logged_in("health", "jobs", "--window", "24h", "--json")
    assert result.code == 0, result.err
    rows = {row["jobId"]: row for row in result.json()}
    assert set(rows[job]) == {"jobId", "jobName", "namespace", "status", "figures"}
    assert set(rows[job]["figures"]) == FIGURE_KEYS
    figures = rows[job]["figures"]
    assert (figures["runs"], figures["failures"], figures["successRate"]) == (4, 1, 0.75)
    assert rows[idle]["figures"]["health"] == "UNKNOWN"
    unknown = logged_in("health", "jobs", "--status", "unknown", "--json").json()
    assert [row["jobId"] for row in unknown] == [idle]
    table = logged_in("health", "jobs").out
    assert "75.0%" in table


def test_endpoint_health_lists_nothing_without_endpoints(logged_in: Cli) -> None:
    result = logged_in("health", "endpoints", "--window", "30d", "--json")
    assert (result.code, result.json()) == (0, [])
    assert logged_in("health", "endpoints").err == "(none)\n"
