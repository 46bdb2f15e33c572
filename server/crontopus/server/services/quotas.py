"""Per-tenant quotas: how many jobs, endpoints, tokens, channels and secrets a tenant may hold.

Database-backed quotas count the tenant's rows in the transaction that adds one. On
PostgreSQL that transaction first takes an advisory lock per (tenant, quota), so two
servers adding at once take turns and the count they see is exact; SQLite has one writer,
and the count is only as exact as requests that interleave between count and commit allow.
Job quotas count the manifests at the repository's HEAD.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from crontopus.server.db.models import AlertChannel, ApiToken, Endpoint, EnrollmentToken, Secret
from crontopus.server.errors import QuotaExceeded
from crontopus.server.settings import Quotas


class Quota(enum.Enum):
    """What a tenant's quota bounds."""

    JOBS = "jobs"
    ENDPOINTS = "endpoints"
    ENROLLMENT_TOKENS = "enrollment tokens"
    API_TOKENS = "API tokens"
    CHANNELS = "channels"
    DISCOVERED_JOBS = "discovered jobs"
    SECRETS = "secrets"

    @property
    def setting(self) -> str:
        return "CRONTOPUS_QUOTA_" + self.name

    @property
    def field(self) -> str:
        """The `Quotas` field, which is also the key of a tenant's override."""
        return self.name.lower()

    def limit(self, quotas: Quotas) -> int:
        limit: int = getattr(quotas, self.field)
        return limit

    def set_by(self, quotas: Quotas) -> str:
        """Who set the limit in force, for the message of a refusal."""
        if self.field in quotas.overridden:
            return f"set for this tenant by the server's operator, over {self.setting}"
        return f"set by {self.setting}"

    @property
    def remedy(self) -> str:
        return {
            Quota.JOBS: "delete jobs you no longer need",
            Quota.ENDPOINTS: "revoke endpoints that are gone",
            Quota.ENROLLMENT_TOKENS: "revoke enrollment tokens you no longer hand out",
            Quota.API_TOKENS: "revoke unused API tokens",
            Quota.CHANNELS: "delete channels you no longer use",
            Quota.DISCOVERED_JOBS: "adopt or delete discovered jobs",
            Quota.SECRETS: "delete secrets no job uses",
        }[self]


#: The largest quota an operator may set for one tenant.
MAX_QUOTA = 1_000_000


def effective_quotas(
    quotas: Quotas, overrides: Mapping[str, Any] | Iterable[tuple[str, int]] | None
) -> Quotas:
    """The server's quotas with one tenant's overrides (by `Quota.field`) applied.

    Unknown keys are ignored, so an override of a quota a later version drops does no harm.
    """
    pairs = dict(overrides or {})
    known = {q.field: int(v) for q in Quota if (v := pairs.get(q.field)) is not None}
    if not known:
        return quotas
    return dataclasses.replace(quotas, **known, overridden=frozenset(known))


def require_room(quota: Quota, quotas: Quotas, used: int, adding: int = 1) -> None:
    """Raise QuotaExceeded unless `adding` more fit beside the `used` ones."""
    limit = quota.limit(quotas)
    if used + adding > limit:
        raise quota_exceeded(quota, limit, used, quotas)


def quota_exceeded(
    quota: Quota, limit: int, used: int, quotas: Quotas | None = None
) -> QuotaExceeded:
    set_by = quota.set_by(quotas) if quotas is not None else f"set by {quota.setting}"
    return QuotaExceeded(
        f"quota reached: this tenant holds {used} {quota.value} and may hold at most {limit} "
        f"({set_by}); {quota.remedy}, or ask the operator to raise the quota",
        quota=quota.value,
        limit=limit,
        setting=quota.setting,
    )


async def require_row_room(
    session: AsyncSession, quota: Quota, quotas: Quotas, tenant_id: uuid.UUID
) -> None:
    """Count the tenant's live rows for `quota` (locking the count on PostgreSQL) and check."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(_LOCK, {"key": _lock_key(tenant_id, quota)})
    now = datetime.now(UTC)
    model, live = _ROWS[quota]
    used = await session.scalar(
        select(func.count()).select_from(model).where(model.tenant_id == tenant_id, *live(now))
    )
    require_room(quota, quotas, used or 0)


_LOCK = text("SELECT pg_advisory_xact_lock(:key)")


def _lock_key(tenant_id: uuid.UUID, quota: Quota) -> int:
    digest = hashlib.blake2b(tenant_id.bytes + quota.name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _unexpired(model: Any, now: datetime) -> list[Any]:
    return [
        model.revoked_at.is_(None),
        or_(model.expires_at.is_(None), model.expires_at > now),
    ]


_ROWS: dict[Quota, tuple[type[Any], Any]] = {
    Quota.ENDPOINTS: (Endpoint, lambda now: [Endpoint.revoked_at.is_(None)]),
    Quota.ENROLLMENT_TOKENS: (EnrollmentToken, lambda now: _unexpired(EnrollmentToken, now)),
    Quota.API_TOKENS: (ApiToken, lambda now: _unexpired(ApiToken, now)),
    Quota.CHANNELS: (AlertChannel, lambda now: []),
    Quota.SECRETS: (Secret, lambda now: []),
}
