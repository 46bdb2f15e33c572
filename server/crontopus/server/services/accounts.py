"""Sign-up, login, token refresh, logout, and password and e-mail changes."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crontopus.server.db.models import (
    AccountTokenPurpose,
    Membership,
    RefreshToken,
    Role,
    Tenant,
    User,
    UserSession,
)
from crontopus.server.errors import (
    AuthenticationFailed,
    FieldProblem,
    PermissionDenied,
    RateLimited,
    TenantSuspended,
    ValidationFailed,
)
from crontopus.server.security import passwords
from crontopus.server.security.identity_cache import IdentityCache, TenantView
from crontopus.server.security.jwt import issue_access_token
from crontopus.server.security.principal import Principal, PrincipalKind
from crontopus.server.security.ratelimit import Limit, RateLimiter
from crontopus.server.security.tokens import TokenKind, digest, issue_token, token_kind
from crontopus.server.services import account_mail
from crontopus.server.services.audit import record_audit
from crontopus.server.services.sessions import (
    Device,
    end_sessions,
    forget,
    new_session,
)
from crontopus.server.services.tenants import TenantCreatedHook, create_tenant
from crontopus.server.settings import EmailVerification, Settings

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{2,39}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_LOGIN_FAILED = "wrong username or password"


@dataclass(frozen=True)
class Session:
    """What a successful login or refresh hands back."""

    access_token: str
    access_expires_at: datetime
    refresh_token: str
    user: User
    tenant: Tenant
    role: Role
    session_id: uuid.UUID


@dataclass(frozen=True)
class VerificationPending:
    """Sign-up under CRONTOPUS_EMAIL_VERIFICATION=required: no session until the link is used."""

    user: User


def mask_email(email: str) -> str:
    """`alice@example.com` as `a***@example.com`: enough to recognise, not to harvest."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def email_problems(email: str) -> list[FieldProblem]:
    if len(email) > 254 or not EMAIL_RE.match(email):
        return [FieldProblem(("email",), "is not an e-mail address (like ops@example.com)")]
    return []


def registration_problems(
    policy: passwords.PasswordPolicy, username: str, email: str, password: str
) -> list[FieldProblem]:
    problems = []
    if not USERNAME_RE.match(username):
        problems.append(
            FieldProblem(
                ("username",),
                "must be 3-40 characters: lowercase letters, digits, '.', '_' or '-', "
                "starting with a letter or digit",
            )
        )
    problems.extend(email_problems(email))
    problems.extend(
        FieldProblem(("password",), problem)
        for problem in policy.problems(password, username=username)
    )
    return problems


async def create_account(
    session: AsyncSession,
    policy: passwords.PasswordPolicy,
    username: str,
    email: str,
    password: str,
    on_tenant_created: TenantCreatedHook | None = None,
) -> tuple[User, Tenant]:
    """Create a user and a tenant they own, in the caller's transaction."""
    username, email = username.strip().lower(), email.strip().lower()
    if problems := registration_problems(policy, username, email, password):
        raise ValidationFailed(problems)
    # Hashed before the first query, so no database connection waits on the hashing threads.
    password_hash = await passwords.hash_password_off_loop(password)
    taken = await session.scalar(
        select(User.username).where((User.username == username) | (User.email == email))
    )
    if taken is not None:
        field = "username" if taken == username else "email"
        raise ValidationFailed(
            [FieldProblem((field,), f"is already registered; choose another {field}")]
        )
    user = User(
        id=uuid.uuid4(),
        username=username,
        email=email,
        password_hash=password_hash,
    )
    session.add(user)
    tenant = await create_tenant(session, name=username, preferred_slug=username)
    session.add(Membership(tenant_id=tenant.id, user_id=user.id, role=Role.OWNER))
    await session.flush()
    if on_tenant_created is not None:
        await on_tenant_created(tenant)
    record_audit(
        session, _user_principal(user, tenant, Role.OWNER), "user.register", f"user:{username}"
    )
    return user, tenant


async def register(
    session: AsyncSession,
    settings: Settings,
    limiter: RateLimiter,
    username: str,
    email: str,
    password: str,
    client_address: str,
    on_tenant_created: TenantCreatedHook | None = None,
    device: Device | None = None,
) -> Session | VerificationPending:
    """Create a user and a tenant the user owns (when sign-up is allowed), and log them in.

    A verification link goes to the address; when verification is required, the login waits
    for it (VerificationPending).
    """
    if not settings.allow_signup:
        raise PermissionDenied(
            "sign-up is disabled on this server; ask an administrator to create your account"
        )
    await limiter.take(Limit.REGISTER, client_address)
    user, tenant = await create_account(
        session, settings.password_policy, username, email, password, on_tenant_created
    )
    await account_mail.send_verification(session, settings, user)
    result: Session | VerificationPending
    if settings.mail.verifies and settings.mail.verification is EmailVerification.REQUIRED:
        result = VerificationPending(user)
    else:
        result = await start_session(
            session, settings, user, tenant, Role.OWNER, device or Device()
        )
    try:
        await session.commit()
    except IntegrityError:
        # Two sign-ups raced for the same name; the unique constraint decided.
        await session.rollback()
        raise ValidationFailed([FieldProblem(("username",), "is already registered")]) from None
    return result


