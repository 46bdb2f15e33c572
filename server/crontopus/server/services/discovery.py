"""Discovery: scheduler entries agents found but Crontopus does not manage, committed once each.

Every new fingerprint becomes one manifest in `discovered/`. The row in `discovered_jobs`,
keyed by (tenant, fingerprint), is the claim: it is inserted (`ON CONFLICT DO NOTHING`) and
committed *before* the Git commit, so two endpoints reporting the same entry at once cannot
both write a file. A claim whose file is not at HEAD after `CLAIM_TIMEOUT` (the process died
between the two commits) is taken over with a conditional UPDATE and its file written then,
so a crash cannot lose an entry either.
"""

from __future__ import annotations

import enum
import re
import shlex
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crontopus.core.errors import ManifestError
from crontopus.core.manifest import SOURCE_LABEL, JobManifest, dump_manifest, manifest_from_dict
from crontopus.core.namespaces import DISCOVERED_NAMESPACE, MAX_NAME_LENGTH, suggest_slug
from crontopus.server.db.dialect import insert
from crontopus.server.db.models import DiscoveredJob
from crontopus.server.db.types import utcnow
from crontopus.server.errors import Conflict, FieldProblem, ValidationFailed
from crontopus.server.events.broadcaster import Broadcaster
from crontopus.server.gitstore import Author, ConflictError, GitStore, Put, RemoteError, Snapshot
from crontopus.server.security.principal import Principal
from crontopus.server.services.audit import record_audit
from crontopus.server.services.endpoints import require_endpoint
from crontopus.server.services.jobs import discovered_job_count, publish_job_changes
from crontopus.server.services.quotas import Quota, quota_exceeded
from crontopus.server.settings import Quotas

MAX_DISCOVERED_PER_REPORT = 500
#: A claim older than this whose file is not in Git was orphaned by a crash and is retried.
CLAIM_TIMEOUT = timedelta(minutes=10)
COMMIT_ATTEMPTS = 3
_FINGERPRINT = re.compile(r"^[A-Za-z0-9._:+=/-]{8,64}$")
# Programs that only wrap the command that matters, with how many positional arguments they
# take before it and which of their options take a value: the name comes from what they run.
_WRAPPERS: dict[str, tuple[int, frozenset[str]]] = {
    "sudo": (0, frozenset({"-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-U"})),
    "nice": (0, frozenset({"-n"})),
    "ionice": (0, frozenset({"-c", "-n", "-p"})),
    "env": (0, frozenset({"-u", "-C"})),
    "timeout": (1, frozenset({"-s", "-k"})),
    "flock": (1, frozenset({"-w", "-E"})),
    "nohup": (0, frozenset()),
    "chronic": (0, frozenset()),
    "exec": (0, frozenset()),
    "time": (0, frozenset()),
}
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_INTERPRETERS = frozenset(
    {"sh", "bash", "dash", "zsh", "python", "python3", "perl", "php", "ruby", "node", "pwsh"}
)
_SEPARATORS = re.compile(r"&&|\|\||;|\|")


class DiscoveryOutcome(enum.StrEnum):
    """What the server did with one reported entry."""

    CREATED = "CREATED"  # committed now as a new discovered job
    KNOWN = "KNOWN"  # committed before (by this or another endpoint), or being committed
    SKIPPED = "SKIPPED"  # not valid cron or not a valid command; `message` says why


@dataclass(frozen=True)
class ForeignJob:
    """A scheduler entry an agent found and does not manage."""

    schedule: str
    command: str
    user: str
    driver: str
    fingerprint: str
    timezone: str | None = None


@dataclass(frozen=True)
class DiscoveryResult:
    """The outcome for one reported entry, in the order reported."""

    fingerprint: str
    outcome: DiscoveryOutcome
    job_id: uuid.UUID | None = None
    path: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class DiscoveryReport:
    results: list[DiscoveryResult]
    commit_id: str | None


def job_name_for(command: str) -> str:
    """Derive a job name (a slug) from a command line: the script or program it runs."""
    for segment in (s.strip() for s in _SEPARATORS.split(command)):
        try:
            words = shlex.split(segment)
        except ValueError:
            words = segment.split()
        words = _unwrap([w for w in words if not _ASSIGNMENT.match(w)])
        if not words or _basename(words[0]) in {"cd", "test", "[", "true", ":"}:
            continue
        program = _basename(words[0])
        if program in _INTERPRETERS:
            scripts = [w for w in words[1:] if not w.startswith("-")]
            if scripts:
                program = _basename(scripts[0])
        stem = program.rsplit(".", 1)[0] if "." in program[1:] else program
        if slug := suggest_slug(stem):
            # Room for a "-NN" suffix when the name is taken.
            return slug[: MAX_NAME_LENGTH - 4].rstrip("-")
    return "discovered-job"


