"""Tenant membership and roles."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from crontopus.server.db.models import Membership, Role, User
from crontopus.server.db.search import contains_pattern
from crontopus.server.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from crontopus.server.security.identity_cache import IdentityCache
from crontopus.server.security.principal import Principal
from crontopus.server.services.accounts import revoke_user_sessions
from crontopus.server.services.audit import record_audit


async def list_members(session: AsyncSession, principal: Principal) -> Sequence[Membership]:
    """Return the members of the principal's tenant."""
    principal.require_read("Listing members")
    query = (
        select(Membership)
        .where(Membership.tenant_id == principal.tenant_id)
        .order_by(Membership.created_at, Membership.id)
    )
    return (await session.scalars(query)).all()


async def page_members(
    session: AsyncSession,
    principal: Principal,
    first: int,
    after: tuple[str, uuid.UUID] | None,
    search: str | None = None,
    role: Role | None = None,
) -> Sequence[Membership]:
    """Return up to `first` + 1 members by user name after a (user name, id) cursor.

    `search` matches part of the user name or e-mail address, any case.
    """
    principal.require_read("Listing members")
    query = (
        select(Membership)
        .join(User, User.id == Membership.user_id)
        .where(Membership.tenant_id == principal.tenant_id)
    )
    if role is not None:
        query = query.where(Membership.role == role)
    if search is not None:
        pattern = contains_pattern(search)
        query = query.where(
            or_(User.username.ilike(pattern, escape="\\"), User.email.ilike(pattern, escape="\\"))
        )
    if after is not None:
        query = query.where(tuple_(User.username, Membership.id) > tuple_(*after))
    query = query.order_by(User.username, Membership.id).limit(first + 1)
    return (await session.scalars(query)).all()


async def list_user_memberships(
    session: AsyncSession, principal: Principal
) -> Sequence[Membership]:
    """Return every membership of the calling user, oldest first."""
    query = (
        select(Membership)
        .where(Membership.user_id == principal.user_id)
        .order_by(Membership.created_at, Membership.id)
    )
    return (await session.scalars(query)).all()


async def add_member(
    session: AsyncSession, principal: Principal, username: str, role: Role
) -> Membership:
    """Add an existing user to the tenant with `role` (owners and admins only)."""
    principal.require_admin("Adding members")
    if role is Role.OWNER and principal.role is not Role.OWNER:
        raise PermissionDenied("only an owner can add another owner")
    user = await session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        raise NotFound(f"no user named {username!r}; they must register first")
    existing = await session.scalar(
        select(Membership).where(
            Membership.tenant_id == principal.tenant_id, Membership.user_id == user.id
        )
    )
    if existing is not None:
        raise Conflict(f"{user.username} is already a member (role {existing.role.value})")
    membership = Membership(tenant_id=principal.tenant_id, user_id=user.id, role=role)
    session.add(membership)
    record_audit(session, principal, "member.add", f"user:{user.username}", {"role": role.value})
    await session.commit()
    return await _reload(session, membership.id)


async def remove_member(
    session: AsyncSession,
    principal: Principal,
    user_id: uuid.UUID,
    identities: IdentityCache | None = None,
) -> User:
    """Remove a member and end their sessions (and cached credentials) in this tenant."""
    principal.require_admin("Removing members")
    membership = await _member(session, principal.tenant_id, user_id)
    if membership.role is Role.OWNER:
        if principal.role is not Role.OWNER:
            raise PermissionDenied("only an owner can remove an owner")
        await _keep_an_owner(session, principal.tenant_id)
    user = membership.user
    await session.delete(membership)
    await revoke_user_sessions(session, user_id, principal.tenant_id)
    record_audit(session, principal, "member.remove", f"user:{user.username}")
    await session.commit()
    if identities is not None:
        identities.forget_member(user_id, principal.tenant_id)
    return user


async def change_member_role(
    session: AsyncSession,
    principal: Principal,
    user_id: uuid.UUID,
    role: Role,
    identities: IdentityCache | None = None,
) -> Membership:
    """Give a member another role (admins; owners only to or from owner); effective at once."""
    principal.require_admin("Changing roles")
    membership = await _member(session, principal.tenant_id, user_id)
    if Role.OWNER in (role, membership.role) and principal.role is not Role.OWNER:
        raise PermissionDenied("only an owner can make someone owner or change an owner's role")
    if membership.role is role:
        return membership
    if membership.role is Role.OWNER:
        await _keep_an_owner(session, principal.tenant_id)
    before = membership.role
    membership.role = role
    record_audit(
        session,
        principal,
        "member.role",
        f"user:{membership.user.username}",
        {"from": before.value, "to": role.value},
    )
    await session.commit()
    if identities is not None:
        # Cached credentials carry the old role; the next request reads the new one.
        identities.forget_member(user_id, principal.tenant_id)
    return await _reload(session, membership.id)


async def _member(session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID) -> Membership:
    membership = await session.scalar(
        select(Membership).where(Membership.tenant_id == tenant_id, Membership.user_id == user_id)
    )
    if membership is None:
        raise NotFound("no such member in this tenant")
    return membership


async def _keep_an_owner(session: AsyncSession, tenant_id: uuid.UUID) -> None:
    """Refuse to take away the tenant's last owner (nobody could administer it again)."""
    owners = await session.scalar(
        select(func.count())
        .select_from(Membership)
        .where(Membership.tenant_id == tenant_id, Membership.role == Role.OWNER)
    )
    if owners == 1:
        raise ValidationFailed.single("userId", "is the last owner; make someone else owner first")


async def _reload(session: AsyncSession, membership_id: uuid.UUID) -> Membership:
    membership = await session.get(Membership, membership_id, populate_existing=True)
    assert membership is not None
    return membership
