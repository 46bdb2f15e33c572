"""Translate GraphQL job input into the service's `JobSpec`."""

from __future__ import annotations

from typing import Any

import strawberry

from crontopus.server.errors import FieldProblem, ValidationFailed
from crontopus.server.graphql.jobs.types import JobAlertsInput, JobInput, SchedulerChoicesInput
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


def _alerts(data: JobAlertsInput) -> dict[str, Any]:
    # Manifest data, so the core validator judges every value and names the manifest's field.
    fields: dict[str, Any] = {
        "onFailure": data.on_failure,
        "consecutiveFailures": data.consecutive_failures,
        "missedRun": data.missed_run,
        "maxDuration": data.max_duration,
        "minDuration": data.min_duration,
        "channels": data.channels,
    }
    if data.failure_rate is not None:
        rate = data.failure_rate
        fields["failureRate"] = {"percent": rate.percent, "window": rate.window}
        if rate.min_runs is not None:
            fields["failureRate"]["minRuns"] = rate.min_runs
    return {key: value for key, value in fields.items() if value is not None}


def _choices(data: SchedulerChoicesInput) -> dict[str, Any] | None:
    return {"acceptDstDifferences": True} if data.accept_dst_differences else None


def _sections(data: JobInput) -> tuple[dict[str, Any], frozenset[str]]:
    """The whole sections the input sets, and the ones it leaves unsaid (left out, not null)."""
    sections: dict[str, Any] = {}
    unsaid: set[str] = set()
    if data.alerts is strawberry.UNSET:
        unsaid.add("alerts")
    elif data.alerts is not None:
        sections["alerts"] = _alerts(data.alerts)
    for name, value in (("systemd", data.systemd), ("taskScheduler", data.task_scheduler)):
        if value is strawberry.UNSET:
            unsaid.add(name)
        elif value is not None and (choices := _choices(value)) is not None:
            sections[name] = choices
    return sections, frozenset(unsaid)


def job_spec(data: JobInput) -> JobSpec:
    """Build the service's job request from the GraphQL input."""
    sections, unsaid = _sections(data)
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
        sections=sections,
        unsaid=unsaid,
    )
