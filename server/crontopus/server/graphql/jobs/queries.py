"""GraphQL queries: jobs, namespaces, the repository, manifest validation and job history."""

from __future__ import annotations

import uuid

import strawberry
from graphql import GraphQLError

from crontopus.core.secrets import manifest_warnings
from crontopus.server.errors import NotFound
from crontopus.server.gitstore import Snapshot
from crontopus.server.graphql.context import Info
from crontopus.server.graphql.jobs.types import (
    Job,
    JobRevision,
    ManifestProblem,
    ManifestValidation,
    Namespace,
    Repository,
)
from crontopus.server.graphql.keyvalues import KeyValueInput
from crontopus.server.graphql.pagination import (
    Connection,
    build_connection,
    decode_cursor,
    page_size,
    search_argument,
)
from crontopus.server.services import jobs
from crontopus.server.services.secrets import secret_names


def _not_found(error: NotFound) -> GraphQLError:
    return GraphQLError(error.message, extensions={"code": "NOT_FOUND"})


async def _readable(info: Info) -> Snapshot:
    context = info.context
    return await jobs.readable_jobs(context.gitstore, context.require_principal())


@strawberry.type
class JobQueries:
    @strawberry.field(description="Jobs at HEAD, by path; filters combine with AND.")
    async def jobs(
        self,
        info: Info,
        namespace: str | None = None,
        search: str | None = None,
        labels: list[KeyValueInput] | None = None,
        first: int = 100,
        after: str | None = None,
    ) -> Connection[Job]:
        first = page_size(first, info.context.settings.limits.max_page_size)
        position = decode_cursor(after, 1)
        view = await _readable(info)
        wanted = {item.key: item.value for item in labels or []}
        entries = jobs.filter_jobs(view, namespace, search, wanted)
        if position is not None:
            entries = [e for e in entries if e.path > position[0]]
        return build_connection(entries[: first + 1], first, Job.from_entry, lambda e: (e.path,))

    @strawberry.field(description="One job by id.")
    async def job(self, info: Info, id: uuid.UUID) -> Job | None:
        entry = (await _readable(info)).job(id)
        return Job.from_entry(entry) if entry else None

    @strawberry.field(description="One job by namespace and name.")
    async def job_by_name(self, info: Info, namespace: str, name: str) -> Job | None:
        entry = (await _readable(info)).job_by_name(namespace, name)
        return Job.from_entry(entry) if entry else None

    @strawberry.field(description="Every namespace with its number of jobs.")
    async def namespaces(self, info: Info) -> list[Namespace]:
        principal = info.context.require_principal()
        infos = await jobs.list_namespaces(info.context.gitstore, principal)
        return [Namespace.from_info(i) for i in infos]

    @strawberry.field(
        description=(
            "Namespaces by name with their number of jobs, a page at a time; `search` matches "
            "part of the name, any case (`namespaces` lists them all at once)."
        )
    )
    async def namespaces_page(
        self, info: Info, search: str | None = None, first: int = 50, after: str | None = None
    ) -> Connection[Namespace]:
        principal = info.context.require_principal()
        first = page_size(first, info.context.settings.limits.max_page_size)
        text = search_argument(search, "search")
        position = decode_cursor(after, 1)
        infos = await jobs.list_namespaces(info.context.gitstore, principal)
        page = jobs.page_namespaces(infos, first, position[0] if position else None, text)
        return build_connection(page, first, Namespace.from_info, lambda n: (n.name,))

    @strawberry.field(description="Check a manifest with the same validator a push goes through.")
    async def validate_manifest(self, info: Info, yaml: str) -> ManifestValidation:
        principal = info.context.require_principal()
        principal.require_read("Validating manifests")
        manifest, problems = jobs.validate_manifest_text(yaml)
        warnings = []
        if manifest is not None:
            async with info.context.session() as session:
                known = await secret_names(session, principal.tenant_id)
            warnings = manifest_warnings(manifest, known=known)
        return ManifestValidation(
            valid=not problems,
            problems=[ManifestProblem.from_problem(p) for p in problems],
            warnings=[ManifestProblem.from_problem(p) for p in warnings],
            job=Job.from_manifest(manifest, yaml) if manifest else None,
        )

    @strawberry.field(description="Commits that touched a job, newest first (at most 100).")
    async def job_history(self, info: Info, id: uuid.UUID, first: int = 20) -> list[JobRevision]:
        principal = info.context.require_principal()
        first = page_size(first, info.context.settings.limits.max_page_size)
        try:
            entries = await jobs.job_history(info.context.gitstore, principal, id, first)
        except NotFound as error:
            raise _not_found(error) from None
        return [JobRevision.from_entry(e) for e in entries]

    @strawberry.field(description="Where agents and people clone the tenant's jobs from.")
    async def repository(self, info: Info) -> Repository:
        principal = info.context.require_principal()
        principal.require_read("Reading the repository", endpoints=True)
        context = info.context
        base = context.settings.public_url or str(context.request.base_url)
        store = context.gitstore
        return Repository(
            clone_url=store.clone_url(principal.tenant_slug, base),
            # head() fetches first (external store), so the pending commit is as fresh.
            head_commit=await store.head(principal.tenant_slug),
            pending_commit=await store.pending_commit(principal.tenant_slug),
        )

    @strawberry.field(
        description="Files at HEAD that are not valid manifests, and why; with an external "
        "Git store also a remote tip that is not served because of its problems."
    )
    async def repository_problems(self, info: Info) -> list[ManifestProblem]:
        principal = info.context.require_principal()
        found = await jobs.repository_problems(info.context.gitstore, principal)
        return [ManifestProblem.from_problem(p) for p in found]
