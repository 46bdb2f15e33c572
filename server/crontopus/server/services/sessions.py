"""Login sessions: one per login on a device, listed, ended one by one or everywhere at once.

A session is a refresh-token family plus every access token issued to it (they carry its id
as `sid`). Ending a session revokes its refresh tokens and makes authentication refuse its
access tokens: at once in this process, within the credential cache's lifetime in others.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crontopus.server.db.models import RefreshToken, UserSession
from crontopus.server.errors import NotFound, PermissionDenied
from crontopus.server.security.identity_cache import IdentityCache
from crontopus.server.security.principal import Principal, PrincipalKind
from crontopus.server.services.audit import record_audit

# Writing last_used_at on every request would turn reads into writes; a minute is precise enough.
TOUCH_PRECISION = timedelta(minutes=1)
USER_AGENT_LENGTH = 300
ADDRESS_LENGTH = 64


@dataclass(frozen=True)
class Device:
    """Where a request comes from, as a session records it."""

    address: str = ""
    user_agent: str = ""

    def clipped(self) -> Device:
        """Fit the columns: a user agent is for people to recognise, not for forensics."""
        return Device(self.address[:ADDRESS_LENGTH], self.user_agent[:USER_AGENT_LENGTH])


def new_session(
    db: AsyncSession,
    user_id: uuid.UUID,
    tenant_id: uuid.UUID,
    device: Device,
    expires_at: datetime,
    now: datetime,
    provider: str | None = None,
) -> UserSession:
    """Add the row of a new login session (in the caller's transaction).

    `provider`: the OpenID Connect provider it was opened through (None: a password).
    """
    device = device.clipped()
    row = UserSession(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        user_id=user_id,
        user_agent=device.user_agent,
        address=device.address,
        created_at=now,
        last_used_at=now,
        expires_at=expires_at,
        provider=provider,
    )
    db.add(row)
    return row


async def touch_session(
    db: AsyncSession, row: UserSession, device: Device | None, now: datetime
) -> None:
    """Record a use of a session, at most once a minute (commits)."""
    if now - row.last_used_at <= TOUCH_PRECISION:
        return
    values: dict[str, object] = {"last_used_at": now}
    if device is not None and device.address:
        values["address"] = device.clipped().address
    await db.execute(update(UserSession).where(UserSession.id == row.id).values(**values))
    await db.commit()


async def end_sessions(
    db: AsyncSession, now: datetime, *conditions: ColumnElement[bool]
) -> list[uuid.UUID]:
    """End the live sessions matching `conditions` and revoke their refresh tokens.

    Runs in the caller's transaction; after the commit, drop the returned ids from the
    credential cache (`forget`).
    """
    ids = list(
        (
            await db.scalars(
                select(UserSession.id).where(UserSession.revoked_at.is_(None), *conditions)
            )
        ).all()
    )
    if ids:
        await db.execute(update(UserSession).where(UserSession.id.in_(ids)).values(revoked_at=now))
        await db.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id.in_(ids), RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
    return ids


def forget(identities: IdentityCache | None, session_ids: Sequence[uuid.UUID]) -> None:
    """Drop ended sessions' access tokens from this process's credential cache."""
    if identities is None:
        return
    for session_id in session_ids:
        identities.forget_session(session_id)


def _require_login(principal: Principal, action: str) -> uuid.UUID:
    # API tokens and endpoints have no session; managing sessions needs a logged-in person,
    # as on GitHub and GitLab, so a leaked API token cannot lock its owner out.
    if principal.kind is not PrincipalKind.USER or principal.session_id is None:
        raise PermissionDenied(f"{action} needs a logged-in session, not an API or endpoint token")
    assert principal.user_id is not None
    return principal.user_id


async def list_sessions(db: AsyncSession, principal: Principal) -> list[UserSession]:
    """Return the caller's live sessions in every tenant, most recently used first."""
    user_id = _require_login(principal, "Listing sessions")
    rows = await db.scalars(
        select(UserSession)
        .where(
            UserSession.user_id == user_id,
            UserSession.revoked_at.is_(None),
            UserSession.expires_at > datetime.now(UTC),
        )
        .order_by(UserSession.last_used_at.desc(), UserSession.id)
    )
    return list(rows.all())


async def revoke_session(
    db: AsyncSession,
    principal: Principal,
    session_id: uuid.UUID,
    identities: IdentityCache | None = None,
) -> int:
    """End one of the caller's sessions (another user's answers not found)."""
    user_id = _require_login(principal, "Ending a session")
    ended = await end_sessions(
        db, datetime.now(UTC), UserSession.id == session_id, UserSession.user_id == user_id
    )
    if not ended:
        raise NotFound(f"no live session {session_id} of yours (list them with `sessions`)")
    record_audit(db, principal, "session.revoke", f"session:{session_id}")
    await db.commit()
    forget(identities, ended)
    return len(ended)


async def sign_out_everywhere(
    db: AsyncSession, principal: Principal, identities: IdentityCache | None = None
) -> int:
    """End every session of the caller, in every tenant, this one included."""
    user_id = _require_login(principal, "Signing out everywhere")
    ended = await end_sessions(db, datetime.now(UTC), UserSession.user_id == user_id)
    record_audit(db, principal, "session.sign_out_everywhere", f"user:{principal.username}")
    await db.commit()
    forget(identities, ended)
    return len(ended)
