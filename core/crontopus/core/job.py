"""A job as its manifest describes it, and where its file lives in the repository."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from crontopus.core.alerts import Alerts
from crontopus.core.enums import Concurrency
from crontopus.core.errors import ManifestError
from crontopus.core.namespaces import namespace_problem, slug_problem, validate_namespace
from crontopus.core.problems import Problem
from crontopus.core.schedule import CronSchedule, parse_schedule

API_VERSIONS: Final = ("crontopus.io/v1", "v1")
KIND: Final = "Job"
DEFAULT_GRACE_TIME: Final = 300
SOURCE_LABEL: Final = "source"
DISCOVERED_SOURCE: Final = "discovered"
MANIFEST_SUFFIX: Final = ".yaml"


@dataclass(frozen=True)
class Targets:
    """Which endpoints run a job: those carrying all of these labels (none = every endpoint)."""

    labels: Mapping[str, str] = field(default_factory=dict)

    def matches(self, endpoint_labels: Mapping[str, str]) -> bool:
        """Tell whether an endpoint with `endpoint_labels` runs the job."""
        return all(endpoint_labels.get(key) == value for key, value in self.labels.items())

    def __hash__(self) -> int:
        return hash(frozenset(self.labels.items()))


@dataclass(frozen=True)
class SchedulerOptions:
    """Choices a job makes about one native scheduler (`spec.systemd`, `spec.taskScheduler`)."""

    # systemd and Task Scheduler handle wall times around a clock change differently from cron;
    # their drivers refuse such jobs unless the job accepts the difference explicitly.
    accept_dst_differences: bool = False

    @property
    def is_default(self) -> bool:
        """Tell whether nothing is set, so the section is left out of the canonical form."""
        return self == SchedulerOptions()


@dataclass(frozen=True)
class JobManifest:
    """One job, as its manifest describes it; treat the mappings as read-only."""

    id: uuid.UUID
    name: str
    namespace: str
    labels: Mapping[str, str]
    schedule: str
    timezone: str
    command: str
    args: tuple[str, ...]
    env: Mapping[str, str]
    enabled: bool = True
    paused: bool = False
    timeout: int | None = None
    grace_time: int = DEFAULT_GRACE_TIME
    concurrency: Concurrency = Concurrency.ALLOW
    targets: Targets = field(default_factory=Targets)
    api_version: str = API_VERSIONS[0]
    #: spec.alerts as written; None when the manifest has no alerts block (tenant defaults).
    alerts: Alerts | None = None
    # Reserved for spec keys added later; the parser leaves it empty for now.
    extra_spec: Mapping[str, Any] = field(default_factory=dict)
    systemd: SchedulerOptions = SchedulerOptions()
    task_scheduler: SchedulerOptions = SchedulerOptions()
    #: Variables whose values come from the tenant's secret store: variable -> secret name.
    #: Never in `env`, so nothing that writes `env` anywhere can write a secret's value.
    secret_env: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_discovered(self) -> bool:
        """Tell whether the agent found this job on a machine instead of someone writing it."""
        return self.labels.get(SOURCE_LABEL) == DISCOVERED_SOURCE

    @property
    def cron(self) -> CronSchedule:
        """Return the parsed schedule."""
        return parse_schedule(self.schedule)

    @property
    def active(self) -> bool:
        """Tell whether the job is meant to fire (enabled and not paused)."""
        return self.enabled and not self.paused

    def scheduler_options(self, driver: str) -> SchedulerOptions:
        """Return the job's options for the driver named `driver` (defaults for other drivers)."""
        if driver == "systemd":
            return self.systemd
        if driver == "taskscheduler":
            return self.task_scheduler
        return SchedulerOptions()

    @property
    def path(self) -> str:
        """Return the file of this job in the repository, e.g. "backup/backup-database.yaml"."""
        return manifest_path(self.namespace, self.name)

    def __hash__(self) -> int:
        return hash(self.id)


def manifest_path(namespace: str, name: str) -> str:
    """Return the repository path of a job, e.g. "backup/backup-database.yaml"."""
    validate_namespace(namespace)
    problem = slug_problem(name, "name")
    if problem is not None:
        raise ManifestError([Problem(None, "metadata.name", problem)])
    return f"{namespace}/{name}{MANIFEST_SUFFIX}"


def split_manifest_path(path: str) -> tuple[str, str] | None:
    """Return (namespace, name) for a path shaped like a manifest's, else None."""
    directory, slash, file_name = path.partition("/")
    if not slash or "/" in file_name or not file_name.endswith(MANIFEST_SUFFIX):
        return None
    return directory, file_name.removesuffix(MANIFEST_SUFFIX)


def path_problems(path: str, manifest: JobManifest) -> list[Problem]:
    """Return the problems of keeping `manifest` at `path` (it belongs at namespace/name.yaml)."""
    return _misplaced(path, manifest.namespace, manifest.name)


def loose_path_problems(path: str, data: object) -> list[Problem]:
    """Return the file-name problem of a manifest the validator refused, when its name is legible.

    A refused file is reported with all its problems at once, so a name that disagrees with the
    file name is reported next to the others instead of after they are fixed.
    """
    split = split_manifest_path(path)
    metadata = data.get("metadata") if isinstance(data, Mapping) else None
    if split is None or not isinstance(metadata, Mapping):
        return []
    name, namespace = metadata.get("name"), metadata.get("namespace")
    if not isinstance(name, str) or slug_problem(name, "name") is not None or name == split[1]:
        return []
    if not isinstance(namespace, str) or namespace_problem(namespace) is not None:
        namespace = split[0]
    if namespace_problem(namespace) is not None:
        return []
    # The directory is checked by the validator itself (metadata.namespace); only the name here.
    return _misplaced(path, namespace, name)


def _misplaced(path: str, namespace: str, name: str) -> list[Problem]:
    expected = manifest_path(namespace, name)
    if path == expected:
        return []
    return [
        Problem(
            path,
            "metadata.name",
            f'a job named "{name}" in namespace "{namespace}" belongs in '
            f'"{expected}": move the file or change the name',
        )
    ]
