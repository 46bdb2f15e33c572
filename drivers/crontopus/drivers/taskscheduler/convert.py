"""Exact conversion of a cron schedule to Task Scheduler triggers, or a refusal saying why.

The times of day a cron line selects are split into runs (a start, an interval, a count); each
run becomes one trigger per day pattern: a `TimeTrigger` repeating forever when the run covers
every day evenly, else a `CalendarTrigger` whose repetition stops before the next day's run.
Cron's day-of-month OR day-of-week becomes separate triggers; the AND cases need
`ScheduleByMonthDayOfWeek` and are exact only when the days are whole weeks (1-7, 8-14, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from crontopus.core.schedule import CronSchedule, load_timezone, parse_schedule
from crontopus.drivers.errors import ConversionRefused
from crontopus.drivers.superset import GateFigures
from crontopus.drivers.taskscheduler.dst import check_dst, check_machine_zone, check_steady_state
from crontopus.drivers.taskscheduler.triggers import (
    ALL_MONTHS,
    ALL_WEEKDAYS,
    MAX_TRIGGERS,
    PAST_START,
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

MINUTES_PER_DAY = 24 * 60
_ALL_DAYS = frozenset(range(1, 32))
_WEEK_BLOCKS = {week: frozenset(range(7 * week - 6, 7 * week + 1)) for week in (1, 2, 3, 4)}


@dataclass(frozen=True)
class Run:
    """Times of day `start`, `start + interval`, ... (`count` of them), in minutes."""

    start: int
    interval: int
    count: int

    def repetition(self) -> Repetition | None:
        """Return the repetition that fires this run after its first time, none if single."""
        if self.count == 1:
            return None
        last = timedelta(minutes=(self.count - 1) * self.interval)
        # Microsoft documents the end as included (every minute for four minutes runs five
        # times); ending halfway to the next would-be repetition makes that rule irrelevant.
        # One-minute steps have no whole minute halfway, so they rely on the documented rule.
        slack = timedelta(minutes=self.interval // 2)
        return Repetition(timedelta(minutes=self.interval), last + slack)

    @property
    def covers_every_day_evenly(self) -> bool:
        """Tell whether the run repeats all day long, the same on every day."""
        return (
            self.count > 1
            and self.interval * self.count == MINUTES_PER_DAY
            and self.start < self.interval
        )


@dataclass(frozen=True)
class TriggerConversion:
    """The triggers of one schedule: native (the machine's wall time) or a gated UTC superset."""

    schedule: CronSchedule
    timezone: str
    triggers: tuple[Trigger, ...]
    figures: GateFigures = field(default_factory=GateFigures.native)

    @property
    def gated(self) -> bool:
        """Tell whether the triggers fire a superset that the run wrapper gates."""
        return self.figures.is_gated


def segments(values: list[int]) -> list[Run]:
    """Split sorted values into maximal runs of equal spacing, greedily."""
    runs: list[Run] = []
    index = 0
    while index < len(values):
        if index + 1 == len(values):
            runs.append(Run(values[index], 0, 1))
            break
        step = values[index + 1] - values[index]
        end = index + 1
        while end + 1 < len(values) and values[end + 1] - values[end] == step:
            end += 1
        runs.append(Run(values[index], step, end - index + 1))
        index = end + 1
    return runs


def time_runs(schedule: CronSchedule) -> list[Run]:
    """Cover the schedule's times of day with as few runs as the three spellings allow."""
    minutes, hours = sorted(schedule.minutes), sorted(schedule.hours)
    whole_day = segments([h * 60 + m for h in hours for m in minutes])
    per_hour = [
        Run(h * 60 + run.start, run.interval, run.count) for h in hours for run in segments(minutes)
    ]
    per_minute = [
        Run(run.start * 60 + m, run.interval * 60, run.count)
        for m in minutes
        for run in segments(hours)
    ]
    return min(whole_day, per_hour, per_minute, key=len)


def day_schedules(schedule: CronSchedule) -> list[Schedule]:
    """Return the calendar schedules whose union is cron's set of days."""
    days, weekdays, months = schedule.days, schedule.weekdays, schedule.months
    full_days, full_weekdays = days == _ALL_DAYS, weekdays == ALL_WEEKDAYS
    if (full_days and full_weekdays) or (schedule.days_are_ored and (full_days or full_weekdays)):
        return [_every_day(months)]
    if schedule.days_are_ored:
        return [ByMonth(days, months), on_weekdays(weekdays, months)]
    if full_days:
        return [on_weekdays(weekdays, months)]
    if full_weekdays:
        return [ByMonth(days, months)]
    weeks = frozenset(week for week, block in _WEEK_BLOCKS.items() if block <= days)
    if weeks and frozenset().union(*(_WEEK_BLOCKS[w] for w in weeks)) == days:
        return [ByMonthDayOfWeek(weeks, weekdays, months)]
    raise ConversionRefused(
        f'the schedule "{schedule.source}" wants days {schedule.fields[2]} that are also '
        f"weekdays {schedule.fields[4]}; Task Scheduler can only combine a weekday with whole "
        "weeks of the month (days 1-7, 8-14, 15-21, 22-28): use such days, or the cron or "
        "systemd driver"
    )


def _every_day(months: frozenset[int]) -> Schedule:
    return ByDay(1) if months == ALL_MONTHS else ByMonth(_ALL_DAYS, months)


def on_weekdays(weekdays: frozenset[int], months: frozenset[int]) -> Schedule:
    """Return the calendar schedule of these weekdays in these months."""
    if months == ALL_MONTHS:
        return ByWeek(weekdays)
    # Weeks 1-4 hold days 1-28 and "Last" the final seven days: together, every day.
    return ByMonthDayOfWeek(frozenset({1, 2, 3, 4}), weekdays, months, last_week=True)


def build_triggers(
    schedule: CronSchedule,
    *,
    without_repetition: bool = False,
    utc_offset: timedelta = timedelta(0),
    calendars: list[Schedule] | None = None,
    utc: bool = False,
) -> tuple[Trigger, ...]:
    """Build the triggers for a schedule in wall time, refusing what Task Scheduler lacks.

    `without_repetition` gives every time of day its own trigger: repetition counts elapsed
    time, which drifts from the wall clock across a DST change, while each start does not.
    `utc_offset` is the zone's offset now: an endless repetition is anchored at a UTC instant
    that falls on the schedule's wall-clock grid under that offset. `calendars` replaces the
    schedule's own days (a gated superset's), and `utc` writes calendar starts in UTC.
    """
    if schedule.reboot:
        return (BootTrigger(),)
    if calendars is None:
        calendars = day_schedules(schedule)
    every_day = calendars == [ByDay(1)]
    triggers: list[Trigger] = []
    runs = (
        [Run(h * 60 + m, 0, 1) for h in sorted(schedule.hours) for m in sorted(schedule.minutes)]
        if without_repetition
        else time_runs(schedule)
    )
    for run in runs:
        start = PAST_START + timedelta(minutes=run.start)
        if every_day and run.covers_every_day_evenly:
            # Only the anchor's place on the grid matters; reducing it modulo the interval
            # keeps it the same in summer and winter whenever the shift is whole intervals.
            offset = int(utc_offset.total_seconds()) // 60
            anchor = PAST_START + timedelta(minutes=(run.start - offset) % run.interval)
            repetition = Repetition(timedelta(minutes=run.interval))
            triggers.append(TimeTrigger(anchor, repetition, utc=True))
            continue
        triggers.extend(CalendarTrigger(start, day, run.repetition(), utc=utc) for day in calendars)
    if len(triggers) > MAX_TRIGGERS:
        raise ConversionRefused(
            f'the schedule "{schedule.source}" needs {len(triggers)} Task Scheduler triggers '
            f"and a task holds at most {MAX_TRIGGERS}: its times of day are too irregular; "
            "use evenly spaced minutes and hours, or the cron or systemd driver"
        )
    return tuple(triggers)


def convert_schedule(
    schedule: CronSchedule | str,
    timezone: str | None = "UTC",
    *,
    machine_timezone: str = "UTC",
    accept_dst_difference: bool = False,
    now: datetime | None = None,
    horizon_years: int = 5,
) -> TriggerConversion:
    """Convert a cron schedule to triggers for a machine in `machine_timezone`.

    Native when the triggers fire at exactly the schedule's instants in the machine's wall
    time; otherwise a gated superset pinned to UTC (see `gated.gated_conversion`).
    """
    parsed = parse_schedule(schedule) if isinstance(schedule, str) else schedule
    zone_name = timezone or "UTC"
    load_timezone(zone_name)
    load_timezone(machine_timezone)
    try:
        return _native_conversion(
            parsed, zone_name, machine_timezone, accept_dst_difference, now, horizon_years
        )
    except ConversionRefused:
        # Imported here: the gated spelling builds on this module's trigger builder.
        from crontopus.drivers.taskscheduler.gated import gated_conversion

        return gated_conversion(parsed, zone_name)


def _native_conversion(
    parsed: CronSchedule,
    zone_name: str,
    machine_timezone: str,
    accept_dst_difference: bool,
    now: datetime | None,
    horizon_years: int,
) -> TriggerConversion:
    """Return triggers exact in the machine's wall time, or raise ConversionRefused."""
    start = (now or datetime.now(UTC)).astimezone(UTC)
    end = start + timedelta(days=366 * horizon_years)
    check_machine_zone(zone_name, machine_timezone, start, end)
    offset = start.astimezone(load_timezone(zone_name)).utcoffset() or timedelta(0)
    triggers = build_triggers(parsed, utc_offset=offset)
    if parsed.reboot:
        return TriggerConversion(parsed, zone_name, triggers)

    def verify(candidate: tuple[Trigger, ...]) -> None:
        check_steady_state(parsed, zone_name, candidate, start)
        if not accept_dst_difference:
            check_dst(parsed, zone_name, candidate, start, end)

    try:
        verify(triggers)
    except ConversionRefused as refused:
        # Starts without repetition follow the wall clock; try them when few enough.
        if len(parsed.hours) * len(parsed.minutes) * len(day_schedules(parsed)) > MAX_TRIGGERS:
            raise
        triggers = build_triggers(parsed, without_repetition=True)
        try:
            verify(triggers)
        except ConversionRefused:
            raise refused from None
    return TriggerConversion(parsed, zone_name, triggers)
