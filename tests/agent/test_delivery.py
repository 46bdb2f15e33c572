"""Check-ins reach a real crontopus-server exactly once, also after an outage."""

from __future__ import annotations

import uuid

from crontopus.agent.checkin import CheckIn, Delivery, send_checkin
from crontopus.agent.daemon import Backoff
from crontopus.agent.jobfiles import JobConfig, write_job_config
from crontopus.agent.spool import Spool
from crontopus.agent.statedir import StateDir
from crontopus.agent.wrapper import run_job
from tests.agent.conftest import Server


def install(state: StateDir, server: Server, command: str) -> uuid.UUID:
    job_id = uuid.uuid4()
    config = JobConfig(str(job_id), "report", "default", command, server=server.url)
    write_job_config(state, config)
    return job_id


def test_a_run_is_reported_while_the_server_is_up(state: StateDir, server: Server) -> None:
    access = server.register()
    state.write_token(server.api_token(access, ["CHECKIN"]))
    job_id = install(state, server, 'echo "it\'s 100% done"')

    assert run_job(state, job_id) == 0

    (run,) = server.runs(access, job_id)
    assert (run["status"], run["exitCode"], run["output"]) == ("SUCCESS", 0, "it's 100% done\n")
    assert Spool(state.spool).entries() == []


def test_a_run_during_an_outage_is_delivered_exactly_once(state: StateDir, server: Server) -> None:
    access = server.register()
    state.write_token(server.api_token(access, ["CHECKIN"]))
    job_id = install(state, server, "echo while down; exit 2")
    token = state.read_token()
    assert token is not None
    server.stop()

    assert run_job(state, job_id) == 2
    spool = Spool(state.spool)
    spooled = [CheckIn.from_json(path.read_bytes()) for path in spool.entries()]
    assert sorted(c.event for c in spooled) == ["2", "start"]

    def send(checkin: CheckIn) -> object:
        return send_checkin(server.url, token, checkin, timeout=5)

    down = spool.drain(send)  # type: ignore[arg-type]
    assert down.unreachable
    assert len(spool.entries()) == 2

    server.start()
    up = spool.drain(send)  # type: ignore[arg-type]
    assert (up.delivered, up.remaining, up.unreachable) == (2, 0, False)
    # A daemon that crashed between the answer and the unlink sends them again: still one run.
    for checkin in spooled:
        assert send(checkin).delivery is Delivery.DELIVERED  # type: ignore[attr-defined]

    (run,) = server.runs(access, job_id)
    assert (run["status"], run["exitCode"], run["output"]) == ("FAILURE", 2, "while down\n")
    assert run["durationMs"] is not None


def test_a_refused_check_in_is_not_retried(state: StateDir, server: Server) -> None:
    job_id = install(state, server, "true")
    state.write_token("ctp_not_a_real_token")
    assert run_job(state, job_id) == 0
    assert Spool(state.spool).entries() == []


def test_backoff_doubles_up_to_its_cap_and_resets() -> None:
    backoff = Backoff(start=1, cap=5)
    assert [backoff.failed() for _ in range(5)] == [1, 2, 4, 5, 5]
    backoff.succeeded()
    assert backoff.failed() == 1


def test_the_daemon_delivers_the_spool_once_the_server_is_back(
    state: StateDir, server: Server
) -> None:
    from crontopus.agent.config import AgentConfig
    from crontopus.agent.daemon import Daemon
    from crontopus.agent.server import ServerClient
    from crontopus.agent.sync import Syncer
    from crontopus.drivers.fake import FakeDriver

    access = server.register()
    token = server.api_token(access, ["CHECKIN"])
    state.write_token(token)
    job_id = install(state, server, "echo later")
    server.stop()
    assert run_job(state, job_id) == 0
    config = AgentConfig(server=server.url, wrapper="/usr/local/bin/crontopus-agent")
    with ServerClient(server.url, token) as client:
        daemon = Daemon(
            state, config, Syncer(state, config, FakeDriver(), client), client, token, "t"
        )
        assert daemon.spool_step() == 1.0  # unreachable: back off
        assert daemon.spool_step() == 2.0
        server.start()
        daemon.spool_step()
    assert Spool(state.spool).entries() == []
    (run,) = server.runs(access, job_id)
    assert (run["status"], run["output"]) == ("SUCCESS", "later\n")
