"""Invitations: adding someone by e-mail address who has no account yet.

`invite_member` adds an existing account with that address at once (as `add_member` does by
user name); otherwise it mails a single-use link. Following it, the person chooses a user name
and password (`accept_invitation`): the account is made, its address counts as verified (the
link reached it), and it joins the tenant with the invited role — even where sign-up is off,
since an admin of the tenant asked for it. It gets no tenant of its own.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crontopus.server.db.models import AccountTokenPurpose, Membership, Role, Tenant, User
from crontopus.server.errors import (
    Conflict,
    FieldProblem,
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
    """A pending invitation: who, to which role, until when."""

    email: str
    role: Role
    expires_at: datetime


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
    await session.commit()
    lifetime = account_tokens.LIFETIMES[AccountTokenPurpose.INVITATION]
    return Invitation(address, role, datetime.now(UTC) + lifetime)


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
