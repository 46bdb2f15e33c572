"""The runtime data Crontopus keeps in its database (jobs live in Git, not here)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Double,
    Enum,
    ForeignKey,
    Index,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from crontopus.core.enums import RunStatus, RunTrigger
from crontopus.server.db.types import UTCDateTime, utcnow

# Explicit constraint names keep Alembic revisions identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON}


class Role(enum.StrEnum):
    """What a member may do in a tenant, strongest first."""

    OWNER = "OWNER"
    ADMIN = "ADMIN"
    MEMBER = "MEMBER"
    VIEWER = "VIEWER"

    @property
    def rank(self) -> int:
        return {"OWNER": 3, "ADMIN": 2, "MEMBER": 1, "VIEWER": 0}[self.value]


def _enum(kind: type[enum.Enum], name: str) -> Enum:
    # Stored as VARCHAR plus a CHECK constraint: adding a value later is a plain migration.
    return Enum(kind, name=name, native_enum=False, create_constraint=True, length=16)


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set by a platform operator: the tenant's people, tokens and agents are refused meanwhile
    # (check-ins are still stored), until it is resumed.
    suspended_at: Mapped[datetime | None]
    suspension_reason: Mapped[str | None] = mapped_column(String(500))
    # Quota name (`Quotas` field) → limit, overriding the server's CRONTOPUS_QUOTA_* defaults.
    quota_overrides: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # SSO-only: the OpenID Connect provider (its configured name) the tenant's members must log
    # in with; password logins into the tenant are refused meanwhile. None: passwords work.
    sso_provider: Mapped[str | None] = mapped_column(String(63))


class User(Base):
    """A person; global, since one user may belong to several tenants."""

    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    username: Mapped[str] = mapped_column(String(40), unique=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A platform operator administers the server's tenants; no tenant role grants it.
    is_operator: Mapped[bool] = mapped_column(default=False, server_default=false())
    # When the owner followed a verification link (or accepted an invitation sent there).
    email_verified_at: Mapped[datetime | None]

    memberships: Mapped[list[Membership]] = relationship(back_populates="user")


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("tenant_id", "user_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(back_populates="memberships", lazy="joined")
    tenant: Mapped[Tenant] = relationship(lazy="joined")


class AccountTokenPurpose(enum.StrEnum):
    """What the link in an account mail does."""

    VERIFY_EMAIL = "VERIFY_EMAIL"
    RESET_PASSWORD = "RESET_PASSWORD"
    INVITATION = "INVITATION"


class AccountToken(Base):
    """A single-use, expiring link sent by mail; only the SHA-256 of the token is kept."""

    __tablename__ = "account_tokens"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    purpose: Mapped[AccountTokenPurpose] = mapped_column(_enum(AccountTokenPurpose, "purpose"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The account it acts on; None for an invitation of someone without an account yet.
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    # The address it was sent to (a verification is for this address, not a later one).
    email: Mapped[str] = mapped_column(String(254))
    # An invitation's tenant and role, and who sent it.
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[Role | None] = mapped_column(_enum(Role, "role"))
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class OutboxMail(Base):
    """A mail waiting for the SMTP server; deleted once sent (its body may hold a link)."""

    __tablename__ = "mail_outbox"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OidcIdentity(Base):
    """A person's account at an OpenID Connect provider (provider, subject), linked to a user."""

    __tablename__ = "oidc_identities"
    __table_args__ = (UniqueConstraint("provider", "subject"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    provider: Mapped[str] = mapped_column(String(63))
    # The provider's `sub` claim: stable and never reassigned, unlike an e-mail address.
    subject: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(254))  # the verified address it was linked by
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiToken(Base):
    """A personal API token; only the SHA-256 of the secret is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(16))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class UserSession(Base):
    """A login on one device: its refresh-token family and every access token it was given.

    Access tokens name their session (`sid`); once the session ends they are refused, so
    logging out ends the access token too, not only the refresh token.
    """

    __tablename__ = "user_sessions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    address: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    # The OpenID Connect provider the session was opened through (None: a password login);
    # an SSO-only tenant accepts only sessions of its provider.
    provider: Mapped[str | None] = mapped_column(String(63))

    tenant: Mapped[Tenant] = relationship(lazy="joined")


class RefreshToken(Base):
    """One link of a rotating refresh-token family; reuse of a dead link kills the family."""

    __tablename__ = "refresh_tokens"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    family_id: Mapped[uuid.UUID] = mapped_column(index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_tenant_time", "tenant_id", "created_at", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    actor_id: Mapped[uuid.UUID | None]
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(300))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OperatorAuditEvent(Base):
    """What a platform operator did; kept after the tenant it names is deleted (no foreign key)."""

    __tablename__ = "operator_audit_events"
    __table_args__ = (Index("ix_operator_audit_events_time", "created_at", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    actor_id: Mapped[uuid.UUID | None]
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64))
    tenant_id: Mapped[uuid.UUID | None]
    tenant_slug: Mapped[str | None] = mapped_column(String(63))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TenantExport(Base):
    """An archive of a tenant's repository and runs; outlives the tenant (no foreign key).

    `head_commit`, `runs` and `last_run_received_at` say what the archive holds, so deleting
    the tenant can check that nothing arrived since.
    """

    __tablename__ = "tenant_exports"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(index=True)
    tenant_slug: Mapped[str] = mapped_column(String(63))
    file_name: Mapped[str] = mapped_column(String(200))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    runs: Mapped[int]
    head_commit: Mapped[str | None] = mapped_column(String(64))
    last_run_received_at: Mapped[datetime | None]
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EnrollmentToken(Base):
    """A token agents use once (or up to `max_uses` times) to enroll their machine."""

    __tablename__ = "enrollment_tokens"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    max_uses: Mapped[int | None]
    use_count: Mapped[int] = mapped_column(default=0)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class Endpoint(Base):
    """An enrolled machine running the agent; its token is stored hashed."""

    __tablename__ = "endpoints"
    __table_args__ = (UniqueConstraint("tenant_id", "machine_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    hostname: Mapped[str] = mapped_column(String(255))
    platform: Mapped[str] = mapped_column(String(100))
    machine_id: Mapped[str] = mapped_column(String(128))
    agent_version: Mapped[str] = mapped_column(String(50))
    driver: Mapped[str | None] = mapped_column(String(50))
    drivers: Mapped[list[str]] = mapped_column(JSON, default=list)
    labels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    enrolled_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime | None]
    applied_commit: Mapped[str | None] = mapped_column(String(64))
    revoked_at: Mapped[datetime | None]


class PendingEnrollment(Base):
    """A known machine id enrolling again without proof: it waits for an admin's approval.

    `token_hash` is the endpoint token the request was given; approving makes it the
    endpoint's token, so the agent that asked (and only it) starts working.
    """

    __tablename__ = "pending_enrollments"
    __table_args__ = (UniqueConstraint("tenant_id", "machine_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("endpoints.id", ondelete="CASCADE"), index=True
    )
    machine_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(200))
    hostname: Mapped[str] = mapped_column(String(255))
    platform: Mapped[str] = mapped_column(String(100))
    agent_version: Mapped[str] = mapped_column(String(50))
    drivers: Mapped[list[str]] = mapped_column(JSON, default=list)
    labels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    enrollment_token: Mapped[str] = mapped_column(String(100))
    requested_from: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)


class Run(Base):
    """One execution of a job on an endpoint; `id` is the wrapper's idempotency key."""

    __tablename__ = "runs"
    __table_args__ = (
        Index("ix_runs_tenant_started", "tenant_id", "started_at", "id"),
        Index("ix_runs_tenant_job_started", "tenant_id", "job_id", "started_at", "id"),
        Index("ix_runs_tenant_endpoint_started", "tenant_id", "endpoint_id", "started_at", "id"),
        # The runs still going, few among many: the stuck-run check reads only these.
        Index(
            "ix_runs_running",
            "tenant_id",
            "started_at",
            sqlite_where=text("status = 'RUNNING'"),
            postgresql_where=text("status = 'RUNNING'"),
        ),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    job_id: Mapped[uuid.UUID]
    job_name: Mapped[str | None] = mapped_column(String(63))
    namespace: Mapped[str | None] = mapped_column(String(63))
    endpoint_id: Mapped[uuid.UUID | None]
    status: Mapped[RunStatus] = mapped_column(_enum(RunStatus, "run_status"))
    started_at: Mapped[datetime]
    start_reported: Mapped[bool] = mapped_column(default=False)
    finished_at: Mapped[datetime | None]
    duration_ms: Mapped[int | None]
    exit_code: Mapped[int | None]
    output: Mapped[str] = mapped_column(default="")
    output_truncated: Mapped[bool] = mapped_column(default=False)
    commit_id: Mapped[str | None] = mapped_column(String(64))
    unknown_job: Mapped[bool] = mapped_column(default=False)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    trigger: Mapped[RunTrigger] = mapped_column(
        _enum(RunTrigger, "run_trigger"), default=RunTrigger.SCHEDULE
    )


class RunCounts:
    """Counters of finished runs shared by the hourly and daily rollup tables."""

    runs: Mapped[int] = mapped_column(default=0)
    successes: Mapped[int] = mapped_column(default=0)
    failures: Mapped[int] = mapped_column(default=0)
    last_run_at: Mapped[datetime | None]


class JobHealthHour(RunCounts, Base):
    """Finished runs of one job in one hour, maintained on ingest."""

    __tablename__ = "job_health_hourly"
    __table_args__ = (Index("ix_job_health_hourly_tenant_hour", "tenant_id", "hour"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    job_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    hour: Mapped[datetime] = mapped_column(primary_key=True)


class EndpointHealthHour(RunCounts, Base):
    """Finished runs on one endpoint in one hour, maintained on ingest."""

    __tablename__ = "endpoint_health_hourly"
    __table_args__ = (Index("ix_endpoint_health_hourly_tenant_hour", "tenant_id", "hour"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    endpoint_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    hour: Mapped[datetime] = mapped_column(primary_key=True)


class JobHealthDay(RunCounts, Base):
    """Finished runs of one job in one UTC day: long windows read 90 rows, not 2,160."""

    __tablename__ = "job_health_daily"
    __table_args__ = (Index("ix_job_health_daily_tenant_day", "tenant_id", "day"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    job_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    day: Mapped[datetime] = mapped_column(primary_key=True)


class EndpointHealthDay(RunCounts, Base):
    """Finished runs on one endpoint in one UTC day."""

    __tablename__ = "endpoint_health_daily"
    __table_args__ = (Index("ix_endpoint_health_daily_tenant_day", "tenant_id", "day"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    endpoint_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    day: Mapped[datetime] = mapped_column(primary_key=True)


class JobInstance(Base):
    """What an endpoint's scheduler holds for a job, as the agent last reported it."""

    __tablename__ = "job_instances"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("endpoints.id", ondelete="CASCADE"), primary_key=True
    )
    job_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, index=True)
    driver: Mapped[str] = mapped_column(String(50))
    state: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(16))
    reported_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Why the agent could not install the job (the driver's refusal); set only for FAILED.
    failure_reason: Mapped[str | None] = mapped_column(String(2000), default=None)


class DiscoveredJob(Base):
    """A foreign scheduler entry an agent reported, committed once to `discovered/`."""

    __tablename__ = "discovered_jobs"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    fingerprint: Mapped[str] = mapped_column(String(64), primary_key=True)
    job_id: Mapped[uuid.UUID]
    first_endpoint_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Secret(Base):
    """A value jobs take from the store instead of from Git; sealed with the secrets key."""

    __tablename__ = "secrets"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(63))
    #: `v1.<key id>.<nonce + AES-GCM ciphertext>` (security/secret_box.py), never the value.
    sealed: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(100))


class ChannelKind(enum.StrEnum):
    """Where a notification channel delivers."""

    WEBHOOK = "WEBHOOK"
    SLACK = "SLACK"
    EMAIL = "EMAIL"
    PAGERDUTY = "PAGERDUTY"


class AlertRule(enum.StrEnum):
    """The condition that opened an incident."""

    FAILURE = "FAILURE"
    FAILURE_RATE = "FAILURE_RATE"
    MISSED_RUN = "MISSED_RUN"
    TOO_LONG = "TOO_LONG"
    TOO_FAST = "TOO_FAST"
    ENDPOINT_OFFLINE = "ENDPOINT_OFFLINE"
    ENDPOINT_DRIFT = "ENDPOINT_DRIFT"


class IncidentStatus(enum.StrEnum):
    OPEN = "OPEN"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    RESOLVED = "RESOLVED"


class NotificationEvent(enum.StrEnum):
    """What a notification tells: an incident opened or resolved, or a channel test."""

    TRIGGER = "TRIGGER"
    RESOLVE = "RESOLVE"
    TEST = "TEST"


class DeliveryStatus(enum.StrEnum):
    """Where one notification stands; PENDING and SENDING rows survive a restart."""

    PENDING = "PENDING"
    SENDING = "SENDING"
    HELD = "HELD"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"
    DROPPED = "DROPPED"


class AlertChannel(Base):
    """A place notifications go; its secrets live here, never in Git."""

    __tablename__ = "alert_channels"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(63))
    kind: Mapped[ChannelKind] = mapped_column(_enum(ChannelKind, "channel_kind"))
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    is_default: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class AlertDefaults(Base):
    """A tenant's alert rules for jobs whose manifests say nothing."""

    __tablename__ = "alert_defaults"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    on_failure: Mapped[bool] = mapped_column(default=True)
    consecutive_failures: Mapped[int | None]
    missed_run: Mapped[bool] = mapped_column(default=True)
    endpoint_offline: Mapped[bool] = mapped_column(default=True)
    drift: Mapped[bool] = mapped_column(default=True, server_default=true())
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Incident(Base):
    """An alert: opened once per rule and target (`open_key`), then acknowledged and resolved."""

    __tablename__ = "incidents"
    __table_args__ = (
        # NULLs are distinct: only one *open* incident per rule and target.
        UniqueConstraint("tenant_id", "open_key"),
        Index("ix_incidents_tenant_opened", "tenant_id", "opened_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    rule: Mapped[AlertRule] = mapped_column(_enum(AlertRule, "alert_rule"))
    status: Mapped[IncidentStatus] = mapped_column(_enum(IncidentStatus, "incident_status"))
    open_key: Mapped[str | None] = mapped_column(String(200))
    job_id: Mapped[uuid.UUID | None]
    job_name: Mapped[str | None] = mapped_column(String(63))
    namespace: Mapped[str | None] = mapped_column(String(63))
    endpoint_id: Mapped[uuid.UUID | None]
    title: Mapped[str] = mapped_column(String(300))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    channels: Mapped[list[str] | None] = mapped_column(JSON)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(100))
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(100))


class Notification(Base):
    """One message to one channel about one incident event: the outbox the dispatcher drains."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_status_due", "status", "next_attempt_at"),
        Index("ix_notifications_incident", "incident_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    incident_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE")
    )
    channel_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("alert_channels.id", ondelete="SET NULL")
    )
    channel_name: Mapped[str] = mapped_column(String(63))
    channel_kind: Mapped[ChannelKind | None] = mapped_column(_enum(ChannelKind, "channel_kind"))
    event: Mapped[NotificationEvent] = mapped_column(_enum(NotificationEvent, "notification_event"))
    status: Mapped[DeliveryStatus] = mapped_column(_enum(DeliveryStatus, "delivery_status"))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None]
    hold_until: Mapped[datetime | None]
    release_held: Mapped[bool] = mapped_column(default=True)
    last_error: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]


class Snooze(Base):
    """Keep a job, or a whole namespace, from alerting until a time."""

    __tablename__ = "alert_snoozes"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    job_id: Mapped[uuid.UUID | None]
    namespace: Mapped[str | None] = mapped_column(String(63))
    until: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(300), default="")
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MaintenanceWindow(Base):
    """A time range, or a recurring cron window, during which notifications are held."""

    __tablename__ = "maintenance_windows"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    job_id: Mapped[uuid.UUID | None]
    namespace: Mapped[str | None] = mapped_column(String(63))
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    schedule: Mapped[str | None] = mapped_column(String(100))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    duration: Mapped[int | None]
    release_held: Mapped[bool] = mapped_column(default=True)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AlertCursor(Base):
    """How far a periodic evaluation got, so each fire time is judged once by one worker."""

    __tablename__ = "alert_cursors"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    evaluated_until: Mapped[datetime]


class RateLimitBucket(Base):
    """One token bucket of a rate limit shared by every server process (PostgreSQL).

    Times are seconds since the epoch by the database's clock, so processes on hosts whose
    clocks differ still agree. `granted` is what the last take got (read back in the same
    statement that took it).
    """

    __tablename__ = "rate_limit_buckets"

    bucket: Mapped[str] = mapped_column(String(100), primary_key=True)
    tokens: Mapped[float] = mapped_column(Double)
    granted: Mapped[int]
    refilled_at: Mapped[float] = mapped_column(Double)
    full_at: Mapped[float] = mapped_column(Double, index=True)
