"""The agent channel against a real server: pushed changes, run now, polling while it is down."""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from crontopus.agent.channel import (
    RECONNECT_MAX,
    RECONNECT_MIN,
    RECONNECT_SPREAD,
    reconnect_delay,
    websocket_url,
)
from crontopus.agent.config import load_config
from crontopus.agent.daemon import Daemon, jittered
from crontopus.agent.server import ServerClient
from crontopus.agent.statedir import StateDir
from crontopus.agent.sync import Syncer, SyncState, load_server_labels
from crontopus.drivers.cron.driver import CronDriver
from tests.agent.conftest import Server
from tests.agent.test_server_sync import create_job, enroll

RUN_NOW = """
mutation($job: UUID!, $endpoints: [UUID!]) { runJobNow(jobId: $job, endpointIds: $endpoints) {
  __typename
  ... on RunJobNowPayload { requestId endpoints { name } offline { name } }
  ... on UserError { message } } }
"""
RUNS = """
query($job: UUID!) { runs(filter: {jobId: $job}, first: 10) { nodes { status trigger output } } }
"""
AUDIT = "{ auditEvents(first: 20) { nodes { action target details } } }"
HEAD = "{ repository { headCommit } }"
ENDPOINTS = "{ endpoints(first: 10) { nodes { id name status appliedCommit } } }"


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll `condition` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {timeout} s")
        time.sleep(0.02)


class Relay:
    """A TCP relay in front of the server that can be cut, as a proxy or a network would."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.open = threading.Event()
        self.open.set()
        self.pairs: list[tuple[socket.socket, socket.socket]] = []
        self.sockets: list[socket.socket] = []
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.open.is_set():
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target))
            self.sockets += [client, upstream]
            self.pairs.append((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        """Refuse new connections and drop the open ones."""
        self.open.clear()
        for pair in self.pairs:
            for end in pair:
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
        self.pairs.clear()

    def restore(self) -> None:
        self.open.set()

    def close(self) -> None:
        self.closed = True
        self.cut()
        self.listener.close()
        for end in self.sockets:
            end.close()


@dataclasses.dataclass
class Agent:
    daemon: Daemon
    thread: threading.Thread
    state: StateDir


@pytest.fixture
def start_agent(tmp_path: Path) -> Iterator[Callable[..., Agent]]:
    started: list[Agent] = []

    def start(state_dir: Path, *, channel_url: str | None = None, **changes: Any) -> Agent:
        state = StateDir(state_dir)
        config = dataclasses.replace(load_config(state), **changes)
        token = state.read_token()
        assert token is not None
        client = ServerClient(config.require_server(), token)
        driver = CronDriver.from_options(dict(config.driver_options))
        syncer = Syncer(state, config, driver, client)
        daemon = Daemon(state, config, syncer, client, token, "0.1.0", channel_url=channel_url)
        thread = threading.Thread(target=daemon.run, daemon=True)
        thread.start()
        agent = Agent(daemon, thread, state)
        started.append(agent)
        return agent

    yield start
    for agent in started:
        agent.daemon.stop()
        agent.thread.join(15)
        agent.daemon.client.close()
        for run in agent.daemon.runs:
            run.wait(15)


def installed(crontab: Path, job_id: uuid.UUID) -> bool:
    return f"run-job {job_id}" in crontab.read_text("latin-1")


def channel_only_agent(
    server: Server,
    access: str,
    tmp_path: Path,
    crontab: Path,
    start_agent: Callable[..., Agent],
) -> Agent:
    """Enroll and start an agent whose polls and heartbeats are a day apart, once its channel
    is open and it synced: only the channel can bring a change in time."""
    state = tmp_path / "agent"
    enroll(server, access, state, crontab)
    agent = start_agent(state, sync_interval=86400.0, heartbeat_interval=86400.0)
    wait_for(lambda: agent.daemon.channel_open, 30, "the channel opening")
    wait_for(lambda: agent.daemon.synced_once, 30, "the first sync")
    return agent


def test_a_job_created_through_the_api_reaches_the_crontab_within_two_seconds(
    fleet_server: Server, tmp_path: Path, crontab: Path, start_agent: Callable[..., Agent]
) -> None:
    server = fleet_server
    access = server.register()
    agent = channel_only_agent(server, access, tmp_path, crontab, start_agent)

    started = time.monotonic()
    job_id = create_job(server, access, name="pushed", schedule="0 2 * * *", command="echo hi")
    wait_for(lambda: installed(crontab, job_id), 2.0, "installing the pushed job")
    assert time.monotonic() - started <= 2.0

    # A job targeted at other machines is not announced to this one: nothing is fetched.
    applied = server.graphql(HEAD, token=access)["repository"]["headCommit"]
    wait_for(lambda: SyncState.load(agent.state).commit == applied, 5, "the sync state saved")
    other = create_job(
        server, access, name="db", schedule="0 3 * * *", command="echo db",
        targetLabels=[{"key": "role", "value": "db"}],
    )  # fmt: skip
    head = server.graphql(HEAD, token=access)["repository"]["headCommit"]
    assert head != applied
    time.sleep(0.5)  # nothing should happen: the absence of a fetch is what is checked
    assert not installed(crontab, other)
    assert SyncState.load(agent.state).commit == applied
    (endpoint,) = server.graphql(ENDPOINTS, token=access)["endpoints"]["nodes"]
    assert endpoint["status"] == "ONLINE"


UPDATE_LABELS = """
mutation($id: UUID!, $labels: [KeyValueInput!]) { updateEndpoint(id: $id, labels: $labels) {
  __typename } }
