"""Jobs and namespaces: read from the tenant's Git repository, written as commits."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from crontopus.core.errors import ManifestError, NamespaceError
from crontopus.core.manifest import (
    JobManifest,
    Problem,
    dump_manifest,
    manifest_from_dict,
    manifest_path,
    manifest_problems,
    parse_manifest,
    parse_manifest_with_id,
)
from crontopus.core.namespaces import (
    DISCOVERED_NAMESPACE,
    PROTECTED_NAMESPACES,
    namespace_problem,
)
from crontopus.server.errors import Conflict, FieldProblem, NotFound, ValidationFailed
from crontopus.server.events.broadcaster import Broadcaster
from crontopus.server.events.codec import to_event
from crontopus.server.events.event import Event
from crontopus.server.events.topics import JobChanged
from crontopus.server.gitstore import (
    Author,
    Change,
    ConflictError,
    Delete,
    GitStore,
    HistoryEntry,
    InvalidChangeError,
    JobEntry,
    Mkdir,
    NamespaceExistsError,
    NamespaceInfo,
    NamespaceNotEmptyError,
    Put,
    RemoteError,
    Rmdir,
    Snapshot,
)
from crontopus.server.security.identity_cache import Identity
from crontopus.server.security.principal import Principal
from crontopus.server.services.channel import commit_notice
from crontopus.server.services.quotas import Quota, require_room
from crontopus.server.settings import Quotas

JOB_EVENTS = JobChanged.TOPIC
SOURCE_LABEL = "source"
# Spec sections a job request may leave unsaid; an edit then keeps what the manifest had.
KEPT_SECTIONS = frozenset({"alerts", "systemd", "taskScheduler"})
# The mutation argument a whole manifest travels in; its problems name the manifest's fields.
MANIFEST_ARGUMENT = "manifest"


@dataclass(frozen=True)
class JobSpec:
    """What a user asks for when creating or replacing a job (the id is the server's)."""

    name: str
    namespace: str
    schedule: str
    command: str
    timezone: str | None = None
    args: Sequence[str] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    enabled: bool = True
    paused: bool = False
    timeout: int | None = None
    grace_time: int | None = None
    concurrency: str | None = None
    target_labels: Mapping[str, str] = field(default_factory=dict)
    #: Variable -> secret name; None (an older client) keeps the job's references as they are.
    secret_env: Mapping[str, str] | None = None
    #: Whole spec sections (alerts, systemd, taskScheduler) as manifest data.
    sections: Mapping[str, Any] = field(default_factory=dict)
    #: Sections the request says nothing about: an update keeps the current manifest's.
    unsaid: frozenset[str] = KEPT_SECTIONS

    def to_document(self, job_id: uuid.UUID) -> dict[str, Any]:
        """Shape the request as a manifest document, so the one validator checks it."""
        metadata: dict[str, Any] = {"id": str(job_id), "name": self.name}
        metadata["namespace"] = self.namespace
        if self.labels:
            metadata["labels"] = dict(self.labels)
        spec: dict[str, Any] = {"schedule": self.schedule, "command": self.command}
        optional = {
            "timezone": self.timezone,
            "timeout": self.timeout,
            "graceTime": self.grace_time,
            "concurrency": self.concurrency,
        }
        spec.update({key: value for key, value in optional.items() if value is not None})
        if self.args:
            spec["args"] = list(self.args)
        if self.secret_env:
            spec["env"] = [{"name": k, "value": v} for k, v in self.env.items()] + [
                {"name": k, "secretRef": v} for k, v in self.secret_env.items()
            ]
        elif self.env:
            spec["env"] = dict(self.env)
        spec["enabled"], spec["paused"] = self.enabled, self.paused
        if self.target_labels:
            spec["targets"] = {"labels": dict(self.target_labels)}
        spec.update(self.sections)
        return {"apiVersion": "crontopus.io/v1", "kind": "Job", "metadata": metadata, "spec": spec}


# Manifest field paths and the job-input fields they came from.
_INPUT_FIELDS = {
    "metadata.name": "name",
    "metadata.namespace": "namespace",
    "metadata.labels": "labels",
    "spec.targets": "targetLabels",
    "spec.targets.labels": "targetLabels",
    "spec.graceTime": "graceTime",
    "spec.taskScheduler": "taskScheduler",
}


def _input_problem(problem: Problem, argument: str) -> FieldProblem:
    path = problem.path
    for prefix, name in sorted(_INPUT_FIELDS.items(), key=lambda item: -len(item[0])):
        if path == prefix or path.startswith(prefix + ".") or path.startswith(prefix + "["):
            return FieldProblem((argument, name), problem.message)
    field_name = path.split(".", 1)[1] if path.startswith(("spec.", "metadata.")) else path
    return FieldProblem((argument, *field_name.split(".")), problem.message)


def _validated(spec: JobSpec, job_id: uuid.UUID, argument: str = "input") -> JobManifest:
    try:
        return manifest_from_dict(spec.to_document(job_id))
    except ManifestError as error:
        raise ValidationFailed([_input_problem(p, argument) for p in error.problems]) from None


def _validated_text(text: str, job_id: uuid.UUID, *, new: bool) -> JobManifest:
    """Check a whole manifest sent as YAML; problems name `manifest` and the manifest's field."""
    try:
        return parse_manifest_with_id(text, job_id, replace=new)
    except ManifestError as error:
        raise ValidationFailed(
            [
                FieldProblem((MANIFEST_ARGUMENT, p.path or "(file)"), p.message)
                for p in error.problems
            ]
        ) from None


def author_of(identity: Identity) -> Author:
    """Return the commit author for the person (or their token) acting."""
    if identity.user is None:
        return Author(identity.principal.label, "agent@crontopus.invalid")
    label = identity.principal.label
    return Author(label, identity.user.email)


async def snapshot(store: GitStore, principal: Principal) -> Snapshot:
    """Return the tenant's jobs at HEAD (cached per commit), for services that checked access."""
    return await store.snapshot(principal.tenant_slug)


async def repository_problems(store: GitStore, principal: Principal) -> list[Problem]:
    """Return what is wrong in the repository: broken files at HEAD, then what keeps an
    external remote's tip from being served (it is fetched first, as any read)."""
    principal.require_read("Reading repository problems")
    view = await store.snapshot(principal.tenant_slug)
    return [*view.problems, *await store.pending_problems(principal.tenant_slug)]


async def readable_jobs(
    store: GitStore, principal: Principal, action: str = "Reading jobs"
) -> Snapshot:
    """Return the jobs at HEAD the principal may read: all of them, or an agent's targeted ones.

    An endpoint sees only the jobs targeted at it (never discovered entries, broken files or
    namespaces): its token must not reveal what other machines run.
    """
    principal.require_read(action, endpoints=True)
    view = await store.snapshot(principal.tenant_slug)
    if principal.endpoint_id is None:
        return view
    labels = dict(principal.endpoint_labels)
    targeted = {
        job_id: entry
        for job_id, entry in view.jobs.items()
        if not entry.manifest.is_discovered and entry.manifest.targets.matches(labels)
    }
    return Snapshot(view.commit_id, targeted, {}, ())


def filter_jobs(
    view: Snapshot,
    namespace: str | None = None,
    search: str | None = None,
    labels: Mapping[str, str] | None = None,
) -> list[JobEntry]:
    """Return the jobs matching every given filter, ordered by path."""
    needle = (search or "").strip().lower()
    result = []
    for entry in view.jobs.values():
        manifest = entry.manifest
        if namespace is not None and manifest.namespace != namespace:
            continue
        if (
            needle
            and needle not in manifest.name.lower()
            and needle not in manifest.command.lower()
        ):
            continue
        if labels and any(manifest.labels.get(k) != v for k, v in labels.items()):
            continue
        result.append(entry)
    result.sort(key=lambda e: e.path)
    return result


async def get_job(store: GitStore, principal: Principal, job_id: uuid.UUID) -> JobEntry:
    """Return one job of the tenant, or NotFound."""
    entry = (await snapshot(store, principal)).job(job_id)
    if entry is None:
        raise NotFound(f"no job with id {job_id}")
    return entry


async def create_job(
    store: GitStore,
    broadcaster: Broadcaster,
    principal: Principal,
    author: Author,
    spec: JobSpec,
    *,
    quotas: Quotas,
    note: str | None = None,
) -> JobEntry:
    """Validate a new job, give it an id and commit it (with `note` as the commit's message)."""
    principal.require_write("Creating jobs")
    manifest = _validated(spec, uuid.uuid4())
    return await _create(
        store, broadcaster, principal, author, manifest, quotas, "input", _checked_note(note)
    )


async def create_job_from_manifest(
    store: GitStore,
    broadcaster: Broadcaster,
    principal: Principal,
    author: Author,
    text: str,
    *,
    quotas: Quotas,
    note: str | None = None,
) -> JobEntry:
    """Validate a whole manifest (YAML) as a new job and commit it under a new id."""
    principal.require_write("Creating jobs")
    manifest = _validated_text(text, uuid.uuid4(), new=True)
    return await _create(
        store,
        broadcaster,
        principal,
        author,
        manifest,
        quotas,
        MANIFEST_ARGUMENT,
        _checked_note(note),
    )


def _field(argument: str, input_field: str, manifest_field: str) -> tuple[str, ...]:
    """Name a field the way the caller wrote it: in the job input or in the manifest."""
    return (argument, manifest_field if argument == MANIFEST_ARGUMENT else input_field)


async def _create(
    store: GitStore,
    broadcaster: Broadcaster,
    principal: Principal,
    author: Author,
    manifest: JobManifest,
    quotas: Quotas,
    argument: str,
    note: str | None = None,
) -> JobEntry:
    view = await snapshot(store, principal)
    _check_target_namespace(
        view, manifest.namespace, _field(argument, "namespace", "metadata.namespace")
    )
    require_room(Quota.JOBS, quotas, managed_job_count(view))
    path = manifest_path(manifest.namespace, manifest.name)
    if view.blob_id(path) is not None:
        raise ValidationFailed(
            [
                FieldProblem(
                    _field(argument, "name", "metadata.name"),
                    f'a job named "{manifest.name}" already exists in namespace '
                    f'"{manifest.namespace}": choose another name',
                )
            ]
        )
    changes: list[Change] = [Put(path, dump_manifest(manifest), None)]
    message = commit_message(f"jobs: create {path[:-5]}", note)
    await _commit(store, broadcaster, principal, author, changes, message)
    return await get_job(store, principal, manifest.id)


async def update_job(
    store: GitStore,
    broadcaster: Broadcaster,
    principal: Principal,
    author: Author,
    job_id: uuid.UUID,
    spec: JobSpec,
    expected_blob_id: str,
    *,
    note: str | None = None,
) -> JobEntry:
    """Replace a job's manifest, refusing if it changed since `expected_blob_id` was read."""
    principal.require_write("Editing jobs")
    current = await _editable(store, principal, job_id)
    manifest = _keep_unsaid(_validated(spec, job_id), current.manifest, spec.unsaid)
    if spec.secret_env is None and current.manifest.secret_env:
        # A client that knows no secret references must not drop them by saving the job.
        kept = {k: v for k, v in current.manifest.secret_env.items() if k not in manifest.env}
        manifest = replace(manifest, secret_env=kept)
    return await _replace(
        store,
        broadcaster,
        principal,
        author,
        current,
        manifest,
        expected_blob_id,
        "input",
        _checked_note(note),
    )


async def update_job_from_manifest(
    store: GitStore,
    broadcaster: Broadcaster,
    principal: Principal,
    author: Author,
    job_id: uuid.UUID,
    text: str,
    expected_blob_id: str,
    *,
    note: str | None = None,
) -> JobEntry:
    """Replace a job's manifest with a whole one (YAML), over the version `expected_blob_id`."""
    principal.require_write("Editing jobs")
    current = await _editable(store, principal, job_id)
    manifest = _validated_text(text, job_id, new=False)
    if manifest.id != job_id:
        raise ValidationFailed(
            [
                FieldProblem(
                    (MANIFEST_ARGUMENT, "metadata.id"),
                    f"the id is immutable: put back {job_id} (or leave it out); "
                    "create a new job to get another id",
                )
            ]
        )
    return await _replace(
        store,
        broadcaster,
        principal,
        author,
        current,
        manifest,
        expected_blob_id,
        MANIFEST_ARGUMENT,
        _checked_note(note),
    )


#: The longest commit message a person may give a job's save.
MAX_NOTE = 2000


def _checked_note(note: str | None) -> str | None:
    """The person's commit message, stripped; None when blank; refused when unusable."""
    if note is None or not note.strip():
        return None
    if len(note) > MAX_NOTE:
        raise ValidationFailed.single(
            "message", f"is {len(note)} characters: keep a commit message under {MAX_NOTE}"
        )
    if "\x00" in note:
        raise ValidationFailed.single("message", "contains a NUL character: remove it")
    return note.strip()


def commit_message(subject: str, note: str | None) -> str:
    """The commit message of a job change: the person's words first (what history lists),
    then the change as the server names it, so `git log --grep "jobs: create"` still finds it."""
    return subject if not note else f"{note}\n\n{subject}"


async def _editable(store: GitStore, principal: Principal, job_id: uuid.UUID) -> JobEntry:
    current = await get_job(store, principal, job_id)
    if current.manifest.is_discovered:
        raise ValidationFailed.single(
            "id", "discovered jobs are read-only: adopt the job into a namespace first"
        )
    return current


async def _replace(
    store: GitStore,
    broadcaster: Broadcaster,
    principal: Principal,
    author: Author,
    current: JobEntry,
    manifest: JobManifest,
    expected_blob_id: str,
    argument: str,
    note: str | None = None,
) -> JobEntry:
    view = await snapshot(store, principal)
    _check_target_namespace(
        view, manifest.namespace, _field(argument, "namespace", "metadata.namespace")
    )
    path = manifest_path(manifest.namespace, manifest.name)
    changes: list[Change] = []
    if path != current.path:
        if view.blob_id(path) is not None:
            raise ValidationFailed(
                [
                    FieldProblem(
                        _field(argument, "name", "metadata.name"),
                        f"{path} already exists: choose another name or namespace",
                    )
                ]
            )
        changes.append(Delete(current.path, expected_blob_id))
        changes.append(Put(path, dump_manifest(manifest), None))
    else:
        changes.append(Put(path, dump_manifest(manifest), expected_blob_id))
    message = f"jobs: update {path[:-5]}"
    if path != current.path:
        message = f"jobs: move {current.path[:-5]} to {path[:-5]}"
    await _commit(store, broadcaster, principal, author, changes, commit_message(message, note))
    return await get_job(store, principal, manifest.id)


def _keep_unsaid(new: JobManifest, old: JobManifest, unsaid: frozenset[str]) -> JobManifest:
    """Carry over the sections the request left unsaid, so an API edit never drops them."""
    return replace(
        new,
        alerts=old.alerts if "alerts" in unsaid else new.alerts,
        systemd=old.systemd if "systemd" in unsaid else new.systemd,
        task_scheduler=old.task_scheduler if "taskScheduler" in unsaid else new.task_scheduler,
        extra_spec={**old.extra_spec, **new.extra_spec},
    )


async def delete_job(
    store: GitStore,
    broadcaster: Broadcaster,
    principal: Principal,
    author: Author,
    job_id: uuid.UUID,
    expected_blob_id: str,
) -> JobEntry:
    """Delete a job, refusing if it changed since `expected_blob_id` was read."""
    principal.require_write("Deleting jobs")
    current = await get_job(store, principal, job_id)
    if current.manifest.is_discovered:
        raise ValidationFailed.single(
            "id",
            "discovered jobs cannot be deleted through Crontopus: they live on the machine; "
            "adopt the job to manage it",
        )
    changes: list[Change] = [Delete(current.path, expected_blob_id)]
    await _commit(
        store, broadcaster, principal, author, changes, f"jobs: delete {current.path[:-5]}"
    )
    return current


async def adopt_job(
    store: GitStore,
    broadcaster: Broadcaster,
    principal: Principal,
    author: Author,
    job_id: uuid.UUID,
    target_namespace: str,
    *,
    quotas: Quotas,
) -> JobEntry:
    """Move a discovered job into a namespace, where Crontopus manages it from now on."""
    principal.require_write("Adopting jobs")
    current = await get_job(store, principal, job_id)
    if not current.manifest.is_discovered:
        raise ValidationFailed.single("id", "only discovered jobs can be adopted")
    view = await snapshot(store, principal)
    _check_target_namespace(view, target_namespace, ("targetNamespace",))
    require_room(Quota.JOBS, quotas, managed_job_count(view))
    labels = {k: v for k, v in current.manifest.labels.items() if k != SOURCE_LABEL}
    adopted = parse_manifest(current.text)
    document_path = manifest_path(target_namespace, adopted.name)
    if view.blob_id(document_path) is not None:
        raise ValidationFailed.single(
            "targetNamespace", f"{document_path} already exists: adopt into another namespace"
        )
    adopted = replace(adopted, namespace=target_namespace, labels=labels)
    changes: list[Change] = [
        Delete(current.path, current.blob_id),
        Put(document_path, dump_manifest(adopted), None),
    ]
    message = f"jobs: adopt {current.path[:-5]} into {target_namespace}"
    await _commit(store, broadcaster, principal, author, changes, message)
    return await get_job(store, principal, job_id)


def managed_job_count(view: Snapshot) -> int:
    """The jobs the jobs quota counts: every job but the discovered ones."""
    return sum(1 for entry in view.jobs.values() if not entry.manifest.is_discovered)


def discovered_job_count(view: Snapshot) -> int:
    """The jobs the discovered-jobs quota counts."""
    return len(view.jobs) - managed_job_count(view)


def _check_target_namespace(view: Snapshot, namespace: str, path: tuple[str, ...]) -> None:
    if namespace == DISCOVERED_NAMESPACE:
        raise ValidationFailed(
            [FieldProblem(path, "the discovered namespace is filled by agents only")]
        )
    if namespace not in view.namespaces:
        raise ValidationFailed(
            [FieldProblem(path, f'namespace "{namespace}" does not exist: create it first')]
        )


async def list_namespaces(store: GitStore, principal: Principal) -> list[NamespaceInfo]:
    """Return every namespace with its job count, by name."""
    principal.require_read("Listing namespaces")
    view = await snapshot(store, principal)
    return sorted(view.namespaces.values(), key=lambda n: n.name)


def page_namespaces(
    namespaces: list[NamespaceInfo], first: int, after: str | None, search: str | None
) -> list[NamespaceInfo]:
    """Up to `first` + 1 of `namespaces` (by name) after the name `after`, whose name contains
    `search` (any case). Namespaces live in the Git snapshot, so this pages in memory."""
    wanted = search.lower() if search else None
    return [
        n
        for n in namespaces
        if (after is None or n.name > after) and (wanted is None or wanted in n.name.lower())
    ][: first + 1]


async def create_namespace(
    store: GitStore, broadcaster: Broadcaster, principal: Principal, author: Author, name: str
) -> NamespaceInfo:
    """Create an empty namespace."""
    principal.require_write("Creating namespaces")
    if (problem := namespace_problem(name)) is not None:
        raise ValidationFailed.single("name", problem)
    try:
        await _commit(
            store, broadcaster, principal, author, [Mkdir(name)], f"namespaces: create {name}"
        )
    except Conflict as error:
        raise ValidationFailed.single("name", error.message) from None
    return NamespaceInfo(name=name, job_count=0, is_system=False)


async def delete_namespace(
    store: GitStore, broadcaster: Broadcaster, principal: Principal, author: Author, name: str
) -> NamespaceInfo:
    """Delete an empty namespace (never `default` or `discovered`)."""
    principal.require_write("Deleting namespaces")
    if name in PROTECTED_NAMESPACES:
        raise ValidationFailed.single("name", f'"{name}" always exists and cannot be deleted')
    view = await snapshot(store, principal)
    info = view.namespaces.get(name)
    if info is None:
        raise NotFound(f'no namespace named "{name}"')
    await _commit(
        store, broadcaster, principal, author, [Rmdir(name)], f"namespaces: delete {name}"
    )
    return info


async def job_history(
    store: GitStore, principal: Principal, job_id: uuid.UUID, first: int
) -> list[HistoryEntry]:
    """Return the commits that touched a job, newest first."""
    principal.require_read("Reading job history")
    entries = await store.history(principal.tenant_slug, job_id, first)
    if not entries:
        raise NotFound(f"no job with id {job_id}")
    return entries


def validate_manifest_text(
    text: str, file: str | None = None
) -> tuple[JobManifest | None, list[Problem]]:
    """Check a manifest without saving it; return it (when valid) and every problem."""
    problems = manifest_problems(text, file)
    if problems:
        return None, problems
    return parse_manifest(text, file), []


async def _commit(
    store: GitStore,
    broadcaster: Broadcaster,
    principal: Principal,
    author: Author,
    changes: Sequence[Change],
    message: str,
) -> str:
    tenant = principal.tenant_slug
    before = await store.head(tenant)
    try:
        new = await store.commit_changes(tenant, changes, author, message)
    except (NamespaceExistsError, NamespaceNotEmptyError) as error:
        raise Conflict(str(error)) from None
    except ConflictError as error:
        raise Conflict(
            f"{error.path} changed since you read it (your blob {error.expected or 'none'}, "
            f"now {error.current or 'none'}): reload the job and apply your change again"
        ) from None
    except (InvalidChangeError, NamespaceError) as error:
        raise ValidationFailed.single("input", str(error)) from None
    except RemoteError as error:
        # An external remote that cannot be reached, or whose tip was not adopted: the
        # change cannot land now, and the message says why.
        raise Conflict(str(error)) from None
    if new == before or store.announces_own_commits:
        return new  # nothing changed (no commit was made), or the store announces it
    # Diff against the commit's own parent: a push landing meanwhile is announced by on_push.
    old = await store.parent(tenant, new)
    await publish_job_changes(store, broadcaster, principal.tenant_id, tenant, old, new)
    return new


async def publish_job_changes(
    store: GitStore,
    broadcaster: Broadcaster,
    tenant_id: uuid.UUID,
    tenant_slug: str,
    old: str | None,
    new: str,
) -> None:
    """Announce every job a commit (API or push) created, updated or deleted, and tell agents."""
    for event in await job_change_events(store, tenant_id, tenant_slug, old, new):
        await broadcaster.publish(event)


async def job_change_events(
    store: GitStore, tenant_id: uuid.UUID, tenant_slug: str, old: str | None, new: str
) -> list[Event]:
    """The events announcing a commit: one `jobs` event per job it created, updated or
    deleted since `old`, then one for the agents whose jobs it changed (the agent channel)."""
    if old == new:
        return []
    changes = await store.job_changes(tenant_slug, old, new)
    events = [
        to_event(tenant_id, JobChanged(change.kind, change.job_id, change.path, change.commit_id))
        for change in changes
    ]
    notice = await commit_notice(store, tenant_id, tenant_slug, old, new, changes)
    return events if notice is None else [*events, notice]
