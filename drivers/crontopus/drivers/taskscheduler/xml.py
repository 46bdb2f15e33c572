"""Task XML (schema 1.2): rendering a Crontopus task and reading tasks back for listing.

Elements are written in the schema's order. Settings that would stop a task firing like cron
are overridden: batteries never block or stop it, a missed start is not caught up, and the
72-hour execution limit is lifted (the wrapper enforces `spec.timeout` and reports it).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from crontopus.core.enums import Concurrency
from crontopus.drivers.taskscheduler.triggers import (
    MONTH_ELEMENTS,
    WEEKDAY_ELEMENTS,
    BootTrigger,
    ByDay,
    ByMonth,
    ByMonthDayOfWeek,
    ByWeek,
    CalendarTrigger,
    Repetition,
    Schedule,
    TimeTrigger,
    Trigger,
)

NAMESPACE = "http://schemas.microsoft.com/windows/2004/02/mit/task"
SCHEMA_VERSION = "1.2"
TASK_FOLDER = "\\Crontopus\\"
SOURCE = "Crontopus"
_NS = f"{{{NAMESPACE}}}"
_MARKER = re.compile(r"crontopus-job=([0-9a-fA-F-]{36})(?:; content-hash=([A-Za-z0-9_.:+-]+))?")
_DURATION = re.compile(
    r"P(?:(?P<days>\d+)D)?(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?"
)
# A margin so that the wrapper, which enforces the timeout itself, can report it first.
TIMEOUT_MARGIN = timedelta(minutes=5)


def task_name(job_id: UUID) -> str:
    """Return the task's path in Task Scheduler, inside the Crontopus folder."""
    return f"{TASK_FOLDER}crontopus-{job_id}"


