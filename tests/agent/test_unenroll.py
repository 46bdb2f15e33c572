"""`crontopus-agent unenroll` against a real server: scheduler emptied, endpoint revoked."""

from __future__ import annotations

import json
from pathlib import Path

from tests.agent.conftest import FOREIGN_CRONTAB, Server, free_port
from tests.agent.test_server_sync import agent, create_job, enroll

ENDPOINTS = "{ endpoints(first: 10) { nodes { id name status } } }"


def test_unenroll_removes_the_jobs_revokes_the_endpoint_and_forgets_the_token(
    fleet_server: Server, tmp_path: Path, crontab: Path
) -> None:
    server = fleet_server
    access = server.register()
    state = tmp_path / "agent"
    enroll(server, access, state, crontab)
    job_id = create_job(server, access, name="backup", schedule="0 2 * * *", command="echo hi")
    assert agent(state, "sync", "--once").returncode == 0
    assert f"run-job {job_id}" in crontab.read_text("latin-1")

    result = agent(state, "unenroll")

    assert result.returncode == 0, result.stderr
    assert "removed 1 scheduler entries" in result.stdout
    # The foreign entries stay byte for byte (the last line gains the newline cron needs).
    assert crontab.read_bytes() == FOREIGN_CRONTAB + b"\n"
    assert not (state / "endpoint-token").exists()
    assert not list((state / "jobs").iterdir())
    (endpoint,) = server.graphql(ENDPOINTS, token=access)["endpoints"]["nodes"]
    assert endpoint["status"] == "REVOKED"
    status = json.loads(agent(state, "status", "--json").stdout)
    assert status["enrolled"] is False
    assert status["endpointId"] is None
    again = agent(state, "unenroll")
    assert again.returncode == 1
    assert "not enrolled" in again.stderr


def test_unenroll_cleans_the_machine_even_when_the_server_is_gone(
    fleet_server: Server, tmp_path: Path, crontab: Path
) -> None:
    server = fleet_server
    access = server.register()
    state = tmp_path / "agent"
    enroll(server, access, state, crontab)
    create_job(server, access, name="backup", schedule="0 2 * * *", command="echo hi")
    assert agent(state, "sync", "--once").returncode == 0
    config = state / "config.yaml"
    config.write_text(config.read_text().replace(server.url, f"http://127.0.0.1:{free_port()}"))

    result = agent(state, "unenroll")

    assert result.returncode == 1
    assert "the server was not told" in result.stderr
    assert "crontopus endpoints revoke" in result.stderr
    assert crontab.read_bytes() == FOREIGN_CRONTAB + b"\n"
    assert not (state / "endpoint-token").exists()
    (endpoint,) = server.graphql(ENDPOINTS, token=access)["endpoints"]["nodes"]
    assert endpoint["status"] != "REVOKED"
