"""Tenants: creation and the hooks other subsystems attach to it."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crontopus.server.db.models import Tenant

# Runs after a tenant row is flushed, before commit (e.g. create its Git repository).
TenantCreatedHook = Callable[[Tenant], Awaitable[None]]

_SLUG_CLEAN = re.compile(r"[^a-z0-9-]+")


async def create_tenant(session: AsyncSession, name: str, preferred_slug: str) -> Tenant:
    """Create a tenant with a unique URL-safe slug derived from `preferred_slug`."""
    base = _SLUG_CLEAN.sub("-", preferred_slug.lower()).strip("-")[:50] or "tenant"
    slug, counter = base, 1
    while await session.scalar(select(Tenant.id).where(Tenant.slug == slug)) is not None:
        counter += 1
        slug = f"{base}-{counter}"
    tenant = Tenant(id=uuid.uuid4(), slug=slug, name=name)
    session.add(tenant)
    await session.flush()
    return tenant
