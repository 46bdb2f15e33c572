"""GraphQL mutations: create, update, delete and adopt jobs; create and delete namespaces."""

from __future__ import annotations

import uuid
from typing import Annotated

import strawberry

from crontopus.server.errors import ValidationFailed
from crontopus.server.graphql.context import Info
from crontopus.server.graphql.errors import ServiceErrors, UserErrors
from crontopus.server.graphql.jobs.inputs import job_spec
from crontopus.server.graphql.jobs.types import (
    DeleteJobPayload,
    DeleteNamespacePayload,
    Job,
    JobInput,
    Namespace,
)
from crontopus.server.services import jobs


def _one_of(input: JobInput | None, manifest: str | None) -> JobInput:
    """The job input, when it is the one thing given."""
    if input is None or manifest is not None:
        raise ValidationFailed.single(
            "input",
            "give either input (the job's fields) or manifest (the whole YAML), "
            f"not {'both' if input is not None else 'neither'}",
        )
    return input


COMMIT_MESSAGE = (
    "Why the change was made: the Git commit's message, listed first in the job's history "
    "(the server's own line, such as `jobs: update default/backup`, follows it)."
)

JobResult = Annotated[Job | UserErrors, strawberry.union("JobResult")]
DeleteJobResult = Annotated[DeleteJobPayload | UserErrors, strawberry.union("DeleteJobResult")]
NamespaceResult = Annotated[Namespace | UserErrors, strawberry.union("NamespaceResult")]
DeleteNamespaceResult = Annotated[
    DeleteNamespacePayload | UserErrors, strawberry.union("DeleteNamespaceResult")
]


@strawberry.type
class JobMutations:
    @strawberry.mutation(
        description="Create a job from `input` or from a whole `manifest` (YAML; give one of "
        "them). The server assigns the id (a manifest's metadata.id is replaced) and commits it.",
        extensions=[ServiceErrors()],
    )
    async def create_job(
        self,
        info: Info,
        input: JobInput | None = None,
        manifest: str | None = None,
        message: Annotated[str | None, strawberry.argument(description=COMMIT_MESSAGE)] = None,
    ) -> JobResult:
        context = info.context
        principal = context.require_principal()
        principal.require_write("Creating jobs")  # before judging the arguments
        author = jobs.author_of(context.require_identity())
        if manifest is not None and input is None:
            entry = await jobs.create_job_from_manifest(
                context.gitstore,
                context.broadcaster,
                principal,
                author,
                manifest,
                quotas=context.quotas,
                note=message,
            )
        else:
            entry = await jobs.create_job(
                context.gitstore,
                context.broadcaster,
                principal,
                author,
                job_spec(_one_of(input, manifest)),
                quotas=context.quotas,
                note=message,
            )
        return Job.from_entry(entry)

    @strawberry.mutation(
        description="Replace a job from `input` or from a whole `manifest` (YAML; give one of "
        "them); fails with a conflict if it changed since `expectedBlobId`.",
        extensions=[ServiceErrors()],
    )
    async def update_job(
        self,
        info: Info,
        id: uuid.UUID,
        expected_blob_id: str,
        input: JobInput | None = None,
        manifest: str | None = None,
        message: Annotated[str | None, strawberry.argument(description=COMMIT_MESSAGE)] = None,
    ) -> JobResult:
        context = info.context
        principal = context.require_principal()
        principal.require_write("Editing jobs")  # before judging the arguments
        author = jobs.author_of(context.require_identity())
        if manifest is not None and input is None:
            entry = await jobs.update_job_from_manifest(
                context.gitstore,
                context.broadcaster,
                principal,
                author,
                id,
                manifest,
                expected_blob_id,
                note=message,
            )
        else:
            entry = await jobs.update_job(
                context.gitstore,
                context.broadcaster,
                principal,
                author,
                id,
                job_spec(_one_of(input, manifest)),
                expected_blob_id,
                note=message,
            )
        return Job.from_entry(entry)

    @strawberry.mutation(
        description="Delete a job unless it changed since `expectedBlobId`.",
        extensions=[ServiceErrors()],
    )
    async def delete_job(self, info: Info, id: uuid.UUID, expected_blob_id: str) -> DeleteJobResult:
        context = info.context
        entry = await jobs.delete_job(
            context.gitstore,
            context.broadcaster,
            context.require_principal(),
            jobs.author_of(context.require_identity()),
            id,
            expected_blob_id,
        )
        return DeleteJobPayload(job=Job.from_entry(entry))

    @strawberry.mutation(
        description="Move a discovered job into a namespace to manage it.",
        extensions=[ServiceErrors()],
    )
    async def adopt_job(self, info: Info, id: uuid.UUID, target_namespace: str) -> JobResult:
        context = info.context
        entry = await jobs.adopt_job(
            context.gitstore,
            context.broadcaster,
            context.require_principal(),
            jobs.author_of(context.require_identity()),
            id,
            target_namespace,
            quotas=context.quotas,
        )
        return Job.from_entry(entry)

    @strawberry.mutation(description="Create an empty namespace.", extensions=[ServiceErrors()])
    async def create_namespace(self, info: Info, name: str) -> NamespaceResult:
        context = info.context
        namespace = await jobs.create_namespace(
            context.gitstore,
            context.broadcaster,
            context.require_principal(),
            jobs.author_of(context.require_identity()),
            name,
        )
        return Namespace.from_info(namespace)

    @strawberry.mutation(
        description="Delete an empty namespace (never default or discovered).",
        extensions=[ServiceErrors()],
    )
    async def delete_namespace(self, info: Info, name: str) -> DeleteNamespaceResult:
        context = info.context
        namespace = await jobs.delete_namespace(
            context.gitstore,
            context.broadcaster,
            context.require_principal(),
            jobs.author_of(context.require_identity()),
            name,
        )
        return DeleteNamespacePayload(namespace=Namespace.from_info(namespace))
