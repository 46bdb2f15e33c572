"""Turn a bearer credential into an `Identity`, or refuse it."""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crontopus.server.db.engine import SessionFactory
from crontopus.server.db.models import ApiToken, Endpoint, Membership, Role, Tenant, UserSession
from crontopus.server.errors import AuthenticationFailed, TenantSuspended
from crontopus.server.security.identity_cache import Identity, IdentityCache, TenantView, UserView
from crontopus.server.security.jwt import decode_access_token
from crontopus.server.security.principal import Principal, PrincipalKind, Scope
from crontopus.server.security.tokens import TokenKind, digest, token_kind
from crontopus.server.services.accounts import sso_only_message
from crontopus.server.services.sessions import Device, touch_session
from crontopus.server.settings import Settings

# Writing last_used_at on every request would turn reads into writes; a minute is precise enough.
LAST_USED_PRECISION = timedelta(minutes=1)


def bearer_token(authorization: str | None) -> str | None:
    """Extract the token from an `Authorization: Bearer …` value (None when absent)."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationFailed("use the header `Authorization: Bearer <token>`")
    return token.strip()


async def authenticate(
    session: AsyncSession,
    settings: Settings,
    token: str,
    cache: IdentityCache | None = None,
    device: Device | None = None,
    *,
    allow_suspended: bool = False,
) -> Identity:
    """Resolve an access token or a personal API token to the identity it stands for.

    A credential of a suspended tenant is refused with `TenantSuspended` (which carries the
    identity), unless `allow_suspended`: check-ins are stored before they are refused.
    """
    if cache is None:
        identity, _ = await _identity(session, settings, token, device)
    else:
        identity = await cache.resolve(token, lambda: _identity(session, settings, token, device))
    return refuse_suspended(identity, allow_suspended)


async def _identity(
    session: AsyncSession, settings: Settings, token: str, device: Device | None
) -> tuple[Identity, float | None]:
    kind = token_kind(token)
    if kind is TokenKind.API:
        identity, not_after = await _api_token_identity(session, token)
    elif kind is TokenKind.ENDPOINT:
        identity, not_after = await _endpoint_identity(session, token), None
    elif kind is not None:
        raise AuthenticationFailed(
            f"a {kind.name.lower()} token cannot be used here; use an access or API token"
        )
    else:
        identity, not_after = await _access_token_identity(session, settings, token, device)
    return identity, not_after


def refuse_suspended(identity: Identity, allow_suspended: bool = False) -> Identity:
    """Return `identity`, or raise `TenantSuspended` while its tenant is suspended."""
    tenant = identity.tenant
    if tenant.suspended_at is not None and not allow_suspended:
        raise TenantSuspended(tenant.slug, tenant.suspension_reason, identity)
    return identity


def tenant_view(tenant: Tenant) -> TenantView:
    """What a credential carries of its tenant (cached with it)."""
    overrides = tenant.quota_overrides or {}
    return TenantView(
        tenant.id,
        tenant.slug,
        tenant.name,
        suspended_at=tenant.suspended_at,
        suspension_reason=tenant.suspension_reason,
        quota_overrides=tuple(sorted((str(k), int(v)) for k, v in overrides.items())),
        sso_provider=tenant.sso_provider,
    )


def _monotonic_deadline(expires_at: datetime | None) -> float | None:
    if expires_at is None:
        return None
    return time.monotonic() + (expires_at - datetime.now(UTC)).total_seconds()


def _views(membership: Membership) -> tuple[UserView, TenantView]:
    user = membership.user
    view = UserView(
        user.id, user.username, user.email, user.created_at, user.email_verified_at is not None
    )
    return view, tenant_view(membership.tenant)


async def _access_token_identity(
    session: AsyncSession, settings: Settings, token: str, device: Device | None
) -> tuple[Identity, float | None]:
    if token.count(".") != 2:
        raise AuthenticationFailed("malformed token (check that it was copied whole)")
    claims = decode_access_token(settings, token)
    if claims is None:
        raise AuthenticationFailed("invalid or expired access token; log in or refresh")
    found = (
        await session.execute(
            select(Membership, UserSession)
            .outerjoin(UserSession, UserSession.id == claims.session_id)
            .where(Membership.user_id == claims.user_id, Membership.tenant_id == claims.tenant_id)
        )
    ).first()
    if found is None:
        raise AuthenticationFailed("you are no longer a member of this tenant; log in again")
    membership, login = found
    # The session row is the deny-list: a token of an ended session dies with it, before expiry.
    if login is None or login.revoked_at is not None or login.user_id != claims.user_id:
        raise AuthenticationFailed("this session has ended (logged out); log in again")
    tenant_row = membership.tenant
    if tenant_row.sso_provider is not None and login.provider != tenant_row.sso_provider:
        # The tenant went SSO-only after this session was opened another way.
        raise AuthenticationFailed(sso_only_message(settings, tenant_row))
    await touch_session(session, login, device, datetime.now(UTC))
    user, tenant = _views(membership)
    principal = Principal(
        kind=PrincipalKind.USER,
        tenant_id=tenant.id,
        tenant_slug=tenant.slug,
        role=membership.role,
        user_id=user.id,
        username=user.username,
        scopes=frozenset(Scope),
        session_id=login.id,
        operator=membership.user.is_operator,
    )
    identity = Identity(principal, user, tenant, session_id=login.id)
    return identity, _monotonic_deadline(claims.expires_at)


async def _api_token_identity(session: AsyncSession, token: str) -> tuple[Identity, float | None]:
    token_digest = digest(token)
    row = await session.execute(
        select(ApiToken, Membership)
        .join(
            Membership,
            (Membership.user_id == ApiToken.user_id) & (Membership.tenant_id == ApiToken.tenant_id),
        )
        .where(ApiToken.token_hash == token_digest)
    )
    found = row.first()
    now = datetime.now(UTC)
    if found is None:
        raise AuthenticationFailed("unknown API token")
    api_token, membership = found
    if api_token.revoked_at is not None:
        raise AuthenticationFailed("this API token was revoked")
    if api_token.expires_at is not None and api_token.expires_at <= now:
        raise AuthenticationFailed("this API token has expired; create a new one")
    if api_token.last_used_at is None or now - api_token.last_used_at > LAST_USED_PRECISION:
        await session.execute(
            update(ApiToken).where(ApiToken.id == api_token.id).values(last_used_at=now)
        )
        await session.commit()
    user, tenant = _views(membership)
    principal = Principal(
        kind=PrincipalKind.API_TOKEN,
        tenant_id=tenant.id,
        tenant_slug=tenant.slug,
        role=membership.role,
        user_id=user.id,
        username=user.username,
        scopes=frozenset(Scope(s) for s in api_token.scopes),
        token_id=api_token.id,
    )
    identity = Identity(principal, user, tenant, token_digest=token_digest)
    return identity, _monotonic_deadline(api_token.expires_at)


async def _endpoint_identity(session: AsyncSession, token: str) -> Identity:
    token_digest = digest(token)
    found = (
        await session.execute(
            select(Endpoint, Tenant)
            .join(Tenant, Tenant.id == Endpoint.tenant_id)
            .where(Endpoint.token_hash == token_digest)
        )
    ).first()
    return _endpoint_identity_of(found, token_digest)


def _endpoint_identity_of(found: Any, token_digest: str) -> Identity:
    """The identity an endpoint token stands for, from its (Endpoint, Tenant) row or None."""
    if found is None:
        raise AuthenticationFailed("unknown endpoint token; enroll the agent again")
    endpoint, tenant = found
    if endpoint.revoked_at is not None:
        raise AuthenticationFailed("this endpoint was revoked; enroll the agent again")
    principal = Principal(
        kind=PrincipalKind.ENDPOINT,
        tenant_id=tenant.id,
        tenant_slug=tenant.slug,
        # Endpoints read jobs and report runs; the role only matters for user actions.
        role=Role.VIEWER,
        scopes=frozenset({Scope.READ, Scope.CHECKIN}),
        endpoint_id=endpoint.id,
        endpoint_labels=tuple(sorted((str(k), str(v)) for k, v in endpoint.labels.items())),
    )
    return Identity(principal, None, tenant_view(tenant), token_digest=token_digest)


class EndpointLookups:
    """Endpoint tokens resolved together: one statement for every look-up waiting at once.

    When a server restarts, its whole fleet reconnects within seconds and each socket's
    `connection_init` needs its endpoint token resolved. One statement per socket held a
    pooled connection each, and a burst of them emptied the pool: sockets were refused with
    1013 "database unavailable". Here the look-ups that arrive while one statement runs wait
    for the next, which reads up to `batch` tokens: a burst costs a few statements and one
    connection.
    """

    def __init__(self, session: SessionFactory, batch: int = 500) -> None:
        self._session = session
        self._batch = batch
        self._waiting: dict[str, asyncio.Future[Identity]] = {}
        self._task: asyncio.Task[None] | None = None

    async def identity(self, token: str) -> Identity:
        """Resolve an endpoint token (raises `AuthenticationFailed` when it is refused)."""
        token_digest = digest(token)
        future = self._waiting.get(token_digest)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._waiting[token_digest] = future
            if self._task is None or self._task.done():
                self._task = asyncio.create_task(self._run())
        # Shielded: one caller giving up must not cancel the answer others wait for.
        return await asyncio.shield(future)

    async def _run(self) -> None:
        while self._waiting:
            await asyncio.sleep(0)  # let the look-ups arriving in this same tick join
            digests = list(itertools.islice(self._waiting, self._batch))
            futures = [self._waiting.pop(d) for d in digests]
            try:
                async with self._session() as session:
                    result = await session.execute(
                        select(Endpoint, Tenant)
                        .join(Tenant, Tenant.id == Endpoint.tenant_id)
                        .where(Endpoint.token_hash.in_(digests))
                    )
                    rows = {row[0].token_hash: row for row in result}
            except Exception as error:
                for future in futures:
                    if not future.done():
                        future.set_exception(error)
                continue
            for token_digest, future in zip(digests, futures, strict=True):
                if future.done():
                    continue
                try:
                    future.set_result(_endpoint_identity_of(rows.get(token_digest), token_digest))
                except AuthenticationFailed as refusal:
                    future.set_exception(refusal)
