"""Local manifest work: check a manifest with crontopus.core and turn it into a `JobInput`.

The server's validator and this one are the same code, so a manifest refused here would be
refused by the server with the same message, and it is never sent.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import yaml

from crontopus.cli.errors import UsageFailure, UserFailure
from crontopus.core.errors import ManifestError
from crontopus.core.manifest import (
    API_VERSIONS,
    KIND,
    JobManifest,
    Problem,
    manifest_from_dict,
    manifest_problems,
)

MISSING = "is missing"


def has_id(text: str) -> bool:
    """Say whether a manifest's text sets metadata.id."""
    data = yaml.safe_load(text)
    return isinstance(data, dict) and "id" in (data.get("metadata") or {})


def check_manifest(text: str, file: str, *, id_optional: bool = False) -> JobManifest:
    """Check a manifest's text locally; raise UserFailure listing every problem."""
    problems = [
        p
        for p in manifest_problems(text, file)
        if not (id_optional and p.path == "metadata.id" and p.message.startswith(MISSING))
    ]
    if problems:
        raise invalid(file, problems)
    data = yaml.safe_load(text)
    if id_optional and not has_id(text):
        data["metadata"]["id"] = str(uuid.uuid4())
    return manifest_from_dict(data, file)


def check_fields(data: Mapping[str, Any]) -> JobManifest:
    """Check a manifest built from command-line flags; raise UsageFailure naming each flag."""
    try:
        return manifest_from_dict(dict(data), "(flags)")
    except ManifestError as error:
        problems = list(error.problems)
    count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
    lines = [f"{_flag_of(p.path)} ({p.path}): {p.message}" for p in problems]
    # Every problem here is the value of a flag the user typed: a usage error, like a bad K=V.
    raise UsageFailure(f"the job: {count}", lines)


# Which command-line flag sets each manifest field, so problems name what the user typed.
FLAGS = {
    "metadata.name": "--name",
    "metadata.namespace": "--namespace",
    "metadata.labels": "--label",
    "spec.schedule": "--schedule",
    "spec.timezone": "--timezone",
    "spec.command": "--command",
    "spec.args": "--arg",
    "spec.env": "--env",
    "spec.timeout": "--timeout",
    "spec.graceTime": "--grace-time",
    "spec.concurrency": "--concurrency",
    "spec.targets": "--target",
}


def _flag_of(path: str) -> str:
    for field, flag in FLAGS.items():
        if path == field or path.startswith((f"{field}.", f"{field}[")):
            return flag
    return path


def invalid(what: str, problems: list[Problem]) -> UserFailure:
    """Describe a refused manifest: one line per problem, field path first."""
    count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
    return UserFailure(f"{what}: {count}", [str(p) for p in problems])


def manifest_data(
    *,
    name: str | None,
    namespace: str,
    schedule: str | None,
    command: str | None,
    timezone: str | None = None,
    args: list[str] | None = None,
    env: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    targets: Mapping[str, str] | None = None,
    timeout: int | None = None,
    grace_time: int | None = None,
    concurrency: str | None = None,
    paused: bool = False,
    enabled: bool = True,
) -> dict[str, Any]:
    """Return manifest data for flags (with a placeholder id: the server assigns the real one)."""
    metadata: dict[str, Any] = {"id": str(uuid.uuid4()), "name": name, "namespace": namespace}
    if labels:
        metadata["labels"] = dict(labels)
    spec: dict[str, Any] = {"schedule": schedule, "command": command}
    optional = {
        "timezone": timezone,
        "args": args or None,
        "env": dict(env) if env else None,
        "timeout": timeout,
        "graceTime": grace_time,
        "concurrency": concurrency,
        "targets": {"labels": dict(targets)} if targets else None,
    }
    spec.update({key: value for key, value in optional.items() if value is not None})
    spec["enabled"] = enabled
    spec["paused"] = paused
    return {"apiVersion": API_VERSIONS[0], "kind": KIND, "metadata": metadata, "spec": spec}


def pairs(items: Mapping[str, str]) -> list[dict[str, str]]:
    """Return a mapping as GraphQL `[KeyValueInput!]`."""
    return [{"key": key, "value": value} for key, value in items.items()]


def job_input(manifest: JobManifest) -> dict[str, Any]:
    """Return the `JobInput` that makes the server write this manifest."""
    return {
        "name": manifest.name,
        "namespace": manifest.namespace,
        "schedule": manifest.schedule,
        "timezone": manifest.timezone,
        "command": manifest.command,
        "args": list(manifest.args),
        "env": pairs(manifest.env),
        "secretEnv": pairs(manifest.secret_env),
        "labels": pairs(manifest.labels),
        "enabled": manifest.enabled,
        "paused": manifest.paused,
        "timeout": manifest.timeout,
        "graceTime": manifest.grace_time,
        "concurrency": str(manifest.concurrency).upper(),
        "targetLabels": pairs(manifest.targets.labels),
    }


def parse_pairs(items: list[str], flag: str) -> dict[str, str]:
    """Parse repeated `K=V` flags; refuse anything else naming the flag."""
    result: dict[str, str] = {}
    for item in items:
        key, equals, value = item.partition("=")
        if not equals or not key:
            raise UsageFailure(f"{flag}: {item!r} is not KEY=VALUE (e.g. {flag} team=platform)")
        result[key] = value
    return result
