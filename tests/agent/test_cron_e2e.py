"""End to end with Debian's cron daemon: enroll, install a job, let cron fire it, see the run;
then an outage: the run is spooled and delivered exactly once when the server is back.

Runs only with CRONTOPUS_TEST_MACHINE=1 as root: it uses root's crontab (saved and restored
byte for byte) and starts the cron daemon if none runs (and stops it afterwards).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from crontopus.agent.checkin import CheckIn, send_checkin
from crontopus.agent.spool import Spool
from tests.agent.conftest import Server

# Two or three cron minutes plus server restarts: more than the suite's 300 s default on a
# loaded machine.
pytestmark = [pytest.mark.machine, pytest.mark.timeout(600)]

AGENT = str(Path(sys.executable).parent / "crontopus-agent")
ROOT_CRONTAB = Path("/var/spool/cron/crontabs/root")
FIRE_WAIT = 130.0  # cron fires on the minute; allow two minutes and change
EXPECTED_OUTPUT = 'it\'s 50% off|two  spaces|"quoted" $HOME\n'


def wait_for(what: str, check: Callable[[], Any], timeout: float = FIRE_WAIT) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture
def root_crontab() -> Iterator[None]:
    """Save root's crontab file and put it back exactly as it was."""
    if os.geteuid() != 0 or shutil.which("crontab") is None:
        pytest.skip("needs root and crontab(1)")
    saved = ROOT_CRONTAB.read_bytes() if ROOT_CRONTAB.exists() else None
    stat = ROOT_CRONTAB.stat() if saved is not None else None
    try:
        yield
    finally:
        if saved is None:
            subprocess.run(["crontab", "-r"], capture_output=True, check=False)
            ROOT_CRONTAB.unlink(missing_ok=True)
        else:
            assert stat is not None
            ROOT_CRONTAB.write_bytes(saved)
            os.chown(ROOT_CRONTAB, stat.st_uid, stat.st_gid)
            os.chmod(ROOT_CRONTAB, stat.st_mode & 0o7777)
        # cron notices changes by the spool directory's mtime.
        os.utime(ROOT_CRONTAB.parent)


@pytest.fixture
def cron_daemon() -> Iterator[None]:
    """Use the running cron daemon, or start one and stop it afterwards."""
    if shutil.which("cron") is None:
        pytest.skip("Debian's cron daemon is not installed")
    if subprocess.run(["pgrep", "-x", "cron"], capture_output=True, check=False).returncode == 0:
        yield
        return
    daemon = subprocess.Popen(["cron", "-f"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=10)


def agent(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [AGENT, "--state-dir", str(state), *args], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return result


def test_cron_fires_the_job_and_every_run_reaches_the_server_once(
    fleet_server: Server, root_crontab: None, cron_daemon: None, tmp_path: Path
) -> None:
    server = fleet_server
    access = server.register()
    enrollment = server.graphql(
        'mutation { createEnrollmentToken(name: "e2e") { ... on CreatedEnrollmentToken'
        " { plaintext } } }",
        token=access,
    )["createEnrollmentToken"]["plaintext"]
    state = tmp_path / "agent state"  # a space in the path the crontab entry must carry
    fired = tmp_path / "fired.log"
    agent(state, "enroll", "--server", server.url, "--token", enrollment, "--driver", "cron")
    command = (
        f"printf '%s|%s|%s\\n' \"it's 50% off\" 'two  spaces' '\"quoted\" $HOME' | tee -a {fired}"
    )
    created = server.graphql(
        "mutation($input: JobInput!) { createJob(input: $input) { ... on Job { id } } }",
        {"input": {"name": "e2e", "schedule": "* * * * *", "command": command}},
        access,
    )["createJob"]
    job_id = uuid.UUID(created["id"])

    agent(state, "sync", "--once")
    assert str(job_id) in subprocess.run(["crontab", "-l"], capture_output=True, text=True).stdout

    first = wait_for("cron to fire the job", lambda: server.runs(access, job_id))
    run = wait_for(
        "the first run to finish",
        lambda: [r for r in server.runs(access, job_id) if r["status"] != "RUNNING"],
    )[0]
    assert first
    assert (run["status"], run["exitCode"], run["output"]) == ("SUCCESS", 0, EXPECTED_OUTPUT)

    server.stop()
    spool = Spool(state / "spool")

    def spooled_finish() -> list[CheckIn]:
        found = [CheckIn.from_json(p.read_bytes()) for p in spool.entries()]
        return [c for c in found if c.event != "start"]

    (outage,) = wait_for("a run during the outage to be spooled", spooled_finish)[:1]
    server.start()
    daemon = subprocess.Popen([AGENT, "--state-dir", str(state), "run"], stderr=subprocess.PIPE)
    try:
        wait_for("the daemon to deliver the spool", lambda: not spool.entries(), timeout=60)
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.communicate(timeout=30)
    assert daemon.returncode == 0

    # Stop further firings (a sync would put the entry back), let a run in flight finish,
    # then deliver whatever it spooled.
    subprocess.run(["crontab", "-r"], capture_output=True, check=False)
    time.sleep(3)
    token = (state / "endpoint-token").read_text().strip()
    result = spool.drain(lambda checkin: send_checkin(server.url, token, checkin, 10))
    assert result.remaining == 0
    runs = server.runs(access, job_id)
    firings = fired.read_text().count(EXPECTED_OUTPUT)
    assert len(runs) == firings, (runs, firings)
    assert len({r["id"] for r in runs}) == len(runs)
    matching = [r for r in runs if r["id"] == outage.run_id]
    assert len(matching) == 1
    assert (matching[0]["status"], matching[0]["output"]) == ("SUCCESS", EXPECTED_OUTPUT)
    assert all(r["output"] == EXPECTED_OUTPUT for r in runs)
