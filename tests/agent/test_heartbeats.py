"""When the agent heartbeats: rarely with its channel open, at its interval with it closed."""

from __future__ import annotations

import threading
from typing import Any

from crontopus.agent.channel import ChannelEvent, EventKind
from crontopus.agent.config import AgentConfig
from crontopus.agent.daemon import Daemon
from crontopus.agent.errors import ServerError
from crontopus.agent.heartbeats import (
    CHANNEL_REFRESH,
    CONNECT_SPREAD,
    HeartbeatSchedule,
    Report,
)
from crontopus.agent.statedir import StateDir
from crontopus.agent.sync import Syncer, SyncState

INTERVAL = 30.0
COMMIT = "a" * 40
REPORT = Report("1.0.0", "cron", COMMIT)


def exact(interval: float) -> float:
    return interval


def test_the_first_heartbeat_goes_out_at_once() -> None:
    schedule = HeartbeatSchedule(INTERVAL, exact)

    assert schedule.due <= 0.0


def test_with_the_channel_open_the_next_heartbeat_is_an_hour_away() -> None:
    schedule = HeartbeatSchedule(INTERVAL, exact)

    schedule.sent(REPORT, 100.0, channel_open=True)

    assert schedule.due == 100.0 + CHANNEL_REFRESH


def test_with_the_channel_closed_heartbeats_keep_the_normal_interval() -> None:
    schedule = HeartbeatSchedule(INTERVAL, exact)

    schedule.sent(REPORT, 100.0, channel_open=False)

    assert schedule.due == 100.0 + INTERVAL


def test_a_changed_report_is_sent_at_once_and_an_unchanged_one_waits() -> None:
    schedule = HeartbeatSchedule(INTERVAL, exact)
    schedule.sent(REPORT, 100.0, channel_open=True)

    schedule.note(REPORT, 200.0)
    assert schedule.due == 100.0 + CHANNEL_REFRESH

    schedule.note(Report("1.0.0", "cron", "b" * 40), 200.0)
    assert schedule.due == 200.0


def test_a_connect_or_a_label_change_makes_the_heartbeat_due_now() -> None:
    schedule = HeartbeatSchedule(INTERVAL, exact)
    schedule.sent(REPORT, 100.0, channel_open=True)

    schedule.due_now(150.0)

    assert schedule.due == 150.0


def test_the_heartbeat_after_the_channel_opens_is_spread_and_replaces_a_pending_retry() -> None:
    delays = iter([0.0, CONNECT_SPREAD / 2])
    schedule = HeartbeatSchedule(INTERVAL, exact, settle=lambda: next(delays))
    schedule.failed(100.0)  # the server restarted: the heartbeat as the channel closed failed

    schedule.connected(101.0)
    assert schedule.due == 101.0
    schedule.connected(102.0)
    assert schedule.due == 102.0 + CONNECT_SPREAD / 2


def test_a_fleet_reconnecting_at_once_heartbeats_over_the_connect_spread() -> None:
    schedules = [HeartbeatSchedule(INTERVAL, exact) for _ in range(1000)]
    for schedule in schedules:
        schedule.connected(0.0)

    dues = sorted(schedule.due for schedule in schedules)
    assert dues[0] >= 0.0
    assert dues[-1] <= CONNECT_SPREAD
    # No more than a few times the even share in any tenth of the spread.
    tenths = [sum(1 for due in dues if k <= due * 10 / CONNECT_SPREAD < k + 1) for k in range(10)]
    assert max(tenths) < 200


def test_when_the_channel_closes_the_next_heartbeat_is_an_interval_away_at_most() -> None:
    schedule = HeartbeatSchedule(INTERVAL, exact)
    schedule.sent(REPORT, 100.0, channel_open=True)

    schedule.disconnected(150.0)

    assert schedule.due == 150.0 + INTERVAL


def test_a_failed_heartbeat_is_retried_after_the_normal_interval_even_if_the_report_changed() -> (
    None
):
    schedule = HeartbeatSchedule(INTERVAL, exact)
    schedule.sent(REPORT, 100.0, channel_open=True)

    schedule.failed(200.0)
    schedule.note(Report("1.0.0", "cron", "b" * 40), 201.0)

    assert schedule.due == 200.0 + INTERVAL


