"""The dispatcher: claims due notifications, sends them, and records the outcome.

Each tenant's notifications go through their own lane (see `Dispatcher`), and each send is
cut off after `CRONTOPUS_NOTIFICATION_TIMEOUT` seconds, so one tenant's slow peer cannot
delay another tenant's notifications.

Claiming flips rows from PENDING to SENDING with a lease in one short transaction; on
PostgreSQL the candidate rows are locked with SKIP LOCKED, so several workers take disjoint
rows and no notification is sent twice. A worker that dies mid-send leaves its rows SENDING;
when the lease runs out another worker takes them over (at-least-once, never lost).

A batch that was sent while the database went away keeps its outcomes in memory and records
them before this dispatcher claims anything again, so an outage between sending and recording
never makes the same worker send a notification twice.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import ColumnElement, and_, func, or_, select, update

from crontopus.server.db.dialect import is_postgres
from crontopus.server.db.engine import SessionFactory
from crontopus.server.db.models import (
    AlertChannel,
    DeliveryStatus,
    Incident,
    Notification,
    Tenant,
)
from crontopus.server.services.alerts.channels.config import SENDERS
from crontopus.server.services.alerts.channels.errors import (
    DeliveryError,
    PermanentDelivery,
    RetryableDelivery,
)
from crontopus.server.services.alerts.channels.message import Message
from crontopus.server.services.alerts.channels.network import Network
from crontopus.server.services.telemetry import ServiceMetrics

logger = logging.getLogger("crontopus.server.alerts.dispatch")
MAX_BACKOFF = timedelta(hours=1)
#: Notifications of one tenant sent at once by one lane.
TENANT_BATCH = 50
#: Tenants served at once by one process (so at most 32 x 50 connections to channels).
MAX_LANES = 32


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a retryable failure is tried again."""

    attempts: int = 6
    backoff: float = 30.0  # seconds before the first retry; doubled each time
    lease: float = 60.0

    def delay(self, attempts: int) -> timedelta:
        """Return the wait after the `attempts`-th failed attempt."""
        return min(MAX_BACKOFF, timedelta(seconds=self.backoff * 2 ** max(0, attempts - 1)))


