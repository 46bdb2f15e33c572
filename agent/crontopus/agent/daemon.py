"""The agent daemon: heartbeat, sync and spool delivery on their own clocks until SIGTERM."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import FrameType

from crontopus.agent.checkin import CheckIn, SendResult, send_checkin
from crontopus.agent.config import AgentConfig
from crontopus.agent.errors import AgentError, ServerError
from crontopus.agent.server import ServerClient
from crontopus.agent.spool import Spool
from crontopus.agent.statedir import StateDir
from crontopus.agent.sync import Syncer, SyncState, save_server_labels
from crontopus.drivers import DriverError

log = logging.getLogger(__name__)
BACKOFF_START = 1.0
BACKOFF_MAX = 300.0


@dataclass
class Backoff:
    """Exponential backoff: the delay doubles on each failure up to a cap, and resets on success."""

    start: float = BACKOFF_START
    cap: float = BACKOFF_MAX
    delay: float = 0.0

    def failed(self) -> float:
        """Record a failure and return how long to wait before the next attempt."""
        self.delay = min(self.cap, max(self.start, self.delay * 2))
        return self.delay

    def succeeded(self) -> None:
        """Reset after a success."""
        self.delay = 0.0


class Daemon:
    """Runs the agent's loops in one thread; `stop()` (or SIGTERM) ends it between steps."""

    def __init__(
        self,
        state: StateDir,
        config: AgentConfig,
        syncer: Syncer,
        client: ServerClient,
        token: str,
        agent_version: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.state = state
        self.config = config
        self.syncer = syncer
        self.client = client
        self.token = token
        self.agent_version = agent_version
        self.clock = clock
        self.stopping = threading.Event()
        self.spool = Spool(
            state.spool, config.spool_max_entries, config.spool_max_bytes, config.spool_max_age
        )
        self.spool_backoff = Backoff()
        self.sync_backoff = Backoff(start=config.sync_interval, cap=BACKOFF_MAX)
        self.synced_once = False

    def stop(self, *_: object) -> None:
        """Ask the loop to end after the step in progress (never in the middle of a write)."""
        self.stopping.set()

    def install_signal_handlers(self) -> None:
        """End gracefully on SIGTERM and SIGINT."""

        def handler(signum: int, frame: FrameType | None) -> None:
            log.info("received %s: stopping after the current step", signal.Signals(signum).name)
            self.stop()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def run(self) -> None:
        """Loop until stopped."""
        next_heartbeat = next_sync = next_spool = self.clock()
        while not self.stopping.is_set():
            now = self.clock()
            # Heartbeat first: it brings the endpoint's labels, which the sync targets by.
            if now >= next_heartbeat:
                self.heartbeat_step()
                next_heartbeat = now + self.config.heartbeat_interval
            if self.stopping.is_set():
                break
            if now >= next_sync:
                next_sync = now + self.sync_step()
            if self.stopping.is_set():
                break
            if now >= next_spool:
                next_spool = now + self.spool_step()
            wake = min(next_heartbeat, next_sync, next_spool)
            self.stopping.wait(max(0.0, wake - self.clock()))
        log.info("stopped")

    def sync_step(self) -> float:
        """Sync once; return the seconds until the next sync."""
        # The first sync after a start plans in full: whatever happened while the agent was
        # down (a crash mid-write, a hand edit the skip fingerprint cannot see) is put right.
        force = not self.synced_once
        try:
            outcome = self.syncer.sync(force=force)
        except (AgentError, DriverError) as exc:
            delay = self.sync_backoff.failed()
            log.error("sync failed (retrying in %.0f s): %s", delay, exc)
            return delay
        self.sync_backoff.succeeded()
        self.synced_once = True
        if outcome.report_error:
            return min(self.config.sync_interval, 60.0)
        return self.config.sync_interval

    def heartbeat_step(self) -> None:
        """Send one heartbeat; a failure is logged and the next one tries again."""
        saved = SyncState.load(self.state)
        try:
            driver = self.syncer.driver.name
            labels = self.client.heartbeat(self.agent_version, driver, saved.commit)
        except ServerError as exc:
            log.warning("heartbeat failed: %s", exc)
            return
        save_server_labels(self.state, labels)
        self.state.write_heartbeat(datetime.now(UTC).isoformat())

    def spool_step(self) -> float:
        """Deliver spooled check-ins; return the seconds until the next attempt."""
        server = self.config.server
        if server is None or not self.spool.entries():
            return 5.0

        def send(checkin: CheckIn) -> SendResult:
            return send_checkin(server, self.token, checkin, self.config.checkin_timeout)

        result = self.spool.drain(send, limit=500)
        if result.delivered or result.refused:
            log.info(
                "spool: delivered %d, refused %d, %d waiting",
                result.delivered,
                result.refused,
                result.remaining,
            )
        if result.unreachable:
            delay = self.spool_backoff.failed()
            log.warning("spool: server unreachable; next attempt in %.0f s", delay)
            return delay
        self.spool_backoff.succeeded()
        return 0.0 if result.remaining else 5.0
