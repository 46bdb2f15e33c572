"""The agent daemon: heartbeat, sync and spool delivery on their own clocks until SIGTERM.

With the agent channel open (`channel.py`) the server says when the repository changed, so a
sync fetches only then, and periodic syncs just check the scheduler against the last fetched
commit; heartbeats go out only when there is something to tell or learn (`heartbeats.py`),
since the open channel keeps the endpoint online. While the channel is down the daemon polls
and heartbeats at its intervals, with jitter.
"""

from __future__ import annotations

import logging
import queue
import random
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import FrameType

from crontopus.agent.channel import Channel, ChannelEvent, EventKind
from crontopus.agent.checkin import CheckIn, SendResult, send_checkin
from crontopus.agent.config import AgentConfig
from crontopus.agent.errors import AgentError, ServerError
from crontopus.agent.heartbeats import HeartbeatSchedule, Report
from crontopus.agent.server import ServerClient
from crontopus.agent.spool import Spool
from crontopus.agent.statedir import StateDir
from crontopus.agent.sync import Syncer, SyncState, load_server_labels, save_server_labels
from crontopus.drivers import DriverError

log = logging.getLogger(__name__)
BACKOFF_START = 1.0
BACKOFF_MAX = 300.0
#: Polls are spread over ±this fraction of the interval, so a fleet does not poll in step.
POLL_JITTER = 0.2


