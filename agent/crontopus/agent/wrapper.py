"""The run wrapper (`crontopus-agent run-job UUID`): run one job and report it.

The scheduler fires this. It reads the job's config file, takes the per-job lock when the job
forbids overlaps, sends a start check-in (while the command starts), runs the command in its
own process group, enforces the timeout, keeps the last 64 KiB of output, and sends the finish
check-in. Check-ins the server cannot take go to the spool. A job that references secrets gets
their values from the server just before its command starts, in memory only; when they cannot
be had, the command does not run and the run is reported failed with the reason. Imports stay
to the standard library: this runs every minute.
"""

from __future__ import annotations

import enum
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from crontopus.agent.checkin import OUTPUT_LIMIT, CheckIn, Delivery, send_checkin
from crontopus.agent.gate import due
from crontopus.agent.jobfiles import JobConfig, read_job_config
from crontopus.agent.locks import lock, release
from crontopus.agent.runsecrets import SecretsUnavailable, fetch_job_secrets, mask
from crontopus.agent.spool import Spool
from crontopus.agent.statedir import StateDir

TIMEOUT_EXIT_CODE = 124  # what GNU timeout(1) exits with, so scripts read it the same way
LOCKED_EXIT_CODE = 75  # EX_TEMPFAIL: a previous run still holds the lock
MISSING_EXIT_CODE = 78  # EX_CONFIG: the job is not installed in this state directory
SECRETS_EXIT_CODE = 69  # EX_UNAVAILABLE: the job's secrets could not be had; it did not run
KILL_GRACE = 5.0  # seconds between SIGTERM and SIGKILL when a run times out
READER_GRACE = 2.0  # seconds to wait for output after the command exits
# Characters that mean nothing special to /bin/sh, so such a command can be run without one.
_PLAIN = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./:,+@-% ")


class Outcome(enum.Enum):
    """How a run ended."""

    SUCCESS = "success"
    FAILURE = "failure"
    TIMEOUT = "timeout"


@dataclass(frozen=True)
class RunResult:
    """What the wrapper learnt from one run."""

    outcome: Outcome
    exit_code: int
    duration: float
    output: str


def argv_for(config: JobConfig, platform: str = sys.platform) -> list[str]:
    """Return the argv that runs the job's command line with its args appended.

    `command` is a shell command line: it runs as `/bin/sh -c "command 'arg' ..."` with each arg
    quoted, so pipes and variables work and args stay literal. A command made only of plain
    words is exec'd directly (same meaning, one process fewer). On Windows the shell is
    `cmd.exe /d /s /c` and the args are quoted as the C runtime splits them.
    """
    windows = platform == "win32"
    line = config.command
    if config.args:
        quoted = subprocess.list2cmdline(config.args) if windows else shlex.join(config.args)
        line = f"{line} {quoted}"
    words = config.command.split()
    if set(config.command) <= _PLAIN and words and "=" not in words[0] and _executable(words[0]):
        return [*words, *config.args]
    if windows:
        # /d skips AutoRun commands of the registry; /s keeps the line's own quotes as written.
        return [os.environ.get("COMSPEC", "cmd.exe"), "/d", "/s", "/c", f'"{line}"']
    return ["/bin/sh", "-c", line]


def popen_args(argv: list[str], platform: str = sys.platform) -> list[str] | str:
    """Return what Popen is given: on Windows a shell line is passed as written, because
    Popen would quote it again with backslashes, which cmd.exe does not read."""
    if platform == "win32" and argv[1:4] == ["/d", "/s", "/c"]:
        shell = f'"{argv[0]}"' if " " in argv[0] else argv[0]
        return " ".join([shell, *argv[1:]])
    return argv


def _own_group() -> dict[str, Any]:
    """Popen arguments that give the command its own process group, so a timeout kills all of it."""
    if sys.platform == "win32":
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    else:
        return {"start_new_session": True}


def _executable(program: str) -> bool:
    """Tell whether `program` runs as is (shutil.which, without importing shutil)."""
    if "/" in program:
        candidates = [program]
    else:
        directories = os.environ.get("PATH", os.defpath).split(os.pathsep)
        candidates = [os.path.join(directory or ".", program) for directory in directories]
    return any(os.access(path, os.X_OK) and not os.path.isdir(path) for path in candidates)


