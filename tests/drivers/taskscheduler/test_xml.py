"""Task XML, checked against the Task Scheduler schema's rules and read back."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from crontopus.core.enums import Concurrency
from crontopus.drivers.taskscheduler.convert import convert_schedule
from crontopus.drivers.taskscheduler.xml import (
    NAMESPACE,
    TaskDefinition,
    encode_task,
    format_duration,
    parse_duration,
    parse_task,
    quote_argument,
    render_task,
    task_name,
)

NS = f"{{{NAMESPACE}}}"
JOB = UUID("550e8400-e29b-41d4-a716-446655440000")
NOW = datetime(2026, 2, 20, tzinfo=UTC)
AGENT = r"C:\Program Files\Crontopus\crontopus-agent.exe"

# Child order from the Task Scheduler 1.2 schema: triggerBaseType and calendarTriggerType are
# xs:sequence; Repetition and the schedule types are xs:all, checked here in the order Windows
# itself exports, which is also valid.
TRIGGER_BASE = ["Enabled", "StartBoundary", "EndBoundary", "Repetition", "ExecutionTimeLimit"]
SEQUENCES = {
    "TimeTrigger": [*TRIGGER_BASE, "RandomDelay"],
    "CalendarTrigger": [
        *TRIGGER_BASE,
        "RandomDelay",
        "ScheduleByDay",
        "ScheduleByWeek",
        "ScheduleByMonth",
        "ScheduleByMonthDayOfWeek",
    ],
    "BootTrigger": [*TRIGGER_BASE, "Delay"],
    "Repetition": ["Interval", "Duration", "StopAtDurationEnd"],
    "ScheduleByDay": ["DaysInterval"],
    "ScheduleByWeek": ["WeeksInterval", "DaysOfWeek"],
    "ScheduleByMonth": ["DaysOfMonth", "Months"],
    "ScheduleByMonthDayOfWeek": ["Weeks", "DaysOfWeek", "Months"],
    "Exec": ["Command", "Arguments", "WorkingDirectory"],
}
SETTINGS = {
    "AllowStartOnDemand", "RestartOnFailure", "MultipleInstancesPolicy",
    "DisallowStartIfOnBatteries", "StopIfGoingOnBatteries", "AllowHardTerminate",
    "StartWhenAvailable", "NetworkProfileName", "RunOnlyIfNetworkAvailable", "WakeToRun",
    "Enabled", "Hidden", "DeleteExpiredTaskAfter", "IdleSettings", "NetworkSettings",
    "ExecutionTimeLimit", "Priority", "RunOnlyIfIdle", "UseUnifiedSchedulingEngine",
    "DisallowStartOnRemoteAppSession",
}  # fmt: skip
WEEKDAYS = {"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}
MONTHS = {
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
}  # fmt: skip
BOUNDARY = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)?")


def local(element: ET.Element) -> str:
    assert element.tag.startswith(NS), f"{element.tag} is outside the task namespace"
    return element.tag.removeprefix(NS)


def check_sequence(element: ET.Element) -> None:
    order = SEQUENCES.get(local(element))
    if order is None:
        return
    names = [local(child) for child in element]
    assert all(name in order for name in names), f"{local(element)} holds {names}"
    positions = [order.index(name) for name in names]
    assert positions == sorted(positions), f"{local(element)} children out of order: {names}"
    assert len(set(names)) == len(names), f"{local(element)} repeats a child: {names}"


def check_schema_rules(text: str) -> ET.Element:
    """Check what Task Scheduler's schema demands of a task; return the root."""
    root = ET.fromstring(re.sub(r"^<\?xml[^>]*\?>", "", text))  # noqa: S314 - our own output
    assert root.tag == f"{NS}Task"
    assert root.get("version") in ("1.2", "1.3", "1.4")
    assert local(root[-1]) == "Actions"
    for element in root.iter():
        local(element)
        check_sequence(element)
    triggers = root.find(f"{NS}Triggers")
    assert triggers is not None
    assert 1 <= len(triggers) <= 48
    for trigger in triggers:
        start = trigger.find(f"{NS}StartBoundary")
        if local(trigger) != "BootTrigger":
            assert start is not None
            assert start.text is not None
            assert BOUNDARY.fullmatch(start.text)
        if local(trigger) == "CalendarTrigger":
            schedules = [c for c in trigger if local(c).startswith("Schedule")]
            assert len(schedules) == 1
        repetition = trigger.find(f"{NS}Repetition")
        if repetition is not None:
            interval = parse_duration(repetition.findtext(f"{NS}Interval") or "")
            assert timedelta(minutes=1) <= interval <= timedelta(days=31)
            duration = repetition.findtext(f"{NS}Duration")
            if duration is not None:
                assert parse_duration(duration) >= max(interval, timedelta(minutes=1))
    for day in root.iter(f"{NS}Day"):
        assert day.text == "Last" or 1 <= int(day.text or "0") <= 31
    for week in root.iter(f"{NS}Week"):
        assert week.text in ("1", "2", "3", "4", "Last")
    for listing in root.iter(f"{NS}DaysOfWeek"):
        assert {local(c) for c in listing} <= WEEKDAYS
    for listing in root.iter(f"{NS}Months"):
        assert {local(c) for c in listing} <= MONTHS
    for days_interval in root.iter(f"{NS}DaysInterval"):
        assert 1 <= int(days_interval.text or "0") <= 365
    settings = root.find(f"{NS}Settings")
    assert settings is not None
    assert {local(c) for c in settings} <= SETTINGS
    policy = settings.findtext(f"{NS}MultipleInstancesPolicy")
    assert policy in ("Parallel", "Queue", "IgnoreNew", "StopExisting")
    assert 0 <= int(settings.findtext(f"{NS}Priority") or "7") <= 10
    command = root.findtext(f"{NS}Actions/{NS}Exec/{NS}Command")
    assert command
    return root


