"""The per-scheduler opt-ins of a manifest: spec.systemd and spec.taskScheduler."""

from __future__ import annotations

import textwrap
import uuid

import pytest

from crontopus.core.manifest import (
    JobManifest,
    SchedulerOptions,
    dump_manifest,
    manifest_problems,
    manifest_to_dict,
    parse_manifest,
)

JOB_ID = "550e8400-e29b-41d4-a716-446655440000"


def manifest(spec_tail: str = "") -> str:
    base = textwrap.dedent(
        f"""\
        apiVersion: crontopus.io/v1
        kind: Job
        metadata:
          id: {JOB_ID}
          name: tick
          namespace: default
        spec:
          schedule: "30 2 * * *"
          timezone: Europe/Berlin
          command: /bin/true
        """
    )
    return base + textwrap.indent(textwrap.dedent(spec_tail), "  ")


def problems_of(text: str) -> list[str]:
    return [str(problem) for problem in manifest_problems(text, "f.yaml")]


def test_a_job_accepts_no_dst_differences_unless_it_says_so() -> None:
    job = parse_manifest(manifest())
    assert job.systemd == SchedulerOptions(accept_dst_differences=False)
    assert job.task_scheduler == SchedulerOptions(accept_dst_differences=False)
    assert not job.scheduler_options("systemd").accept_dst_differences
    assert not job.scheduler_options("taskscheduler").accept_dst_differences


def test_it_reads_the_systemd_opt_in() -> None:
    job = parse_manifest(manifest("systemd:\n  acceptDstDifferences: true\n"))
    assert job.systemd.accept_dst_differences
    assert not job.task_scheduler.accept_dst_differences
    assert job.scheduler_options("systemd").accept_dst_differences
    assert not job.scheduler_options("taskscheduler").accept_dst_differences


def test_it_reads_the_task_scheduler_opt_in() -> None:
    job = parse_manifest(manifest("taskScheduler: {acceptDstDifferences: true}\n"))
    assert job.task_scheduler.accept_dst_differences
    assert job.scheduler_options("taskscheduler").accept_dst_differences
    assert not job.scheduler_options("systemd").accept_dst_differences


def test_other_drivers_get_the_defaults() -> None:
    job = parse_manifest(
        manifest(
            "systemd: {acceptDstDifferences: true}\ntaskScheduler: {acceptDstDifferences: true}\n"
        )
    )
    assert job.scheduler_options("cron") == SchedulerOptions()
    assert job.scheduler_options("crond") == SchedulerOptions()


@pytest.mark.parametrize("section", ["systemd: ~\n", "systemd: {}\n", "taskScheduler:\n"])
def test_an_empty_section_means_the_defaults(section: str) -> None:
    job = parse_manifest(manifest(section))
    assert job.systemd == job.task_scheduler == SchedulerOptions()


def test_it_rejects_an_unknown_field_under_systemd_with_a_hint() -> None:
    assert problems_of(manifest("systemd: {acceptDstDifference: true}\n")) == [
        "f.yaml: spec.systemd.acceptDstDifference: unknown field: did you mean"
        ' "acceptDstDifferences"?'
    ]


def test_it_rejects_an_unknown_field_under_task_scheduler() -> None:
    assert problems_of(manifest("taskScheduler: {runLevel: highest}\n")) == [
        "f.yaml: spec.taskScheduler.runLevel: unknown field: the fields here are"
        " acceptDstDifferences"
    ]


def test_it_rejects_a_misspelled_section_name_with_a_hint() -> None:
    assert problems_of(manifest("taskscheduler: {acceptDstDifferences: true}\n")) == [
        'f.yaml: spec.taskscheduler: unknown field: did you mean "taskScheduler"?'
    ]


def test_it_rejects_a_section_that_is_not_a_mapping() -> None:
    assert problems_of(manifest("systemd: true\n")) == [
        "f.yaml: spec.systemd: must be a mapping of fields, not true/false"
    ]


def test_it_rejects_a_quoted_boolean() -> None:
    assert problems_of(manifest('systemd: {acceptDstDifferences: "true"}\n')) == [
        "f.yaml: spec.systemd.acceptDstDifferences: must be true or false (unquoted), not a string"
    ]


def test_the_dump_leaves_default_sections_out() -> None:
    job = parse_manifest(manifest("systemd: {acceptDstDifferences: false}\n"))
    assert "systemd" not in manifest_to_dict(job)["spec"]
    assert "taskScheduler" not in dump_manifest(job)


def test_the_dump_writes_an_opt_in_after_targets() -> None:
    job = parse_manifest(
        manifest(
            "targets: {labels: {role: db}}\n"
            "taskScheduler: {acceptDstDifferences: true}\n"
            "systemd: {acceptDstDifferences: true}\n"
        )
    )
    assert dump_manifest(job).endswith(
        "  targets:\n"
        "    labels:\n"
        "      role: db\n"
        "  systemd:\n"
        "    acceptDstDifferences: true\n"
        "  taskScheduler:\n"
        "    acceptDstDifferences: true\n"
    )


@pytest.mark.parametrize(
    ("systemd", "task_scheduler"), [(False, False), (True, False), (False, True), (True, True)]
)
def test_parsing_a_dump_gives_the_same_manifest(systemd: bool, task_scheduler: bool) -> None:
    job = JobManifest(
        id=uuid.uuid4(),
        name="tick",
        namespace="default",
        labels={},
        schedule="30 2 * * *",
        timezone="Europe/Berlin",
        command="/bin/true",
        args=(),
        env={},
        systemd=SchedulerOptions(accept_dst_differences=systemd),
        task_scheduler=SchedulerOptions(accept_dst_differences=task_scheduler),
    )
    text = dump_manifest(job)
    assert parse_manifest(text) == job
    assert dump_manifest(parse_manifest(text)) == text
