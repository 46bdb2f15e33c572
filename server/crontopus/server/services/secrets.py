"""The secret store: values jobs read at run time, kept encrypted in the database, not in Git.

People set, list (names only) and delete secrets; an agent reads the values of one job's
`secretRef`s, and only of a job targeted at its endpoint. Values never leave through any other
path: no query returns them to people, and the audit log records names only.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crontopus.core.secrets import MAX_SECRET_VALUE_BYTES, secret_name_problem
from crontopus.server.db.models import Secret
from crontopus.server.db.types import utcnow
from crontopus.server.errors import (
    Conflict,
    FieldProblem,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from crontopus.server.gitstore import GitStore
from crontopus.server.security.principal import Principal
from crontopus.server.security.secret_box import SecretBox, SecretBoxError
from crontopus.server.services.audit import record_audit
from crontopus.server.services.jobs import readable_jobs
from crontopus.server.services.quotas import Quota, require_row_room
from crontopus.server.settings import Quotas


@dataclass(frozen=True)
class JobSecret:
    """One variable of a job's environment and the value of the secret it references."""

    variable: str
    secret: str
    value: str


async def list_secrets(session: AsyncSession, principal: Principal) -> Sequence[Secret]:
    """Return the tenant's secrets by name (their rows; callers show names and dates only)."""
    principal.require_read("Listing secrets")
    query = select(Secret).where(Secret.tenant_id == principal.tenant_id).order_by(Secret.name)
    return (await session.scalars(query)).all()


async def secret_names(session: AsyncSession, tenant_id: uuid.UUID) -> set[str]:
    """Return the names of a tenant's secrets (for the validator's missing-secret warning)."""
    query = select(Secret.name).where(Secret.tenant_id == tenant_id)
    return set((await session.scalars(query)).all())


async def set_secret(
    session: AsyncSession,
    principal: Principal,
    box: SecretBox,
    name: str,
    value: str,
    *,
    quotas: Quotas,
) -> Secret:
    """Create a secret or replace its value; the next run of every job using it gets the value."""
    principal.require_write("Setting secrets")
    problems = []
    if (problem := secret_name_problem(name)) is not None:
        problems.append(FieldProblem(("name",), problem))
    size = len(value.encode())
    if size > MAX_SECRET_VALUE_BYTES:
        problems.append(
            FieldProblem(
                ("value",),
                f"is {size} bytes, more than {MAX_SECRET_VALUE_BYTES} (64 KiB): keep large "
                "files on the machine and store their path or a key to them instead",
            )
        )
    elif "\0" in value:
        problems.append(
            FieldProblem(("value",), "holds a NUL character, which the environment cannot carry")
        )
    if problems:
        raise ValidationFailed(problems)
    secret = await _find(session, principal.tenant_id, name)
    sealed = box.seal(principal.tenant_id, name, value)
    if secret is None:
        await require_row_room(session, Quota.SECRETS, quotas, principal.tenant_id)
        secret = Secret(
            id=uuid.uuid4(),
            tenant_id=principal.tenant_id,
            name=name,
            sealed=sealed,
            updated_by=principal.label,
        )
        session.add(secret)
        action = "secret.create"
    else:
        secret.sealed, secret.updated_at, secret.updated_by = sealed, utcnow(), principal.label
        action = "secret.update"
    # The value never goes into the audit log: the name, who and when are the record.
    record_audit(session, principal, action, f"secret:{name}")
    try:
        await session.commit()
    except IntegrityError:
        raise Conflict(f"secret {name!r} was created meanwhile: set it again") from None
    return secret


async def delete_secret(session: AsyncSession, principal: Principal, name: str) -> Secret:
    """Delete a secret; runs of jobs that still reference it fail and say which secret."""
    principal.require_write("Deleting secrets")
    secret = await _find(session, principal.tenant_id, name)
    if secret is None:
        raise NotFound(f"no secret named {name!r}")
    await session.delete(secret)
    record_audit(session, principal, "secret.delete", f"secret:{name}")
    await session.commit()
    return secret


async def job_secrets(
    session: AsyncSession,
    store: GitStore,
    principal: Principal,
    box: SecretBox,
    job_id: uuid.UUID,
) -> list[JobSecret]:
    """Return the values of one job's secret references, for the agent about to run it.

    Only an endpoint may ask, and only for a job targeted at it (another job is "not found",
    as in another tenant). A reference to a secret that does not exist fails the whole request
    with the names missing, so the run fails with that reason instead of running without them.
    """
    if principal.endpoint_id is None:
        raise PermissionDenied("Reading secret values is open to endpoint tokens only")
    view = await readable_jobs(store, principal, "Reading a job's secrets")
    entry = view.jobs.get(job_id)
    if entry is None:
        raise NotFound(f"no job with id {job_id} is targeted at this endpoint")
    references = entry.manifest.secret_env
    if not references:
        return []
    query = select(Secret).where(
        Secret.tenant_id == principal.tenant_id, Secret.name.in_(set(references.values()))
    )
    stored = {secret.name: secret for secret in await session.scalars(query)}
    missing = sorted(set(references.values()) - set(stored))
    if missing:
        raise NotFound(
            f"secret{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
            f"{'do' if len(missing) > 1 else 'does'} not exist: set "
            f"{'them' if len(missing) > 1 else 'it'} with `crontopus secrets set NAME`"
        )
    try:
        return [
            JobSecret(variable, name, box.open(principal.tenant_id, name, stored[name].sealed))
            for variable, name in sorted(references.items())
        ]
    except SecretBoxError as error:
        # The operator's key configuration is at fault; the agent reports it on the run.
        raise Conflict(f"{error}; set it again to replace it") from None


async def rotate_secrets(session: AsyncSession, box: SecretBox) -> int:
    """Seal every value not sealed with the current key again with it; return how many."""
    rotated = 0
    for secret in await session.scalars(select(Secret)):
        if box.needs_rotation(secret.sealed):
            value = box.open(secret.tenant_id, secret.name, secret.sealed)
            secret.sealed = box.seal(secret.tenant_id, secret.name, value)
            rotated += 1
    await session.commit()
    return rotated


async def _find(session: AsyncSession, tenant_id: uuid.UUID, name: str) -> Secret | None:
    query = select(Secret).where(Secret.tenant_id == tenant_id, Secret.name == name)
    return await session.scalar(query)
