"""The alerting engine of one process: run evaluation, the periodic cycle and the dispatcher.

`crontopus-server serve` runs all three by default. With `CRONTOPUS_IN_PROCESS_WORKER=false`
it keeps only run evaluation (it sees the check-ins) and leaves the cycle and the dispatcher
to `crontopus-server worker` processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from crontopus.server.availability import Dependency, DependencyTracker, log_failure
from crontopus.server.db.engine import SessionFactory
from crontopus.server.db.types import utcnow
from crontopus.server.events.broadcaster import Broadcaster
from crontopus.server.gitstore import GitStore
from crontopus.server.services.alerts.channels.network import Network
from crontopus.server.services.alerts.engine.dispatcher import Dispatcher, RetryPolicy
from crontopus.server.services.alerts.engine.evaluator import RunEvaluator
from crontopus.server.services.alerts.engine.incidents import Announcer
from crontopus.server.services.alerts.engine.periodic import CycleReport, PeriodicEvaluator
from crontopus.server.services.alerts.engine.tenants import GitJobs, JobSource
from crontopus.server.services.checkins import RunState
from crontopus.server.services.endpoints import detect_offline
from crontopus.server.services.stuck import StuckPolicy
from crontopus.server.services.telemetry import ServiceMetrics
from crontopus.server.settings import Settings

logger = logging.getLogger("crontopus.server.alerts")
#: The dispatcher looks for due notifications at least this often (it is also woken).
DISPATCH_POLL = 1.0
#: How long `stop` waits for a cycle or a dispatch batch in progress before cancelling it.
STOP_TIMEOUT = 20.0


class AlertEngine:
    """Alerting for one process; `clock` may be replaced (tests run it in the near past)."""

    def __init__(
        self,
        settings: Settings,
        session: SessionFactory,
        gitstore: GitStore,
        broadcaster: Broadcaster,
        metrics: ServiceMetrics | None = None,
        *,
        jobs: JobSource | None = None,
        clock: Callable[[], datetime] = utcnow,
        dependencies: DependencyTracker | None = None,
    ) -> None:
        self.settings = settings
        self._dependencies = dependencies
        self.clock = clock
        self._session = session
        self._broadcaster = broadcaster
        jobs = jobs or GitJobs(gitstore)
        self.announcer = Announcer(broadcaster, metrics)
        self.runs = RunEvaluator(
            session, jobs, self.announcer, self.now, on_change=self.wake, dependencies=dependencies
        )
        self.periodic = PeriodicEvaluator(
            session,
            jobs,
            self.announcer,
            self.now,
            settings.offline_after,
            metrics,
            stuck=StuckPolicy.from_settings(settings),
        )
        self.dispatcher = Dispatcher(
            session,
            policy=RetryPolicy(
                attempts=settings.notification_attempts,
                backoff=settings.notification_backoff,
                # A claimed batch must be recorded before another worker may take it over.
                lease=max(60.0, 2 * settings.notification_timeout),
            ),
            clock=self.now,
            network=Network(settings.outbound, settings.mail),
            metrics=metrics,
            public_url=settings.public_url,
            send_timeout=settings.notification_timeout,
            on_lane_done=self.wake,
            on_error=lambda error: self._failed(error, "dispatching notifications failed"),
        )
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def now(self) -> datetime:
        return self.clock()

    def on_stored(self, runs: Sequence[RunState]) -> None:
        """The ingest writer's `on_stored` callback."""
        self.runs.on_stored(runs)

    def wake(self) -> None:
        """Tell the dispatcher that notifications may be waiting."""
        self._wake.set()

    async def start(self, *, loops: bool) -> None:
        """Start run evaluation, and the cycle and dispatcher too when `loops`."""
        self.runs.start()
        if loops and not self._tasks:
            self._stopping.clear()
            loop = asyncio.get_running_loop()
            self._tasks = [
                loop.create_task(self._cycle_loop(), name="alert-cycle"),
                loop.create_task(self._dispatch_loop(), name="alert-dispatch"),
            ]

    async def stop(self) -> None:
        """Finish judging queued runs, stop the loops, close connections to channels."""
        await self.runs.stop()
        # Let the loops finish what they are doing: cancelling one in the middle of a database
        # call can leave its connection half-way through the protocol.
        self._stopping.set()
        self._wake.set()
        if self._tasks:
            _, late = await asyncio.wait(self._tasks, timeout=STOP_TIMEOUT)
            for task in late:
                task.cancel()
            for task in self._tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._tasks = []
        await self.dispatcher.close(STOP_TIMEOUT)

    async def cycle(self) -> CycleReport:
        """Run one periodic cycle now (and wake the dispatcher if it changed anything)."""
        report = await self.periodic.cycle()
        # endpointEvents: announce endpoints that went silent since the previous cycle.
        await detect_offline(self._session, self._broadcaster, self.settings, now=self.now())
        if report.opened or report.resolved or report.released:
            self.wake()
        return report

    async def _cycle_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.cycle()
            except Exception as error:  # the next cycle judges again what was not committed
                self._failed(error, "the periodic alert cycle failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.settings.alert_interval)

    def _failed(self, error: Exception, message: str) -> None:
        log_failure(logger, self._dependencies, error, message)

    async def _database_up(self, seconds: float) -> bool:
        """Wait up to `seconds` for the database when it is away; tell whether it is up."""
        if self._dependencies is None or self._dependencies.is_up(Dependency.DATABASE):
            return True
        return await self._dependencies.wait_up(Dependency.DATABASE, seconds)

    async def _dispatch_loop(self) -> None:
        poll = min(DISPATCH_POLL, self.settings.alert_interval)
        while not self._stopping.is_set():
            self._wake.clear()
            if not await self._database_up(poll):
                continue  # paused while the database is away: nothing can be claimed
            try:
                # Lanes run on their own; each wakes this loop when it ends.
                await self.dispatcher.start_due()
            except Exception as error:  # rows stay PENDING or leased; nothing is lost
                self._failed(error, "dispatching notifications failed")
            if self._stopping.is_set():
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), poll)