def format_duration(value: timedelta) -> str:
    """Format a duration as the schema's xs:duration (PT0S for zero)."""
    seconds = int(value.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    time = "".join(f"{n}{u}" for n, u in ((hours, "H"), (minutes, "M"), (seconds, "S")) if n)
    text = "P" + (f"{days}D" if days else "") + (f"T{time}" if time else "")
    return "PT0S" if text == "P" else text


def parse_duration(text: str) -> timedelta:
    """Read an xs:duration written by Task Scheduler (days, hours, minutes, seconds)."""
    match = _DURATION.fullmatch(text.strip())
    if match is None or text.strip() in ("P", "PT"):
        raise ValueError(f"unsupported duration {text!r}: expected e.g. PT15M or P1D")
    parts = {key: int(value) for key, value in match.groupdict().items() if value}
    return timedelta(**parts)


def quote_argument(argument: str) -> str:
    """Quote one argument so CommandLineToArgvW reads it back unchanged."""
    if argument and not re.search(r'[\s"]', argument):
        return argument
    quoted, backslashes = ['"'], 0
    for char in argument:
        if char == "\\":
            backslashes += 1
            continue
        if char == '"':
            quoted.append("\\" * (2 * backslashes + 1) + '"')
        else:
            quoted.append("\\" * backslashes + char)
        backslashes = 0
    quoted.append("\\" * (2 * backslashes) + '"')
    return "".join(quoted)


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    element = ET.SubElement(parent, tag)
    if text is not None:
        element.text = text
    return element


def _boundary(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def _repetition(parent: ET.Element, repetition: Repetition | None) -> None:
    if repetition is None:
        return
    element = _sub(parent, "Repetition")
    _sub(element, "Interval", format_duration(repetition.interval))
    if repetition.duration is not None:
        _sub(element, "Duration", format_duration(repetition.duration))
    _sub(element, "StopAtDurationEnd", "false")


def _schedule(parent: ET.Element, schedule: Schedule) -> None:
    match schedule:
        case ByDay(interval=interval):
            _sub(_sub(parent, "ScheduleByDay"), "DaysInterval", str(interval))
        case ByWeek(weekdays=weekdays, interval=interval):
            element = _sub(parent, "ScheduleByWeek")
            _sub(element, "WeeksInterval", str(interval))
            _weekdays(element, weekdays)
        case ByMonth(days=days, months=months, last_day=last_day):
            element = _sub(parent, "ScheduleByMonth")
            listed = _sub(element, "DaysOfMonth")
            for day in sorted(days):
                _sub(listed, "Day", str(day))
            if last_day:
                _sub(listed, "Day", "Last")
            _months(element, months)
        case ByMonthDayOfWeek(weeks=weeks, weekdays=weekdays, months=months, last_week=last):
            element = _sub(parent, "ScheduleByMonthDayOfWeek")
            listed = _sub(element, "Weeks")
            for week in sorted(weeks):
                _sub(listed, "Week", str(week))
            if last:
                _sub(listed, "Week", "Last")
            _weekdays(element, weekdays)
            _months(element, months)


def _weekdays(parent: ET.Element, weekdays: frozenset[int]) -> None:
    listed = _sub(parent, "DaysOfWeek")
    for day in sorted(weekdays):
        _sub(listed, WEEKDAY_ELEMENTS[day])


def _months(parent: ET.Element, months: frozenset[int]) -> None:
    listed = _sub(parent, "Months")
    for month in sorted(months):
        _sub(listed, MONTH_ELEMENTS[month - 1])


def _trigger(parent: ET.Element, trigger: Trigger) -> None:
    match trigger:
        case BootTrigger():
            _sub(_sub(parent, "BootTrigger"), "Enabled", "true")
        case TimeTrigger(start=start, repetition=repetition, utc=utc):
            element = _sub(parent, "TimeTrigger")
            _sub(element, "Enabled", "true")
            _sub(element, "StartBoundary", _boundary(start) + ("Z" if utc else ""))
            _repetition(element, repetition)
        case CalendarTrigger(start=start, schedule=schedule, repetition=repetition, utc=utc):
            element = _sub(parent, "CalendarTrigger")
            _sub(element, "Enabled", "true")
            _sub(element, "StartBoundary", _boundary(start) + ("Z" if utc else ""))
            _repetition(element, repetition)
            _schedule(element, schedule)


@dataclass(frozen=True)
class TaskDefinition:
    """Everything a Crontopus task says, in the terms of the schema."""

    job_id: UUID
    name: str
    triggers: tuple[Trigger, ...]
    command: str
    arguments: tuple[str, ...] = ()
    content_hash: str = ""
    concurrency: Concurrency = Concurrency.ALLOW
    timeout: timedelta | None = None
    logon_type: str = "S4U"
    user_id: str | None = None


def render_task(task: TaskDefinition) -> str:
    """Render the task XML text (declared UTF-16; encode it with `encode_task`)."""
    ET.register_namespace("", NAMESPACE)
    root = ET.Element("Task", {"version": SCHEMA_VERSION, "xmlns": NAMESPACE})
    info = _sub(root, "RegistrationInfo")
    _sub(info, "Author", SOURCE)
    _sub(info, "Description", f"Crontopus job {task.name}")
    _sub(info, "URI", task_name(task.job_id))
    _sub(info, "Source", SOURCE)
    marker = f"crontopus-job={task.job_id}"
    _sub(
        info,
        "Documentation",
        marker + (f"; content-hash={task.content_hash}" if task.content_hash else ""),
    )
    triggers = _sub(root, "Triggers")
    for trigger in task.triggers:
        _trigger(triggers, trigger)
    principal = _sub(_sub(root, "Principals"), "Principal", None)
    principal.set("id", "Author")
    if task.user_id:
        _sub(principal, "UserId", task.user_id)
    _sub(principal, "LogonType", task.logon_type)
    _sub(principal, "RunLevel", "LeastPrivilege")
    settings = _sub(root, "Settings")
    policy = "IgnoreNew" if task.concurrency is Concurrency.FORBID else "Parallel"
    _sub(settings, "MultipleInstancesPolicy", policy)
    _sub(settings, "DisallowStartIfOnBatteries", "false")
    _sub(settings, "StopIfGoingOnBatteries", "false")
    _sub(settings, "AllowHardTerminate", "true")
    _sub(settings, "StartWhenAvailable", "false")
    _sub(settings, "RunOnlyIfNetworkAvailable", "false")
    _sub(settings, "AllowStartOnDemand", "true")
    _sub(settings, "Enabled", "true")
    _sub(settings, "Hidden", "false")
    _sub(settings, "RunOnlyIfIdle", "false")
    _sub(settings, "WakeToRun", "false")
    limit = timedelta(0) if task.timeout is None else task.timeout + TIMEOUT_MARGIN
    _sub(settings, "ExecutionTimeLimit", format_duration(limit))
    _sub(settings, "Priority", "7")
    actions = _sub(root, "Actions")
    actions.set("Context", "Author")
    execute = _sub(actions, "Exec")
    _sub(execute, "Command", task.command)
    if task.arguments:
        _sub(execute, "Arguments", " ".join(quote_argument(a) for a in task.arguments))
    ET.indent(root, space="  ")
    body = ET.tostring(root, encoding="unicode")
    # ElementTree writes the default namespace as a plain attribute we set ourselves.
    return '<?xml version="1.0" encoding="UTF-16"?>\n' + body + "\n"


def encode_task(text: str) -> bytes:
    """Encode task XML as UTF-16 with a byte-order mark, as `schtasks /XML` expects."""
    return text.encode("utf-16")


@dataclass(frozen=True)
class TaskSummary:
    """What listing reads from a task's XML."""

    uri: str | None
    job_id: UUID | None
    content_hash: str | None
    triggers: tuple[Trigger, ...]
    unsupported_triggers: tuple[str, ...]
    command: str | None
    arguments: str | None

    @property
    def managed(self) -> bool:
        """Tell whether Crontopus registered this task."""
        return self.job_id is not None


def decode_task(data: bytes | str) -> str:
    """Return task XML as text, whatever encoding schtasks printed it in."""
    if isinstance(data, str):
        return data
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    return data.decode("utf-8-sig")


def parse_task(data: bytes | str) -> TaskSummary:
    """Read a task's marker, triggers and action back from its XML."""
    text = decode_task(data)
    # The declaration names UTF-16 although the text is already decoded: drop it.
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text)
    # The XML comes from this machine's own Task Scheduler, not from the network.
    root = ET.fromstring(text)  # noqa: S314
    info = root.find(f"{_NS}RegistrationInfo")
    uri = _text(info, "URI")
    marker = _MARKER.search(_text(info, "Documentation") or "")
    job_id = UUID(marker.group(1)) if marker else None
    content_hash = marker.group(2) if marker else None
    triggers: list[Trigger] = []
    unsupported: list[str] = []
    for element in root.find(f"{_NS}Triggers") or []:
        trigger = _read_trigger(element)
        if trigger is None:
            unsupported.append(element.tag.removeprefix(_NS))
        else:
            triggers.append(trigger)
    execute = root.find(f"{_NS}Actions/{_NS}Exec")
    return TaskSummary(
        uri=uri,
        job_id=job_id,
        content_hash=content_hash,
        triggers=tuple(triggers),
        unsupported_triggers=tuple(unsupported),
        command=_text(execute, "Command"),
        arguments=_text(execute, "Arguments"),
    )


def _text(parent: ET.Element | None, tag: str) -> str | None:
    if parent is None:
        return None
    element = parent.find(f"{_NS}{tag}")
    return None if element is None or element.text is None else element.text.strip()


def _read_trigger(element: ET.Element) -> Trigger | None:
    kind = element.tag.removeprefix(_NS)
    if kind == "BootTrigger":
        return BootTrigger()
    start_text = _text(element, "StartBoundary")
    if start_text is None or kind not in ("TimeTrigger", "CalendarTrigger"):
        return None
    moment = datetime.fromisoformat(start_text.replace("Z", "+00:00"))
    # An offset makes the boundary a fixed instant; without one it is the machine's wall time.
    start = moment if moment.tzinfo is None else moment.astimezone(UTC).replace(tzinfo=None)
    repetition = _read_repetition(element.find(f"{_NS}Repetition"))
    if kind == "TimeTrigger":
        return TimeTrigger(start, repetition, utc=moment.tzinfo is not None)
    schedule = _read_schedule(element)
    if schedule is None:
        return None
    return CalendarTrigger(start, schedule, repetition, utc=moment.tzinfo is not None)


def _read_repetition(element: ET.Element | None) -> Repetition | None:
    if element is None:
        return None
    interval = _text(element, "Interval")
    duration = _text(element, "Duration")
    if interval is None:
        return None
    return Repetition(parse_duration(interval), parse_duration(duration) if duration else None)


def _read_schedule(element: ET.Element) -> Schedule | None:
    if (by_day := element.find(f"{_NS}ScheduleByDay")) is not None:
        return ByDay(int(_text(by_day, "DaysInterval") or 1))
    if (by_week := element.find(f"{_NS}ScheduleByWeek")) is not None:
        return ByWeek(
            _names(by_week, "DaysOfWeek", WEEKDAY_ELEMENTS, 0),
            int(_text(by_week, "WeeksInterval") or 1),
        )
    if (by_month := element.find(f"{_NS}ScheduleByMonth")) is not None:
        values = _values(by_month, "DaysOfMonth", "Day")
        months = _names(by_month, "Months", MONTH_ELEMENTS, 1)
        days = frozenset(int(v) for v in values if v != "Last")
        return ByMonth(days, months, "Last" in values)
    if (by_dow := element.find(f"{_NS}ScheduleByMonthDayOfWeek")) is not None:
        values = _values(by_dow, "Weeks", "Week")
        weeks = frozenset(int(v) for v in values if v != "Last")
        weekdays = _names(by_dow, "DaysOfWeek", WEEKDAY_ELEMENTS, 0)
        months = _names(by_dow, "Months", MONTH_ELEMENTS, 1)
        return ByMonthDayOfWeek(weeks, weekdays, months, "Last" in values)
    return None


def _values(parent: ET.Element, listing: str, item: str) -> list[str]:
    return [(e.text or "").strip() for e in parent.findall(f"{_NS}{listing}/{_NS}{item}")]


def _names(parent: ET.Element, listing: str, names: Sequence[str], first: int) -> frozenset[int]:
    found = parent.find(f"{_NS}{listing}")
    if found is None:
        return frozenset(range(first, first + len(names)))
    return frozenset(names.index(e.tag.removeprefix(_NS)) + first for e in found)