def jittered(interval: float) -> float:
    """Return `interval` spread by ±POLL_JITTER."""
    return interval * random.uniform(1 - POLL_JITTER, 1 + POLL_JITTER)  # noqa: S311 (not a secret)


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
        channel: bool = True,
        channel_url: str | None = None,
    ) -> None:
        self.state = state
        self.config = config
        self.syncer = syncer
        self.client = client
        self.token = token
        self.agent_version = agent_version
        self.clock = clock
        self.stopping = threading.Event()
        self.wake = threading.Event()
        self.inbox: queue.SimpleQueue[ChannelEvent] = queue.SimpleQueue()
        self.spool = Spool(
            state.spool, config.spool_max_entries, config.spool_max_bytes, config.spool_max_age
        )
        self.spool_backoff = Backoff()
        self.sync_backoff = Backoff(start=config.sync_interval, cap=BACKOFF_MAX)
        self.synced_once = False
        self.channel: Channel | None = None
        if channel and config.server:
            self.channel = Channel(config.server, token, self.tell, url=channel_url)
        self.runs: list[subprocess.Popen[bytes]] = []
        self.heartbeats = HeartbeatSchedule(config.heartbeat_interval, jittered)

    @property
    def channel_open(self) -> bool:
        return self.channel is not None and self.channel.connected.is_set()

    def tell(self, event: ChannelEvent) -> None:
        """Hand an event to the loop (called from the channel's thread)."""
        self.inbox.put(event)
        self.wake.set()

    def stop(self, *_: object) -> None:
        """Ask the loop to end after the step in progress (never in the middle of a write)."""
        self.stopping.set()
        self.wake.set()

    def install_signal_handlers(self) -> None:
        """End gracefully on SIGTERM and SIGINT."""

        def handler(signum: int, frame: FrameType | None) -> None:
            log.info("received %s: stopping after the current step", signal.Signals(signum).name)
            self.stop()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def run(self) -> None:
        """Loop until stopped."""
        if self.channel is not None:
            self.channel.start()
        try:
            self._loop()
        finally:
            if self.channel is not None:
                self.channel.stop()
            self._reap(wait=False)
        log.info("stopped")

    def _loop(self) -> None:
        heartbeats = self.heartbeats
        next_sync = next_spool = self.clock()
        while not self.stopping.is_set():
            now = self.clock()
            fetch = not self.channel_open
            while not self.inbox.empty():
                event = self.inbox.get()
                wanted = self.on_event(event)
                if wanted == "heartbeat":
                    heartbeats.due_now(now)
                elif wanted == "sync":
                    next_sync, fetch = now, True
                elif wanted == "connected":
                    heartbeats.connected(now)
                elif wanted == "connected, sync":
                    heartbeats.connected(now)
                    next_sync, fetch = now, True
                elif wanted == "disconnected":
                    heartbeats.disconnected(now)
            # Heartbeat first: it brings the endpoint's labels, which the sync targets by.
            if now >= heartbeats.due:
                labels = load_server_labels(self.state)
                if self.heartbeat_step() and load_server_labels(self.state) != labels:
                    # Its jobs are chosen by label, and the channel never announced the
                    # commits of jobs for the new ones: fetch and apply now.
                    next_sync, fetch = now, True
            if self.stopping.is_set():
                break
            if now >= next_sync:
                next_sync = now + self.sync_step(fetch=fetch)
                if self.channel_open:
                    heartbeats.note(self.report(), now)  # a newly applied commit: tell it now
            if self.stopping.is_set():
                break
            if now >= next_spool:
                next_spool = now + self.spool_step()
            self._reap(wait=False)
            wake = min(heartbeats.due, next_sync, next_spool)
            self.wake.wait(max(0.0, wake - self.clock()))
            self.wake.clear()

    def on_event(self, event: ChannelEvent) -> str | None:
        """Act on one channel event; return what the loop should do now, if anything."""
        applied = SyncState.load(self.state).commit
        if event.kind is EventKind.CONNECTED:
            # Caught up first: whatever changed while the channel was down is fetched now.
            log.info("channel open (repository at %s)", event.commit)
            return "connected, sync" if event.commit != applied else "connected"
        if event.kind is EventKind.REPOSITORY_CHANGED:
            if event.commit is not None and event.commit == applied:
                return None
            log.info("repository changed to %s: syncing", event.commit)
            return "sync"
        if event.kind is EventKind.RUN_REQUESTED and event.job_id is not None:
            self.run_now(event.job_id, event.request_id)
            return None
        if event.kind is EventKind.REVOKED:
            log.error("the server revoked this endpoint: enroll the agent again to rejoin")
            return None
        if event.kind is EventKind.LABELS_CHANGED:
            # The heartbeat brings the new labels; a sync follows when they differ.
            log.info("the endpoint's labels changed: asking for them")
            return "heartbeat"
        if event.kind is EventKind.DISCONNECTED:
            # The channel no longer keeps the endpoint online: heartbeat at the normal rate.
            log.info("channel closed: polling every %.0f s", self.config.sync_interval)
            return "disconnected"
        return None

    def run_now(self, job_id: str, request_id: str | None) -> None:
        """Run a job once through the wrapper, marked MANUAL, as the scheduler would run it."""
        try:
            job = uuid.UUID(job_id)
        except ValueError:
            log.warning("run request for %r ignored: not a job id", job_id)
            return
        argv = [*self.syncer.reconciler.wrapper_argv(job), "--manual"]
        log.info("running %s now (request %s)", job, request_id)
        try:
            self.runs.append(
                subprocess.Popen(  # noqa: S603 (our own wrapper, by absolute path)
                    argv, stdin=subprocess.DEVNULL, start_new_session=True
                )
            )
        except OSError as error:
            log.error("could not run %s now: %s", job, error)

    def _reap(self, *, wait: bool) -> None:
        """Forget finished run-now wrappers (they report their runs themselves)."""
        self.runs = [run for run in self.runs if run.poll() is None]

    def sync_step(self, *, fetch: bool = True) -> float:
        """Sync once; return the seconds until the next sync."""
        # The first sync after a start plans in full: whatever happened while the agent was
        # down (a crash mid-write, a hand edit the skip fingerprint cannot see) is put right.
        force = not self.synced_once
        try:
            outcome = self.syncer.sync(force=force, fetch=fetch or force)
        except (AgentError, DriverError) as exc:
            delay = self.sync_backoff.failed()
            log.error("sync failed (retrying in %.0f s): %s", delay, exc)
            return delay
        self.sync_backoff.succeeded()
        self.synced_once = True
        if outcome.report_error:
            return min(self.config.sync_interval, 60.0)
        return jittered(self.config.sync_interval)

    def report(self) -> Report:
        """What a heartbeat sent now would tell the server."""
        commit = SyncState.load(self.state).commit
        return Report(self.agent_version, self.syncer.driver.name, commit)

    def heartbeat_step(self) -> bool:
        """Send one heartbeat and schedule the next; a failure is logged and retried later."""
        report = self.report()
        now = self.clock()
        try:
            labels = self.client.heartbeat(
                report.agent_version, report.driver, report.applied_commit
            )
        except ServerError as exc:
            log.warning("heartbeat failed: %s", exc)
            self.heartbeats.failed(now)
            return False
        self.heartbeats.sent(report, now, channel_open=self.channel_open)
        save_server_labels(self.state, labels)
        self.state.write_heartbeat(datetime.now(UTC).isoformat())
        return True

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
