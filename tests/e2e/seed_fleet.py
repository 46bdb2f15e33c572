"""Give a tenant many jobs (one commit) and endpoints (one transaction), for the paging test.

Usage: seed_fleet.py DATA_DIR TENANT JOBS ENDPOINTS. Seeding through the services instead of
one API call per item keeps the browser test about paging, not about waiting.
"""

from __future__ import annotations

import asyncio
import hashlib
import sys
import uuid

from sqlalchemy import select

from crontopus.core.manifest import JobManifest, dump_manifest
from crontopus.server.app import create_state
from crontopus.server.db.models import Endpoint, Tenant
from crontopus.server.gitstore import Author, Put
from crontopus.server.settings import Settings


async def seed(data_dir: str, tenant_slug: str, jobs: int, endpoints: int) -> None:
    state = create_state(Settings.from_env({"CRONTOPUS_DATA_DIR": data_dir}))
    try:
        changes = []
        for number in range(jobs):
            manifest = JobManifest(
                id=uuid.uuid4(),
                name=f"job-{number:04d}",
                namespace="default",
                labels={},
                schedule="0 3 * * *",
                timezone="UTC",
                command="/bin/true",
                args=(),
                env={},
            )
            changes.append(Put(manifest.path, dump_manifest(manifest), None))
        author = Author("seed", "seed@example.com")
        await state.gitstore.commit_changes(tenant_slug, changes, author, "seed jobs")
        async with state.session() as session:
            tenant = await session.scalar(select(Tenant).where(Tenant.slug == tenant_slug))
            assert tenant is not None, tenant_slug
            for number in range(endpoints):
                name = f"host-{number:04d}"
                session.add(
                    Endpoint(
                        tenant_id=tenant.id,
                        name=name,
                        hostname=f"{name}.example.com",
                        platform="linux",
                        machine_id=uuid.uuid4().hex,
                        agent_version="0.1.0",
                        token_hash=hashlib.sha256(uuid.uuid4().bytes).hexdigest(),
                    )
                )
            await session.commit()
    finally:
        await state.engine.dispose()


if __name__ == "__main__":
    asyncio.run(seed(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
