"""Enrollment: tokens admins hand out, and the one call an agent makes to join the fleet."""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crontopus.server.db.models import Endpoint, EnrollmentToken, PendingEnrollment, Role, Tenant
from crontopus.server.errors import (
    AuthenticationFailed,
    Conflict,
    FieldProblem,
    NotFound,
    TenantSuspended,
    ValidationFailed,
)
from crontopus.server.events.broadcaster import Broadcaster
from crontopus.server.events.topics import EndpointEventKind
from crontopus.server.security.identity_cache import IdentityCache
from crontopus.server.security.principal import Principal, PrincipalKind, Scope
from crontopus.server.security.tokens import TokenKind, digest, issue_token, token_kind
from crontopus.server.services.audit import record_audit
from crontopus.server.services.endpoints import (
    label_problems,
    publish_endpoint_event,
    text_problem,
)
from crontopus.server.services.quotas import Quota, effective_quotas, require_row_room
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
    """The endpoint, its new token (shown once) and whether the machine was known already.

    `pending` is set when the machine was known and gave no proof: the token starts working
    once an admin approves the request.
    """

    endpoint: Endpoint
    token: str
    reused: bool
    pending: PendingEnrollment | None = None


async def create_enrollment_token(
    session: AsyncSession,
    principal: Principal,
    name: str,
    expires_in_days: int | None,
    max_uses: int | None,
    *,
    quotas: Quotas,
    default_days: int = 7,
) -> tuple[EnrollmentToken, str]:
    """Create an enrollment token; return the row and its plaintext (shown once).

    Without `expires_in_days` it expires after `default_days` (CRONTOPUS_ENROLLMENT_TOKEN_DAYS):
    a token lying in a script or a wiki must not enroll machines forever.
    """
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
    expires_in_days = expires_in_days or default_days
    issued = issue_token(TokenKind.ENROLLMENT)
    token = EnrollmentToken(
        id=uuid.uuid4(),
        tenant_id=principal.tenant_id,
        name=name,
        token_hash=issued.digest,
        hint=issued.hint,
        created_by=principal.label,
        expires_at=datetime.now(UTC) + timedelta(days=expires_in_days),
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
    proof: str | None = None,
    address: str = "unknown",
) -> Enrolled:
    """Enroll a machine with an enrollment token.

    A machine id seen before takes its endpoint over only with `proof`, the endpoint's current
    token (as GitHub and GitLab runners re-register with theirs); without it, or when the
    endpoint was revoked, the request waits for an admin's approval instead (see
    `reenrollment.py`). A revoked endpoint is never reinstated without one.
    """
    if problems := enrollment_problems(request):
        raise ValidationFailed(problems)
    args = (session, broadcaster, identities, enrollment_token, request, quotas, proof, address)
    try:
        return await _enroll(*args)
    except IntegrityError:
        # The same machine enrolled concurrently and won the insert: try again against it.
        await session.rollback()
    try:
        return await _enroll(*args)
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
    proof: str | None,
    address: str,
) -> Enrolled:
    token = await _claim_use(session, enrollment_token)
    tenant = await session.get_one(Tenant, token.tenant_id)
    if tenant.suspended_at is not None:
        # Raised before anything commits: the token's use is not spent.
        raise TenantSuspended(tenant.slug, tenant.suspension_reason)
    quotas = effective_quotas(quotas, tenant.quota_overrides)
    endpoint = await session.scalar(
        select(Endpoint)
        .where(Endpoint.tenant_id == tenant.id, Endpoint.machine_id == request.machine_id)
        .with_for_update()
    )
    issued = issue_token(TokenKind.ENDPOINT)
    if endpoint is not None and not _proves(endpoint, proof):
        pending = await hold_for_approval(
            session, tenant, endpoint, request, issued.digest, token.name, address
        )
        return Enrolled(endpoint=endpoint, token=issued.plaintext, reused=True, pending=pending)
    now = datetime.now(UTC)
    old_digest = endpoint.token_hash if endpoint is not None else None
    if endpoint is None:
        # A new machine adds a live endpoint (a revoked one comes back only by approval).
        await require_row_room(session, Quota.ENDPOINTS, quotas, tenant.id)
    if endpoint is None:
        endpoint = Endpoint(id=uuid.uuid4(), tenant_id=tenant.id, machine_id=request.machine_id)
        session.add(endpoint)
    apply_enrollment(endpoint, request, issued.digest, now)
    await session.flush()
    actor = endpoint_actor(tenant, endpoint)
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


async def hold_for_approval(
    session: AsyncSession,
    tenant: Tenant,
    endpoint: Endpoint,
    request: Enrollment,
    token_digest: str,
    enrollment_token: str,
    address: str,
) -> PendingEnrollment:
    """Keep a re-enrollment without proof for an admin to approve; a newer one replaces it."""
    await session.execute(
        delete(PendingEnrollment).where(
            PendingEnrollment.tenant_id == tenant.id,
            PendingEnrollment.machine_id == endpoint.machine_id,
        )
    )
    pending = PendingEnrollment(
        id=uuid.uuid4(),
        tenant_id=tenant.id,
        endpoint_id=endpoint.id,
        machine_id=endpoint.machine_id,
        name=request.name.strip(),
        hostname=request.hostname.strip(),
        platform=request.platform.strip(),
        agent_version=request.agent_version.strip(),
        drivers=list(request.drivers),
        labels=dict(sorted(request.labels.items())),
        token_hash=token_digest,
        enrollment_token=enrollment_token,
        requested_from=address[:64],
        requested_at=datetime.now(UTC),
    )
    session.add(pending)
    record_audit(
        session,
        endpoint_actor(tenant, endpoint),
        "endpoint.reenroll.request",
        f"endpoint:{endpoint.name}",
        {
            "endpointId": str(endpoint.id),
            "machineId": endpoint.machine_id,
            "enrollmentToken": enrollment_token,
            "from": address,
            "revoked": endpoint.revoked_at is not None,
        },
    )
    await session.commit()
    return pending


def _proves(endpoint: Endpoint, proof: str | None) -> bool:
    """Whether `proof` is the current token of a live endpoint (constant time)."""
    if proof is None or endpoint.revoked_at is not None:
        return False
    return hmac.compare_digest(digest(proof), endpoint.token_hash)


def apply_enrollment(
    endpoint: Endpoint, request: Enrollment, token_digest: str, now: datetime
) -> None:
    """Make `endpoint` what the machine said it is, with a new token (the old one dies)."""
    endpoint.name = request.name.strip()
    endpoint.hostname = request.hostname.strip()
    endpoint.platform = request.platform.strip()
    endpoint.agent_version = request.agent_version.strip()
    endpoint.drivers = list(request.drivers)
    endpoint.labels = dict(sorted(request.labels.items()))
    endpoint.token_hash = token_digest
    endpoint.enrolled_at = now
    endpoint.last_seen_at = now
    endpoint.revoked_at = None


def endpoint_actor(tenant: Tenant, endpoint: Endpoint) -> Principal:
    """The endpoint as the actor of its own audit events."""
    return Principal(
        kind=PrincipalKind.ENDPOINT,
        tenant_id=tenant.id,
        tenant_slug=tenant.slug,
        role=Role.VIEWER,
        scopes=frozenset({Scope.READ, Scope.CHECKIN}),
        endpoint_id=endpoint.id,
    )
