"""Single sign-on: who a verified ID token is in Crontopus, and tenants that allow only it.

A provider's account is linked to a user by (provider, subject), the one thing a provider
promises never to reuse. The first login links it by e-mail address, and only by one the
provider says it verified (`email_verified` true): otherwise anyone able to type a colleague's
address into their provider profile would become that colleague here. The Crontopus account must
have confirmed the address too, or whoever registered it first would own the linked account.
Without a user of that
address, the login creates one (and a tenant they own) where sign-up is open.
"""

from __future__ import annotations

import re
import secrets
import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crontopus.server.db.models import (
    AuditEvent,
    Membership,
    OidcIdentity,
    Role,
    Tenant,
    User,
    UserSession,
)
from crontopus.server.errors import (
    AuthenticationFailed,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from crontopus.server.security.identity_cache import IdentityCache
from crontopus.server.security.principal import Principal, PrincipalKind
from crontopus.server.security.ratelimit import Limit, RateLimiter
from crontopus.server.services.accounts import (
    EMAIL_RE,
    USERNAME_RE,
    Session,
    choose_membership,
    start_session,
)
from crontopus.server.services.audit import record_audit
from crontopus.server.services.platform.operators import record_operator_action
from crontopus.server.services.sessions import Device
from crontopus.server.services.tenants import TenantCreatedHook, create_tenant
from crontopus.server.settings import Settings
from crontopus.server.sso.client import Claims
from crontopus.server.sso.config import OidcProvider

#: The password hash of an account created by single sign-on: no password matches it (it is
#: no argon2 hash), so the account logs in through its provider only.
NO_PASSWORD = "!sso"
_USERNAME_CLEAN = re.compile(r"[^a-z0-9_.-]+")


async def sign_in(
    session: AsyncSession,
    settings: Settings,
    limiter: RateLimiter,
    provider: OidcProvider,
    claims: Claims,
    tenant_slug: str | None,
    device: Device,
    on_tenant_created: TenantCreatedHook | None = None,
) -> Session:
    """Open a session for the person a verified ID token names (linking or creating them)."""
    link = await session.scalar(
        select(OidcIdentity).where(
            OidcIdentity.provider == provider.name, OidcIdentity.subject == claims.subject
        )
    )
    now = datetime.now(UTC)
    linked = False
    if link is not None:
        user = await session.get(User, link.user_id)
        assert user is not None  # the link is deleted with its user
        link.last_login_at = now
    else:
        email = _verified_email(provider, claims)
        found = await session.scalar(select(User).where(User.email == email))
        if found is not None:
            if found.email_verified_at is None:
                # Whoever registered the address here never proved it is theirs: linking would
                # hand its real owner an account someone else may hold the password of.
                raise AuthenticationFailed(
                    f"a Crontopus account uses {email} but has not confirmed that address: log "
                    "in to it with its password and confirm the address (or ask an operator), "
                    f"then log in with {provider.label} again"
                )
            user, linked = found, True
        else:
            if not settings.allow_signup:
                raise PermissionDenied(
                    f"no Crontopus account has the e-mail address {email}, and sign-up is closed "
                    "on this server: ask an administrator to create your account with that "
                    "address, then log in again"
                )
            await limiter.take(Limit.REGISTER, device.address)
            user = await _create_account(session, provider, claims, email, on_tenant_created)
        session.add(
            OidcIdentity(
                provider=provider.name,
                subject=claims.subject,
                user_id=user.id,
                email=email,
                created_at=now,
                last_login_at=now,
            )
        )
    memberships = (
        await session.scalars(
            select(Membership).where(Membership.user_id == user.id).order_by(Membership.created_at)
        )
    ).all()
    membership = choose_membership(settings, memberships, tenant_slug, provider.name)
    if linked:
        record_audit(
            session,
            _principal(user, membership),
            "user.sso_link",
            f"user:{user.username}",
            {"provider": provider.name, "email": user.email},
        )
    result = await start_session(
        session, settings, user, membership.tenant, membership.role, device, provider.name
    )
    try:
        await session.commit()
    except IntegrityError:
        # Two first logins of the same person raced; the unique constraints decided.
        await session.rollback()
        raise AuthenticationFailed(
            "your account was being set up by another login at the same moment; log in again"
        ) from None
    return result


def _verified_email(provider: OidcProvider, claims: Claims) -> str:
    if claims.email is None:
        raise AuthenticationFailed(
            f"{provider.label} did not tell Crontopus your e-mail address; allow Crontopus to "
            "see it (the `email` scope) and log in again"
        )
    if not claims.email_verified:
        raise AuthenticationFailed(
            f"{provider.label} has not verified your e-mail address {claims.email}: verify it "
            f"at {provider.label}, then log in again (an unverified address cannot be linked to "
            "a Crontopus account)"
        )
    if len(claims.email) > 254 or not EMAIL_RE.match(claims.email):
        raise AuthenticationFailed(
            f"{provider.label} gave {claims.email!r} as your e-mail address, which is not one"
        )
    return claims.email


async def _create_account(
    session: AsyncSession,
    provider: OidcProvider,
    claims: Claims,
    email: str,
    on_tenant_created: TenantCreatedHook | None,
) -> User:
    username = await _free_username(session, claims.preferred_username, email)
    user = User(
        id=uuid.uuid4(),
        username=username,
        email=email,
        password_hash=NO_PASSWORD,
        # The provider verified it (email_verified), which is all a confirmation mail proves.
        email_verified_at=datetime.now(UTC),
    )
    session.add(user)
    tenant = await create_tenant(session, name=username, preferred_slug=username)
    membership = Membership(tenant_id=tenant.id, user_id=user.id, role=Role.OWNER)
    membership.tenant, membership.user = tenant, user
    session.add(membership)
    await session.flush()
    if on_tenant_created is not None:
        await on_tenant_created(tenant)
    record_audit(
        session,
        _principal(user, membership),
        "user.register",
        f"user:{username}",
        {"provider": provider.name},
    )
    return user


async def _free_username(session: AsyncSession, preferred: str | None, email: str) -> str:
    """A user name from the provider's preferred one or the address, made valid and unique."""
    for candidate in (preferred, email.partition("@")[0]):
        if not candidate:
            continue
        base = _USERNAME_CLEAN.sub("-", candidate.lower()).lstrip("._-")[:36].rstrip("._-")
        if len(base) < 3 or not USERNAME_RE.match(base):
            continue
        for suffix in ("", *(str(n) for n in range(2, 10))):
            name = base + suffix
            if await session.scalar(select(User.id).where(User.username == name)) is None:
                return name
        return f"{base[:30]}-{secrets.token_hex(4)}"
    return f"user-{secrets.token_hex(4)}"


def _principal(user: User, membership: Membership) -> Principal:
    return Principal(
        kind=PrincipalKind.USER,
        tenant_id=membership.tenant_id,
        tenant_slug=membership.tenant.slug,
        role=membership.role,
        user_id=user.id,
        username=user.username,
    )


async def set_sso_only(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    identities: IdentityCache | None,
    provider_name: str | None,
    tenant_id: uuid.UUID | None = None,
) -> Tenant:
    """Make a tenant SSO-only through `provider_name` (None: passwords work again).

    A tenant's admins set it for their tenant; a platform operator for any tenant. Sessions of
    the tenant opened another way end at their next request.
    """
    action = "Setting single sign-on only"
    own = tenant_id is None or tenant_id == principal.tenant_id
    if own:
        principal.require_admin(action)
        target: uuid.UUID = principal.tenant_id
    else:
        principal.require_operator(f"{action} for another tenant")
        assert tenant_id is not None
        target = tenant_id
    tenant = await session.get(Tenant, target)
    if tenant is None:
        raise NotFound(f"no tenant with id {target}")
    if provider_name is not None:
        provider = settings.oidc_provider(provider_name)
        if provider is None:
            offered = ", ".join(p.name for p in settings.oidc_providers) or "none"
            raise ValidationFailed.single(
                "provider",
                f"{provider_name!r} is not a provider of this server (it offers: {offered}; "
                "see identityProviders)",
            )
        if own:
            opened_with = (
                await session.scalar(
                    select(UserSession.provider).where(UserSession.id == principal.session_id)
                )
                if principal.session_id is not None
                else None
            )
            if opened_with != provider.name:
                # From any other session the change would end that very session, and if no
                # admin can log in with the provider, nobody could undo it.
                raise ValidationFailed.single(
                    "provider",
                    f"log in with {provider.label} first: turn single sign-on only on from a "
                    f"session opened through {provider.label}, so you keep your way in",
                )
    before = tenant.sso_provider
    tenant.sso_provider = provider_name
    details = {"before": before, "after": provider_name}
    session.add(
        AuditEvent(
            tenant_id=tenant.id,
            actor_id=principal.user_id,
            actor=principal.label,
            action="tenant.sso_only",
            target=f"tenant:{tenant.slug}",
            details=details,
        )
    )
    if principal.operator and not own:
        record_operator_action(session, principal, "tenant.sso_only", tenant, details)
    await session.commit()
    # At once in this process; other processes within CRONTOPUS_AUTH_CACHE_SECONDS.
    if identities is not None:
        identities.forget_tenant(tenant.id)
    return tenant
