"""The mail outbox: account mail is written to a table in the request's own transaction and
sent by a background loop, so a request never waits on SMTP and a mail survives an SMTP
server that is briefly away (or a restart).

Each pass leases due rows (a conditional UPDATE that moves their next attempt ahead, so two
processes never send one mail twice), sends them outside any transaction, then deletes a
sent row — its body may hold a live link — or schedules the next attempt with a doubling
delay. While the SMTP server is away one warning is logged, and one line when it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
import weakref
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Final

from sqlalchemy import delete, event, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crontopus.server.db.engine import SessionFactory
from crontopus.server.db.models import OutboxMail
from crontopus.server.mail.smtp import deliver
from crontopus.server.mail.templates import Letter
from crontopus.server.services.alerts.channels.errors import DeliveryError
from crontopus.server.settings import MailSettings

logger = logging.getLogger("crontopus.server.mail")

#: How long a leased mail is left to its sender before another process may take it.
LEASE: Final = timedelta(minutes=5)
#: The longest wait between two attempts at one mail.
MAX_BACKOFF: Final = 3600.0
#: How often an idle loop looks for mail that another process queued.
IDLE_POLL: Final = 30.0
BATCH: Final = 20

_outboxes: weakref.WeakSet[MailOutbox] = weakref.WeakSet()


def enqueue(session: AsyncSession, mail: MailSettings, recipient: str, letter: Letter) -> bool:
    """Queue `letter` for `recipient` in the caller's transaction; False when no mail is sent.

    The senders of this process are woken when that transaction commits.
    """
    if not mail.enabled:
        return False
    session.add(
        OutboxMail(
            id=uuid.uuid4(),
            recipient=recipient,
            subject=letter.subject[:300],
            text_body=letter.text,
            html_body=letter.html,
        )
    )
    event.listen(session.sync_session, "after_commit", _ring, once=True)
    return True


def _ring(_session: object) -> None:
    for outbox in list(_outboxes):
        outbox.wake()


def compose(mail: MailSettings, row: OutboxMail) -> EmailMessage:
    """The MIME message of a queued mail: text and HTML as multipart/alternative."""
    message = EmailMessage()
    message["Subject"] = row.subject
    message["From"] = mail.sender
    message["To"] = row.recipient
    message["Date"] = formatdate(row.created_at.timestamp())
    message["Message-ID"] = make_msgid(idstring=str(row.id))
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(row.text_body)
    message.add_alternative(row.html_body, subtype="html")
    return message


def backoff(mail: MailSettings, attempts: int) -> timedelta:
    """The wait after `attempts` failed attempts: doubling from the base, at most an hour."""
    return timedelta(seconds=min(MAX_BACKOFF, mail.retry_backoff * 2 ** max(0, attempts - 1)))


class MailOutbox:
    """The loop that drains the outbox while the process runs."""

    def __init__(self, mail: MailSettings, session: SessionFactory) -> None:
        self._mail = mail
        self._session = session
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._down = False  # whether the last attempt found the SMTP server away

    def start(self) -> None:
        if self._mail.enabled and self._task is None:
            _outboxes.add(self)
            self._task = asyncio.create_task(self._run(), name="mail outbox")

    async def stop(self) -> None:
        _outboxes.discard(self)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def wake(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        while True:
            try:
                wait = await self.drain()
            except Exception:  # the database may be away; the next pass tries again
                logger.exception("sending queued mail failed; trying again shortly")
                wait = IDLE_POLL
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)
            self._wake.clear()

    async def drain(self) -> float:
        """Send what is due; return the seconds until the next attempt is due (or a poll)."""
        while True:
            rows = await self._lease()
            if not rows:
                break
            for index, row in enumerate(rows):
                retry_at = await self._send(row)
                if retry_at is not None:
                    # The server is away: the rest of the batch waits as long, uncounted.
                    await self._release(rows[index + 1 :], retry_at)
                    break
            else:
                continue
            break
        async with self._session() as session:
            due = await session.scalar(
                select(OutboxMail.next_attempt_at).order_by("next_attempt_at")
            )
        if due is None:
            return IDLE_POLL
        return max(0.05, min(IDLE_POLL, (due - datetime.now(UTC)).total_seconds()))

    async def _lease(self) -> list[OutboxMail]:
        now = datetime.now(UTC)
        async with self._session() as session:
            rows = (
                await session.scalars(
                    select(OutboxMail)
                    .where(OutboxMail.next_attempt_at <= now)
                    .order_by(OutboxMail.next_attempt_at)
                    .limit(BATCH)
                )
            ).all()
            leased = []
            for row in rows:
                taken = await session.execute(
                    update(OutboxMail)
                    .where(
                        OutboxMail.id == row.id,
                        OutboxMail.next_attempt_at == row.next_attempt_at,
                    )
                    .values(next_attempt_at=now + LEASE)
                )
                if taken.rowcount == 1:  # type: ignore[attr-defined]
                    leased.append(row)
            await session.commit()
            for row in leased:
                session.expunge(row)
        return leased

    async def _release(self, rows: list[OutboxMail], retry_at: datetime) -> None:
        if not rows:
            return
        async with self._session() as session:
            await session.execute(
                update(OutboxMail)
                .where(OutboxMail.id.in_([row.id for row in rows]))
                .values(next_attempt_at=retry_at)
            )
            await session.commit()

    async def _send(self, row: OutboxMail) -> datetime | None:
        """Try one mail; when the SMTP server is away, return when to try again."""
        assert self._mail.smtp is not None
        try:
            await asyncio.wait_for(
                deliver(self._mail.smtp, compose(self._mail, row), [self._mail.smtp.host]),
                timeout=60,
            )
        except (DeliveryError, TimeoutError) as error:
            problem = error.message if isinstance(error, DeliveryError) else "timed out"
            retryable = not isinstance(error, DeliveryError) or error.retryable
            return await self._failed(row, problem, retryable)
        async with self._session() as session:
            await session.execute(delete(OutboxMail).where(OutboxMail.id == row.id))
            await session.commit()
        if self._down:
            self._down = False
            logger.info("mail: %s answers again; sending the queued mail", self._mail.smtp.where)
        return None

    async def _failed(self, row: OutboxMail, problem: str, retryable: bool) -> datetime | None:
        """Drop a mail that cannot be sent, or schedule its next attempt (returned)."""
        now = datetime.now(UTC)
        retry_at = now + backoff(self._mail, row.attempts + 1)
        attempts = row.attempts + 1
        too_old = now - row.created_at > self._mail.give_up_after
        async with self._session() as session:
            if not retryable or too_old:
                await session.execute(delete(OutboxMail).where(OutboxMail.id == row.id))
                why = f"gave up after {attempts} attempts" if too_old else "cannot be sent"
                logger.warning("mail: %r to %s %s: %s", row.subject, row.recipient, why, problem)
            else:
                await session.execute(
                    update(OutboxMail)
                    .where(OutboxMail.id == row.id)
                    .values(
                        attempts=attempts,
                        next_attempt_at=retry_at,
                        last_error=problem[:500],
                    )
                )
            await session.commit()
        if retryable and not self._down:
            # One line while the server is away, not one per mail and attempt.
            self._down = True
            logger.warning("mail: %s; queued mail waits and is retried", problem)
        return retry_at if retryable and not too_old else None
