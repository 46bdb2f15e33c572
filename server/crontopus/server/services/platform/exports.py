"""Exporting a tenant (its repository and its runs) and deleting it once exported.

The archive is a gzip'd tar under `<data dir>/exports/`:

tenant.json          the tenant, its members, endpoints and channels by name (no secrets),
                     and what the archive holds (HEAD, runs)
repository.bundle    `git bundle` of every branch: `git clone repository.bundle` restores it
runs.jsonl           every stored run, one JSON object per line, newest first

Exports outlive their tenant (no foreign key), so the archive of a deleted tenant stays
listed and downloadable until an operator removes the file.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tarfile
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio.to_thread
from sqlalchemy import delete, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crontopus.server.db.keyset import newest_first
from crontopus.server.db.models import (
    AlertChannel,
    Endpoint,
    Membership,
    Run,
    Tenant,
    TenantExport,
    User,
)
from crontopus.server.errors import Conflict, NotFound
from crontopus.server.gitstore import GitStore
from crontopus.server.gitstore.local import LocalGitStore
from crontopus.server.security.identity_cache import IdentityCache
from crontopus.server.security.principal import Principal
from crontopus.server.services.job_directory import JobDirectory
from crontopus.server.services.platform.operators import record_operator_action
from crontopus.server.services.platform.tenants import _not_own, get_tenant
from crontopus.server.settings import Settings

EXPORTS = "exports"
#: Runs read from the database per round trip while writing runs.jsonl.
RUN_BATCH = 1000


def exports_dir(settings: Settings) -> Path:
    return settings.data_dir / EXPORTS


def export_path(settings: Settings, export: TenantExport) -> Path:
    return exports_dir(settings) / export.file_name


async def export_tenant(
    session: AsyncSession,
    principal: Principal,
    settings: Settings,
    store: GitStore,
    tenant_id: uuid.UUID,
) -> TenantExport:
    """Write an archive of a tenant's repository and runs; return its record."""
    principal.require_operator("Exporting a tenant")
    tenant = await get_tenant(session, tenant_id)
    now = datetime.now(UTC)
    directory = exports_dir(settings)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    export_id = uuid.uuid4()
    file_name = f"{tenant.slug}-{now:%Y%m%dT%H%M%SZ}-{export_id.hex[:8]}.tar.gz"
    with tempfile.TemporaryDirectory(dir=directory, prefix=".export-") as work:
        folder = Path(work)
        head = await _bundle(store, tenant.slug, folder / "repository.bundle")
        count, last = await _write_runs(session, tenant.id, folder / "runs.jsonl")
        summary = await _summary(session, tenant, head, count, now)
        (folder / "tenant.json").write_text(json.dumps(summary, indent=1, default=str))
        target = directory / file_name
        await anyio.to_thread.run_sync(_tar, folder, target)
    export = TenantExport(
        id=export_id,
        tenant_id=tenant.id,
        tenant_slug=tenant.slug,
        file_name=file_name,
        size_bytes=target.stat().st_size,
        runs=count,
        head_commit=head,
        last_run_received_at=last,
        created_by=principal.label,
        created_at=now,
    )
    session.add(export)
    record_operator_action(
        session,
        principal,
        "tenant.export",
        tenant,
        {"exportId": str(export_id), "runs": count, "sizeBytes": export.size_bytes},
    )
    await session.commit()
    return export


async def _bundle(store: GitStore, slug: str, target: Path) -> str | None:
    """Bundle the tenant's repository into `target`; return its HEAD (None: nothing to bundle)."""
    if not isinstance(store, LocalGitStore) or not await store.exists(slug):
        return None
    head = await store.head(slug)
    if head is None:
        return None
    process = await asyncio.create_subprocess_exec(
        "git",
        "-c",
        "safe.directory=*",
        "-C",
        str(store.repo_path(slug)),
        "bundle",
        "create",
        "--quiet",
        str(target),
        "--all",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _out, err = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"git bundle failed for {slug}: {err.decode(errors='replace')}")
    return head