def _unwrap(words: list[str]) -> list[str]:
    """Skip wrappers such as `sudo -u postgres` or `flock -n /tmp/x.lock` before a command."""
    while words and (spec := _WRAPPERS.get(_basename(words[0]))) is not None:
        positional, valued = spec
        index = 1
        while index < len(words) and words[index].startswith("-"):
            index += 2 if words[index] in valued else 1
        words = [w for w in words[index + positional :] if not _ASSIGNMENT.match(w)]
    return words


def _basename(word: str) -> str:
    return word.rstrip("/").rsplit("/", 1)[-1]


def _unique_name(base: str, taken: set[str]) -> str:
    name, counter = base, 1
    while name in taken:
        counter += 1
        name = f"{base}-{counter}"
    taken.add(name)
    return name


def _document(item: ForeignJob, job_id: uuid.UUID, name: str) -> dict[str, Any]:
    spec: dict[str, Any] = {"schedule": item.schedule, "command": item.command}
    if item.timezone:
        spec["timezone"] = item.timezone
    return {
        "apiVersion": "crontopus.io/v1",
        "kind": "Job",
        "metadata": {
            "id": str(job_id),
            "name": name,
            "namespace": DISCOVERED_NAMESPACE,
            "labels": {SOURCE_LABEL: DISCOVERED_NAMESPACE},
        },
        "spec": spec,
    }


def _check(item: ForeignJob) -> str | None:
    """Return why an entry cannot become a manifest (the one validator decides), or None."""
    if not _FINGERPRINT.match(item.fingerprint):
        return "fingerprint: must be 8-64 characters of letters, digits and ._:+=/-"
    try:
        manifest_from_dict(_document(item, uuid.uuid4(), "probe"))
    except ManifestError as error:
        return "; ".join(f"{p.path}: {p.message}" for p in error.problems)
    return None


async def _claim(
    session: AsyncSession, tenant_id: uuid.UUID, endpoint_id: uuid.UUID, fingerprints: list[str]
) -> dict[str, uuid.UUID]:
    """Insert claim rows for the fingerprints nobody claimed yet; return those this call won."""
    if not fingerprints:
        return {}
    now = utcnow()
    rows = [
        {
            "tenant_id": tenant_id,
            "fingerprint": fingerprint,
            "job_id": uuid.uuid4(),
            "first_endpoint_id": endpoint_id,
            "created_at": now,
        }
        for fingerprint in fingerprints
    ]
    statement = (
        insert(session, DiscoveredJob)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["tenant_id", "fingerprint"])
        .returning(DiscoveredJob.fingerprint, DiscoveredJob.job_id)
    )
    return {fingerprint: job_id for fingerprint, job_id in (await session.execute(statement))}


