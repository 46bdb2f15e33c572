"""Who may fetch from and push to a tenant's repository over Git smart HTTP."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crontopus.server.db.models import Tenant
from crontopus.server.errors import AuthenticationFailed, PermissionDenied, TenantSuspended
from crontopus.server.gitstore import GitAccess
from crontopus.server.security.identity_cache import IdentityCache
from crontopus.server.security.principal import PrincipalKind
from crontopus.server.security.tokens import TokenKind, token_kind
from crontopus.server.services.authentication import authenticate
from crontopus.server.services.quotas import effective_quotas
from crontopus.server.settings import Settings


async def git_access(
    session: AsyncSession,
    settings: Settings,
    identities: IdentityCache,
    tenant_slug: str,
    password: str,
) -> GitAccess | None:
    """Return what `password` (a token) may do with `tenant_slug`'s repository.

    None means the token is not valid at all (the client is asked to log in again);
    no access at all is answered "not found" by the Git app, so tenants cannot be probed.
    """
    if token_kind(password) not in (TokenKind.API, TokenKind.ENDPOINT):
        return None
    try:
        identity = await authenticate(session, settings, password, identities)
    except TenantSuspended as suspended:
        # A token of this very tenant learns why (403); another tenant's is "not found".
        if suspended.slug != tenant_slug:
            return GitAccess(can_read=False, can_write=False)
        return GitAccess(can_read=False, can_write=False, refusal=suspended.message)
    except AuthenticationFailed:
        return None
    principal = identity.principal
    if principal.tenant_slug != tenant_slug:
        return GitAccess(can_read=False, can_write=False)
    # The same rules as GraphQL: fetching is a read, pushing a change.
    try:
        principal.require_read("Fetching the repository", endpoints=True)
    except PermissionDenied as error:
        return GitAccess(can_read=False, can_write=False, refusal=error.message)
    # Endpoints only ever fetch; people push with a write-scoped API token.
    can_write = principal.kind is PrincipalKind.API_TOKEN
    try:
        principal.require_write("Pushing to the repository")
    except PermissionDenied:
        can_write = False
    quotas = effective_quotas(settings.quotas, identity.tenant.quota_overrides)
    return GitAccess(can_read=True, can_write=can_write, max_jobs=quotas.jobs)


async def tenant_by_slug(session: AsyncSession, slug: str) -> Tenant | None:
    """Return the tenant a repository belongs to."""
    return await session.scalar(select(Tenant).where(Tenant.slug == slug))