def task_for(
    schedule: str,
    *,
    concurrency: Concurrency = Concurrency.ALLOW,
    timeout: timedelta | None = None,
) -> TaskDefinition:
    triggers = convert_schedule(schedule, "UTC", now=NOW).triggers
    arguments = ("run-job", str(JOB))
    return TaskDefinition(
        JOB,
        "backup",
        triggers,
        AGENT,
        arguments,
        "abc123",
        concurrency=concurrency,
        timeout=timeout,
    )


@pytest.mark.parametrize(
    "schedule",
    [
        "*/15 * * * *",
        "*/7 * * * *",
        "15,45 9-17 1,15 jan-mar mon",
        "0 0 1-7 * */7",
        "0 6 * jan,jul mon",
        "0 0 31 * *",
        "@reboot",
        "1,2,4,8,16,32 1,2,4,8,16,17 * * *",
    ],
)
def test_the_task_follows_the_schema_rules(schedule: str) -> None:
    check_schema_rules(render_task(task_for(schedule)))


def test_settings_that_would_stop_a_task_firing_like_cron_are_overridden() -> None:
    settings = check_schema_rules(render_task(task_for("0 2 * * *"))).find(f"{NS}Settings")
    assert settings is not None
    assert settings.findtext(f"{NS}DisallowStartIfOnBatteries") == "false"
    assert settings.findtext(f"{NS}StopIfGoingOnBatteries") == "false"
    assert settings.findtext(f"{NS}StartWhenAvailable") == "false"
    assert settings.findtext(f"{NS}ExecutionTimeLimit") == "PT0S"
    assert settings.findtext(f"{NS}MultipleInstancesPolicy") == "Parallel"


def test_forbid_ignores_a_new_instance_and_a_timeout_sets_a_limit_past_it() -> None:
    task = task_for("0 2 * * *", concurrency=Concurrency.FORBID, timeout=timedelta(hours=1))
    settings = check_schema_rules(render_task(task)).find(f"{NS}Settings")
    assert settings is not None
    assert settings.findtext(f"{NS}MultipleInstancesPolicy") == "IgnoreNew"
    assert settings.findtext(f"{NS}ExecutionTimeLimit") == "PT1H5M"


def test_the_xml_is_encoded_as_utf16_with_a_byte_order_mark() -> None:
    data = encode_task(render_task(task_for("0 2 * * *")))
    assert data[:2] == b"\xff\xfe"
    assert data.decode("utf-16").startswith('<?xml version="1.0" encoding="UTF-16"?>')


def test_the_task_reads_back_with_its_marker_triggers_and_action() -> None:
    task = task_for("15,45 9-17 1,15 jan-mar mon")
    summary = parse_task(encode_task(render_task(task)))
    assert summary.managed
    assert summary.job_id == JOB
    assert summary.content_hash == "abc123"
    assert summary.uri == task_name(JOB) == f"\\Crontopus\\crontopus-{JOB}"
    assert summary.triggers == task.triggers
    assert summary.command == AGENT
    assert summary.arguments == f"run-job {JOB}"


def test_a_foreign_task_reads_back_without_a_marker() -> None:
    text = (
        '<?xml version="1.0" encoding="UTF-16"?>'
        f'<Task version="1.4" xmlns="{NAMESPACE}"><Triggers>'
        "<LogonTrigger><Enabled>true</Enabled></LogonTrigger>"
        "<CalendarTrigger><StartBoundary>2024-05-01T08:00:00+02:00</StartBoundary>"
        "<ScheduleByWeek><WeeksInterval>1</WeeksInterval><DaysOfWeek><Friday/></DaysOfWeek>"
        "</ScheduleByWeek></CalendarTrigger></Triggers>"
        "<Actions><Exec><Command>backup.cmd</Command></Exec></Actions></Task>"
    )
    summary = parse_task(text)
    assert not summary.managed
    assert summary.unsupported_triggers == ("LogonTrigger",)
    assert summary.command == "backup.cmd"
    assert len(summary.triggers) == 1


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(0), "PT0S"),
        (timedelta(minutes=15), "PT15M"),
        (timedelta(days=1), "P1D"),
        (timedelta(hours=8, minutes=57), "PT8H57M"),
        (timedelta(minutes=59, seconds=30), "PT59M30S"),
        (timedelta(days=31, hours=1), "P31DT1H"),
    ],
)
def test_durations_round_trip(value: timedelta, text: str) -> None:
    assert format_duration(value) == text
    assert parse_duration(text) == value


@pytest.mark.parametrize(
    ("argument", "quoted"),
    [
        ("run-job", "run-job"),
        ("two words", '"two words"'),
        ("", '""'),
        ('say "hi"', '"say \\"hi\\""'),
        ("C:\\dir\\", "C:\\dir\\"),
        ("C:\\my dir\\", '"C:\\my dir\\\\"'),
    ],
)
def test_arguments_are_quoted_for_command_line_to_argv(argument: str, quoted: str) -> None:
    assert quote_argument(argument) == quoted
