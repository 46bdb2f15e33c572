"""The `crontopus-agent` command as an operator runs it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from crontopus.agent.cli import main
from crontopus.agent.config import AgentConfig, save_config
from crontopus.agent.statedir import StateDir
from tests.agent.conftest import FOREIGN_CRONTAB, JobRepo, free_port, manifest

AGENT = str(Path(sys.executable).parent / "crontopus-agent")


def agent(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [AGENT, *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
    )


def test_version_prints_the_distribution_version() -> None:
    result = agent("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("crontopus-agent ")


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    assert "run-job" in capsys.readouterr().out


def test_drivers_lists_the_built_in_drivers_with_their_distribution(tmp_path: Path) -> None:
    result = agent("--state-dir", str(tmp_path), "drivers", "--json")
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert {"cron", "systemd", "taskscheduler"} <= set(rows)
    assert rows["cron"]["distribution"] == "crontopus-drivers"
    assert rows["cron"]["version"]
    assert "crontopus_driver_classes" in rows["cron"]["hooks"]
    assert rows["taskscheduler"]["available"] is False
    assert rows["taskscheduler"]["reason"]


def test_drivers_prints_a_table_for_people(tmp_path: Path) -> None:
    result = agent("--state-dir", str(tmp_path), "drivers")
    assert result.returncode == 0
    assert any(line.startswith("cron ") for line in result.stdout.splitlines())


def test_drivers_convert_prints_the_native_form(tmp_path: Path) -> None:
    result = agent(
        "--state-dir", str(tmp_path), "drivers", "convert", "systemd", "--schedule", "0 2 * * *",
        "--timezone", "UTC", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["driver"] == "systemd"
    assert document["native"]


@pytest.mark.parametrize("driver", ["cron", "systemd", "taskscheduler"])
def test_drivers_convert_exits_2_with_json_for_an_invalid_schedule_whatever_the_driver(
    tmp_path: Path, driver: str
) -> None:
    for schedule in ("0 2 * * * *", "5/15 * * * *"):
        result = agent(
            "--state-dir", str(tmp_path), "drivers", "convert", driver, "--schedule", schedule,
            "--json",
        )  # fmt: skip
        assert result.returncode == 2, (schedule, result.stderr)
        assert json.loads(result.stdout)["error"].startswith(f'--schedule: "{schedule}" is not')
    zone = agent(
        "--state-dir", str(tmp_path), "drivers", "convert", driver, "--schedule", "0 2 * * *",
        "--timezone", "Mars/Olympus", "--json",
    )  # fmt: skip
    assert zone.returncode == 2
    assert json.loads(zone.stdout)["error"].startswith('--timezone: unknown time zone "Mars/')


@pytest.mark.parametrize(("driver", "schedule", "named"), [("systemd", "@reboot", "@reboot")])
def test_drivers_convert_exits_3_with_json_for_a_refusal_whatever_the_driver(
    tmp_path: Path, driver: str, schedule: str, named: str
) -> None:
    # Valid cron the driver cannot run (a systemd timer has no once-per-boot trigger): exit 3.
    options = {
        "CRONTOPUS_AGENT_DRIVER": "cron",
        "CRONTOPUS_AGENT_DRIVER_OPTIONS": "cron_tz=no,machine_zone=Etc/UTC",
    }
    result = agent(
        "--state-dir", str(tmp_path), "drivers", "convert", driver, "--schedule", schedule,
        "--timezone", "Europe/Berlin", "--json",
        env={**options, "TZ": "UTC"},
    )  # fmt: skip
    assert result.returncode == 3, result.stdout + result.stderr
    assert named in json.loads(result.stdout)["error"]
    plain = agent(
        "--state-dir", str(tmp_path), "drivers", "convert", driver, "--schedule", schedule,
        "--timezone", "Europe/Berlin", env={**options, "TZ": "UTC"},
    )  # fmt: skip
    assert (plain.returncode, plain.stdout) == (3, "")
    assert plain.stderr.startswith("crontopus-agent drivers convert: ")


def test_drivers_convert_says_cron_runs_another_zone_gated(tmp_path: Path) -> None:
    options = {
        "CRONTOPUS_AGENT_DRIVER": "cron",
        "CRONTOPUS_AGENT_DRIVER_OPTIONS": "cron_tz=no,machine_zone=Etc/UTC",
    }
    result = agent(
        "--state-dir", str(tmp_path), "drivers", "convert", "cron", "--schedule", "30 2 * * *",
        "--timezone", "Europe/Berlin", "--json", env={**options, "TZ": "UTC"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["mode"] == "gated"
    assert document["firingsPerDay"] == {"run": 1, "woken": 3}
    plain = agent(
        "--state-dir", str(tmp_path), "drivers", "convert", "cron", "--schedule", "30 2 * * *",
        "--timezone", "Europe/Berlin", env={**options, "TZ": "UTC"},
    )  # fmt: skip
    assert "mode: gated (runs 1 of 3 firings a day;" in plain.stdout


def test_drivers_convert_says_task_scheduler_runs_another_zone_gated(tmp_path: Path) -> None:
    options = {
        "CRONTOPUS_AGENT_DRIVER": "taskscheduler",
        "CRONTOPUS_AGENT_DRIVER_OPTIONS": "machine_timezone=UTC",
    }
    result = agent(
        "--state-dir", str(tmp_path), "drivers", "convert", "taskscheduler", "--schedule",
        "0 0 */2 * 1", "--timezone", "Europe/Berlin", "--json", env={**options, "TZ": "UTC"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["mode"] == "gated"
    assert document["firingsPerDay"] == {"run": 1, "woken": 2}
    assert "run-job 00000000-0000-0000-0000-000000000000 --gate" in document["native"]["xml"]


def test_drivers_convert_prints_words_not_python_values(tmp_path: Path) -> None:
    result = agent(
        "--state-dir", str(tmp_path), "drivers", "convert", "cron", "--schedule", "0 2 * * *",
        "--timezone", "UTC",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["line: 0 2 * * *", "environment: none", "mode: native"]


def test_a_reader_closing_the_pipe_early_ends_the_agent_quietly(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [AGENT, "--state-dir", str(tmp_path), "drivers", "convert", "taskscheduler",
         "--schedule", "0 2 * * *", "--timezone", "UTC"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    assert process.stderr is not None
    process.stdout.close()  # as `| head` does once it has its lines
    with process.stderr:
        stderr = process.stderr.read()
    assert process.wait(timeout=30) == 0
    assert stderr == b""


def test_drivers_convert_names_the_installed_drivers_for_an_unknown_one(tmp_path: Path) -> None:
    result = agent(
        "--state-dir", str(tmp_path), "drivers", "convert", "launchd", "--schedule", "* * * * *",
        "--json",
    )  # fmt: skip
    assert result.returncode == 2
    assert "found: cron" in json.loads(result.stdout)["error"]


def test_validate_config_names_what_is_missing(tmp_path: Path) -> None:
    result = agent("--state-dir", str(tmp_path), "validate-config")
    assert result.returncode == 1
    assert "server: not set" in result.stderr
    assert "endpoint-token: missing" in result.stderr


def test_validate_config_accepts_a_complete_setup(
    state: StateDir, config: AgentConfig, tmp_path: Path
) -> None:
    save_config(state, AgentConfig(**{**config.__dict__, "server": "https://c.example.com"}))
    result = agent("--state-dir", str(state.root), "validate-config")
    assert result.returncode == 0, result.stderr


def test_validate_config_reports_a_bad_environment_override(state: StateDir) -> None:
    result = agent(
        "--state-dir",
        str(state.root),
        "validate-config",
        env={"CRONTOPUS_AGENT_SYNC_INTERVAL": "-1"},
    )
    assert result.returncode == 1
    assert "CRONTOPUS_AGENT_SYNC_INTERVAL: sync_interval" in result.stderr


def test_sync_without_once_points_at_the_daemon(state: StateDir) -> None:
    result = agent("--state-dir", str(state.root), "sync")
    assert result.returncode == 2
    assert "crontopus-agent run" in result.stderr
    dry = agent("--state-dir", str(state.root), "sync", "--dry-run")
    assert dry.returncode == 2
    assert "pass --once to sync once (with --dry-run to only print the plan)" in dry.stderr


def test_sync_once_applies_and_dry_run_only_prints(
    state: StateDir, config: AgentConfig, job_repo: JobRepo, crontab: Path
) -> None:
    job_id, path, text = manifest("backup")
    job_repo.commit({path: text})

    dry = agent("--state-dir", str(state.root), "sync", "--once", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"+ add     {job_id}" in dry.stdout
    assert crontab.read_bytes() == FOREIGN_CRONTAB

    real = agent("--state-dir", str(state.root), "sync", "--once")
    assert real.returncode == 0, real.stderr
    assert f"run-job {job_id}" in crontab.read_text("latin-1")
    again = agent("--state-dir", str(state.root), "sync", "--once")
    assert "nothing changed" in again.stdout


def test_status_shows_the_last_sync_and_the_spool(
    state: StateDir, config: AgentConfig, job_repo: JobRepo
) -> None:
    _, path, text = manifest("backup")
    commit = job_repo.commit({path: text})
    agent("--state-dir", str(state.root), "sync", "--once")
    result = agent("--state-dir", str(state.root), "status", "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["appliedCommit"] == commit
    assert info["installedJobs"] == 1
    assert info["spooledCheckIns"] == 0
    assert info["enrolled"] is True
    words = agent("--state-dir", str(state.root), "status").stdout.splitlines()
    assert "enrolled: yes" in words
    assert not any(("True" in line or "[]" in line or "None" in line) for line in words)


def test_sync_without_enrollment_says_to_enroll(tmp_path: Path) -> None:
    result = agent("--state-dir", str(tmp_path / "empty"), "sync", "--once")
    assert result.returncode == 1
    assert "crontopus-agent enroll" in result.stderr


def test_enroll_refuses_a_bad_label_before_calling_the_server(tmp_path: Path) -> None:
    result = agent(
        "--state-dir", str(tmp_path), "enroll", "--server", "http://127.0.0.1:9",
        "--token", "cten_x", "--label", "noequals",
    )  # fmt: skip
    assert result.returncode == 2
    assert "--label: 'noequals' is not key=value" in result.stderr


def test_enroll_takes_the_token_from_standard_input_or_the_option_never_both(
    tmp_path: Path,
) -> None:
    base = ["--state-dir", str(tmp_path), "enroll", "--server", "http://127.0.0.1:9"]
    both = agent(*base, "--token", "cten_x", "--token-stdin")
    empty = subprocess.run(
        [AGENT, *base, "--token-stdin"], input="\n", capture_output=True, text=True, check=False
    )
    assert both.returncode == empty.returncode == 2
    assert "not allowed with argument" in both.stderr
    assert "--token-stdin: standard input held no token" in empty.stderr


def test_enroll_reports_an_unreachable_server(tmp_path: Path) -> None:
    result = agent(
        "--state-dir", str(tmp_path), "enroll", "--server", f"http://127.0.0.1:{free_port()}",
        "--token", "cten_x",
    )  # fmt: skip
    assert result.returncode == 1
    # Whether httpx or the plain-http check is first to find the closed port, the reason is named.
    assert "connection refused" in result.stderr.lower()
    assert not (tmp_path / "endpoint-token").exists()


def test_the_daemon_stops_cleanly_on_sigterm(
    state: StateDir, job_repo: JobRepo, crontab: Path, config: AgentConfig
) -> None:
    save_config(
        state,
        AgentConfig(
            **{
                **config.__dict__,
                "server": f"http://127.0.0.1:{free_port()}",
                "sync_interval": 0.2,
                "heartbeat_interval": 0.2,
            }
        ),
    )
    job_id, path, text = manifest("backup")
    job_repo.commit({path: text})
    daemon = subprocess.Popen(
        [AGENT, "--state-dir", str(state.root), "run"], stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 20
        while f"run-job {job_id}" not in crontab.read_text("latin-1"):
            assert time.monotonic() < deadline, "the daemon never applied the job"
            time.sleep(0.1)
        daemon.send_signal(signal.SIGTERM)
        _, stderr = daemon.communicate(timeout=15)
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
    assert daemon.returncode == 0, stderr
    assert "stopping after the current step" in stderr
    assert crontab.read_bytes().startswith(FOREIGN_CRONTAB + b"\n")


def test_run_job_needs_a_uuid(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run-job", "not-a-uuid"]) == 2
    assert "not a job UUID" in capsys.readouterr().err
    assert main(["run-job", str(uuid.uuid4()), "--bogus"]) == 2
