"""Enrollment: tokens admins hand out, and the one call an agent makes to join the fleet."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crontopus.server.db.models import Endpoint, EnrollmentToken, Role, Tenant
from crontopus.server.errors import (
    AuthenticationFailed,
    Conflict,
    FieldProblem,
    NotFound,
    ValidationFailed,
)
from crontopus.server.events.broadcaster import Broadcaster
from crontopus.server.security.identity_cache import IdentityCache
from crontopus.server.security.principal import Principal, PrincipalKind, Scope
from crontopus.server.security.tokens import TokenKind, digest, issue_token, token_kind
from crontopus.server.services.audit import record_audit
from crontopus.server.services.endpoints import (
    EndpointEventKind,
    label_problems,
    publish_endpoint_event,
    text_problem,
)
from crontopus.server.services.quotas import Quota, require_row_room
from crontopus.server.settings import Quotas

MAX_EXPIRY_DAYS = 3650
MAX_USES = 1_000_000
MAX_DRIVERS = 20


@dataclass(frozen=True)
class Enrollment:
    """What an agent says about its machine when it enrolls."""

    name: str
    hostname: str
    platform: str
    machine_id: str
    agent_version: str
    drivers: Sequence[str] = ()
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Enrolled:
    """The endpoint, its new token (shown once) and whether the machine was known already."""

    endpoint: Endpoint
    token: str
    reused: bool


async def create_enrollment_token(
    session: AsyncSession,
    principal: Principal,
    name: str,
    expires_in_days: int | None,
    max_uses: int | None,
    *,
    quotas: Quotas,
) -> tuple[EnrollmentToken, str]:
    """Create an enrollment token; return the row and its plaintext (shown once)."""
    principal.require_admin("Creating enrollment tokens")
    name = name.strip()
    problems = []
    if not 1 <= len(name) <= 100:
        problems.append(FieldProblem(("name",), "must be 1-100 characters"))
    if expires_in_days is not None and not 1 <= expires_in_days <= MAX_EXPIRY_DAYS:
        problems.append(
            FieldProblem(("expiresInDays",), f"must be between 1 and {MAX_EXPIRY_DAYS} days")
        )
    if max_uses is not None and not 1 <= max_uses <= MAX_USES:
        problems.append(
            FieldProblem(("maxUses",), f"must be between 1 and {MAX_USES} (leave it out: no limit)")
        )
    if problems:
        raise ValidationFailed(problems)
    await require_row_room(session, Quota.ENROLLMENT_TOKENS, quotas, principal.tenant_id)
    issued = issue_token(TokenKind.ENROLLMENT)
    token = EnrollmentToken(
        id=uuid.uuid4(),
        tenant_id=principal.tenant_id,
        name=name,
        token_hash=issued.digest,
        hint=issued.hint,
        created_by=principal.label,
        expires_at=(
            datetime.now(UTC) + timedelta(days=expires_in_days) if expires_in_days else None
        ),
        max_uses=max_uses,
        use_count=0,
    )
    session.add(token)
    record_audit(
        session,
        principal,
        "enrollment_token.create",
        f"enrollment_token:{name}",
        {"maxUses": max_uses, "expiresInDays": expires_in_days},
    )
    await session.commit()
    return token, issued.plaintext


async def list_enrollment_tokens(
    session: AsyncSession, principal: Principal
) -> Sequence[EnrollmentToken]:
    """Return the tenant's enrollment tokens, newest first (never the secrets)."""
    principal.require_admin_read("Listing enrollment tokens")
    query = (
        select(EnrollmentToken)
        .where(EnrollmentToken.tenant_id == principal.tenant_id)
        .order_by(EnrollmentToken.created_at.desc(), EnrollmentToken.id.desc())
    )
    return (await session.scalars(query)).all()


async def revoke_enrollment_token(
    session: AsyncSession, principal: Principal, token_id: uuid.UUID
) -> EnrollmentToken:
    """Revoke an enrollment token; endpoints it enrolled keep working."""
    principal.require_admin("Revoking enrollment tokens")
    token = await session.scalar(
        select(EnrollmentToken).where(
            EnrollmentToken.id == token_id, EnrollmentToken.tenant_id == principal.tenant_id
        )
    )
    if token is None:
        raise NotFound("no such enrollment token")
    if token.revoked_at is None:
        token.revoked_at = datetime.now(UTC)
        record_audit(
            session, principal, "enrollment_token.revoke", f"enrollment_token:{token.name}"
        )
        await session.commit()
    return token


def enrollment_problems(request: Enrollment) -> list[FieldProblem]:
    """Return every problem of an enrollment request, field by field."""
    checks = [
        text_problem(request.name, ("name",), 200),
        text_problem(request.hostname, ("hostname",), 255),
        text_problem(request.platform, ("platform",), 100),
        text_problem(request.machine_id, ("machineId",), 128),
        text_problem(request.agent_version, ("agentVersion",), 50),
    ]
    problems = [p for p in checks if p is not None]
    if len(request.drivers) > MAX_DRIVERS:
        problems.append(FieldProblem(("drivers",), f"lists more than {MAX_DRIVERS} drivers"))
    for driver in request.drivers:
        if (problem := text_problem(driver, ("drivers",), 50)) is not None:
            problems.append(problem)
    problems.extend(label_problems(request.labels))
    return problems