async def _take_over(
    session: AsyncSession, tenant_id: uuid.UUID, fingerprint: str, claimed_at: datetime
) -> bool:
    """Renew an orphaned claim, unless another process renewed it first."""
    result = await session.execute(
        update(DiscoveredJob)
        .where(
            DiscoveredJob.tenant_id == tenant_id,
            DiscoveredJob.fingerprint == fingerprint,
            DiscoveredJob.created_at == claimed_at,
        )
        .values(created_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return getattr(result, "rowcount", 0) == 1


def _manifests(
    view: Snapshot, pending: dict[str, tuple[ForeignJob, uuid.UUID]]
) -> dict[str, JobManifest]:
    taken = {e.manifest.name for e in view.jobs_in(DISCOVERED_NAMESPACE)}
    taken |= {
        path.split("/", 1)[1].removesuffix(".yaml")
        for path in view.files
        if path.startswith(f"{DISCOVERED_NAMESPACE}/")
    }
    manifests = {}
    for fingerprint, (item, job_id) in pending.items():
        name = _unique_name(job_name_for(item.command), taken)
        manifests[fingerprint] = manifest_from_dict(_document(item, job_id, name))
    return manifests


async def report_discovered_jobs(
    session: AsyncSession,
    store: GitStore,
    broadcaster: Broadcaster,
    principal: Principal,
    author: Author,
    items: Sequence[ForeignJob],
    *,
    quotas: Quotas,
) -> DiscoveryReport:
    """Commit every entry not seen before to `discovered/`, once per tenant and fingerprint."""
    endpoint_id = require_endpoint(principal, "Reporting discovered jobs")
    if len(items) > MAX_DISCOVERED_PER_REPORT:
        raise ValidationFailed(
            [
                FieldProblem(
                    ("items",), f"holds {len(items)} entries, more than {MAX_DISCOVERED_PER_REPORT}"
                )
            ]
        )
    tenant_id, tenant = principal.tenant_id, principal.tenant_slug
    skipped = {i.fingerprint: reason for i in items if (reason := _check(i)) is not None}
    valid = {i.fingerprint: i for i in items if i.fingerprint not in skipped}
    view = await store.snapshot(tenant)
    if over := await _over_quota(session, view, tenant_id, list(valid), quotas):
        quota, held = Quota.DISCOVERED_JOBS, discovered_job_count(view)
        refusal = quota_exceeded(quota, quota.limit(quotas), held, quotas).message
        for fingerprint in over:
            del valid[fingerprint]
            skipped[fingerprint] = refusal
    claimed = await _claim(session, tenant_id, endpoint_id, list(valid))
    known: dict[str, DiscoveryResult] = {}
    pending = {fp: (valid[fp], job_id) for fp, job_id in claimed.items()}
    others = [fp for fp in valid if fp not in claimed]
    if others:
        existing = await session.scalars(
            select(DiscoveredJob).where(
                DiscoveredJob.tenant_id == tenant_id, DiscoveredJob.fingerprint.in_(others)
            )
        )
        stale_before = utcnow() - CLAIM_TIMEOUT
        for row in existing:
            entry = view.job(row.job_id)
            orphaned = entry is None and row.created_at <= stale_before
            if orphaned and await _take_over(session, tenant_id, row.fingerprint, row.created_at):
                pending[row.fingerprint] = (valid[row.fingerprint], row.job_id)
                continue
            known[row.fingerprint] = DiscoveryResult(
                row.fingerprint,
                DiscoveryOutcome.KNOWN,
                row.job_id,
                entry.path if entry else None,
                None if entry else "another report is committing this entry right now",
            )
    # The claims are durable before Git is touched: a concurrent report now sees them.
    await session.commit()
    try:
        created, commit_id = await _commit(store, broadcaster, principal, author, pending)
    except Exception:
        await _release(session, tenant_id, claimed)
        raise
    if created:
        record_audit(
            session,
            principal,
            "discovered_jobs.import",
            f"namespace:{DISCOVERED_NAMESPACE}",
            {"paths": sorted(m.path for m in created.values()), "commitId": commit_id},
        )
        await session.commit()
    results = []
    for item in items:
        fingerprint = item.fingerprint
        if fingerprint in skipped:
            results.append(
                DiscoveryResult(fingerprint, DiscoveryOutcome.SKIPPED, message=skipped[fingerprint])
            )
        elif fingerprint in created:
            manifest = created[fingerprint]
            results.append(
                DiscoveryResult(fingerprint, DiscoveryOutcome.CREATED, manifest.id, manifest.path)
            )
        else:
            results.append(known[fingerprint])
    return DiscoveryReport(results, commit_id)


async def _over_quota(
    session: AsyncSession,
    view: Snapshot,
    tenant_id: uuid.UUID,
    fingerprints: list[str],
    quotas: Quotas,
) -> list[str]:
    """The new fingerprints that would take the tenant past its discovered-jobs quota."""
    if not fingerprints:
        return []
    known = set(
        await session.scalars(
            select(DiscoveredJob.fingerprint).where(
                DiscoveredJob.tenant_id == tenant_id, DiscoveredJob.fingerprint.in_(fingerprints)
            )
        )
    )
    new = [fingerprint for fingerprint in fingerprints if fingerprint not in known]
    room = max(0, Quota.DISCOVERED_JOBS.limit(quotas) - discovered_job_count(view))
    return new[room:]


async def _commit(
    store: GitStore,
    broadcaster: Broadcaster,
    principal: Principal,
    author: Author,
    pending: dict[str, tuple[ForeignJob, uuid.UUID]],
) -> tuple[dict[str, JobManifest], str | None]:
    """Write the pending entries in one commit, renaming around names taken meanwhile."""
    if not pending:
        return {}, None
    tenant = principal.tenant_slug
    for attempt in range(1, COMMIT_ATTEMPTS + 1):
        old = await store.head(tenant)
        view = await store.snapshot(tenant)
        manifests = _manifests(view, pending)
        changes = [Put(m.path, dump_manifest(m), None) for m in manifests.values()]
        details = "\n".join(
            f"- {m.path}: {item.user}'s {item.driver} entry (fingerprint {fp[:12]})"
            for fp, m in manifests.items()
            for item in [pending[fp][0]]
        )
        message = f"discovered: {len(changes)} job(s) found by {principal.label}\n\n{details}\n"
        try:
            new = await store.commit_changes(tenant, changes, author, message)
        except RemoteError as error:
            # An external remote that is away or holds problems: the agent reports again.
            raise Conflict(str(error)) from None
        except ConflictError:
            # A name was taken by a concurrent commit; the next attempt picks fresh names.
            if attempt == COMMIT_ATTEMPTS:
                raise Conflict(
                    "items: the discovered/ namespace kept changing under this report; "
                    "send it again"
                ) from None
            continue
        if not store.announces_own_commits:
            await publish_job_changes(store, broadcaster, principal.tenant_id, tenant, old, new)
        return manifests, new
    raise AssertionError("unreachable")


async def _release(
    session: AsyncSession, tenant_id: uuid.UUID, claimed: dict[str, uuid.UUID]
) -> None:
    """Drop this call's fresh claims after a failed commit, so the next report retries."""
    if claimed:
        await session.execute(
            delete(DiscoveredJob).where(
                DiscoveredJob.tenant_id == tenant_id,
                DiscoveredJob.fingerprint.in_(list(claimed)),
            )
        )
        await session.commit()