async def login(
    session: AsyncSession,
    settings: Settings,
    limiter: RateLimiter,
    username: str,
    password: str,
    client_address: str,
    tenant_slug: str | None = None,
    user_agent: str = "",
) -> Session:
    """Check a password and open a session in the chosen (or first) tenant.

    Every attempt spends a token per (account, address) and per address before the password
    is checked, so concurrent guesses are counted too; a good password gives them back.
    Keying on the pair means a guesser elsewhere cannot lock the account's owner out.
    """
    account = username.strip().lower()
    pair = f"{account}\n{client_address}"
    await limiter.take(Limit.LOGIN, pair)
    try:
        await limiter.take(Limit.LOGIN_ADDRESS, client_address)
    except RateLimited:
        limiter.give_back(Limit.LOGIN, pair)
        raise
    user = await session.scalar(select(User).where(User.username == account))
    # End the read before hashing: a queue of logins must not hold database connections.
    await session.commit()
    if user is None:
        await passwords.verify_password_off_loop(passwords.DUMMY_HASH, password)
        raise AuthenticationFailed(_LOGIN_FAILED)
    if not await passwords.verify_password_off_loop(user.password_hash, password):
        raise AuthenticationFailed(_LOGIN_FAILED)
    await limiter.forget(Limit.LOGIN, pair)
    limiter.give_back(Limit.LOGIN_ADDRESS, client_address)
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = await passwords.hash_password_off_loop(password)
    if settings.mail.verification is EmailVerification.REQUIRED and user.email_verified_at is None:
        # Only after the right password: nobody else can make the account mail itself.
        if not await account_mail.recently_sent(session, user, AccountTokenPurpose.VERIFY_EMAIL):
            await account_mail.send_verification(session, settings, user)
        await session.commit()
        raise AuthenticationFailed(
            f"confirm your e-mail address first: follow the link sent to "
            f"{mask_email(user.email)} (a new one is on its way if the last is over a minute old)"
        )
    memberships = (
        await session.scalars(
            select(Membership).where(Membership.user_id == user.id).order_by(Membership.created_at)
        )
    ).all()
    membership = choose_membership(settings, memberships, tenant_slug, provider=None)
    result = await start_session(
        session,
        settings,
        user,
        membership.tenant,
        membership.role,
        Device(client_address, user_agent),
    )
    await session.commit()
    return result


def choose_membership(
    settings: Settings,
    memberships: Sequence[Membership],
    tenant_slug: str | None,
    provider: str | None,
) -> Membership:
    """The membership a login opens: the named tenant's, else the first one it may open.

    `provider` is how the person proved who they are (None: a password); an SSO-only tenant
    is opened only through its own provider. Without a tenant named, the first tenant that is
    neither suspended nor closed to this way of logging in; else say why none is.
    """
    if tenant_slug:
        memberships = [m for m in memberships if m.tenant.slug == tenant_slug]
        if not memberships:
            raise AuthenticationFailed(f"you are not a member of a tenant named {tenant_slug!r}")
    if not memberships:
        raise AuthenticationFailed("your account belongs to no tenant; ask an owner to add you")
    open_ = [m for m in memberships if m.tenant.sso_provider in (None, provider)]
    if not open_:
        raise AuthenticationFailed(sso_only_message(settings, memberships[0].tenant))
    active = [m for m in open_ if m.tenant.suspended_at is None]
    if not active:
        raise TenantSuspended(open_[0].tenant.slug, open_[0].tenant.suspension_reason)
    return active[0]


def sso_only_message(settings: Settings, tenant: Tenant | TenantView) -> str:
    """Why a login into an SSO-only tenant is refused, naming the provider to use."""
    name = tenant.sso_provider or ""
    configured = settings.oidc_provider(name)
    if configured is None:
        return (
            f"tenant {tenant.slug!r} allows single sign-on only, through the provider "
            f"{name!r}, which this server no longer offers; ask its operator"
        )
    return (
        f"tenant {tenant.slug!r} allows single sign-on only: use “Log in with "
        f"{configured.label}” on the login page"
    )


