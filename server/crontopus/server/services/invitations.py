"""Invitations: adding someone by e-mail address who has no account yet.

`invite_member` adds an existing account with that address at once (as `add_member` does by
user name); otherwise it mails a single-use link. Following it, the person chooses a user name
and password (`accept_invitation`): the account is made, its address counts as verified (the
link reached it), and it joins the tenant with the invited role — even where sign-up is off,
since an admin of the tenant asked for it. It gets no tenant of its own.

Admins list the tenant's pending invitations (`pending_invitations`: never their tokens, only
the SHA-256 of which is stored anyway) and revoke one (`revoke_invitation`): its row goes, so
the mailed link answers "not a valid link".
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from crontopus.server.db.models import (
    AccountToken,
    AccountTokenPurpose,
    Membership,
    Role,
    Tenant,
    User,
)
from crontopus.server.errors import (
    Conflict,
    FieldProblem,
    NotFound,
    PermissionDenied,
    TenantSuspended,
    ValidationFailed,
)
from crontopus.server.security import passwords
from crontopus.server.security.principal import Principal
from crontopus.server.services import account_mail, account_tokens
from crontopus.server.services.accounts import (
    Session,
    email_problems,
    registration_problems,
    start_session,
)
from crontopus.server.services.audit import record_audit
from crontopus.server.services.members import add_member
from crontopus.server.services.sessions import Device
from crontopus.server.settings import Settings


@dataclass(frozen=True)
class Invitation:
    """A pending invitation: who, to which role, sent by whom and when, until when."""

    id: uuid.UUID
    email: str
    role: Role
    invited_by: str | None
    created_at: datetime
    expires_at: datetime

    @classmethod
    def from_row(cls, row: AccountToken) -> Invitation:
        assert row.role is not None  # every invitation row has its role
        return cls(row.id, row.email, row.role, row.created_by, row.created_at, row.expires_at)


def _pending(tenant_id: uuid.UUID) -> tuple[ColumnElement[bool], ...]:
    """The conditions of a tenant's invitations that can still be accepted."""
    return (
        AccountToken.purpose == AccountTokenPurpose.INVITATION,
        AccountToken.tenant_id == tenant_id,
        AccountToken.used_at.is_(None),
        AccountToken.expires_at > datetime.now(UTC),
    )


async def pending_invitations(session: AsyncSession, principal: Principal) -> list[Invitation]:
    """The active tenant's invitations not yet accepted, revoked or expired, newest first."""
    principal.require_admin_read("Listing invitations")
    rows = await session.scalars(
        select(AccountToken)
        .where(*_pending(principal.tenant_id))
        .order_by(AccountToken.created_at.desc(), AccountToken.email)
    )
    return [Invitation.from_row(row) for row in rows]


async def revoke_invitation(
    session: AsyncSession, principal: Principal, invitation_id: uuid.UUID
) -> Invitation:
    """Withdraw a pending invitation of the active tenant: its link stops working at once."""
    principal.require_admin("Revoking invitations")
    row = await session.scalar(
        select(AccountToken).where(AccountToken.id == invitation_id, *_pending(principal.tenant_id))
    )
    if row is None:
        # Another tenant's invitation reads as missing too, so ids reveal nothing.
        raise NotFound(
            f"no pending invitation with id {invitation_id} (it may have been accepted, "
            "revoked or expired; see `invitations`)"
        )
    invitation = Invitation.from_row(row)
    await session.execute(delete(AccountToken).where(AccountToken.id == row.id))
    record_audit(
        session,
        principal,
        "member.uninvite",
        f"email:{invitation.email}",
        {"role": invitation.role.value},
    )
    await session.commit()
    return invitation


async def invite_member(
    session: AsyncSession, settings: Settings, principal: Principal, email: str, role: Role
) -> Membership | Invitation:
    """Add the account that has `email`, or mail an invitation when there is none."""
    principal.require_admin("Inviting members")
    if role is Role.OWNER and principal.role is not Role.OWNER:
        raise PermissionDenied("only an owner can add another owner")
    address = email.strip().lower()
    if problems := email_problems(address):
        raise ValidationFailed(problems)
    existing = await session.scalar(select(User.username).where(User.email == address))
    if existing is not None:
        return await add_member(session, principal, existing, role)
    if not settings.mail.enabled:
        raise ValidationFailed.single(
            "email",
            "has no account here, and this server sends no mail (CRONTOPUS_SMTP_URL is not "
            "set): ask them to sign up, then add them by user name",
        )
    tenant = await session.get(Tenant, principal.tenant_id)
    assert tenant is not None
    token = await account_tokens.issue(
        session,
        AccountTokenPurpose.INVITATION,
        address,
        tenant_id=tenant.id,
        role=role,
        created_by=principal.username,
    )
    inviter = principal.username or "A member"
    await account_mail.send_invitation(
        session, settings, token, address, inviter, tenant.name, role.value
    )
    record_audit(session, principal, "member.invite", f"email:{address}", {"role": role.value})
    row = await session.scalar(
        select(AccountToken).where(*_pending(tenant.id), AccountToken.email == address)
    )
    assert row is not None  # issued above; earlier ones for this address were spent
    invitation = Invitation.from_row(row)
    await session.commit()
    return invitation


async def accept_invitation(
    session: AsyncSession,
    settings: Settings,
    token: str,
    username: str,
    password: str,
    device: Device,
) -> Session:
    """Create the invited account in the invitation's tenant and log it in."""
    row = await account_tokens.find_valid(session, AccountTokenPurpose.INVITATION, token)
    username = username.strip().lower()
    if problems := registration_problems(settings.password_policy, username, row.email, password):
        raise ValidationFailed(problems)
    tenant = await session.get(Tenant, row.tenant_id) if row.tenant_id is not None else None
    if tenant is None or row.role is None:
        raise ValidationFailed.single("token", "is for a tenant that no longer exists")
    if tenant.suspended_at is not None:
        raise TenantSuspended(tenant.slug, tenant.suspension_reason)
    taken = await session.scalar(
        select(User.username).where((User.username == username) | (User.email == row.email))
    )
    if taken == username:
        raise ValidationFailed(
            [FieldProblem(("username",), "is already registered; choose another")]
        )
    if taken is not None:
        raise Conflict(
            f"an account with {row.email} exists already: sign in, and ask to be added by name"
        )
    tenant_id, role, email = tenant.id, row.role, row.email
    await session.commit()  # end the read before hashing, as sign-up does
    password_hash = await passwords.hash_password_off_loop(password)
    row = await account_tokens.find_valid(session, AccountTokenPurpose.INVITATION, token)
    await account_tokens.spend(session, row)
    now = datetime.now(UTC)
    user = User(
        id=uuid.uuid4(),
        username=username,
        email=email,
        password_hash=password_hash,
        email_verified_at=now,
    )
    session.add(user)
    session.add(Membership(tenant_id=tenant_id, user_id=user.id, role=role))
    await session.flush()
    tenant = await session.get(Tenant, tenant_id)
    assert tenant is not None
    result = await start_session(session, settings, user, tenant, role, device)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise ValidationFailed([FieldProblem(("username",), "is already registered")]) from None
    return result
