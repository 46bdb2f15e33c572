"""Accounts and access: tenants, users, memberships, sessions, tokens and rate-limit buckets."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Double,
    ForeignKey,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crontopus.server.db.models.base import Base, enum_column
from crontopus.server.db.types import utcnow


class Role(enum.StrEnum):
    """What a member may do in a tenant, strongest first."""

    OWNER = "OWNER"
    ADMIN = "ADMIN"
    MEMBER = "MEMBER"
    VIEWER = "VIEWER"

    @property
    def rank(self) -> int:
        return {"OWNER": 3, "ADMIN": 2, "MEMBER": 1, "VIEWER": 0}[self.value]


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
    role: Mapped[Role] = mapped_column(enum_column(Role, "role"))
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
    purpose: Mapped[AccountTokenPurpose] = mapped_column(
        enum_column(AccountTokenPurpose, "purpose")
    )
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
    role: Mapped[Role | None] = mapped_column(enum_column(Role, "role"))
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


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