async def refresh(
    session: AsyncSession,
    settings: Settings,
    token: str,
    device: Device | None = None,
    identities: IdentityCache | None = None,
) -> Session:
    """Rotate a refresh token; reusing a spent one revokes its whole family."""
    if token_kind(token) is not TokenKind.REFRESH:
        raise AuthenticationFailed("this is not a Crontopus refresh token (check for typos)")
    row = await session.scalar(select(RefreshToken).where(RefreshToken.token_hash == digest(token)))
    now = datetime.now(UTC)
    if row is None:
        raise AuthenticationFailed("unknown refresh token; log in again")
    if row.used_at is not None or row.revoked_at is not None:
        # A spent token coming back means it was copied: end every session descended from it.
        await revoke_family(session, row.family_id, now, identities)
        await session.commit()
        raise AuthenticationFailed("this refresh token was already used; log in again")
    if row.expires_at <= now:
        raise AuthenticationFailed("refresh token expired; log in again")
    membership = await session.scalar(
        select(Membership).where(
            Membership.user_id == row.user_id, Membership.tenant_id == row.tenant_id
        )
    )
    if membership is None:
        await revoke_family(session, row.family_id, now, identities)
        await session.commit()
        raise AuthenticationFailed("you are no longer a member of this tenant")
    if membership.tenant.suspended_at is not None:
        # Refused, not revoked: once the tenant is resumed the session goes on.
        raise TenantSuspended(membership.tenant.slug, membership.tenant.suspension_reason)
    if membership.tenant.sso_provider is not None:
        login = await session.get(UserSession, row.family_id)
        if login is None or login.provider != membership.tenant.sso_provider:
            # The tenant went SSO-only after this session was opened another way: it ends.
            await revoke_family(session, row.family_id, now, identities)
            await session.commit()
            raise AuthenticationFailed(sso_only_message(settings, membership.tenant))
    # Conditional update: of two concurrent refreshes with one token, exactly one wins.
    claimed = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == row.id, RefreshToken.used_at.is_(None))
        .values(used_at=now)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        await revoke_family(session, row.family_id, now, identities)
        await session.commit()
        raise AuthenticationFailed("this refresh token was already used; log in again")
    expires = now + timedelta(seconds=settings.refresh_token_ttl)
    values: dict[str, object] = {"last_used_at": now, "expires_at": expires}
    if device is not None and device.address:
        values["address"] = device.clipped().address
    await session.execute(
        update(UserSession).where(UserSession.id == row.family_id).values(**values)
    )
    result = await _continue_session(
        session, settings, membership.user, membership.tenant, membership.role, row.family_id
    )
    await session.commit()
    return result


async def logout(
    session: AsyncSession,
    token: str | None = None,
    principal: Principal | None = None,
    identities: IdentityCache | None = None,
) -> None:
    """End a session: the one a refresh token belongs to, else the caller's own.

    Its refresh tokens die and so do its access tokens, the caller's included.
    """
    if token is not None:
        if token_kind(token) is not TokenKind.REFRESH:
            raise AuthenticationFailed("this is not a Crontopus refresh token (check for typos)")
        row = await session.scalar(
            select(RefreshToken).where(RefreshToken.token_hash == digest(token))
        )
        if row is None:
            raise AuthenticationFailed("unknown refresh token")
        family_id = row.family_id
    elif principal is not None and principal.session_id is not None:
        family_id = principal.session_id
    else:
        raise AuthenticationFailed(
            "nothing to log out: pass refreshToken, or send a logged-in session's access token"
        )
    await revoke_family(session, family_id, datetime.now(UTC), identities)
    await session.commit()


async def revoke_family(
    session: AsyncSession,
    family_id: uuid.UUID,
    now: datetime,
    identities: IdentityCache | None = None,
) -> None:
    """End the session of a refresh-token family (its access tokens included)."""
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    # The cache entry goes now; the commit that follows makes other processes refuse it.
    forget(identities, await end_sessions(session, now, UserSession.id == family_id))


async def change_password(
    session: AsyncSession,
    settings: Settings,
    limiter: RateLimiter,
    principal: Principal,
    current_password: str,
    new_password: str,
    client_address: str,
    identities: IdentityCache | None = None,
) -> int:
    """Change the caller's password and end their other sessions; return how many ended."""
    if principal.kind is not PrincipalKind.USER or principal.user_id is None:
        raise PermissionDenied(
            "Changing the password needs a logged-in session, not an API or endpoint token"
        )
    user = await session.get(User, principal.user_id)
    assert user is not None  # authentication found the membership a moment ago
    account = user.username
    # A stolen access token must not become a way to guess the password at full speed: each
    # attempt spends a login token, as a login with the password would.
    pair = f"{account}\n{client_address}"
    await limiter.take(Limit.LOGIN, pair)
    await session.commit()  # end the read before hashing, as login does
    if not await passwords.verify_password_off_loop(user.password_hash, current_password):
        raise ValidationFailed([FieldProblem(("currentPassword",), "is not your current password")])
    await limiter.forget(Limit.LOGIN, pair)
    problems = [
        FieldProblem(("newPassword",), problem)
        for problem in settings.password_policy.problems(new_password, username=account)
    ]
    if new_password == current_password:
        problems.append(FieldProblem(("newPassword",), "is your current password; choose another"))
    if problems:
        raise ValidationFailed(problems)
    user.password_hash = await passwords.hash_password_off_loop(new_password)
    ended = await end_sessions(
        session,
        datetime.now(UTC),
        UserSession.user_id == user.id,
        UserSession.id != principal.session_id,
    )
    record_audit(session, principal, "user.password_change", f"user:{account}")
    account_mail.notify_password_changed(session, settings, user, "changed")
    await session.commit()
    forget(identities, ended)
    return len(ended)


