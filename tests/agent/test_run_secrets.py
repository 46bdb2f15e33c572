"""A job's secrets reach its command at run time from a real server, and rest nowhere on disk."""

from __future__ import annotations

import json
from pathlib import Path

from crontopus.agent.runsecrets import mask
from crontopus.agent.spool import Spool
from crontopus.agent.statedir import StateDir
from crontopus.agent.wrapper import SECRETS_EXIT_CODE
from tests.agent.conftest import Server
from tests.agent.test_server_sync import agent, create_job, enroll

SET_SECRET = """
mutation($n: String!, $v: String!) { setSecret(name: $n, value: $v) {
  __typename ... on UserError { message } } }
"""
DELETE_SECRET = "mutation($n: String!) { deleteSecret(name: $n) { __typename } }"
VALUE = "correct-horse-7f3a9c"
ROTATED = "battery-staple-51be0d"


def set_secret(server: Server, access: str, name: str, value: str) -> None:
    result = server.graphql(SET_SECRET, {"n": name, "v": value}, access)["setSecret"]
    assert result["__typename"] == "Secret", result


def files_holding(root: Path, text: str) -> list[Path]:
    """Every file under `root` whose bytes contain `text` (the state directory, say)."""
    needle = text.encode()
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_a_secret_reaches_the_command_and_is_on_disk_nowhere_but_where_the_command_put_it(
    fleet_server: Server, tmp_path: Path, crontab: Path
) -> None:
    server = fleet_server
    access = server.register()
    state = tmp_path / "agent"
    enroll(server, access, state, crontab)
    seen = tmp_path / "seen"
    set_secret(server, access, "db-password", VALUE)
    job_id = create_job(
        server, access, name="backup", schedule="0 2 * * *",
        command=f'printf %s "$DB_PASSWORD" > {seen}; echo "connecting with $DB_PASSWORD"',
        env=[{"key": "PGHOST", "value": "db1"}],
        secretEnv=[{"key": "DB_PASSWORD", "value": "db-password"}],
    )  # fmt: skip
    synced = agent(state, "sync", "--once")
    assert synced.returncode == 0, synced.stderr
    assert f"run-job {job_id}" in crontab.read_text("latin-1")

    ran = agent(state, "run-job", str(job_id))

    assert ran.returncode == 0, ran.stderr
    assert seen.read_text() == VALUE
    assert VALUE not in ran.stdout + ran.stderr
    assert files_holding(state, VALUE) == []
    assert VALUE not in crontab.read_text("latin-1")
    config = json.loads(StateDir(state).job_file(job_id).read_text())
    assert config["secret_env"] == {"DB_PASSWORD": "db-password"}
    (run,) = server.runs(access, job_id)
    assert run["status"] == "SUCCESS"
    assert run["output"] == "connecting with ***\n"

    # A new value applies from the next run, with no sync in between.
    set_secret(server, access, "db-password", ROTATED)
    again = agent(state, "run-job", str(job_id))
    assert again.returncode == 0, again.stderr
    assert seen.read_text() == ROTATED
    assert files_holding(state, ROTATED) == []


def test_without_its_secrets_a_job_does_not_run_and_its_run_fails_with_the_reason(
    fleet_server: Server, tmp_path: Path, crontab: Path
) -> None:
    server = fleet_server
    access = server.register()
    state = tmp_path / "agent"
    enroll(server, access, state, crontab)
    seen = tmp_path / "seen"
    set_secret(server, access, "api-token", VALUE)
    job_id = create_job(
        server, access, name="report", schedule="0 2 * * *", command=f"touch {seen}",
        secretEnv=[{"key": "API_TOKEN", "value": "api-token"}],
    )  # fmt: skip
    assert agent(state, "sync", "--once").returncode == 0

    # The secret was deleted: the server says which one is missing.
    server.graphql(DELETE_SECRET, {"n": "api-token"}, access)
    missing = agent(state, "run-job", str(job_id))
    assert missing.returncode == SECRETS_EXIT_CODE
    assert "api-token does not exist" in missing.stderr
    assert not seen.exists()
    (run,) = server.runs(access, job_id)
    assert run["status"] == "FAILURE"
    assert run["exitCode"] == SECRETS_EXIT_CODE
    assert "the command did not run" in run["output"]
    assert "secret api-token does not exist" in run["output"]

    # The server is down: the run fails at once, and its check-ins wait in the spool.
    set_secret(server, access, "api-token", VALUE)
    server.stop()
    unreachable = agent(state, "run-job", str(job_id))
    assert unreachable.returncode == SECRETS_EXIT_CODE
    assert "is unreachable" in unreachable.stderr
    assert not seen.exists()
    spooled = [json.loads(p.read_bytes()) for p in Spool(StateDir(state).spool).entries()]
    finish = next(c for c in spooled if c["event"] != "start")
    assert finish["event"] == str(SECRETS_EXIT_CODE)
    assert "could not be fetched" in finish["output"]
    assert files_holding(state, VALUE) == []


def test_only_values_long_enough_to_be_told_apart_are_masked() -> None:
    values = {"A": "hunter2", "B": "abc", "C": "hunter2-long"}
    assert mask("hunter2 hunter2-long abc", values) == "*** *** abc"
