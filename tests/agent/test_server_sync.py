"""Enroll against a real crontopus-server, fetch its repository, apply, and report back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from tests.agent.conftest import FOREIGN_CRONTAB, PASSWORD, Server

AGENT = str(Path(sys.executable).parent / "crontopus-agent")
CREATE_ENROLLMENT_TOKEN = """
mutation { createEnrollmentToken(name: "agents") {
  __typename ... on CreatedEnrollmentToken { plaintext } ... on UserError { message } } }
"""
CREATE_JOB = """
mutation($input: JobInput!) { createJob(input: $input) {
  __typename ... on Job { id } ... on UserError { message } } }
"""
ADOPT_JOB = """
mutation($id: UUID!, $ns: String!) { adoptJob(id: $id, targetNamespace: $ns) {
  __typename ... on Job { id } ... on UserError { message } } }
"""
JOB_COMMAND = "query($id: UUID!) { job(id: $id) { command } }"
PENDING = "{ pendingEnrollments { id machineId } }"
APPROVE = "mutation($id: UUID!) { approveEnrollment(id: $id) { __typename } }"


def agent(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CRONTOPUS_AGENT_STATE_DIR": str(state)}
    return subprocess.run([AGENT, *args], capture_output=True, text=True, check=False, env=env)


def enrollment_token(server: Server, access: str) -> str:
    result = server.graphql(CREATE_ENROLLMENT_TOKEN, token=access)["createEnrollmentToken"]
    assert result["__typename"] == "CreatedEnrollmentToken", result
    token: str = result["plaintext"]
    return token


def create_job(server: Server, access: str, **fields: Any) -> uuid.UUID:
    result = server.graphql(CREATE_JOB, {"input": fields}, access)["createJob"]
    assert result["__typename"] == "Job", result
    return uuid.UUID(result["id"])


def enroll(server: Server, access: str, state: Path, crontab: Path) -> None:
    token = enrollment_token(server, access)
    result = agent(
        state, "enroll", "--server", server.url, "--token", token, "--name", "web-1",
        "--label", "role=web", "--driver", "cron",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    config = state / "config.yaml"
    # The server's interval is written even when it is the default, as docs/agent.md shows.
    assert "\nheartbeat_interval: 30.0\n" in config.read_text()
    config.write_text(
        config.read_text()
        + f"driver_options:\n  crontab_file: {crontab}\n  machine_zone: UTC\n  cron_tz: 'no'\n"
    )


def test_an_enrolled_agent_applies_the_tenants_jobs_and_reports_them(
    fleet_server: Server, tmp_path: Path, crontab: Path
) -> None:
    server = fleet_server
    access = server.register()
    state = tmp_path / "agent"
    enroll(server, access, state, crontab)
    assert (state / "endpoint-token").stat().st_mode & 0o777 == 0o600
    job_id = create_job(server, access, name="backup", schedule="0 2 * * *", command="echo hi")
    other = create_job(
        server,
        access,
        name="db-only",
        schedule="0 3 * * *",
        command="echo db",
        targetLabels=[{"key": "role", "value": "db"}],
    )

    result = agent(state, "sync", "--once")

    assert result.returncode == 0, result.stderr
    assert "warning" not in result.stderr, result.stderr
    text = crontab.read_text("latin-1")
    assert f"run-job {job_id}" in text
    assert str(other) not in text
    status = json.loads(agent(state, "status", "--json").stdout)
    assert status["installedJobs"] == 1
    assert status["endpointId"]


ENDPOINT_JOBS = """
query($id: UUID!) { endpoint(id: $id) { jobs { jobId state failureReason } } }
"""


def test_a_schedule_the_driver_refuses_reaches_the_server_with_the_drivers_reason(
    fleet_server: Server, tmp_path: Path, crontab: Path
) -> None:
    server = fleet_server
    access = server.register()
    state = tmp_path / "agent"
    enroll(server, access, state, crontab)
    # Cron without CRON_TZ runs another zone's job gated, unless it cannot name its own zone:
    # then no superset can be computed, and the driver refuses with that reason.
    config = state / "config.yaml"
    config.write_text(config.read_text().replace("machine_zone: UTC", "machine_zone: Mars/Olympus"))
    job_id = create_job(
        server, access, name="berlin", schedule="30 2 * * *", command="echo hi",
        timezone="Europe/Berlin",
    )  # fmt: skip
    result = agent(state, "sync", "--once")
    assert result.returncode == 0, result.stderr
    assert str(job_id) not in crontab.read_text("latin-1")
    status = json.loads(agent(state, "status", "--json").stdout)
    (refused,) = status["refused"]
    endpoint_id = status["endpointId"]
    data = server.graphql(ENDPOINT_JOBS, {"id": endpoint_id}, access)
    (held,) = [job for job in data["endpoint"]["jobs"] if job["jobId"] == str(job_id)]
    assert held["state"] == "FAILED"
    assert held["failureReason"].startswith("the machine's zone: "), held["failureReason"]
    assert refused == f"default/berlin: {held['failureReason']}"


def test_an_agent_discovers_foreign_entries_and_adopts_them_once_adopted_in_git(
    fleet_server: Server, tmp_path: Path, crontab: Path
) -> None:
    server = fleet_server
    access = server.register()
    state = tmp_path / "agent"
    enroll(server, access, state, crontab)

    first = agent(state, "sync", "--once")
    assert first.returncode == 0, first.stderr
    assert "warning" not in first.stderr, first.stderr
    saved = json.loads((state / "sync-state.json").read_text())
    assert len(saved["discovered"]) == 3  # backup, warm-cache and the */10 echo
    commands = {
        job: server.graphql(JOB_COMMAND, {"id": job}, access)["job"]["command"]
        for job in saved["discovered"]
    }
    (backup_id,) = [job for job, command in commands.items() if "backup" in command]
    assert crontab.read_bytes() == FOREIGN_CRONTAB

    adopted = server.graphql(ADOPT_JOB, {"id": backup_id, "ns": "default"}, access)["adoptJob"]
    assert adopted["__typename"] == "Job", adopted
    second = agent(state, "sync", "--once")

    assert second.returncode == 0, second.stderr
    content = crontab.read_bytes()
    assert b"5 4 * * * /usr/bin/backup --all >/dev/null 2>&1\n" not in content
    assert content.count(f"run-job {backup_id}".encode()) == 1
    assert b"@reboot /usr/local/bin/warm-cache\n" in content


def test_the_daemon_heartbeats_and_targets_by_the_servers_labels(
    fleet_server: Server, tmp_path: Path, crontab: Path
) -> None:
    from crontopus.agent.config import load_config
    from crontopus.agent.daemon import Daemon
    from crontopus.agent.drivers import build_driver
    from crontopus.agent.server import ServerClient
    from crontopus.agent.statedir import StateDir
    from crontopus.agent.sync import Syncer, load_server_labels

    server = fleet_server
    access = server.register()
    state_path = tmp_path / "agent"
    enroll(server, access, state_path, crontab)
    job_id = create_job(
        server,
        access,
        name="web-only",
        schedule="0 3 * * *",
        command="echo web",
        targetLabels=[{"key": "role", "value": "web"}],
    )
    state = StateDir(state_path)
    config = load_config(state, {})
    token = state.read_token()
    assert token is not None
    with ServerClient(server.url, token) as client:
        syncer = Syncer(state, config, build_driver(config), client)
        daemon = Daemon(state, config, syncer, client, token, "test")
        daemon.heartbeat_step()
        assert load_server_labels(state) == {"role": "web"}
        daemon.sync_step()
    assert f"run-job {job_id}" in crontab.read_text("latin-1")
    endpoints = server.graphql(
        "{ endpoints { nodes { appliedCommit lastSeenAt } } }", token=access
    )["endpoints"]["nodes"]
    assert endpoints[0]["lastSeenAt"] is not None


def test_a_new_agent_adopts_an_already_adopted_entry_in_its_first_sync(
    fleet_server: Server, tmp_path: Path, crontab: Path
) -> None:
    server = fleet_server
    access = server.register()
    enroll(server, access, tmp_path / "first", crontab)
    assert agent(tmp_path / "first", "sync", "--once").returncode == 0
    saved = json.loads((tmp_path / "first" / "sync-state.json").read_text())
    commands = {
        job: server.graphql(JOB_COMMAND, {"id": job}, access)["job"]["command"]
        for job in saved["discovered"]
    }
    (backup_id,) = [job for job, command in commands.items() if "backup" in command]
    adopted = server.graphql(ADOPT_JOB, {"id": backup_id, "ns": "default"}, access)["adoptJob"]
    assert adopted["__typename"] == "Job", adopted

    # Another machine holding the same foreign entry enrolls after the adoption. Here it has
    # this machine's id, which the server knows: an admin lets it take the endpoint over.
    second_crontab = tmp_path / "second-crontab"
    second_crontab.write_bytes(FOREIGN_CRONTAB)
    enroll(server, access, tmp_path / "second", second_crontab)
    (pending,) = server.graphql(PENDING, token=access)["pendingEnrollments"]
    server.graphql(APPROVE, {"id": pending["id"]}, access)
    result = agent(tmp_path / "second", "sync", "--once")

    assert result.returncode == 0, result.stderr
    content = second_crontab.read_bytes()
    assert b"5 4 * * * /usr/bin/backup --all" not in content
    assert content.count(f"run-job {backup_id}".encode()) == 1


def test_re_enrolling_proves_itself_with_its_token_and_a_stranger_waits_for_approval(
    fleet_server: Server, tmp_path: Path, crontab: Path
) -> None:
    server = fleet_server
    access = server.register()
    state = tmp_path / "agent"
    enroll(server, access, state, crontab)
    first_token = (state / "endpoint-token").read_text()
    token = enrollment_token(server, access)
    again = agent(state, "enroll", "--server", server.url, "--token", token, "--force")
    assert again.returncode == 0, again.stderr
    assert "enrolled" in again.stdout
    assert (state / "endpoint-token").read_text() != first_token

    # Another state directory on the same machine holds no token: it must not take over.
    stranger = tmp_path / "stranger"
    claimed = agent(stranger, "enroll", "--server", server.url, "--token", token)
    assert claimed.returncode == 0, claimed.stderr
    assert "an admin must approve" in claimed.stderr
    assert "refused" not in agent(state, "sync", "--once").stderr
    (pending,) = server.graphql(PENDING, token=access)["pendingEnrollments"]
    approved = server.graphql(APPROVE, {"id": pending["id"]}, access)
    assert approved["approveEnrollment"]["__typename"] == "Endpoint"
    # The approved request's token is the endpoint's now; the one it replaced is refused.
    assert "refused" in agent(state, "sync", "--once").stderr
    assert agent(stranger, "status", "--json").returncode == 0


def test_a_suspended_tenants_agent_keeps_its_schedule_and_its_runs_are_kept(
    fleet_server: Server, tmp_path: Path, crontab: Path
) -> None:
    server = fleet_server
    access = server.register()
    state = tmp_path / "agent"
    enroll(server, access, state, crontab)
    job_id = create_job(server, access, name="backup", schedule="0 2 * * *", command="echo hi")
    assert agent(state, "sync", "--once").returncode == 0
    env = {**os.environ, "CRONTOPUS_DATA_DIR": str(server.data_dir)}
    env.pop("CRONTOPUS_DATABASE_URL", None)
    server.register("root")
    command = str(Path(sys.executable).parent / "crontopus-server")
    promoted = subprocess.run([command, "operator", "promote", "root"], env=env,
                              capture_output=True, text=True, check=False)  # fmt: skip
    assert promoted.returncode == 0, promoted.stderr
    login = server.graphql(
        'mutation($p: String!) { login(username: "root", password: $p) '
        "{ ... on AuthPayload { accessToken } } }",
        {"p": PASSWORD},
    )
    root = login["login"]["accessToken"]
    tenants = server.graphql('{ tenants(search: "alice") { nodes { id } } }', token=root)
    alice = tenants["tenants"]["nodes"][0]["id"]
    server.graphql('mutation($id: UUID!) { suspendTenant(id: $id) { __typename } }',
                   {"id": alice}, root)  # fmt: skip

    synced = agent(state, "sync", "--once", "--force")
    ran = agent(state, "run-job", str(job_id))

    # The fetch is refused with the reason, and the installed schedule stays as it was.
    assert "suspended" in synced.stderr, synced.stderr
    assert f"run-job {job_id}" in crontab.read_text("latin-1")
    assert ran.returncode == 0, ran.stderr
    assert "refused" not in ran.stderr, ran.stderr
    server.graphql('mutation($id: UUID!) { resumeTenant(id: $id) { __typename } }',
                   {"id": alice}, root)  # fmt: skip
    assert [run["status"] for run in server.runs(access, job_id)] == ["SUCCESS"]
