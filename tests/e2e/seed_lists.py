"""Give a tenant long lists for the list-paging browser test: namespaces (one commit), and
members, API tokens, incidents and deliveries (one transaction).

Usage: seed_lists.py DATA_DIR TENANT COUNT. Seeding through the services and the database
instead of one API call per item keeps the browser test about paging, not about waiting.
"""

from __future__ import annotations

import asyncio
import hashlib
import sys
import uuid
from datetime import timedelta

from sqlalchemy import select

from crontopus.server.app import create_state
from crontopus.server.db.models import (
    AlertRule,
    ApiToken,
    DeliveryStatus,
    Incident,
    IncidentStatus,
    Membership,
    Notification,
    NotificationEvent,
    Role,
    Tenant,
    User,
)
from crontopus.server.db.types import utcnow
from crontopus.server.gitstore import Author, Mkdir
from crontopus.server.settings import Settings


async def seed(data_dir: str, tenant_slug: str, count: int) -> None:
    state = create_state(Settings.from_env({"CRONTOPUS_DATA_DIR": data_dir}))
    try:
        changes = [Mkdir(f"team-{number:04d}") for number in range(count)]
        author = Author("seed", "seed@example.com")
        await state.gitstore.commit_changes(tenant_slug, changes, author, "seed namespaces")
        now = utcnow()
        async with state.session() as session:
            tenant = await session.scalar(select(Tenant).where(Tenant.slug == tenant_slug))
            owner = await session.scalar(select(User).where(User.username == tenant_slug))
            assert tenant is not None, tenant_slug
            assert owner is not None, tenant_slug
            for number in range(count):
                # Older first, so the newest-first lists end with number 0.
                at = now - timedelta(minutes=count - number)
                user = User(
                    username=f"user-{number:04d}",
                    email=f"user-{number:04d}@example.com",
                    password_hash="!not-a-password",
                )
                session.add(user)
                await session.flush()
                session.add(Membership(tenant_id=tenant.id, user_id=user.id, role=Role.VIEWER))
                session.add(
                    ApiToken(
                        tenant_id=tenant.id,
                        user_id=owner.id,
                        name=f"token-{number:04d}",
                        token_hash=hashlib.sha256(uuid.uuid4().bytes).hexdigest(),
                        hint=f"{number:04d}",
                        scopes=["read"],
                        created_at=at,
                    )
                )
                incident = Incident(
                    tenant_id=tenant.id,
                    rule=AlertRule.FAILURE,
                    status=IncidentStatus.RESOLVED,
                    title=f"default/job-{number:04d} failed",
                    opened_at=at,
                    resolved_at=at,
                    resolved_by="seed",
                )
                session.add(incident)
                await session.flush()
                session.add(
                    Notification(
                        tenant_id=tenant.id,
                        incident_id=incident.id,
                        channel_name=f"hook-{number:04d}",
                        event=NotificationEvent.TRIGGER,
                        status=DeliveryStatus.DELIVERED,
                        attempts=1,
                        created_at=at,
                        delivered_at=at,
                    )
                )
            await session.commit()
    finally:
        await state.engine.dispose()


if __name__ == "__main__":
    asyncio.run(seed(sys.argv[1], sys.argv[2], int(sys.argv[3])))