def test_heartbeats_spread_over_the_jitter() -> None:
    schedule = HeartbeatSchedule(INTERVAL, lambda interval: interval * 1.2)

    schedule.sent(REPORT, 0.0, channel_open=True)

    assert schedule.due == CHANNEL_REFRESH * 1.2


class Client:
    """Answers heartbeats (or fails them) and counts them."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str | None, str | None]] = []
        self.labels = {"role": "web"}
        self.failing = False

    def heartbeat(
        self, agent_version: str, driver: str | None, applied_commit: str | None
    ) -> dict[str, str]:
        if self.failing:
            raise ServerError("the server is away")
        self.sent.append((agent_version, driver, applied_commit))
        return dict(self.labels)


class Channel:
    def __init__(self) -> None:
        self.connected = threading.Event()


def daemon(state: StateDir, syncer: Syncer, config: AgentConfig, clock: list[float]) -> Daemon:
    built = Daemon(
        state, config, syncer, Client(), "token", "1.0.0",  # type: ignore[arg-type]
        clock=lambda: clock[0], channel=False,
    )  # fmt: skip
    built.channel = Channel()  # type: ignore[assignment]
    return built


def client_of(built: Daemon) -> Client:
    client = built.client
    assert isinstance(client, Client)
    return client


def test_the_daemon_heartbeats_on_connect_then_only_at_the_refresh_while_the_channel_is_open(
    state: StateDir, syncer: Syncer, config: AgentConfig
) -> None:
    clock = [1000.0]
    agent = daemon(state, syncer, config, clock)
    assert agent.channel is not None
    agent.channel.connected.set()

    assert agent.on_event(ChannelEvent(EventKind.CONNECTED, None)) == "connected"
    agent.heartbeats.connected(clock[0])
    assert clock[0] <= agent.heartbeats.due <= clock[0] + CONNECT_SPREAD
    clock[0] = agent.heartbeats.due
    assert agent.heartbeat_step()

    assert len(client_of(agent).sent) == 1
    assert agent.heartbeats.due >= clock[0] + 0.8 * CHANNEL_REFRESH


def test_the_daemon_heartbeats_at_its_interval_while_the_channel_is_closed(
    state: StateDir, syncer: Syncer, config: AgentConfig
) -> None:
    clock = [1000.0]
    agent = daemon(state, syncer, config, clock)

    assert agent.on_event(ChannelEvent(EventKind.DISCONNECTED)) == "disconnected"
    agent.heartbeats.disconnected(clock[0])
    assert agent.heartbeats.due <= clock[0] + 1.2 * config.heartbeat_interval
    assert agent.heartbeat_step()

    assert agent.heartbeats.due <= clock[0] + 1.2 * config.heartbeat_interval


def test_the_daemon_reports_a_newly_applied_commit_at_once_with_the_channel_open(
    state: StateDir, syncer: Syncer, config: AgentConfig
) -> None:
    clock = [1000.0]
    agent = daemon(state, syncer, config, clock)
    assert agent.channel is not None
    agent.channel.connected.set()
    assert agent.heartbeat_step()
    assert agent.heartbeats.due > clock[0] + 60

    clock[0] += 60
    SyncState(commit=COMMIT).save(state)
    agent.heartbeats.note(agent.report(), clock[0])

    assert agent.heartbeats.due == clock[0]
    assert agent.heartbeat_step()
    assert client_of(agent).sent[-1] == ("1.0.0", "cron", COMMIT)


def test_a_label_change_on_the_channel_asks_for_a_heartbeat(
    state: StateDir, syncer: Syncer, config: AgentConfig
) -> None:
    agent = daemon(state, syncer, config, [0.0])

    assert agent.on_event(ChannelEvent(EventKind.LABELS_CHANGED)) == "heartbeat"


def test_a_failed_heartbeat_with_the_channel_open_is_retried_at_the_normal_interval(
    state: StateDir, syncer: Syncer, config: AgentConfig, caplog: Any
) -> None:
    clock = [1000.0]
    agent = daemon(state, syncer, config, clock)
    assert agent.channel is not None
    agent.channel.connected.set()
    client_of(agent).failing = True

    assert not agent.heartbeat_step()

    assert agent.heartbeats.due <= clock[0] + 1.2 * config.heartbeat_interval
    assert "heartbeat failed: the server is away" in caplog.text
