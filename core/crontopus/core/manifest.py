"""Job manifests: the YAML contract between the server, the Git push check, the agent and the CLI.

One validator serves them all. It reports every problem of a file at once, each with the file,
the field path and a fix. docs/job-manifest-spec.md describes every field.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, Final

from crontopus.core.alerts import alerts_to_dict, check_alerts
from crontopus.core.errors import ManifestError, ScheduleError
from crontopus.core.fields import (
    check_api_version,
    check_args,
    check_boolean,
    check_command,
    check_concurrency,
    check_env,
    check_job_id,
    check_kind,
    check_labels,
    check_name,
    check_namespace,
    check_seconds,
    check_timezone,
)
from crontopus.core.job import (
    API_VERSIONS,
    DEFAULT_GRACE_TIME,
    DISCOVERED_SOURCE,
    KIND,
    MANIFEST_SUFFIX,
    SOURCE_LABEL,
    JobManifest,
    SchedulerOptions,
    Targets,
    loose_path_problems,
    manifest_path,
    path_problems,
    split_manifest_path,
)
from crontopus.core.limits import (
    MAX_ARG_LENGTH,
    MAX_ARGS,
    MAX_COMMAND_LENGTH,
    MAX_ENV_ENTRIES,
    MAX_ENV_NAME_LENGTH,
    MAX_ENV_VALUE_LENGTH,
    MAX_LABEL_NAME_LENGTH,
    MAX_LABEL_VALUE_LENGTH,
    MAX_LABELS,
    MAX_MANIFEST_BYTES,
    MAX_SECONDS,
)
from crontopus.core.namespaces import DISCOVERED_NAMESPACE
from crontopus.core.problems import Checker, Problem
from crontopus.core.schedule import parse_schedule
from crontopus.core.timezones import DEFAULT_TIMEZONE
from crontopus.core.yamldoc import DoubleQuoted, dump_document, load_document

__all__ = [
    "API_VERSIONS",
    "DEFAULT_GRACE_TIME",
    "KIND",
    "MANIFEST_SUFFIX",
    "MAX_ARGS",
    "MAX_ARG_LENGTH",
    "MAX_COMMAND_LENGTH",
    "MAX_ENV_ENTRIES",
    "MAX_ENV_NAME_LENGTH",
    "MAX_ENV_VALUE_LENGTH",
    "MAX_LABELS",
    "MAX_LABEL_NAME_LENGTH",
    "MAX_LABEL_VALUE_LENGTH",
    "MAX_MANIFEST_BYTES",
    "MAX_SECONDS",
    "SOURCE_LABEL",
    "JobManifest",
    "Problem",
    "SchedulerOptions",
    "Targets",
    "dump_manifest",
    "manifest_from_dict",
    "manifest_path",
    "manifest_problems",
    "manifest_to_dict",
    "misplaced_problems",
    "parse_manifest",
    "parse_manifest_with_id",
    "path_problems",
    "split_manifest_path",
]

TOP_FIELDS: Final = ("apiVersion", "kind", "metadata", "spec")
METADATA_FIELDS: Final = ("id", "name", "namespace", "labels")
SPEC_FIELDS: Final = (
    "schedule",
    "timezone",
    "command",
    "args",
    "env",
    "enabled",
    "paused",
    "timeout",
    "graceTime",
    "concurrency",
    "targets",
    "alerts",
    "systemd",
    "taskScheduler",
)
TARGETS_FIELDS: Final = ("labels",)
SCHEDULER_FIELDS: Final = ("acceptDstDifferences",)


def parse_manifest(
    text: str | bytes, file: str | None = None, *, namespace: str | None = None
) -> JobManifest:
    """Parse and check a manifest; raise ManifestError listing every problem of the file."""
    manifest, problems = _read(text, file, namespace)
    if manifest is None:
        raise ManifestError(problems)
    return manifest


def parse_manifest_with_id(
    text: str | bytes, job_id: uuid.UUID, *, replace: bool, file: str | None = None
) -> JobManifest:
    """Parse a manifest sent to the API, whose id is the server's to give.

    `job_id` fills in a missing `metadata.id`; with `replace` it stands in for any id written
    (a new job's id is always assigned). Raise ManifestError listing every problem.
    """
    checker = Checker(file)
    data = load_document(text, checker)
    if data is None:
        raise ManifestError(checker.problems)
    metadata = data.get("metadata") if isinstance(data, dict) else None
    if isinstance(metadata, dict) and (replace or metadata.get("id") is None):
        metadata["id"] = str(job_id)
    manifest = _check_document(data, checker, None)
    if manifest is None or checker.problems:
        raise ManifestError(checker.problems)
    return manifest


def manifest_problems(
    text: str | bytes, file: str | None = None, *, namespace: str | None = None
) -> list[Problem]:
    """Return every problem of a manifest (an empty list when it is valid)."""
    return _read(text, file, namespace)[1]


def misplaced_problems(path: str, text: str | bytes) -> list[Problem]:
    """Return the file-name problem of a refused manifest whose name can still be read."""
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return []
    return loose_path_problems(path, data)


def manifest_from_dict(
    data: object, file: str | None = None, *, namespace: str | None = None
) -> JobManifest:
    """Check already-loaded manifest data (as from YAML or JSON); raise ManifestError if bad."""
    checker = Checker(file)
    manifest = _check_document(data, checker, namespace)
    if manifest is None:
        raise ManifestError(checker.problems)
    return manifest


def _read(
    text: str | bytes, file: str | None, namespace: str | None
) -> tuple[JobManifest | None, list[Problem]]:
    checker = Checker(file)
    data = load_document(text, checker)
    if data is None:
        return None, checker.problems
    manifest = _check_document(data, checker, namespace)
    return (manifest if not checker.problems else None), checker.problems


def _check_document(data: object, c: Checker, directory: str | None) -> JobManifest | None:
    root = c.mapping(
        data,
        "",
        known=TOP_FIELDS,
        required={
            "apiVersion": f"add apiVersion: {API_VERSIONS[0]}",
            "kind": f"add kind: {KIND}",
            "metadata": "add a metadata section with id, name and namespace",
            "spec": "add a spec section with at least schedule and command",
        },
    )
    if root is None:
        return None
    api_version = check_api_version(root.get("apiVersion"), c, API_VERSIONS)
    check_kind(root.get("kind"), c, KIND)

    metadata = _section(
        root,
        "metadata",
        METADATA_FIELDS,
        c,
        required={
            "id": 'add a UUID, e.g. the output of "crontopus jobs new-id"',
            "name": 'add a name such as "backup-database" (it becomes the file name)',
            "namespace": "add the namespace, which is the name of the directory the file is in",
        },
    )
    job_id = check_job_id(metadata.get("id"), c)
    name = check_name(metadata.get("name"), c)
    namespace = check_namespace(metadata.get("namespace"), c, directory)
    labels = check_labels(metadata.get("labels"), c, "metadata.labels")
    _check_source_label(namespace, labels, c)

    spec = _section(
        root,
        "spec",
        SPEC_FIELDS,
        c,
        required={
            "schedule": 'add a cron schedule such as "0 2 * * *" (quoted)',
            "command": "add the program to run, e.g. /opt/scripts/backup.sh",
        },
    )
    schedule = _check_schedule(spec.get("schedule"), c)
    timezone = check_timezone(spec.get("timezone"), c, DEFAULT_TIMEZONE)
    command = check_command(spec.get("command"), c)
    args = check_args(spec.get("args"), c)
    env, secret_env = check_env(spec.get("env"), c)
    enabled = check_boolean(spec.get("enabled"), c, "spec.enabled", default=True)
    paused = check_boolean(spec.get("paused"), c, "spec.paused", default=False)
    timeout = check_seconds(spec.get("timeout"), c, "spec.timeout", default=None)
    grace_time = check_seconds(
        spec.get("graceTime"), c, "spec.graceTime", default=DEFAULT_GRACE_TIME
    )
    concurrency = check_concurrency(spec.get("concurrency"), c)
    targets = _check_targets(spec.get("targets"), c)
    alerts = check_alerts(spec.get("alerts"), c)
    systemd = _check_scheduler_options(spec.get("systemd"), c, "spec.systemd")
    task_scheduler = _check_scheduler_options(spec.get("taskScheduler"), c, "spec.taskScheduler")

    if c.problems:
        return None
    return JobManifest(
        id=job_id,
        name=name,
        namespace=namespace,
        labels=labels,
        schedule=schedule,
        timezone=timezone,
        command=command,
        args=args,
        env=env,
        enabled=enabled,
        paused=paused,
        timeout=timeout,
        grace_time=DEFAULT_GRACE_TIME if grace_time is None else grace_time,
        concurrency=concurrency,
        targets=targets,
        alerts=alerts,
        api_version=api_version,
        systemd=systemd,
        task_scheduler=task_scheduler,
        secret_env=secret_env,
    )


def _section(
    root: dict[str, Any], key: str, known: tuple[str, ...], c: Checker, *, required: dict[str, str]
) -> dict[str, Any]:
    value = root.get(key)
    if value is None:
        return {}
    return c.mapping(value, key, known=known, required=required) or {}


def _check_schedule(value: object, c: Checker) -> str:
    if value is None:
        return ""
    text = c.string(value, "spec.schedule", hint='quote it, e.g. schedule: "0 2 * * *"')
    if text is None:
        return ""
    try:
        parse_schedule(text)
    except ScheduleError as error:
        c.add("spec.schedule", str(error))
    return text


def _check_targets(value: object, c: Checker) -> Targets:
    if value is None:
        return Targets()
    targets = c.mapping(value, "spec.targets", known=TARGETS_FIELDS, required={})
    if targets is None:
        return Targets()
    return Targets(check_labels(targets.get("labels"), c, "spec.targets.labels"))


def _check_scheduler_options(value: object, c: Checker, path: str) -> SchedulerOptions:
    if value is None:
        return SchedulerOptions()
    section = c.mapping(value, path, known=SCHEDULER_FIELDS, required={})
    if section is None:
        return SchedulerOptions()
    accept = check_boolean(
        section.get("acceptDstDifferences"),
        c,
        f"{path}.acceptDstDifferences",
        default=False,
    )
    return SchedulerOptions(accept_dst_differences=accept)


def _scheduler_options_to_dict(options: SchedulerOptions) -> dict[str, Any]:
    return {"acceptDstDifferences": options.accept_dst_differences}


def _check_source_label(namespace: str, labels: Mapping[str, str], c: Checker) -> None:
    path = f"metadata.labels.{SOURCE_LABEL}"
    discovered = labels.get(SOURCE_LABEL) == DISCOVERED_SOURCE
    if namespace == DISCOVERED_NAMESPACE and not discovered:
        c.add(
            path,
            f'jobs in namespace "{DISCOVERED_NAMESPACE}" are found on machines by the agent and '
            f"carry {SOURCE_LABEL}: {DISCOVERED_SOURCE}: put a job you write in another namespace",
        )
    elif discovered and namespace and namespace != DISCOVERED_NAMESPACE:
        c.add(
            path,
            f'"{DISCOVERED_SOURCE}" marks jobs in namespace "{DISCOVERED_NAMESPACE}" only: '
            "remove the label (adopting a job drops it)",
        )


def manifest_to_dict(m: JobManifest) -> dict[str, Any]:
    """Return the manifest as plain data in canonical order, omitting empty optional fields."""
    metadata: dict[str, Any] = {"id": str(m.id), "name": m.name, "namespace": m.namespace}
    if m.labels:
        metadata["labels"] = dict(sorted(m.labels.items()))
    spec: dict[str, Any] = {"schedule": m.schedule, "timezone": m.timezone, "command": m.command}
    if m.args:
        spec["args"] = list(m.args)
    if m.secret_env:
        # Secret references need the list form's secretRef; it lists values too, by name.
        spec["env"] = [
            {"name": name, "secretRef": m.secret_env[name]}
            if name in m.secret_env
            else {"name": name, "value": m.env[name]}
            for name in sorted({*m.env, *m.secret_env})
        ]
    elif m.env:
        spec["env"] = dict(sorted(m.env.items()))
    spec["enabled"] = m.enabled
    spec["paused"] = m.paused
    if m.timeout is not None:
        spec["timeout"] = m.timeout
    spec["graceTime"] = m.grace_time
    spec["concurrency"] = str(m.concurrency)
    if m.targets.labels:
        spec["targets"] = {"labels": dict(sorted(m.targets.labels.items()))}
    if not m.systemd.is_default:
        spec["systemd"] = _scheduler_options_to_dict(m.systemd)
    if not m.task_scheduler.is_default:
        spec["taskScheduler"] = _scheduler_options_to_dict(m.task_scheduler)
    if m.alerts is not None:
        spec["alerts"] = alerts_to_dict(m.alerts)
    spec.update(m.extra_spec)
    return {"apiVersion": m.api_version, "kind": KIND, "metadata": metadata, "spec": spec}


def dump_manifest(manifest: JobManifest) -> str:
    """Write the manifest as canonical YAML; parsing the text gives back an equal manifest."""
    data = manifest_to_dict(manifest)
    data["spec"]["schedule"] = DoubleQuoted(manifest.schedule)
    return dump_document(data)