class Dispatcher:
    """Sends the outbox of every tenant, each tenant in its own lane.

    A lane sends one claimed batch of one tenant's notifications and ends; the dispatch loop
    starts lanes for the tenants whose notifications waited longest, at most one per tenant
    and `lanes` at once. So a tenant whose peer is slow holds up only its own lane (for at
    most `send_timeout` per notification), never another tenant's deliveries.
    """

    def __init__(
        self,
        session: SessionFactory,
        *,
        policy: RetryPolicy,
        clock: Callable[[], datetime],
        network: Network,
        metrics: ServiceMetrics | None = None,
        public_url: str | None = None,
        batch: int = TENANT_BATCH,
        lanes: int = MAX_LANES,
        send_timeout: float = 30.0,
        on_lane_done: Callable[[], None] | None = None,
        on_error: Callable[[Exception], None] | None = None,
    ) -> None:
        self._session = session
        self.policy = policy
        self._clock = clock
        self._network = network
        self._metrics = metrics
        self._public_url = public_url.rstrip("/") if public_url else None
        self._batch = batch
        self._max_lanes = lanes
        self.send_timeout = send_timeout
        self._on_lane_done = on_lane_done
        self._on_error = on_error
        self._lanes: dict[uuid.UUID, asyncio.Task[int]] = {}
        self._starting = asyncio.Lock()
        # Outcomes sent but not yet recorded (the database went away in between).
        self._unrecorded: list[tuple[list[Notification], list[DeliveryError | None]]] = []

    async def close(self, grace: float = 20.0) -> None:
        """Let running lanes finish (cancel them after `grace` seconds), close connections."""
        lanes = list(self._lanes.values())
        if lanes:
            _, late = await asyncio.wait(lanes, timeout=grace)
            for lane in late:
                lane.cancel()  # its rows stay SENDING until the lease runs out; none is lost
            await asyncio.gather(*lanes, return_exceptions=True)
        await self._network.aclose()

    async def dispatch_due(self) -> int:
        """Send every notification due now and wait for it; return how many were attempted."""
        total = 0
        while True:
            await self.start_due()
            if not self._lanes:
                return total
            done, _ = await asyncio.wait(
                list(self._lanes.values()), return_when=asyncio.FIRST_COMPLETED
            )
            total += sum(lane.result() for lane in done if not lane.cancelled())

    async def start_due(self) -> int:
        """Start a lane for each tenant with notifications due (oldest first); return how many."""
        async with self._starting:
            while self._unrecorded:
                notifications, outcomes = self._unrecorded[0]
                await self._record(notifications, outcomes)
                self._unrecorded.pop(0)
            free = self._max_lanes - len(self._lanes)
            if free <= 0:
                return 0
            tenants = [t for t in await self._due_tenants(free) if t not in self._lanes]
            loop = asyncio.get_running_loop()
            for tenant_id in tenants:
                lane = loop.create_task(self._lane(tenant_id), name=f"alert-lane-{tenant_id}")
                self._lanes[tenant_id] = lane
                lane.add_done_callback(partial(self._lane_done, tenant_id))
            return len(tenants)

    def _lane_done(self, tenant_id: uuid.UUID, _: object) -> None:
        self._lanes.pop(tenant_id, None)
        if self._on_lane_done is not None:
            self._on_lane_done()

    async def _lane(self, tenant_id: uuid.UUID) -> int:
        try:
            claimed = await self.claim(tenant_id)
            if not claimed:
                return 0
            loaded = await self._load(claimed)
            errors = await asyncio.gather(*(self._send(*row) for row in loaded))
            # One transaction records the whole batch: a commit per notification would make
            # the database's fsync, not the channels, the limit on the dispatch rate.
            sent = [row[0] for row in loaded]
            try:
                await self._record(sent, list(errors))
            except Exception:
                self._unrecorded.append((sent, list(errors)))
                raise
            return len(claimed)
        except Exception as error:  # rows stay PENDING or leased; a later lane tries again
            if self._on_error is not None:
                self._on_error(error)
            else:
                logger.exception("dispatching notifications of tenant %s failed", tenant_id)
            return 0

    def _due(self, now: datetime) -> ColumnElement[bool]:
        return or_(
            and_(
                Notification.status == DeliveryStatus.PENDING,
                Notification.next_attempt_at <= now,
            ),
            and_(
                Notification.status == DeliveryStatus.SENDING,
                Notification.lease_until < now,
            ),
        )

    async def _due_tenants(self, limit: int) -> list[uuid.UUID]:
        query = (
            select(Notification.tenant_id)
            .where(self._due(self._clock()))
            .group_by(Notification.tenant_id)
            .order_by(func.min(Notification.next_attempt_at))
        )
        if self._lanes:
            query = query.where(Notification.tenant_id.not_in(list(self._lanes)))
        async with self._session() as session:
            return list((await session.scalars(query.limit(limit))).all())

    async def claim(self, tenant_id: uuid.UUID) -> list[uuid.UUID]:
        """Take a tenant's due rows for this worker (PENDING, or SENDING with an expired lease)."""
        now = self._clock()
        async with self._session() as session, session.begin():
            candidates = (
                select(Notification.id)
                .where(Notification.tenant_id == tenant_id, self._due(now))
                .order_by(Notification.next_attempt_at, Notification.created_at)
                .limit(self._batch)
            )
            if is_postgres(session):
                candidates = candidates.with_for_update(skip_locked=True)
            ids = list((await session.scalars(candidates)).all())
            if not ids:
                return []
            lease = now + timedelta(seconds=self.policy.lease)
            result = await session.execute(
                update(Notification)
                # Due again here: on SQLite another claim may have taken them meanwhile.
                .where(Notification.id.in_(ids), self._due(now))
                .values(status=DeliveryStatus.SENDING, lease_until=lease)
                .returning(Notification.id)
                .execution_options(synchronize_session=False)
            )
            return [row[0] for row in result]

    async def deliver(self, notification_id: uuid.UUID) -> Notification:
        """Send one claimed notification and record the outcome; return the row."""
        ((notification, incident, channel, slug),) = await self._load([notification_id])
        error = await self._send(notification, incident, channel, slug)
        await self._record([notification], [error])
        async with self._session() as session:
            row = await session.get(Notification, notification_id)
        assert row is not None
        return row

    async def _load(
        self, ids: Sequence[uuid.UUID]
    ) -> list[tuple[Notification, Incident | None, AlertChannel | None, str]]:
        async with self._session() as session:
            rows = (
                await session.execute(
                    select(Notification, Incident, AlertChannel, Tenant.slug)
                    .join(Tenant, Tenant.id == Notification.tenant_id)
                    .outerjoin(Incident, Incident.id == Notification.incident_id)
                    .outerjoin(AlertChannel, AlertChannel.id == Notification.channel_id)
                    .where(Notification.id.in_(list(ids)))
                )
            ).all()
        return [(row[0], row[1], row[2], row[3]) for row in rows]

    async def _send(
        self,
        notification: Notification,
        incident: Incident | None,
        channel: AlertChannel | None,
        slug: str,
    ) -> DeliveryError | None:
        if channel is None:
            return PermanentDelivery(f'the channel "{notification.channel_name}" was deleted')
        message = self.message(notification, incident, slug)
        deadline = asyncio.timeout(self.send_timeout)
        try:
            async with deadline:
                await SENDERS[channel.kind](dict(channel.config), message, self._network)
        except DeliveryError as failure:
            return failure
        except TimeoutError:
            if not deadline.expired():
                raise
            return RetryableDelivery(
                f"the delivery took longer than {self.send_timeout:g} s and was cut off"
            )
        except Exception as failure:  # a bug in a sender must not stop the outbox
            logger.exception("sending notification %s failed", notification.id)
            return PermanentDelivery(f"unexpected error: {type(failure).__name__}")
        return None

    async def _record(
        self, notifications: Sequence[Notification], errors: Sequence[DeliveryError | None]
    ) -> None:
        now = self._clock()
        async with self._session() as session, session.begin():
            for notification, error in zip(notifications, errors, strict=True):
                await session.execute(
                    update(Notification)
                    .where(
                        Notification.id == notification.id,
                        Notification.status == DeliveryStatus.SENDING,
                    )
                    .values(**self._outcome(notification, error, now))
                    .execution_options(synchronize_session=False)
                )

    def _outcome(
        self, notification: Notification, error: DeliveryError | None, now: datetime
    ) -> dict[str, object]:
        attempts = notification.attempts + 1
        kind = notification.channel_kind.value if notification.channel_kind else "unknown"
        values: dict[str, object] = {"attempts": attempts, "lease_until": None}
        if error is None:
            values.update(status=DeliveryStatus.DELIVERED, delivered_at=now, last_error=None)
            if self._metrics is not None:
                self._metrics.notifications_delivered.labels(kind).inc()
            return values
        retry = error.retryable and attempts < self.policy.attempts
        values["last_error"] = error.message[:1000]
        if retry:
            values.update(
                status=DeliveryStatus.PENDING, next_attempt_at=now + self.policy.delay(attempts)
            )
        else:
            values["status"] = DeliveryStatus.FAILED
        if self._metrics is not None:
            self._metrics.notification_failures.labels(kind, str(retry).lower()).inc()
        logger.warning(
            "notification %s to channel %s failed (attempt %d, %s): %s",
            notification.id,
            notification.channel_name,
            attempts,
            "will retry" if retry else "gave up",
            error.message,
        )
        return values

    def message(
        self, notification: Notification, incident: Incident | None, tenant: str
    ) -> Message:
        """Build what the channel says."""
        if incident is None:
            return Message(
                notification_id=notification.id,
                event=notification.event,
                tenant=tenant,
                title=f'channel "{notification.channel_name}" works',
                at=self._clock(),
            )
        link = f"{self._public_url}/incidents/{incident.id}" if self._public_url else None
        return Message(
            notification_id=notification.id,
            event=notification.event,
            tenant=tenant,
            title=incident.title,
            at=self._clock(),
            incident_id=incident.id,
            rule=incident.rule.value,
            status=incident.status.value,
            job_id=incident.job_id,
            job_name=incident.job_name,
            namespace=incident.namespace,
            endpoint_id=incident.endpoint_id,
            opened_at=incident.opened_at,
            resolved_at=incident.resolved_at,
            link=link,
            details=dict(incident.details),
        )
