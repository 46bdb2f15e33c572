"""An independent reading of task XML: when would Task Scheduler start this task?

Written from Microsoft's trigger documentation as docs/scheduler-facts.md records it, straight
from the XML text, and sharing no code with the driver (not its trigger model, not expand.py),
so that the driver's conversion and its rendering are both checked:

- a `StartBoundary` ending in `Z` is a UTC instant, and a calendar trigger written so reads its
  time of day and its days in UTC; without it, the machine's wall time;
- a repetition fires every `Interval` from each start, in elapsed time, up to `Duration`
  included (forever without one);
- `ScheduleByDay` counts days from the start boundary's date; week N of
  `ScheduleByMonthDayOfWeek` is days 7N-6 to 7N and `Last` the month's last seven days.

A calendar start at a wall time that is skipped or repeated has no documented rule: reading one
raises `UncertainStart`, since the driver promises never to rely on it.
"""

from __future__ import annotations

import calendar
import heapq
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

NS = "{http://schemas.microsoft.com/windows/2004/02/mit/task}"
DAY_NAMES = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
MONTH_NAMES = [
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
]  # fmt: skip
DURATION = re.compile(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?")


class UncertainStart(AssertionError):
    """A calendar trigger starts at a wall time the machine's clock skips or repeats."""


@dataclass(frozen=True)
class ReadTrigger:
    kind: str  # TimeTrigger, CalendarTrigger or BootTrigger
    start: datetime | None  # naive: wall time; aware: an instant
    interval: timedelta | None
    duration: timedelta | None
    days: ET.Element | None  # the Schedule... element of a calendar trigger


def duration(text: str) -> timedelta:
    match = DURATION.fullmatch(text)
    assert match, text
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def read_triggers(xml: str) -> list[ReadTrigger]:
    root = ET.fromstring(re.sub(r"^<\?xml[^>]*\?>", "", xml))  # noqa: S314 - our own output
    found = []
    for element in root.find(f"{NS}Triggers") or []:
        kind = element.tag.removeprefix(NS)
        text = element.findtext(f"{NS}StartBoundary")
        start = None
        if text is not None:
            start = (
                datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)
                if text.endswith("Z")
                else datetime.fromisoformat(text)
            )
        interval = element.findtext(f"{NS}Repetition/{NS}Interval")
        length = element.findtext(f"{NS}Repetition/{NS}Duration")
        days = next((child for child in element if child.tag.startswith(f"{NS}Schedule")), None)
        found.append(
            ReadTrigger(
                kind,
                start,
                duration(interval) if interval else None,
                duration(length) if length else None,
                days,
            )
        )
    return found


def _names(element: ET.Element, listing: str, names: list[str]) -> set[int]:
    found = element.find(f"{NS}{listing}")
    if found is None:
        return set(range(len(names)))
    return {names.index(child.tag.removeprefix(NS)) for child in found}


def _texts(element: ET.Element, path: str) -> list[str]:
    return [(child.text or "").strip() for child in element.findall(path)]


def on_day(days: ET.Element, day: date, first: date) -> bool:
    """Tell whether a calendar trigger whose boundary falls on `first` starts on `day`."""
    if day < first:
        return False
    kind = days.tag.removeprefix(NS)
    weekday = day.isoweekday() % 7
    last = calendar.monthrange(day.year, day.month)[1]
    if kind == "ScheduleByDay":
        return (day - first).days % int(days.findtext(f"{NS}DaysInterval") or 1) == 0
    if kind == "ScheduleByWeek":
        every = int(days.findtext(f"{NS}WeeksInterval") or 1)
        return (
            weekday in _names(days, "DaysOfWeek", DAY_NAMES)
            and ((day - first).days // 7) % every == 0
        )
    months = {month + 1 for month in _names(days, "Months", MONTH_NAMES)}
    if day.month not in months:
        return False
    if kind == "ScheduleByMonth":
        listed = _texts(days, f"{NS}DaysOfMonth/{NS}Day")
        return str(day.day) in listed or ("Last" in listed and day.day == last)
    assert kind == "ScheduleByMonthDayOfWeek", kind
    weeks = _texts(days, f"{NS}Weeks/{NS}Week")
    in_week = str((day.day + 6) // 7) in weeks and day.day <= 28
    in_last = "Last" in weeks and day.day > last - 7
    return weekday in _names(days, "DaysOfWeek", DAY_NAMES) and (in_week or in_last)


def _instant(wall: datetime, zone: ZoneInfo) -> datetime:
    early, late = wall.replace(tzinfo=zone, fold=0), wall.replace(tzinfo=zone, fold=1)
    if early.utcoffset() != late.utcoffset():
        raise UncertainStart(f"a trigger starts at {wall} in {zone}, skipped or repeated")
    return early.astimezone(UTC)


def _reach(trigger: ReadTrigger) -> timedelta:
    return trigger.duration or timedelta(0)


def _starts(
    trigger: ReadTrigger, machine: ZoneInfo, low: datetime, high: datetime
) -> Iterator[datetime]:
    """Yield a calendar trigger's starts (instants) that can fire in [low, high]."""
    assert trigger.start is not None
    assert trigger.days is not None
    zone = ZoneInfo("UTC") if trigger.start.tzinfo else machine
    wall_start = trigger.start.replace(tzinfo=None)
    day = (low - _reach(trigger)).astimezone(zone).date() - timedelta(days=1)
    while day <= high.astimezone(zone).date() + timedelta(days=1):
        if on_day(trigger.days, day, wall_start.date()):
            yield _instant(datetime.combine(day, wall_start.time()), zone)
        day += timedelta(days=1)


def _repeat(
    first: datetime, trigger: ReadTrigger, low: datetime, high: datetime
) -> Iterator[datetime]:
    if trigger.interval is None:
        if low <= first <= high:
            yield first
        return
    step = 0 if first >= low else -((first - low) // trigger.interval)
    while True:
        moment = first + step * trigger.interval
        if moment > high or (trigger.duration is not None and moment - first > trigger.duration):
            return
        yield moment
        step += 1


def trigger_firings(
    trigger: ReadTrigger, machine: ZoneInfo, low: datetime, high: datetime
) -> Iterator[datetime]:
    """Yield the instants (UTC, ascending) at which one trigger fires in [low, high]."""
    if trigger.kind == "BootTrigger":
        return
    assert trigger.start is not None
    if trigger.kind == "TimeTrigger":
        anchor = trigger.start if trigger.start.tzinfo else _instant(trigger.start, machine)
        yield from _repeat(anchor, trigger, low, high)
        return
    yield from heapq.merge(
        *(_repeat(first, trigger, low, high) for first in _starts(trigger, machine, low, high))
    )


def firings(
    triggers: Iterable[ReadTrigger], machine_zone: str, low: datetime, high: datetime
) -> Iterator[datetime]:
    """Yield every distinct instant in [low, high] at which the task starts, ascending."""
    machine = ZoneInfo(machine_zone)
    previous = None
    for moment in heapq.merge(*(trigger_firings(t, machine, low, high) for t in triggers)):
        if moment != previous:
            yield moment
        previous = moment


def fires_at(triggers: Iterable[ReadTrigger], machine_zone: str, moment: datetime) -> bool:
    """Tell whether the task starts at this instant."""
    return next(firings(triggers, machine_zone, moment, moment), None) is not None