def run_command(config: JobConfig, secrets: Mapping[str, str] | None = None) -> RunResult:
    """Run the job's command, enforce its timeout and capture the tail of its output.

    `secrets` (variable -> value) join the environment of the command and of nothing else.
    """
    env = {**os.environ, **config.env, **(secrets or {})}
    env["CRONTOPUS_JOB_ID"] = config.job_id
    started = time.monotonic()
    try:
        process = subprocess.Popen(  # noqa: S603 - the job's own command is what we must run
            popen_args(argv_for(config)),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            **_own_group(),
        )
    except OSError as exc:
        return RunResult(Outcome.FAILURE, 127, time.monotonic() - started, f"crontopus: {exc}\n")
    tail = _TailReader(process)
    tail.start()
    timed_out = False
    try:
        process.wait(timeout=config.timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(process)
    duration = time.monotonic() - started
    output = tail.result(READER_GRACE)
    if timed_out:
        note = f"\ncrontopus: killed after the {config.timeout} s timeout\n"
        return RunResult(Outcome.TIMEOUT, TIMEOUT_EXIT_CODE, duration, output + note)
    code = process.returncode
    if code < 0:
        code = 128 - code  # killed by a signal: report it as a shell would
    outcome = Outcome.SUCCESS if code == 0 else Outcome.FAILURE
    return RunResult(outcome, code, duration, output)


def run_job(state: StateDir, job_id: uuid.UUID, *, gate: bool = False, manual: bool = False) -> int:
    """Run one installed job with locking and check-ins; return the job's exit code.

    With `gate` the scheduler fires a superset of the job's instants: a firing whose minute is
    not one of them exits 0 at once, without a run, a check-in or a message. `manual` marks a
    run someone asked for (run now): the server shows it as MANUAL.
    """
    config = read_job_config(state, job_id)
    if config is None:
        print(
            f"crontopus-agent run-job: job {job_id} is not installed in {state.root}"
            " (no job config): run `crontopus-agent sync --once`",
            file=sys.stderr,
        )
        return MISSING_EXIT_CODE
    if gate and not due(state, config):
        return 0
    lock_fd = _lock(state, job_id) if config.concurrency == "forbid" else None
    if lock_fd == -1:
        print(
            f"crontopus-agent run-job: job {config.namespace}/{config.name} ({job_id}) is"
            " still running and forbids overlapping runs: this run is skipped",
            file=sys.stderr,
        )
        return LOCKED_EXIT_CODE
    try:
        return _run_and_report(state, config, "manual" if manual else None)
    finally:
        if lock_fd is not None:
            release(lock_fd)


def _run_and_report(state: StateDir, config: JobConfig, trigger: str | None = None) -> int:
    reporter = _Reporter(state, config)
    run_id = str(uuid.uuid4())
    started = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    start = CheckIn(config.job_id, run_id, "start", started, commit=config.commit, trigger=trigger)
    # The start goes out while the command runs: the job never waits for the server, and for a
    # short job both check-ins are in flight together (the server takes them in either order).
    sender = threading.Thread(target=reporter.report, args=(start,), daemon=True)
    sender.start()
    secrets: dict[str, str] = {}
    try:
        if config.secret_env:
            secrets = reporter.secrets()
    except SecretsUnavailable as error:
        names = ", ".join(sorted(set(config.secret_env.values())))
        note = (
            f"crontopus: the command did not run: the values of its secrets ({names}) could not"
            f" be fetched: {error}\n"
        )
        print(f"crontopus-agent run-job: {note.removeprefix('crontopus: ')}", file=sys.stderr)
        result = RunResult(Outcome.FAILURE, SECRETS_EXIT_CODE, 0.0, note)
    else:
        result = run_command(config, secrets)
        # A value the command printed must not travel with the check-in or rest in the spool.
        result = RunResult(
            result.outcome, result.exit_code, result.duration, mask(result.output, secrets)
        )
    # The server records TIMEOUT only from the `timeout` event; an exit code reads as a failure.
    event = "timeout" if result.outcome is Outcome.TIMEOUT else str(result.exit_code)
    finish = CheckIn(
        config.job_id,
        run_id,
        event,
        started,
        duration=result.duration,
        commit=config.commit,
        output=result.output,
        trigger=trigger,
    )
    reporter.report(finish)
    sender.join()
    return result.exit_code


class _Reporter:
    """Sends check-ins, spooling them once the server has proven unreachable."""

    def __init__(self, state: StateDir, config: JobConfig) -> None:
        self.config = config
        self.spool = Spool(
            state.spool, config.spool_max_entries, config.spool_max_bytes, config.spool_max_age
        )
        self.token = state.read_token()
        self.server_down = not (config.server and self.token)

    def secrets(self) -> dict[str, str]:
        """Fetch the job's secret values over the endpoint's own credential."""
        if not (self.config.server and self.token):
            raise SecretsUnavailable(
                "this agent has no server or endpoint token (enroll it: crontopus-agent enroll)"
            )
        return fetch_job_secrets(
            self.config.server, self.token, self.config.job_id, self.config.checkin_timeout
        )

    def report(self, checkin: CheckIn) -> None:
        if not self.server_down and self.config.server and self.token:
            result = send_checkin(
                self.config.server, self.token, checkin, self.config.checkin_timeout
            )
            if result.delivery is Delivery.DELIVERED:
                return
            if result.delivery is Delivery.REFUSED:
                print(
                    f"crontopus-agent run-job: the server refused check-in {checkin.event} of"
                    f" run {checkin.run_id}: {result.status} {result.message}; not retried",
                    file=sys.stderr,
                )
                return
            # Once unreachable, do not make the finish wait for another timeout.
            self.server_down = True
        try:
            self.spool.append(checkin)
        except OSError as error:
            # Monitoring is best effort; the job is not: the run goes on unreported.
            print(
                f"crontopus-agent run-job: could not spool check-in {checkin.event} of run"
                f" {checkin.run_id} (job {checkin.job_id}): {error}; it is dropped and counted"
                " as diskFull in `crontopus-agent status`",
                file=sys.stderr,
            )
            self.spool.note_unspooled(checkin)


class _TailReader(threading.Thread):
    """Reads a process's output in the background, keeping only the last 64 KiB."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        super().__init__(daemon=True)
        self.process = process
        self.buffer = bytearray()

    def run(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        fd = stream.fileno()
        while chunk := os.read(fd, 65536):
            self.buffer += chunk
            if len(self.buffer) > 2 * OUTPUT_LIMIT:
                del self.buffer[:-OUTPUT_LIMIT]

    def result(self, grace: float) -> str:
        # A background child may keep the pipe open after the command exits: do not wait for it.
        self.join(grace)
        if not self.is_alive() and self.process.stdout is not None:
            self.process.stdout.close()
        return bytes(self.buffer[-OUTPUT_LIMIT:]).decode("utf-8", "replace")


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    if sys.platform == "win32":
        # No signals to a group on Windows: taskkill ends the whole tree, then the leader.
        subprocess.run(  # noqa: S603 - a fixed program and a pid
            ["taskkill", "/T", "/F", "/PID", str(process.pid)],  # noqa: S607 - a system program
            capture_output=True,
            check=False,
        )
        process.kill()
        process.wait()
    else:
        for sig, wait in ((signal.SIGTERM, KILL_GRACE), (signal.SIGKILL, None)):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                return
            try:
                process.wait(timeout=wait)
                if sig is signal.SIGTERM:
                    # The leader is gone; make sure nothing else in its group lingers.
                    os.killpg(process.pid, signal.SIGKILL)
                return
            except subprocess.TimeoutExpired:
                continue
            except ProcessLookupError:
                return


def _lock(state: StateDir, job_id: uuid.UUID) -> int | None:
    """Take the job's lock without waiting; return the fd, -1 when another run holds it, or
    None when no lock can be created at all (the job then runs without one)."""
    path = state.lock_file(job_id)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    except OSError as error:
        # A lock that cannot be created (a full or read-only disk) must not stop the job.
        print(
            f"crontopus-agent run-job: cannot create the lock {path}: {error}; running without it",
            file=sys.stderr,
        )
        return None
    if not lock(fd, wait=False):
        os.close(fd)
        return -1
    return fd
