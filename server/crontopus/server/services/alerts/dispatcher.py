"""The dispatcher: claims due notifications, sends them, and records the outcome.

Claiming flips rows from PENDING to SENDING with a lease in one short transaction; on
PostgreSQL the candidate rows are locked with SKIP LOCKED, so several workers take disjoint
rows and no notification is sent twice. A worker that dies mid-send leaves its rows SENDING;
when the lease runs out another worker takes them over (at-least-once, never lost).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import and_, or_, select, update

from crontopus.server.db.engine import SessionFactory
from crontopus.server.db.models import (
    AlertChannel,
    DeliveryStatus,
    Incident,
    Notification,
    Tenant,
)
from crontopus.server.observability.metrics import Metrics
from crontopus.server.services.alerts.channels.config import SENDERS
from crontopus.server.services.alerts.channels.errors import DeliveryError, PermanentDelivery
from crontopus.server.services.alerts.channels.message import Message
from crontopus.server.services.alerts.sql import is_postgres

logger = logging.getLogger("crontopus.server.alerts.dispatch")
MAX_BACKOFF = timedelta(hours=1)


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
    """Sends the outbox of every tenant."""

    def __init__(
        self,
        session: SessionFactory,
        *,
        policy: RetryPolicy,
        clock: Callable[[], datetime],
        metrics: Metrics | None = None,
        public_url: str | None = None,
        client: httpx.AsyncClient | None = None,
        batch: int = 50,
    ) -> None:
        self._session = session
        self.policy = policy
        self._clock = clock
        self._metrics = metrics
        self._public_url = public_url.rstrip("/") if public_url else None
        self._client = client
        self._batch = batch

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(follow_redirects=False)
        return self._client

    async def dispatch_due(self) -> int:
        """Send every notification due now (in batches); return how many were attempted."""
        total = 0
        while True:
            claimed = await self.claim()
            if not claimed:
                return total
            await asyncio.gather(*(self.deliver(notification_id) for notification_id in claimed))
            total += len(claimed)
            if len(claimed) < self._batch:
                return total

    async def claim(self) -> list[uuid.UUID]:
        """Take due rows for this worker (PENDING, or SENDING with an expired lease)."""
        now = self._clock()
        async with self._session() as session, session.begin():
            candidates = (
                select(Notification.id)
                .where(
                    or_(
                        and_(
                            Notification.status == DeliveryStatus.PENDING,
                            Notification.next_attempt_at <= now,
                        ),
                        and_(
                            Notification.status == DeliveryStatus.SENDING,
                            Notification.lease_until < now,
                        ),
                    )
                )
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
                .where(Notification.id.in_(ids))
                .values(status=DeliveryStatus.SENDING, lease_until=lease)
                .returning(Notification.id)
                .execution_options(synchronize_session=False)
            )
            return [row[0] for row in result]

    async def deliver(self, notification_id: uuid.UUID) -> Notification:
        """Send one claimed notification and record the outcome; return the row."""
        async with self._session() as session:
            found = (
                await session.execute(
                    select(Notification, Incident, AlertChannel, Tenant.slug)
                    .join(Tenant, Tenant.id == Notification.tenant_id)
                    .outerjoin(Incident, Incident.id == Notification.incident_id)
                    .outerjoin(AlertChannel, AlertChannel.id == Notification.channel_id)
                    .where(Notification.id == notification_id)
                )
            ).one()
        notification: Notification = found[0]
        incident: Incident | None = found[1]
        channel: AlertChannel | None = found[2]
        slug: str = found[3]
        error: DeliveryError | None = None
        if channel is None:
            error = PermanentDelivery(f'the channel "{notification.channel_name}" was deleted')
        else:
            message = self.message(notification, incident, slug)
            try:
                await SENDERS[channel.kind](dict(channel.config), message, self.client)
            except DeliveryError as failure:
                error = failure
            except Exception as failure:  # a bug in a sender must not stop the outbox
                logger.exception("sending notification %s failed", notification_id)
                error = PermanentDelivery(f"unexpected error: {type(failure).__name__}")
        return await self._record(notification, error)

    async def _record(
        self, notification: Notification, error: DeliveryError | None
    ) -> Notification:
        now = self._clock()
        attempts = notification.attempts + 1
        kind = notification.channel_kind.value if notification.channel_kind else "unknown"
        values: dict[str, object] = {"attempts": attempts, "lease_until": None}
        if error is None:
            values.update(status=DeliveryStatus.DELIVERED, delivered_at=now, last_error=None)
            if self._metrics is not None:
                self._metrics.notifications_delivered.labels(kind).inc()
        else:
            retry = error.retryable and attempts < self.policy.attempts
            values["last_error"] = error.message[:1000]
            if retry:
                values.update(
                    status=DeliveryStatus.PENDING,
                    next_attempt_at=now + self.policy.delay(attempts),
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
        async with self._session() as session, session.begin():
            await session.execute(
                update(Notification)
                .where(
                    Notification.id == notification.id,
                    Notification.status == DeliveryStatus.SENDING,
                )
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            row = await session.get(Notification, notification.id, populate_existing=True)
        assert row is not None
        return row

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


def pending_ids(rows: Sequence[Notification]) -> list[uuid.UUID]:
    """Return the ids of rows the dispatcher still has to send."""
    return [row.id for row in rows if row.status is DeliveryStatus.PENDING]