def _run_record(run: Run) -> dict[str, Any]:
    return {
        "id": str(run.id),
        "jobId": str(run.job_id),
        "jobName": run.job_name,
        "namespace": run.namespace,
        "endpointId": str(run.endpoint_id) if run.endpoint_id else None,
        "status": run.status.value,
        "startedAt": run.started_at.isoformat(),
        "finishedAt": run.finished_at.isoformat() if run.finished_at else None,
        "durationMs": run.duration_ms,
        "exitCode": run.exit_code,
        "output": run.output,
        "outputTruncated": run.output_truncated,
        "commitId": run.commit_id,
        "unknownJob": run.unknown_job,
        "receivedAt": run.received_at.isoformat(),
    }


async def _write_runs(
    session: AsyncSession, tenant_id: uuid.UUID, target: Path
) -> tuple[int, datetime | None]:
    """Write every run of the tenant, page by page; return the count and the newest arrival."""
    count, last = 0, None
    after: tuple[datetime, uuid.UUID] | None = None
    with target.open("w", encoding="utf-8") as out:
        while True:
            query = select(Run).where(Run.tenant_id == tenant_id)
            page = (
                await session.scalars(newest_first(query, Run.started_at, Run.id, RUN_BATCH, after))
            ).all()
            for run in page[:RUN_BATCH]:
                out.write(json.dumps(_run_record(run), ensure_ascii=False) + "\n")
                count += 1
                last = run.received_at if last is None else max(last, run.received_at)
            if len(page) <= RUN_BATCH:
                break
            after = (page[RUN_BATCH - 1].started_at, page[RUN_BATCH - 1].id)
            session.expunge_all()
    return count, last


async def _summary(
    session: AsyncSession, tenant: Tenant, head: str | None, runs: int, now: datetime
) -> dict[str, Any]:
    members = await session.execute(
        select(User.username, User.email, Membership.role)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.tenant_id == tenant.id)
        .order_by(User.username)
    )
    endpoints = await session.scalars(
        select(Endpoint).where(Endpoint.tenant_id == tenant.id).order_by(Endpoint.name)
    )
    channels = await session.execute(
        select(AlertChannel.name, AlertChannel.kind)
        .where(AlertChannel.tenant_id == tenant.id)
        .order_by(AlertChannel.name)
    )
    return {
        "format": 1,
        "exportedAt": now.isoformat(),
        "tenant": {
            "id": str(tenant.id),
            "slug": tenant.slug,
            "name": tenant.name,
            "createdAt": tenant.created_at.isoformat(),
        },
        "headCommit": head,
        "runs": runs,
        "members": [
            {"username": username, "email": email, "role": role.value}
            for username, email, role in members
        ],
        # Names and facts only: endpoint tokens and channel settings are secrets.
        "endpoints": [
            {
                "id": str(e.id),
                "name": e.name,
                "hostname": e.hostname,
                "platform": e.platform,
                "labels": e.labels,
                "enrolledAt": e.enrolled_at.isoformat(),
                "revokedAt": e.revoked_at.isoformat() if e.revoked_at else None,
            }
            for e in endpoints
        ],
        "channels": [{"name": name, "kind": kind.value} for name, kind in channels],
    }


def _tar(folder: Path, target: Path) -> None:
    partial = target.with_name(f".{target.name}.partial")
    with tarfile.open(partial, "w:gz") as archive:
        for name in ("tenant.json", "repository.bundle", "runs.jsonl"):
            if (folder / name).exists():
                archive.add(folder / name, arcname=name)
    os.chmod(partial, 0o600)
    os.replace(partial, target)


async def list_exports(
    session: AsyncSession,
    principal: Principal,
    first: int,
    after: tuple[datetime, uuid.UUID] | None,
) -> Sequence[TenantExport]:
    """Every export, newest first, including those of deleted tenants."""
    principal.require_operator("Listing tenant exports")
    query = newest_first(
        select(TenantExport), TenantExport.created_at, TenantExport.id, first, after
    )
    return (await session.scalars(query)).all()


