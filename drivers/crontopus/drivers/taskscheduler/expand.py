"""Expanding Task Scheduler triggers into the instants they fire, to compare with cron.

Calendar triggers start at a wall-clock time on each matching day; repetition then counts
elapsed time from that start (it does not follow the wall clock across a DST change), and a
`TimeTrigger` counts elapsed time from its start boundary forever. A calendar start at a wall
time that does not exist or exists twice is reported as uncertain: Windows documents no rule
for it, so Crontopus never relies on it.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from crontopus.core.schedule import load_timezone
from crontopus.drivers.taskscheduler.triggers import (
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


@dataclass(frozen=True)
class Expansion:
    """Fire instants (UTC) in a window, and calendar starts whose wall time is unclear."""

    times: tuple[datetime, ...]
    uncertain: tuple[datetime, ...] = ()


def schedule_matches(schedule: Schedule, day: date, first: date) -> bool:
    """Tell whether a calendar schedule starting on `first` fires on `day`."""
    if day < first:
        return False
    weekday = (day.weekday() + 1) % 7
    match schedule:
        case ByDay(interval=interval):
            return (day - first).days % interval == 0
        case ByWeek(weekdays=weekdays, interval=interval):
            return weekday in weekdays and ((day - first).days // 7) % interval == 0
        case ByMonth(days=days, months=months, last_day=last_day):
            length = calendar.monthrange(day.year, day.month)[1]
            return day.month in months and (day.day in days or (last_day and day.day == length))
        case ByMonthDayOfWeek(weeks=weeks, weekdays=weekdays, months=months, last_week=last):
            length = calendar.monthrange(day.year, day.month)[1]
            in_week = day.day <= 28 and (day.day - 1) // 7 + 1 in weeks
            in_last = last and day.day > length - 7
            return day.month in months and weekday in weekdays and (in_week or in_last)
    raise TypeError(f"unknown calendar schedule {schedule!r}")


def expand(
    triggers: tuple[Trigger, ...], timezone: str, low: datetime, high: datetime
) -> Expansion:
    """Return every instant in [low, high] at which the triggers fire, in UTC."""
    zone = load_timezone(timezone)
    times: set[datetime] = set()
    uncertain: set[datetime] = set()
    for trigger in triggers:
        match trigger:
            case BootTrigger():
                continue
            case TimeTrigger(start=start, repetition=repetition, utc=utc):
                anchor = start.replace(tzinfo=UTC if utc else zone).astimezone(UTC)
                times.update(_repeat(anchor, repetition, low, high))
            case CalendarTrigger(start=start, schedule=schedule, repetition=repetition, utc=utc):
                # A start written in UTC reads its time of day and its days in UTC.
                read_in = ZoneInfo("UTC") if utc else zone
                for wall in _calendar_starts(start, schedule, repetition, read_in, low, high):
                    instant = _instant(wall, read_in)
                    if instant is None:
                        uncertain.add(wall)
                    else:
                        times.update(_repeat(instant, repetition, low, high))
    return Expansion(tuple(sorted(times)), tuple(sorted(uncertain)))


def _calendar_starts(
    start: datetime,
    schedule: Schedule,
    repetition: Repetition | None,
    zone: ZoneInfo,
    low: datetime,
    high: datetime,
) -> Iterator[datetime]:
    # A start up to one repetition duration before `low` can still fire inside the window.
    reach = repetition.duration if repetition and repetition.duration else timedelta(0)
    day = (low - reach).astimezone(zone).date() - timedelta(days=1)
    last = high.astimezone(zone).date() + timedelta(days=1)
    while day <= last:
        if schedule_matches(schedule, day, start.date()):
            yield datetime.combine(day, start.time())
        day += timedelta(days=1)


def _instant(wall: datetime, zone: ZoneInfo) -> datetime | None:
    first = wall.replace(tzinfo=zone, fold=0)
    second = wall.replace(tzinfo=zone, fold=1)
    if first.utcoffset() != second.utcoffset():
        return None  # repeated or skipped wall time
    return first.astimezone(UTC)


def _repeat(
    first: datetime, repetition: Repetition | None, low: datetime, high: datetime
) -> Iterator[datetime]:
    if repetition is None:
        if low <= first <= high:
            yield first
        return
    interval = repetition.interval
    offsets = repetition.offsets()
    begin = max(0, math.ceil((low - first) / interval))
    stop = math.floor((high - first) / interval)
    if offsets is not None:
        stop = min(stop, offsets.stop - 1)
    for step in range(begin, stop + 1):
        yield first + step * interval