"""


def test_a_label_change_reaches_the_agent_at_once_and_its_jobs_follow(
    fleet_server: Server, tmp_path: Path, crontab: Path, start_agent: Callable[..., Agent]
) -> None:
    server = fleet_server
    access = server.register()
    agent = channel_only_agent(server, access, tmp_path, crontab, start_agent)
    db_job = create_job(
        server, access, name="db", schedule="0 3 * * *", command="echo db",
        targetLabels=[{"key": "role", "value": "db"}],
    )  # fmt: skip
    (endpoint,) = server.graphql(ENDPOINTS, token=access)["endpoints"]["nodes"]
    assert agent.state.read_heartbeat() is not None  # sent when the channel opened
    assert not installed(crontab, db_job)

    relabelled = server.graphql(
        UPDATE_LABELS, {"id": endpoint["id"], "labels": [{"key": "role", "value": "db"}]}, access
    )["updateEndpoint"]
    assert relabelled["__typename"] == "Endpoint", relabelled

    wait_for(lambda: installed(crontab, db_job), 5, "installing the job of the new label")
    assert load_server_labels(agent.state) == {"role": "db"}
    assert agent.daemon.channel_open


def test_run_now_runs_the_job_through_the_wrapper_as_a_manual_run(
    fleet_server: Server, tmp_path: Path, crontab: Path, start_agent: Callable[..., Agent]
) -> None:
    server = fleet_server
    access = server.register()
    state = tmp_path / "agent"
    enroll(server, access, state, crontab)
    agent = start_agent(state, sync_interval=86400.0)
    wait_for(lambda: agent.daemon.channel_open, 30, "the channel opening")
    job_id = create_job(
        server, access, name="now", schedule="0 2 1 1 *", command="echo ran-now",
        concurrency="FORBID",
    )  # fmt: skip
    wait_for(lambda: installed(crontab, job_id), 10, "installing the job")
    (endpoint,) = server.graphql(ENDPOINTS, token=access)["endpoints"]["nodes"]

    answer = server.graphql(RUN_NOW, {"job": str(job_id), "endpoints": None}, access)["runJobNow"]

    assert answer["__typename"] == "RunJobNowPayload", answer
    assert answer["endpoints"] == [{"name": "web-1"}]
    assert answer["offline"] == []

    def finished() -> list[dict[str, Any]]:
        runs = server.graphql(RUNS, {"job": str(job_id)}, access)["runs"]["nodes"]
        return [run for run in runs if run["status"] != "RUNNING"]

    (run,) = wait_for(finished, 30, "the manual run arriving")
    assert run["status"] == "SUCCESS"
    assert run["trigger"] == "MANUAL"
    assert run["output"].strip() == "ran-now"
    events = server.graphql(AUDIT, token=access)["auditEvents"]["nodes"]
    (audited,) = [event for event in events if event["action"] == "job.run"]
    assert audited["target"] == "job:default/now"
    assert audited["details"]["endpoints"] == ["web-1"]
    assert audited["details"]["requestId"] == answer["requestId"]

    # Naming the endpoint works too; a job it does not target is refused with the reason.
    named = server.graphql(RUN_NOW, {"job": str(job_id), "endpoints": [endpoint["id"]]}, access)
    assert named["runJobNow"]["__typename"] == "RunJobNowPayload"
    other = create_job(
        server, access, name="db", schedule="0 3 * * *", command="echo db",
        targetLabels=[{"key": "role", "value": "db"}],
    )  # fmt: skip
    refused = server.graphql(RUN_NOW, {"job": str(other), "endpoints": [endpoint["id"]]}, access)
    assert "does not run on web-1" in refused["runJobNow"]["message"]


def test_with_the_socket_down_the_agent_polls_and_catches_up_when_it_is_back(
    fleet_server: Server, tmp_path: Path, crontab: Path, start_agent: Callable[..., Agent]
) -> None:
    server = fleet_server
    access = server.register()
    state = tmp_path / "agent"
    enroll(server, access, state, crontab)
    relay = Relay(server.port)
    try:
        url = websocket_url(f"http://127.0.0.1:{relay.port}")
        agent = start_agent(state, channel_url=url, sync_interval=1.0)
        channel = agent.daemon.channel
        assert channel is not None
        channel.delay = lambda failures: 0.5  # the real spread is 1-15 s; keep the test short
        wait_for(channel.connected.is_set, 30, "the channel opening")

        relay.cut()
        wait_for(lambda: not channel.connected.is_set(), 30, "the channel noticing the cut")
        polled = create_job(server, access, name="polled", schedule="0 2 * * *", command="true")
        # Polling every ~1 s (jittered) while the socket is down.
        wait_for(lambda: installed(crontab, polled), 10, "installing by polling")

        # Back: the agent reconnects (after a jittered delay), then asks for HEAD first.
        agent.daemon.config = dataclasses.replace(agent.daemon.config, sync_interval=86400.0)
        relay.restore()
        wait_for(channel.connected.is_set, 30, "the channel reopening")
        pushed = create_job(server, access, name="pushed", schedule="0 3 * * *", command="true")
        wait_for(lambda: installed(crontab, pushed), 5, "installing through the channel")
    finally:
        relay.close()


def test_reconnects_are_spread_and_back_off_up_to_a_minute() -> None:
    after_a_drop = [reconnect_delay(0) for _ in range(1000)]
    assert min(after_a_drop) >= RECONNECT_MIN
    assert max(after_a_drop) <= RECONNECT_SPREAD
    # Spread, not in step: a thousand agents do not pick a handful of instants.
    assert len({round(delay, 1) for delay in after_a_drop}) > 100
    assert all(1.0 <= reconnect_delay(1) <= 2.0 for _ in range(100))
    assert all(RECONNECT_MAX / 2 <= reconnect_delay(30) <= RECONNECT_MAX for _ in range(100))
    polls = [jittered(30.0) for _ in range(1000)]
    assert min(polls) >= 24.0
    assert max(polls) <= 36.0