async def _claim_use(session: AsyncSession, plaintext: str) -> EnrollmentToken:
    """Count one use of the token, atomically refusing a used-up, expired or revoked one."""
    if token_kind(plaintext) is not TokenKind.ENROLLMENT:
        raise AuthenticationFailed(
            "enrollmentToken: not an enrollment token (they start with cten_ and were shown "
            "once when created); check that it was copied whole"
        )
    token_digest = digest(plaintext)
    token = await session.scalar(
        select(EnrollmentToken).where(EnrollmentToken.token_hash == token_digest)
    )
    if token is None:
        raise AuthenticationFailed("enrollmentToken: unknown enrollment token")
    now = datetime.now(UTC)
    if token.revoked_at is not None:
        raise AuthenticationFailed("enrollmentToken: this enrollment token was revoked")
    if token.expires_at is not None and token.expires_at <= now:
        raise AuthenticationFailed(
            "enrollmentToken: this enrollment token has expired; ask an admin for a new one"
        )
    # One conditional UPDATE: two agents racing for the last use cannot both get it.
    claimed = await session.execute(
        update(EnrollmentToken)
        .where(
            EnrollmentToken.id == token.id,
            EnrollmentToken.revoked_at.is_(None),
            or_(EnrollmentToken.expires_at.is_(None), EnrollmentToken.expires_at > now),
            or_(
                EnrollmentToken.max_uses.is_(None),
                EnrollmentToken.use_count < EnrollmentToken.max_uses,
            ),
        )
        .values(use_count=EnrollmentToken.use_count + 1, last_used_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(claimed, "rowcount", 0) != 1:
        if token.max_uses is None:
            raise AuthenticationFailed(
                "enrollmentToken: this enrollment token was revoked or expired just now"
            )
        raise AuthenticationFailed(
            f"enrollmentToken: this enrollment token was used its {token.max_uses} times "
            "already; ask an admin for a new one"
        )
    return token


async def enroll_endpoint(
    session: AsyncSession,
    broadcaster: Broadcaster,
    identities: IdentityCache,
    enrollment_token: str,
    request: Enrollment,
    *,
    quotas: Quotas,
) -> Enrolled:
    """Enroll a machine with an enrollment token; the same machine id reuses its endpoint."""
    if problems := enrollment_problems(request):
        raise ValidationFailed(problems)
    try:
        return await _enroll(session, broadcaster, identities, enrollment_token, request, quotas)
    except IntegrityError:
        # The same machine enrolled concurrently and won the insert: take its endpoint over.
        await session.rollback()
    try:
        return await _enroll(session, broadcaster, identities, enrollment_token, request, quotas)
    except IntegrityError:
        await session.rollback()
        raise Conflict("machineId: this machine is enrolling twice at once; retry") from None


async def _enroll(
    session: AsyncSession,
    broadcaster: Broadcaster,
    identities: IdentityCache,
    enrollment_token: str,
    request: Enrollment,
    quotas: Quotas,
) -> Enrolled:
    token = await _claim_use(session, enrollment_token)
    tenant = await session.get_one(Tenant, token.tenant_id)
    endpoint = await session.scalar(
        select(Endpoint)
        .where(Endpoint.tenant_id == tenant.id, Endpoint.machine_id == request.machine_id)
        .with_for_update()
    )
    issued = issue_token(TokenKind.ENDPOINT)
    now = datetime.now(UTC)
    old_digest = endpoint.token_hash if endpoint is not None else None
    if endpoint is None or endpoint.revoked_at is not None:
        # A new machine, or a revoked one coming back: either adds a live endpoint.
        await require_row_room(session, Quota.ENDPOINTS, quotas, tenant.id)
    if endpoint is None:
        endpoint = Endpoint(id=uuid.uuid4(), tenant_id=tenant.id, machine_id=request.machine_id)
        session.add(endpoint)
    endpoint.name = request.name.strip()
    endpoint.hostname = request.hostname.strip()
    endpoint.platform = request.platform.strip()
    endpoint.agent_version = request.agent_version.strip()
    endpoint.drivers = list(request.drivers)
    endpoint.labels = dict(sorted(request.labels.items()))
    endpoint.token_hash = issued.digest
    endpoint.enrolled_at = now
    endpoint.last_seen_at = now
    # A fresh enrollment token is an admin's new consent: it reinstates a revoked machine.
    endpoint.revoked_at = None
    await session.flush()
    actor = Principal(
        kind=PrincipalKind.ENDPOINT,
        tenant_id=tenant.id,
        tenant_slug=tenant.slug,
        role=Role.VIEWER,
        scopes=frozenset({Scope.READ, Scope.CHECKIN}),
        endpoint_id=endpoint.id,
    )
    record_audit(
        session,
        actor,
        "endpoint.reenroll" if old_digest else "endpoint.enroll",
        f"endpoint:{endpoint.name}",
        {
            "endpointId": str(endpoint.id),
            "machineId": endpoint.machine_id,
            "enrollmentToken": token.name,
        },
    )
    await session.commit()
    if old_digest is not None:
        identities.forget_token(old_digest)
    await publish_endpoint_event(broadcaster, endpoint, EndpointEventKind.ENROLLED)
    return Enrolled(endpoint=endpoint, token=issued.plaintext, reused=old_digest is not None)
