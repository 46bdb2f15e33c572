"""Translate GraphQL job input into the service's `JobSpec`."""

from __future__ import annotations

from crontopus.server.errors import FieldProblem, ValidationFailed
from crontopus.server.graphql.jobs.types import JobInput
from crontopus.server.graphql.keyvalues import KeyValueInput
from crontopus.server.services.jobs import JobSpec


def _mapping(items: list[KeyValueInput], field_name: str) -> dict[str, str]:
    result: dict[str, str] = {}
    for item in items:
        if item.key in result:
            raise ValidationFailed(
                [FieldProblem(("input", field_name), f"{item.key!r} is given twice")]
            )
        result[item.key] = item.value
    return result


def job_spec(data: JobInput) -> JobSpec:
    """Build the service's job request from the GraphQL input."""
    return JobSpec(
        name=data.name,
        namespace=data.namespace,
        schedule=data.schedule,
        command=data.command,
        timezone=data.timezone,
        args=tuple(data.args),
        env=_mapping(data.env, "env"),
        labels=_mapping(data.labels, "labels"),
        enabled=data.enabled,
        paused=data.paused,
        timeout=data.timeout,
        grace_time=data.grace_time,
        concurrency=data.concurrency.value if data.concurrency else None,
        target_labels=_mapping(data.target_labels, "targetLabels"),
        secret_env=None if data.secret_env is None else _mapping(data.secret_env, "secretEnv"),
    )