async def export_for_download(
    session: AsyncSession, principal: Principal, settings: Settings, export_id: uuid.UUID
) -> tuple[TenantExport, Path]:
    """Return an export and its file, recording the download in the operator audit log."""
    principal.require_operator("Downloading a tenant export")
    export = await session.get(TenantExport, export_id)
    path = export_path(settings, export) if export is not None else None
    if export is None or path is None or not path.is_file():
        raise NotFound(f"no export with id {export_id} (or its file was removed)")
    tenant = await session.get(Tenant, export.tenant_id)
    record_operator_action(
        session,
        principal,
        "tenant.export.download",
        tenant,
        {"exportId": str(export.id), "tenant": export.tenant_slug},
    )
    await session.commit()
    return export, path


@dataclass(frozen=True)
class DeletedTenant:
    id: uuid.UUID
    slug: str
    export: TenantExport
    deleted_users: tuple[str, ...]


async def delete_tenant(
    session: AsyncSession,
    principal: Principal,
    store: GitStore,
    identities: IdentityCache | None,
    job_directory: JobDirectory | None,
    tenant_id: uuid.UUID,
) -> DeletedTenant:
    """Delete a suspended tenant whose latest export holds everything it has.

    Suspending first means no person or agent changes it meanwhile; the export must hold its
    repository's HEAD and every run stored (check-ins of a suspended tenant are still kept,
    so one arriving after the export asks for a new export). People who belonged to no
    other tenant (and are not operators) are deleted with it.
    """
    principal.require_operator("Deleting a tenant")
    tenant = await get_tenant(session, tenant_id)
    _not_own(principal, tenant, "deleting")
    if tenant.suspended_at is None:
        raise Conflict(
            f"suspend the tenant {tenant.slug!r} first (suspendTenant), then export it "
            "and delete it: nothing may change it meanwhile"
        )
    export = await session.scalar(
        select(TenantExport)
        .where(TenantExport.tenant_id == tenant.id)
        .order_by(TenantExport.created_at.desc())
        .limit(1)
    )
    if export is None:
        raise Conflict(f"export the tenant {tenant.slug!r} first (exportTenant); then delete it")
    await _require_current(session, store, tenant, export)
    user_ids = list(
        await session.scalars(select(Membership.user_id).where(Membership.tenant_id == tenant.id))
    )
    await session.execute(delete(Tenant).where(Tenant.id == tenant.id))
    # Users with no tenant left are deleted too, unless they are operators.
    orphans = list(
        (
            await session.execute(
                select(User.id, User.username).where(
                    User.id.in_(user_ids),
                    User.is_operator.is_(False),
                    ~exists().where(Membership.user_id == User.id),
                )
            )
        ).all()
    )
    if orphans:
        await session.execute(delete(User).where(User.id.in_([uid for uid, _ in orphans])))
    deleted_users = tuple(sorted(name for _, name in orphans))
    record_operator_action(
        session,
        principal,
        "tenant.delete",
        tenant,
        {"exportId": str(export.id), "deletedUsers": list(deleted_users)},
    )
    await session.commit()
    if identities is not None:
        identities.forget_tenant(tenant.id)
    if job_directory is not None:
        job_directory.forget(tenant.slug)
    if isinstance(store, LocalGitStore):
        path = store.repo_path(tenant.slug)
        await anyio.to_thread.run_sync(lambda: shutil.rmtree(path, ignore_errors=True))
    return DeletedTenant(tenant.id, tenant.slug, export, deleted_users)


async def _require_current(
    session: AsyncSession, store: GitStore, tenant: Tenant, export: TenantExport
) -> None:
    """Refuse unless nothing arrived since `export` (a new run, a new commit)."""
    newer = select(func.count()).select_from(Run).where(Run.tenant_id == tenant.id)
    if export.last_run_received_at is not None:
        newer = newer.where(Run.received_at > export.last_run_received_at)
    arrived = await session.scalar(newer) or 0
    head = await store.head(tenant.slug) if await store.exists(tenant.slug) else None
    if arrived or head != export.head_commit:
        what = f"{arrived} runs arrived" if arrived else "the repository changed"
        raise Conflict(
            f"{what} since the latest export of {tenant.slug!r} "
            f"({export.created_at:%Y-%m-%d %H:%M} UTC): export it again, then delete it"
        )