async def change_email(
    session: AsyncSession,
    settings: Settings,
    limiter: RateLimiter,
    principal: Principal,
    current_password: str,
    new_email: str,
    client_address: str,
    identities: IdentityCache | None = None,
) -> tuple[User, bool]:
    """Change the caller's address; return the user and whether a verification link was sent.

    The old address gets a notice, the new one a verification link; until it is followed the
    address counts as unverified.
    """
    if principal.kind is not PrincipalKind.USER or principal.user_id is None:
        raise PermissionDenied(
            "Changing the e-mail address needs a logged-in session, not an API or endpoint token"
        )
    user = await session.get(User, principal.user_id)
    assert user is not None
    email = new_email.strip().lower()
    pair = f"{user.username}\n{client_address}"
    await limiter.take(Limit.LOGIN, pair)
    await session.commit()
    if not await passwords.verify_password_off_loop(user.password_hash, current_password):
        raise ValidationFailed([FieldProblem(("currentPassword",), "is not your current password")])
    await limiter.forget(Limit.LOGIN, pair)
    if problems := [FieldProblem(("newEmail",), p.message) for p in email_problems(email)]:
        raise ValidationFailed(problems)
    if email == user.email:
        raise ValidationFailed.single("newEmail", "is your current address")
    if await session.scalar(select(User.id).where(User.email == email)) is not None:
        raise ValidationFailed.single("newEmail", "is already registered to another account")
    old = user.email
    user.email, user.email_verified_at = email, None
    record_audit(session, principal, "user.email_change", f"user:{user.username}")
    account_mail.notify_email_changed(session, settings, user, old, email)
    sent = await account_mail.send_verification(session, settings, user)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise ValidationFailed.single(
            "newEmail", "is already registered to another account"
        ) from None
    if identities is not None:
        identities.forget_user(user.id)
    return user, sent


async def revoke_user_sessions(
    session: AsyncSession, user_id: uuid.UUID, tenant_id: uuid.UUID
) -> None:
    """End every session a user has in one tenant (refresh and access tokens alike)."""
    now = datetime.now(UTC)
    await session.execute(
        update(RefreshToken)
        .where(
            RefreshToken.user_id == user_id,
            RefreshToken.tenant_id == tenant_id,
            RefreshToken.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    await end_sessions(
        session, now, UserSession.user_id == user_id, UserSession.tenant_id == tenant_id
    )


async def start_session(
    session: AsyncSession,
    settings: Settings,
    user: User,
    tenant: Tenant,
    role: Role,
    device: Device,
    provider: str | None = None,
) -> Session:
    """Open a login session and issue its first tokens (in the caller's transaction)."""
    now = datetime.now(UTC)
    expires = now + timedelta(seconds=settings.refresh_token_ttl)
    row = new_session(session, user.id, tenant.id, device, expires, now, provider)
    return await _continue_session(session, settings, user, tenant, role, row.id)


async def _continue_session(
    session: AsyncSession,
    settings: Settings,
    user: User,
    tenant: Tenant,
    role: Role,
    session_id: uuid.UUID,
) -> Session:
    access, expires = issue_access_token(settings, user.id, tenant.id, session_id)
    refresh_token = issue_token(TokenKind.REFRESH)
    session.add(
        RefreshToken(
            tenant_id=tenant.id,
            user_id=user.id,
            family_id=session_id,
            token_hash=refresh_token.digest,
            expires_at=datetime.now(UTC) + timedelta(seconds=settings.refresh_token_ttl),
        )
    )
    return Session(access, expires, refresh_token.plaintext, user, tenant, role, session_id)


def _user_principal(user: User, tenant: Tenant, role: Role) -> Principal:
    return Principal(
        kind=PrincipalKind.USER,
        tenant_id=tenant.id,
        tenant_slug=tenant.slug,
        role=role,
        user_id=user.id,
        username=user.username,
    )
