"""The run wrapper: command line, output tail, timeout, overlap lock and spooling."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from crontopus.agent.checkin import OUTPUT_LIMIT, CheckIn
from crontopus.agent.jobfiles import JobConfig, write_job_config
from crontopus.agent.spool import Spool
from crontopus.agent.statedir import StateDir
from crontopus.agent.wrapper import (
    LOCKED_EXIT_CODE,
    MISSING_EXIT_CODE,
    TIMEOUT_EXIT_CODE,
    Outcome,
    argv_for,
    popen_args,
    run_command,
    run_job,
)
from tests.agent.conftest import free_port

AGENT = str(Path(sys.executable).parent / "crontopus-agent")


def job(command: str, **changes: object) -> JobConfig:
    values: dict[str, object] = {
        "job_id": str(uuid.uuid4()),
        "name": "backup",
        "namespace": "default",
        "command": command,
    }
    values.update(changes)
    return JobConfig(**values)  # type: ignore[arg-type]


def spooled(state: StateDir) -> list[CheckIn]:
    """Return the spooled check-ins, start first (the wrapper sends both at once)."""
    found = [CheckIn.from_json(path.read_bytes()) for path in Spool(state.spool).entries()]
    return sorted(found, key=lambda checkin: checkin.event != "start")


def test_a_plain_command_runs_without_a_shell() -> None:
    assert argv_for(job("true", args=("--x",))) == ["true", "--x"]


def test_a_command_with_shell_syntax_runs_through_sh_with_its_args_quoted() -> None:
    config = job("echo $HOME | tr a-z A-Z", args=("it's", "a b"))
    assert argv_for(config) == ["/bin/sh", "-c", "echo $HOME | tr a-z A-Z 'it'\"'\"'s' 'a b'"]


def test_on_windows_a_shell_line_runs_through_cmd_with_its_args_quoted_for_the_c_runtime(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COMSPEC", r"C:\Windows\system32\cmd.exe")
    config = job("backup.cmd > nul && echo done", args=("C:\\Program Files", 'say "hi"'))

    argv = argv_for(config, platform="win32")

    line = 'backup.cmd > nul && echo done "C:\\Program Files" "say \\"hi\\""'
    assert argv == [r"C:\Windows\system32\cmd.exe", "/d", "/s", "/c", f'"{line}"']
    # Passed as written: Popen would otherwise escape the quotes again for cmd.exe.
    assert popen_args(argv, platform="win32") == rf'C:\Windows\system32\cmd.exe /d /s /c "{line}"'
    assert popen_args(["/bin/sh", "-c", "x"], platform="linux") == ["/bin/sh", "-c", "x"]


def test_args_env_and_quotes_reach_the_command_literally() -> None:
    config = job(
        "printf '%s|' \"$GREETING\"",
        args=("50% off", "it's", "$HOME", "a  b"),
        env={"GREETING": "hi there"},
    )
    result = run_command(config)
    assert result.outcome is Outcome.SUCCESS
    assert result.output == "hi there|50% off|it's|$HOME|a  b|"


def test_a_failing_command_reports_its_exit_code_and_output() -> None:
    result = run_command(job("echo broken >&2; exit 3"))
    assert (result.outcome, result.exit_code, result.output) == (Outcome.FAILURE, 3, "broken\n")


def test_a_missing_program_fails_like_a_shell_would() -> None:
    result = run_command(job("/nonexistent/program"))
    assert result.exit_code == 127


def test_only_the_last_64_kib_of_output_are_kept() -> None:
    script = "import sys; sys.stdout.write('x' * 200000 + 'THE END')"
    result = run_command(job(f'{sys.executable} -c "{script}"'))
    assert len(result.output.encode()) == OUTPUT_LIMIT
    assert result.output.endswith("THE END")


def test_a_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    marker = tmp_path / "survivor"
    command = f"(sleep 3; touch {marker}) & sleep 30"
    started = time.monotonic()
    result = run_command(job(command, timeout=1))
    assert result.outcome is Outcome.TIMEOUT
    assert result.exit_code == TIMEOUT_EXIT_CODE
    assert time.monotonic() - started < 10
    assert "timeout" in result.output
    time.sleep(3.5)
    assert not marker.exists()


def test_run_job_spools_start_and_finish_when_the_server_is_down(state: StateDir) -> None:
    config = job("echo spooled", server=f"http://127.0.0.1:{free_port()}", commit="abc123")
    write_job_config(state, config)
    assert run_job(state, uuid.UUID(config.job_id)) == 0
    start, finish = spooled(state)
    assert (start.event, finish.event) == ("start", "0")
    assert start.run_id == finish.run_id
    assert finish.output == "spooled\n"
    assert finish.commit == "abc123"
    assert finish.duration is not None
    assert finish.duration >= 0


def test_a_timed_out_run_is_reported_as_a_timeout(state: StateDir) -> None:
    config = job("sleep 20", timeout=1)
    write_job_config(state, config)
    assert run_job(state, uuid.UUID(config.job_id)) == TIMEOUT_EXIT_CODE
    assert [c.event for c in spooled(state)] == ["start", "timeout"]


def test_a_job_that_forbids_overlap_is_skipped_while_a_run_holds_its_lock(
    state: StateDir,
) -> None:
    config = job("echo again", concurrency="forbid")
    write_job_config(state, config)
    job_id = uuid.UUID(config.job_id)
    fd = os.open(state.lock_file(job_id), os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        assert run_job(state, job_id) == LOCKED_EXIT_CODE
    finally:
        os.close(fd)
    assert spooled(state) == []
    assert run_job(state, job_id) == 0


def test_run_job_for_an_unknown_job_says_how_to_install_it(state: StateDir) -> None:
    result = subprocess.run(
        [AGENT, "run-job", str(uuid.uuid4()), "--state-dir", str(state.root)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == MISSING_EXIT_CODE
    assert "sync --once" in result.stderr


def test_the_command_line_wrapper_runs_the_job_with_the_state_dir_option(state: StateDir) -> None:
    config = job("exit 7")
    write_job_config(state, config)
    result = subprocess.run(
        [AGENT, "--state-dir", str(state.root), "run-job", config.job_id],
        capture_output=True,
        check=False,
    )
    assert result.returncode == 7
    assert [c.event for c in spooled(state)] == ["start", "7"]


def test_a_gated_firing_outside_the_jobs_instants_exits_0_without_a_run_or_a_word(
    state: StateDir, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    # Kolkata runs 30 minutes off the hour from UTC, so this minute is a quarter hour away.
    minute = (time.gmtime().tm_min + 15) % 60
    config = job(
        f"touch {marker}",
        server=f"http://127.0.0.1:{free_port()}",
        schedule=f"{minute} * * * *",
        timezone="Asia/Kolkata",
    )
    write_job_config(state, config)
    result = subprocess.run(
        [AGENT, "--state-dir", str(state.root), "run-job", config.job_id, "--gate"],
        capture_output=True,
        check=False,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, b"", b"")
    assert not marker.exists()
    assert spooled(state) == []


def test_a_gated_firing_at_one_of_the_jobs_instants_runs_and_reports(state: StateDir) -> None:
    config = job(
        "exit 5",
        server=f"http://127.0.0.1:{free_port()}",
        schedule="* * * * *",
        timezone="Pacific/Chatham",
    )
    write_job_config(state, config)
    result = subprocess.run(
        [AGENT, "run-job", config.job_id, "--state-dir", str(state.root), "--gate"],
        capture_output=True,
        check=False,
    )
    assert result.returncode == 5
    assert [c.event for c in spooled(state)] == ["start", "5"]


def test_a_gated_job_whose_config_lacks_the_schedule_is_not_run(state: StateDir) -> None:
    config = job("exit 5")
    write_job_config(state, config)
    assert run_job(state, uuid.UUID(config.job_id), gate=True) == 0
    assert spooled(state) == []
