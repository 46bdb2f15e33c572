"""On this machine's real cron: a job in another zone than the machine's runs at its minute, once.

Debian's cron has no CRON_TZ, so the driver installs a gated superset (see
crontopus.drivers.superset) and the run wrapper lets only the job's own minute run. Runs only
with CRONTOPUS_TEST_MACHINE=1 as root, in root's crontab (saved and restored byte for byte): the
agent's interpreter may sit where another user cannot run it.
"""

from __future__ import annotations

import socket
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest

from crontopus.agent.jobfiles import JobConfig, write_job_config
from crontopus.agent.statedir import StateDir
from crontopus.drivers.contract import DesiredEntry
from crontopus.drivers.cron.backend import CommandCrontab
from crontopus.drivers.cron.driver import CronDriver
from crontopus.drivers.cron.machine import machine_timezone, same_zone
from tests.agent.test_cron_e2e import cron_daemon, root_crontab  # noqa: F401 - fixtures

pytestmark = [pytest.mark.machine, pytest.mark.timeout(300)]

AGENT = str(Path(sys.executable).parent / "crontopus-agent")


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.usefixtures("root_crontab")
def test_a_job_in_another_zone_runs_once_at_its_minute_on_the_real_cron(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    machine = machine_timezone() or "UTC"
    zone = "Europe/Berlin" if not same_zone(machine, "Europe/Berlin") else "Asia/Kolkata"
    now = datetime.now(UTC)
    # Two minutes ahead (three late in a minute), so cron has read the crontab by then.
    target = (now + timedelta(minutes=3 if now.second > 40 else 2)).replace(second=0, microsecond=0)
    wall = target.astimezone(ZoneInfo(zone))
    schedule = f"{wall.minute} {wall.hour} * * *"
    # A second job whose superset wakes at the same minute (its zone's other UTC offset) but
    # whose instant lies an hour away: the gate must drop that firing.
    later = 1 if not wall.dst() else -1  # toward the zone's other offset
    decoy = f"{wall.minute} {(wall.hour + later) % 24} * * *"
    root = tmp_path / "state"
    runs, decoy_runs = tmp_path / "runs", tmp_path / "decoy-runs"
    job, decoy_job = uuid4(), uuid4()
    state = StateDir(root)
    for job_id, written, log in ((job, schedule, runs), (decoy_job, decoy, decoy_runs)):
        write_job_config(
            state,
            JobConfig(
                job_id=str(job_id),
                name=f"gated-{job_id}",
                namespace="default",
                command=f"date -u +%Y-%m-%dT%H:%M >> {log}",
                server=f"http://127.0.0.1:{unused_port()}",
                checkin_timeout=2.0,
                schedule=written,
                timezone=zone,
            ),
        )
        log.touch()
    driver = CronDriver(CommandCrontab(), cron_tz=False, machine_zone=machine)
    driver.apply(
        [
            DesiredEntry.build(
                job_id,
                f"default/gated-{job_id}",
                written,
                zone,
                [AGENT, "run-job", str(job_id), "--state-dir", str(root)],
            )
            for job_id, written in ((job, schedule), (decoy_job, decoy))
        ]
    )
    installed = driver.list_managed()
    assert installed[job].native.rstrip("\n").endswith("--gate")
    # Start cron only now: a daemon that scanned the spool in the same second as the
    # install would miss it (cron compares the spool's mtime, in whole seconds).
    request.getfixturevalue("cron_daemon")
    finished = target + timedelta(seconds=75)
    while datetime.now(UTC) < finished:
        time.sleep(1)
    assert runs.read_text().split() == [target.strftime("%Y-%m-%dT%H:%M")], installed[job].native
    assert decoy_runs.read_text() == ""
