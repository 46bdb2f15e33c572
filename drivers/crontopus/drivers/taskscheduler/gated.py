"""Gated Task Scheduler triggers: a superset pinned to UTC, for what triggers cannot spell.

Task Scheduler has no IANA zones, starts a trigger at a skipped or repeated wall time by no
documented rule, and cannot AND days of the month with weekdays. When the native conversion
cannot be exact, the task fires the cron driver's superset read in UTC (where no clock changes)
with every start boundary written in UTC, and the action runs `run-job UUID --gate`, which runs
only at the job's own instants (see crontopus.drivers.superset and docs/scheduling.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

from crontopus.core.schedule import CronSchedule, parse_schedule
from crontopus.drivers.cron.convert import superset_lines
from crontopus.drivers.errors import ConversionRefused
from crontopus.drivers.superset import MAX_WAKE_RATIO, GateFigures
from crontopus.drivers.taskscheduler.convert import (
    MINUTES_PER_DAY,
    TriggerConversion,
    build_triggers,
    day_schedules,
    on_weekdays,
)
from crontopus.drivers.taskscheduler.triggers import (
    ALL_MONTHS,
    MAX_TRIGGERS,
    PAST_START,
    ByMonth,
    ByMonthDayOfWeek,
    ByWeek,
    CalendarTrigger,
    Repetition,
    Schedule,
    TimeTrigger,
    Trigger,
)

# The last resort, always within 48 triggers: every minute, gated.
_EVERY_MINUTE = TimeTrigger(PAST_START, Repetition(timedelta(minutes=1)), utc=True)


def gated_conversion(parsed: CronSchedule, timezone: str) -> TriggerConversion:
    """Return UTC triggers covering every instant of the schedule in `timezone`, gated.

    The first spelling that fits in 48 triggers and keeps the wake-up bound (MAX_WAKE_RATIO x
    the job's firings a day), else the first that fits.
    """
    lines, figures = superset_lines(parsed, timezone, "UTC")
    runs = figures.runs_per_day or 0
    fitting = [found for found in map(_triggers, _spellings(lines)) if found is not None]
    bounded = [found for found in fitting if wakes(found) <= MAX_WAKE_RATIO * runs]
    triggers = (bounded or fitting or [(_EVERY_MINUTE,)])[0]
    return TriggerConversion(parsed, timezone, triggers, GateFigures.gated(runs, wakes(triggers)))


def _spellings(lines: tuple[str, ...]) -> Iterator[list[CronSchedule]]:
    """Yield the superset's lines as written, then wider ones that need fewer triggers."""
    schedules = [parse_schedule(line) for line in lines]
    yield schedules
    # The same times on every day of their months (one calendar instead of a day OR), then
    # every minute of the hours each line covers, then every minute of its days.
    for widen in (_every_day, _every_minute_of_hours, _every_minute_of_days):
        wider: list[CronSchedule] = []
        for schedule in schedules:
            line = parse_schedule(widen(schedule.fields))
            if line not in wider:
                wider.append(line)
        yield wider


def _every_day(fields: tuple[str, ...]) -> str:
    return " ".join((fields[0], fields[1], "*", fields[3], "*"))


def _every_minute_of_hours(fields: tuple[str, ...]) -> str:
    return " ".join(("*", *fields[1:]))


def _every_minute_of_days(fields: tuple[str, ...]) -> str:
    return " ".join(("*", "*", *fields[2:]))


def _triggers(schedules: list[CronSchedule]) -> tuple[Trigger, ...] | None:
    found: list[Trigger] = []
    for schedule in schedules:
        try:
            built = build_triggers(schedule, calendars=superset_days(schedule), utc=True)
        except ConversionRefused:
            return None  # more than 48 for this line alone
        found.extend(trigger for trigger in built if trigger not in found)
    merged = _merge_months(found)
    return merged if len(merged) <= MAX_TRIGGERS else None


def _merge_months(triggers: list[Trigger]) -> tuple[Trigger, ...]:
    """Join calendar triggers that differ only in their months (a superset's month-end lines)."""
    merged: dict[object, Trigger] = {}
    for trigger in triggers:
        if isinstance(trigger, CalendarTrigger) and isinstance(
            trigger.schedule, ByMonth | ByMonthDayOfWeek
        ):
            key = (
                trigger.start,
                trigger.repetition,
                trigger.utc,
                replace(trigger.schedule, months=ALL_MONTHS),
            )
            if key in merged:
                known = merged[key]
                assert isinstance(known, CalendarTrigger)
                assert isinstance(known.schedule, ByMonth | ByMonthDayOfWeek)
                months = known.schedule.months | trigger.schedule.months
                trigger = replace(known, schedule=replace(known.schedule, months=months))
            merged[key] = trigger
        else:
            merged[object()] = trigger
    return tuple(_simplified(trigger) for trigger in merged.values())


def _simplified(trigger: Trigger) -> Trigger:
    """Write every week of every month as the weekly schedule it is."""
    if not isinstance(trigger, CalendarTrigger):
        return trigger
    schedule = trigger.schedule
    if (
        isinstance(schedule, ByMonthDayOfWeek)
        and schedule.months == ALL_MONTHS
        and schedule.weeks == frozenset({1, 2, 3, 4})
        and schedule.last_week
    ):
        return replace(trigger, schedule=ByWeek(schedule.weekdays))
    return trigger


def superset_days(schedule: CronSchedule) -> list[Schedule]:
    """Return the schedule's days, or when cron ANDs days a task cannot, the smaller side."""
    try:
        return day_schedules(schedule)
    except ConversionRefused:
        # Days of the month AND weekdays that are not whole weeks: keep whichever side fires
        # on fewer days; the gate drops the days the other side rules out.
        if len(schedule.weekdays) * 31 <= len(schedule.days) * 7:
            return [on_weekdays(schedule.weekdays, schedule.months)]
        return [ByMonth(schedule.days, schedule.months)]


def wakes(triggers: tuple[Trigger, ...]) -> int:
    """Return how many times of day (UTC) the triggers can fire at, on a day all of them fire."""
    minutes: set[int] = set()
    for trigger in triggers:
        if not isinstance(trigger, TimeTrigger | CalendarTrigger):
            continue
        first = trigger.start.hour * 60 + trigger.start.minute
        repetition = trigger.repetition
        if repetition is None:
            minutes.add(first)
            continue
        step = int(repetition.interval.total_seconds()) // 60
        offsets = repetition.offsets()
        count = len(offsets) if offsets is not None else MINUTES_PER_DAY // step
        minutes.update((first + index * step) % MINUTES_PER_DAY for index in range(count))
    return len(minutes)
