"""The dispatcher: claims due notifications, sends them, and records the outcome.

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
        # Outcomes sent but not yet recorded (the database went away in between).
        self._unrecorded: list[tuple[list[Notification], list[DeliveryError | None]]] = []

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
        while self._unrecorded:
            notifications, outcomes = self._unrecorded[0]
            await self._record(notifications, outcomes)
            self._unrecorded.pop(0)
        while True:
            claimed = await self.claim()
            if not claimed:
                return total
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
        try:
            await SENDERS[channel.kind](dict(channel.config), message, self.client)
        except DeliveryError as failure:
            return failure
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
