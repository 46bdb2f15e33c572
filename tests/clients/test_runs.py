"""`runs list|show|watch` against a real server, with check-ins posted over plain HTTP."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.clients.conftest import Cli, Server

RUN_KEYS = {
    "id", "jobId", "jobName", "namespace", "endpointId", "status", "exitCode", "startedAt",
    "finishedAt", "durationMs", "unknownJob", "commitId", "stuck",
}  # fmt: skip


def check_in(url: str, token: str, job_id: str, event: str, run_id: str, body: str = "") -> None:
    response = httpx.post(
        f"{url}/checkin/{job_id}/{event}",
        params={"rid": run_id},
        content=body.encode(),
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text


@pytest.fixture
def job_id(logged_in: Cli) -> str:
    result = logged_in("jobs", "create", "--name", "nightly", "--schedule", "0 3 * * *",
                       "--command", "/bin/true")  # fmt: skip
    assert result.code == 0, result.err
    return result.out.strip()


@pytest.fixture
def checkin_token(logged_in: Cli) -> str:
    result = logged_in("tokens", "create", "agent", "--scope", "checkin")
    assert result.code == 0, result.err
    return result.out.strip()


def test_list_and_show_runs_with_their_output(
    logged_in: Cli, server: Server, job_id: str, checkin_token: str
) -> None:
    ok, failed = str(uuid.uuid4()), str(uuid.uuid4())
    check_in(server.url, checkin_token, job_id, "0", ok, "all good\n")
    check_in(server.url, checkin_token, job_id, "3", failed, "disk full\n")
    runs = logged_in("runs", "list", "--json").json()
    assert [run["id"] for run in runs] == [failed, ok]
    assert set(runs[0]) == RUN_KEYS
    assert (runs[0]["status"], runs[0]["exitCode"], runs[0]["jobName"]) == ("FAILURE", 3, "nightly")
    only_failures = logged_in("runs", "list", "--status", "failure", "--json").json()
    assert [run["id"] for run in only_failures] == [failed]
    by_job = logged_in("runs", "list", "--job", "default/nightly", "--limit", "1", "--json").json()
    assert [run["id"] for run in by_job] == [failed]
    shown = logged_in("runs", "show", failed)
    assert shown.code == 0, shown.err
    assert "status:    FAILURE" in shown.out
    assert shown.out.endswith("Output:\ndisk full\n")
    assert set(logged_in("runs", "show", ok, "--json").json()) == RUN_KEYS | {
        "output",
        "outputTruncated",
    }


def test_jobs_list_and_show_say_a_job_is_failing_with_its_last_run(
    logged_in: Cli, server: Server, job_id: str, checkin_token: str
) -> None:
    assert [j["status"] for j in logged_in("jobs", "list", "--json").json()] == ["NEW"]
    failed = str(uuid.uuid4())
    check_in(server.url, checkin_token, job_id, "3", failed, "disk full\n")
    (listed,) = logged_in("jobs", "list", "--json").json()
    assert (listed["status"], listed["lastRun"]["id"]) == ("FAILING", failed)
    assert listed["scheduleDescription"] == "at 03:00 every day, UTC"
    table = logged_in("jobs", "list").out.splitlines()[1].split()
    assert table[1:4] == ["default", "nightly", "FAILING"]
    shown = logged_in("jobs", "show", "default/nightly").out
    assert "status:   FAILING" in shown
    assert "FAILURE" in shown.split("last run:")[1].splitlines()[0]
    (health,) = logged_in("health", "jobs", "--json").json()
    assert health["status"] == "FAILING"


def test_a_missing_run_and_a_bad_time_filter_are_reported(logged_in: Cli) -> None:
    missing = logged_in("runs", "show", str(uuid.uuid4()))
    assert missing.code == 1
    assert "no run with id" in missing.err
    bad = logged_in("runs", "list", "--since", "yesterday")
    assert bad.code == 2
    assert "--since: 'yesterday' is not an ISO 8601 time" in bad.err
