"""Personal API tokens: created once in plaintext, stored hashed, revocable."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crontopus.server.db.keyset import newest_first
from crontopus.server.db.models import ApiToken, Role
from crontopus.server.db.search import contains_pattern
from crontopus.server.errors import FieldProblem, NotFound, PermissionDenied, ValidationFailed
from crontopus.server.security.identity_cache import IdentityCache
from crontopus.server.security.principal import Principal, Scope
from crontopus.server.security.tokens import TokenKind, issue_token
from crontopus.server.services.audit import record_audit
from crontopus.server.services.quotas import Quota, require_row_room
from crontopus.server.settings import Quotas

MAX_EXPIRY_DAYS = 3650
MAX_TOKENS_PER_USER = 100


async def create_api_token(
    session: AsyncSession,
    principal: Principal,
    name: str,
    scopes: Sequence[Scope],
    expires_in_days: int | None,
    *,
    quotas: Quotas,
) -> tuple[ApiToken, str]:
    """Create a token for the calling user; return the row and the plaintext (shown once)."""
    principal.require_session("Creating API tokens")
    assert principal.user_id is not None
    problems = []
    name = name.strip()
    if not 1 <= len(name) <= 100:
        problems.append(FieldProblem(("name",), "must be 1-100 characters"))
    if not scopes:
        problems.append(FieldProblem(("scopes",), "choose at least one of READ, WRITE, CHECKIN"))
    if expires_in_days is not None and not 1 <= expires_in_days <= MAX_EXPIRY_DAYS:
        problems.append(
            FieldProblem(("expiresInDays",), f"must be between 1 and {MAX_EXPIRY_DAYS} days")
        )
    if problems:
        raise ValidationFailed(problems)
    if principal.role is Role.VIEWER and set(scopes) - {Scope.READ}:
        raise PermissionDenied("viewers can only create tokens with the READ scope")
    count = len(await list_api_tokens(session, principal))
    if count >= MAX_TOKENS_PER_USER:
        raise ValidationFailed.single(
            "name", f"you already have {MAX_TOKENS_PER_USER} tokens; revoke unused ones first"
        )
    await require_row_room(session, Quota.API_TOKENS, quotas, principal.tenant_id)
    issued = issue_token(TokenKind.API)
    token = ApiToken(
        id=uuid.uuid4(),
        tenant_id=principal.tenant_id,
        user_id=principal.user_id,
        name=name,
        token_hash=issued.digest,
        hint=issued.hint,
        scopes=sorted({s.value for s in scopes}),
        expires_at=(
            datetime.now(UTC) + timedelta(days=expires_in_days) if expires_in_days else None
        ),
    )
    session.add(token)
    record_audit(
        session, principal, "api_token.create", f"api_token:{name}", {"scopes": token.scopes}
    )
    await session.commit()
    return token, issued.plaintext


async def list_api_tokens(session: AsyncSession, principal: Principal) -> Sequence[ApiToken]:
    """Return the calling user's tokens in this tenant, newest first (never the secrets)."""
    principal.require_read("Listing API tokens")
    query = (
        select(ApiToken)
        .where(ApiToken.tenant_id == principal.tenant_id, ApiToken.user_id == principal.user_id)
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    )
    return (await session.scalars(query)).all()


async def page_api_tokens(
    session: AsyncSession,
    principal: Principal,
    first: int,
    after: tuple[datetime, uuid.UUID] | None,
    search: str | None = None,
) -> Sequence[ApiToken]:
    """Return up to `first` + 1 of the caller's tokens, newest first, after a keyset cursor.

    `search` matches part of the token's name, any case.
    """
    principal.require_read("Listing API tokens")
    query = select(ApiToken).where(
        ApiToken.tenant_id == principal.tenant_id, ApiToken.user_id == principal.user_id
    )
    if search is not None:
        query = query.where(ApiToken.name.ilike(contains_pattern(search), escape="\\"))
    query = newest_first(query, ApiToken.created_at, ApiToken.id, first, after)
    return (await session.scalars(query)).all()


async def revoke_api_token(
    session: AsyncSession,
    principal: Principal,
    token_id: uuid.UUID,
    identities: IdentityCache | None = None,
) -> ApiToken:
    """Revoke one of the caller's tokens; admins may revoke any token in the tenant."""
    # Anyone may end their own tokens (viewers too), but a token needs the write scope for it.
    principal.require_read("Revoking API tokens")
    if not principal.has_scope(Scope.WRITE):
        raise PermissionDenied("Revoking API tokens needs a token with the write scope")
    query = select(ApiToken).where(
        ApiToken.id == token_id, ApiToken.tenant_id == principal.tenant_id
    )
    if principal.role.rank < Role.ADMIN.rank:
        query = query.where(ApiToken.user_id == principal.user_id)
    token = await session.scalar(query)
    if token is None:
        raise NotFound("no such API token")
    if token.revoked_at is None:
        token.revoked_at = datetime.now(UTC)
        record_audit(session, principal, "api_token.revoke", f"api_token:{token.name}")
        await session.commit()
    if identities is not None:
        identities.forget_token(token.token_hash)
    return token
