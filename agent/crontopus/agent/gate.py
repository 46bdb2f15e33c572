"""The run wrapper's gate: does a firing of a superset schedule fall on one of the job's instants?

A driver that cannot spell a schedule exactly installs a native superset and runs the wrapper
with `--gate` (see crontopus.drivers.superset). The firing runs only when its minute is one of
the job's instants as crontopus.core computes them, and only once per minute: two native
entries of a superset may both fire in the same minute.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime

from crontopus.agent.jobfiles import JobConfig
from crontopus.agent.locks import lock, release
from crontopus.agent.statedir import StateDir


def due(state: StateDir, config: JobConfig, now: datetime | None = None) -> bool:
    """Tell whether this firing should run; claim its minute when it should."""
    if config.schedule is None:
        # A config written before gating existed: the next sync writes the schedule.
        print(
            f"crontopus-agent run-job: job {config.job_id} is gated but its config has no"
            " schedule: run `crontopus-agent sync --once`",
            file=sys.stderr,
        )
        return False
    # Imported here so that native firings never load the evaluator.
    from crontopus.core.schedule import fires_at

    moment = now or datetime.now(UTC)
    if not fires_at(config.schedule, config.timezone, moment):
        return False
    return _claim(state, config.job_id, moment.strftime("%Y-%m-%dT%H:%M"))


def _claim(state: StateDir, job_id: str, minute: str) -> bool:
    """Record that `minute` ran; False when another firing of the same minute got there first."""
    state.locks.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(state.locks / f"{job_id}.gate", os.O_RDWR | os.O_CREAT, 0o600)
    lock(fd, wait=True)
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        claimed = os.read(fd, 64).decode("ascii", "replace")
        if claimed == minute:
            return False
        os.lseek(fd, 0, os.SEEK_SET)
        os.ftruncate(fd, 0)
        os.write(fd, minute.encode("ascii"))
        return True
    finally:
        release(fd)
