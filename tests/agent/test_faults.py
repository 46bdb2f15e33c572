"""The agent under faults: an hour without the server, and a full disk on its machine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crontopus.agent.checkin import CheckIn, Delivery, send_checkin
from crontopus.agent.jobfiles import JobConfig, write_job_config
from crontopus.agent.spool import Spool
from crontopus.agent.statedir import StateDir
from crontopus.agent.wrapper import run_job
from tests.agent.conftest import Server, free_port
from tests.support import fill, tmpfs

AGENT = str(Path(sys.executable).parent / "crontopus-agent")


class Clock:
    """Wall-clock time that a test moves forward by hand."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def iso(self) -> str:
        moment = datetime.fromtimestamp(self.now, UTC)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_an_hour_without_the_server_keeps_what_the_bounds_allow_and_delivers_it_once(
    state: StateDir, server: Server
) -> None:
    access = server.register()
    token = server.api_token(access, ["CHECKIN"])
    job_id = str(uuid.uuid4())
    server.stop()
    # An hour ending now: a burst of 30 runs, then one a minute. The spool keeps at most 50
    # check-ins of at most 20 minutes: the burst overflows it, the first 40 minutes expire.
    clock = Clock(time.time() - 3600)
    spool = Spool(state.spool, max_entries=50, max_age=20 * 60, clock=clock)
    started = time.monotonic()
    spooled = 0
    for minute in range(60):
        for _run in range(30 if minute == 0 else 1):
            run_id = str(uuid.uuid4())
            for checkin in (
                CheckIn(job_id, run_id, "start", clock.iso()),
                CheckIn(job_id, run_id, "0", clock.iso(), duration=1.0, output="ok\n"),
            ):
                sent = send_checkin(server.url, token, checkin, 1)
                assert sent.delivery is Delivery.UNREACHABLE
                spool.append(checkin)
                spooled += 1
        clock.now += 60
    spool.expire()  # what the daemon's next pass does first
    kept = [CheckIn.from_json(path.read_bytes()) for path in spool.entries()]
    drops = spool.drops()
    print(
        f"\n[fault] agent, server unreachable for an hour (simulated in "
        f"{time.monotonic() - started:.1f} s): spooled {spooled}, kept {len(kept)}, dropped "
        f"{drops.counts}, last drop: {drops.last}"
    )
    assert len(kept) + drops.total == spooled
    assert drops.counts["full"] > 0
    assert drops.counts["expired"] > 0
    assert len(kept) <= 50
    assert all(clock.now - 20 * 60 - 1 < _time(c.started) for c in kept)  # ms rounding
    assert drops.last is not None
    assert drops.last["why"]

    server.start()
    delivered = spool.drain(lambda c: send_checkin(server.url, token, c, 5))
    again = spool.drain(lambda c: send_checkin(server.url, token, c, 5))
    assert (delivered.delivered, delivered.refused, delivered.remaining) == (len(kept), 0, 0)
    assert again.delivered == 0
    for checkin in kept:  # redelivered by an agent that crashed before unlinking: no double
        assert send_checkin(server.url, token, checkin, 5).delivery is Delivery.DELIVERED
    runs = server.runs(access, uuid.UUID(job_id))
    assert {run["id"] for run in runs} == {c.run_id for c in kept}
    status = subprocess.run(
        [AGENT, "--state-dir", str(state.root), "status", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    info = json.loads(status.stdout)
    assert info["droppedByReason"] == drops.counts
    assert info["droppedCheckIns"] == drops.total
    assert info["lastDrop"]["reason"] == "expired"


def _time(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


@pytest.mark.machine
def test_a_full_disk_never_stops_a_job_and_the_lost_check_ins_are_counted(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    proof = tmp_path / "ran"  # on another filesystem: the job's own work is not at stake
    with tmpfs(tmp_path / "disk", "2m") as disk:
        state = StateDir(disk / "state")
        state.create()
        state.write_token("cte_test_token")
        job_id = uuid.uuid4()
        unreachable = f"http://127.0.0.1:{free_port()}"
        command = f"echo ran > {proof}; echo done"
        config = JobConfig(
            str(job_id), "nightly", "default", command, concurrency="forbid", server=unreachable
        )
        write_job_config(state, config)
        filler = fill(disk)
        try:
            started = time.monotonic()
            code = run_job(state, job_id)
            took = time.monotonic() - started
        finally:
            filler.unlink()
        captured = capfd.readouterr()
        drops = Spool(state.spool).drops()
        status = subprocess.run(
            [AGENT, "--state-dir", str(state.root), "status", "--json"],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ},
        )
    print(
        f"\n[fault] agent, disk full: job exit {code} in {took:.2f} s, job ran "
        f"{proof.exists()}, dropped {drops.counts}"
    )
    assert code == 0
    assert proof.read_text() == "ran\n"
    assert "could not spool check-in start" in captured.err
    assert "No space left on device" in captured.err
    assert drops.counts["diskFull"] == 2
    assert json.loads(status.stdout)["droppedByReason"]["diskFull"] == 2
