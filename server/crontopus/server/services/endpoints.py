"""Endpoints: enrolled machines, their heartbeats, their derived status and their revocation."""

from __future__ import annotations

import re
import uuid
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from crontopus.core.enums import EndpointStatus
from crontopus.core.labels import label_key_problem, label_value_problem
from crontopus.core.limits import MAX_LABELS
from crontopus.server.db.engine import SessionFactory
from crontopus.server.db.models import Endpoint, JobInstance
from crontopus.server.db.types import utcnow
from crontopus.server.errors import (
    AuthenticationFailed,
    FieldProblem,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from crontopus.server.events.broadcaster import Broadcaster
from crontopus.server.events.codec import to_event
from crontopus.server.events.topics import EndpointChanged, EndpointEventKind
from crontopus.server.security.identity_cache import IdentityCache
from crontopus.server.security.principal import Principal, PrincipalKind
from crontopus.server.services.audit import record_audit
from crontopus.server.services.channel import announce_labels, announce_revocation
from crontopus.server.services.presence import is_online, online_condition
from crontopus.server.settings import Settings

ENDPOINT_EVENTS = EndpointChanged.TOPIC
MAX_VERSION_LENGTH = 50
MAX_DRIVER_LENGTH = 50
_COMMIT_ID = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")


@dataclass(frozen=True)
class EndpointFilter:
    """Which endpoints a listing shows; the fields combine with AND."""

    status: EndpointStatus | None = None
    platform: str | None = None
    search: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Heartbeat:
    """What an agent tells the server every heartbeat interval."""

    agent_version: str
    driver: str | None = None
    applied_commit: str | None = None


def endpoint_status(endpoint: Endpoint, settings: Settings, now: datetime) -> EndpointStatus:
    """Derive an endpoint's status from its revocation and its last heartbeat."""
    if endpoint.revoked_at is not None:
        return EndpointStatus.REVOKED
    if is_online(endpoint.last_seen_at, now, settings.offline_after):
        return EndpointStatus.ONLINE
    return EndpointStatus.OFFLINE


def require_endpoint(principal: Principal, action: str) -> uuid.UUID:
    """Return the calling endpoint's id; refuse people and their tokens."""
    if principal.kind is not PrincipalKind.ENDPOINT or principal.endpoint_id is None:
        raise PermissionDenied(
            f"{action} is sent by an agent with its endpoint token (cte_…), not by a person"
        )
    return principal.endpoint_id


def label_problems(labels: Mapping[str, str], argument: str = "labels") -> list[FieldProblem]:
    """Return every problem of an endpoint's labels (Kubernetes label rules)."""
    problems = []
    if len(labels) > MAX_LABELS:
        problems.append(
            FieldProblem((argument,), f"has {len(labels)} labels, more than {MAX_LABELS}")
        )
    for key, value in labels.items():
        problem = label_key_problem(key) or label_value_problem(value)
        if problem is not None:
            problems.append(FieldProblem((argument, key), problem))
    return problems


def text_problem(value: str, path: tuple[str, ...], maximum: int) -> FieldProblem | None:
    """Check a short one-line text field (names, versions, platforms)."""
    if not value.strip():
        return FieldProblem(path, "is blank: fill it in")
    if len(value) > maximum:
        return FieldProblem(path, f"is longer than {maximum} characters: shorten it")
    if not value.isprintable():
        return FieldProblem(path, "holds a line break or control character: keep it on one line")
    return None


async def get_endpoint(
    session: AsyncSession, principal: Principal, endpoint_id: uuid.UUID
) -> Endpoint:
    """Return one endpoint of the tenant (an agent sees only itself), or NotFound."""
    principal.require_read("Reading endpoints", endpoints=True)
    endpoint = await session.scalar(
        select(Endpoint).where(
            Endpoint.id == endpoint_id, Endpoint.tenant_id == principal.tenant_id
        )
    )
    visible = principal.kind is not PrincipalKind.ENDPOINT or principal.endpoint_id == endpoint_id
    if endpoint is None or not visible:
        raise NotFound(f"no endpoint with id {endpoint_id}")
    return endpoint


def _status_condition(
    status: EndpointStatus, now: datetime, offline_after: timedelta
) -> ColumnElement[bool]:
    if status is EndpointStatus.REVOKED:
        return Endpoint.revoked_at.is_not(None)
    online = online_condition(now, offline_after)
    if status is EndpointStatus.ONLINE:
        return Endpoint.revoked_at.is_(None) & online
    return Endpoint.revoked_at.is_(None) & or_(Endpoint.last_seen_at.is_(None), ~online)


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def list_endpoints(
    session: AsyncSession,
    principal: Principal,
    settings: Settings,
    wanted: EndpointFilter,
    first: int,
    after: tuple[str, uuid.UUID] | None,
    *,
    now: datetime | None = None,
) -> Sequence[Endpoint]:
    """Return up to `first` + 1 endpoints ordered by (name, id), after a keyset cursor."""
    principal.require_read("Listing endpoints")
    query = select(Endpoint).where(Endpoint.tenant_id == principal.tenant_id)
    if wanted.status is not None:
        query = query.where(
            _status_condition(wanted.status, now or utcnow(), settings.offline_after)
        )
    if wanted.platform:
        query = query.where(Endpoint.platform == wanted.platform)
    if wanted.search and wanted.search.strip():
        pattern = _like(wanted.search.strip())
        query = query.where(
            or_(
                Endpoint.name.ilike(pattern, escape="\\"),
                Endpoint.hostname.ilike(pattern, escape="\\"),
            )
        )
    for key, value in wanted.labels.items():
        # JSON element access compiles to json_extract on SQLite and ->> on PostgreSQL.
        query = query.where(Endpoint.labels[key].as_string() == value)
    if after is not None:
        query = query.where(tuple_(Endpoint.name, Endpoint.id) > tuple_(*after))
    query = query.order_by(Endpoint.name, Endpoint.id).limit(first + 1)
    return (await session.scalars(query)).all()


async def list_active_endpoints(session: AsyncSession, tenant_id: uuid.UUID) -> Sequence[Endpoint]:
    """Return every endpoint of a tenant that is not revoked, by name (for drift checks)."""
    query = (
        select(Endpoint)
        .where(Endpoint.tenant_id == tenant_id, Endpoint.revoked_at.is_(None))
        .order_by(Endpoint.name, Endpoint.id)
    )
    return (await session.scalars(query)).all()


async def revoke_endpoint(
    session: AsyncSession,
    broadcaster: Broadcaster,
    identities: IdentityCache,
    principal: Principal,
    endpoint_id: uuid.UUID,
) -> Endpoint:
    """Revoke an endpoint: its token stops working at once and its instances are forgotten."""
    principal.require_admin("Revoking endpoints")
    endpoint = await get_endpoint(session, principal, endpoint_id)
    return await _revoke(session, broadcaster, identities, principal, endpoint, "endpoint.revoke")


async def unenroll_endpoint(
    session: AsyncSession,
    broadcaster: Broadcaster,
    identities: IdentityCache,
    principal: Principal,
) -> Endpoint:
    """Revoke the calling endpoint: its agent leaves the fleet (`crontopus-agent unenroll`)."""
    endpoint_id = require_endpoint(principal, "Unenrolling")
    endpoint = await get_endpoint(session, principal, endpoint_id)
    return await _revoke(session, broadcaster, identities, principal, endpoint, "endpoint.unenroll")


async def _revoke(
    session: AsyncSession,
    broadcaster: Broadcaster,
    identities: IdentityCache,
    principal: Principal,
    endpoint: Endpoint,
    action: str,
) -> Endpoint:
    if endpoint.revoked_at is not None:
        return endpoint
    endpoint.revoked_at = utcnow()
    # What a revoked machine's scheduler holds is no longer known; keeping it would show as drift.
    await session.execute(
        delete(JobInstance).where(
            JobInstance.tenant_id == endpoint.tenant_id, JobInstance.endpoint_id == endpoint.id
        )
    )
    record_audit(
        session,
        principal,
        action,
        f"endpoint:{endpoint.name}",
        {"endpointId": str(endpoint.id), "machineId": endpoint.machine_id},
    )
    await session.commit()
    identities.forget_token(endpoint.token_hash)
    await publish_endpoint_event(broadcaster, endpoint, EndpointEventKind.REVOKED)
    await announce_revocation(broadcaster, endpoint.tenant_id, endpoint.id)
    return endpoint


@dataclass(frozen=True)
class EndpointChange:
    """What an admin changes on an endpoint; None keeps the current value."""

    name: str | None = None
    labels: Mapping[str, str] | None = None


def change_problems(change: EndpointChange) -> list[FieldProblem]:
    """Return every problem of an endpoint change, with the enrollment's rules."""
    problems = []
    if change.name is not None and (problem := text_problem(change.name, ("name",), 200)):
        problems.append(problem)
    if change.labels is not None:
        problems.extend(label_problems(change.labels))
    return problems


async def update_endpoint(
    session: AsyncSession,
    broadcaster: Broadcaster,
    principal: Principal,
    endpoint_id: uuid.UUID,
    change: EndpointChange,
) -> Endpoint:
    """Rename an endpoint or replace its labels (admins); its agent is told new labels at once."""
    principal.require_admin("Changing endpoints")
    if problems := change_problems(change):
        raise ValidationFailed(problems)
    endpoint = await get_endpoint(session, principal, endpoint_id)
    changed: dict[str, object] = {}
    if change.name is not None and change.name.strip() != endpoint.name:
        changed["name"] = {"from": endpoint.name, "to": change.name.strip()}
        endpoint.name = change.name.strip()
    if change.labels is not None and dict(change.labels) != endpoint.labels:
        changed["labels"] = {"from": endpoint.labels, "to": dict(sorted(change.labels.items()))}
        # A new dict, not an in-place edit: the JSON column only sees assignments.
        endpoint.labels = dict(sorted(change.labels.items()))
    if not changed:
        return endpoint
    record_audit(
        session,
        principal,
        "endpoint.edit",
        f"endpoint:{endpoint.name}",
        {"endpointId": str(endpoint.id), **changed},
    )
    await session.commit()
    await publish_endpoint_event(broadcaster, endpoint, EndpointEventKind.UPDATED)
    if "labels" in changed:
        # Its jobs are chosen by label: the agent hears it now, not at its next heartbeat.
        await announce_labels(broadcaster, endpoint.tenant_id, endpoint.id, endpoint.labels)
    return endpoint


def heartbeat_problems(heartbeat: Heartbeat) -> list[FieldProblem]:
    """Return every problem of a heartbeat's fields."""
    checks = [text_problem(heartbeat.agent_version, ("input", "agentVersion"), MAX_VERSION_LENGTH)]
    if heartbeat.driver is not None:
        checks.append(text_problem(heartbeat.driver, ("input", "driver"), MAX_DRIVER_LENGTH))
    problems = [p for p in checks if p is not None]
    if heartbeat.applied_commit is not None and not _COMMIT_ID.match(heartbeat.applied_commit):
        problems.append(
            FieldProblem(
                ("input", "appliedCommit"),
                "must be a full Git commit id (40 or 64 lowercase hex digits)",
            )
        )
    return problems


async def record_heartbeat(
    session: AsyncSession,
    broadcaster: Broadcaster,
    settings: Settings,
    principal: Principal,
    heartbeat: Heartbeat,
) -> Endpoint:
    """Record that the calling agent is alive, what it runs and which commit it applied."""
    endpoint_id = require_endpoint(principal, "A heartbeat")
    if problems := heartbeat_problems(heartbeat):
        raise ValidationFailed(problems)
    endpoint = await get_endpoint(session, principal, endpoint_id)
    if endpoint.revoked_at is not None:
        raise AuthenticationFailed("this endpoint was revoked; enroll the agent again")
    now = utcnow()
    came_back = endpoint_status(endpoint, settings, now) is EndpointStatus.OFFLINE
    changed = {
        name: value
        for name, old, value in (
            ("agentVersion", endpoint.agent_version, heartbeat.agent_version),
            ("driver", endpoint.driver, heartbeat.driver),
        )
        if old != value
    }
    values = {
        "last_seen_at": now,
        "agent_version": heartbeat.agent_version,
        "driver": heartbeat.driver,
        "applied_commit": heartbeat.applied_commit,
    }
    # Conditional on not revoked: a revocation racing this heartbeat must win.
    result = await session.execute(
        update(Endpoint)
        .where(Endpoint.id == endpoint.id, Endpoint.revoked_at.is_(None))
        .values(values)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        await session.rollback()
        raise AuthenticationFailed("this endpoint was revoked; enroll the agent again")
    # Heartbeats arrive every few seconds per machine: auditing each one would drown the
    # log, so only changes of what the machine runs are recorded.
    if changed:
        record_audit(session, principal, "endpoint.update", f"endpoint:{endpoint.name}", changed)
    await session.commit()
    for name, value in values.items():
        # What the UPDATE wrote, without another round trip to read it back.
        set_committed_value(endpoint, name, value)
    if came_back:
        await publish_endpoint_event(broadcaster, endpoint, EndpointEventKind.ONLINE)
    return endpoint


async def publish_endpoint_event(
    broadcaster: Broadcaster, endpoint: Endpoint, kind: EndpointEventKind
) -> None:
    """Announce an endpoint's change to the tenant's `endpointEvents` subscribers."""
    payload = EndpointChanged(kind, endpoint.id, endpoint.name, utcnow())
    await broadcaster.publish(to_event(endpoint.tenant_id, payload))


# Where each process's last offline check ended, per database (keyed by session factory):
# an endpoint that crossed the threshold in (previous check, this check] is announced once.
_checked_until: weakref.WeakKeyDictionary[SessionFactory, datetime] = weakref.WeakKeyDictionary()


async def detect_offline(
    session_factory: SessionFactory,
    broadcaster: Broadcaster,
    settings: Settings,
    *,
    now: datetime | None = None,
) -> int:
    """Announce endpoints that went offline since the previous check; return how many."""
    now = now or utcnow()
    previous = _checked_until.get(session_factory)
    if previous is None or previous > now:
        # First check of this process: look back one interval, so a restart misses little.
        previous = now - timedelta(seconds=settings.heartbeat_interval)
    threshold = settings.offline_after
    async with session_factory() as session:
        rows = (
            await session.scalars(
                select(Endpoint).where(
                    Endpoint.revoked_at.is_(None),
                    # Online at the previous check, not online now: each crossing is seen once.
                    online_condition(previous, threshold),
                    ~online_condition(now, threshold),
                )
            )
        ).all()
    _checked_until[session_factory] = now
    for endpoint in rows:
        await publish_endpoint_event(broadcaster, endpoint, EndpointEventKind.OFFLINE)
    return len(rows)
