"""Exact conversion of a cron schedule to systemd `OnCalendar=` expressions.

Every expression names its zone, `UTC` included: a timer without a zone follows the machine's
local time, which is not the job's zone unless by accident.  Day-of-month and day-of-week are
ORed by cron when both are restricted, and ANDed by systemd inside one expression, so that case
becomes two expressions (several `OnCalendar=` lines are a union).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from crontopus.core.schedule import CronSchedule, load_timezone, parse_schedule
from crontopus.drivers.errors import ConversionRefused
from crontopus.drivers.superset import GateFigures
from crontopus.drivers.systemd.dst import DstDifference, find_dst_differences

# Zone suffixes in OnCalendar= arrived in systemd 235.
MINIMUM_ZONE_VERSION = 235

# The intended manifest field; the core validator carries it into `accept_dst_difference`.
DST_OPT_IN_FIELD = "spec.systemd.acceptDstDifferences"

_WEEKDAY_NAMES = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat")
# systemd lists weekdays Monday first; cron numbers them Sunday=0.
_WEEKDAY_ORDER = (1, 2, 3, 4, 5, 6, 0)
_ALL_DAYS = frozenset(range(1, 32))
_ALL_WEEKDAYS = frozenset(range(7))


@dataclass(frozen=True)
class CalendarConversion:
    """The `OnCalendar=` lines of one schedule and what was checked on the way."""

    schedule: CronSchedule
    timezone: str
    on_calendar: tuple[str, ...]
    accepted_dst_differences: tuple[DstDifference, ...] = ()
    figures: GateFigures = field(default_factory=GateFigures.native)

    @property
    def gated(self) -> bool:
        """Tell whether the timer fires a superset that the run wrapper gates."""
        return self.figures.is_gated


def render_values(values: Iterable[int], low: int, high: int) -> str:
    """Render a set of field values as a systemd component, exact and without shorthands."""
    ordered = sorted(set(values))
    if not ordered:
        raise ValueError("a calendar component needs at least one value")
    if ordered == list(range(low, high + 1)):
        return "*"
    # No `start/step` repetition: systemd 252 drops the start value after a carry from the
    # component above (`*:00/35` skips 00:00 after 23:35, `00/5:00` skips midnight), so
    # explicit values and `a..b` runs are the only exact spelling.
    return ",".join(_render_runs(ordered))


def _render_runs(ordered: list[int]) -> list[str]:
    parts: list[str] = []
    start = previous = ordered[0]
    for value in [*ordered[1:], None]:
        if value is not None and value == previous + 1:
            previous = value
            continue
        if previous - start >= 2:
            parts.append(f"{start:02d}..{previous:02d}")
        else:
            parts.extend(f"{v:02d}" for v in range(start, previous + 1))
        if value is not None:
            start = previous = value
    return parts


def render_weekdays(weekdays: Iterable[int]) -> str:
    """Render cron weekday numbers (Sunday=0) as an explicit systemd name list."""
    wanted = set(weekdays)
    return ",".join(_WEEKDAY_NAMES[d] for d in _WEEKDAY_ORDER if d in wanted)


def on_calendar_lines(schedule: CronSchedule, timezone: str) -> tuple[str, ...]:
    """Build the `OnCalendar=` expressions whose union fires exactly when cron would."""
    if schedule.reboot:
        raise ConversionRefused(_reboot_reason(schedule))
    time = f"{render_values(schedule.hours, 0, 23)}:{render_values(schedule.minutes, 0, 59)}:00"
    months = render_values(schedule.months, 1, 12)
    full_days = schedule.days == _ALL_DAYS
    full_weekdays = schedule.weekdays == _ALL_WEEKDAYS
    if schedule.days_are_ored and not (full_days or full_weekdays):
        by_date = f"*-{months}-{render_values(schedule.days, 1, 31)} {time} {timezone}"
        by_weekday = f"{render_weekdays(schedule.weekdays)} *-{months}-* {time} {timezone}"
        return (by_date, by_weekday)
    if schedule.days_are_ored:
        # One side covers every day, so the OR is every day.
        return (f"*-{months}-* {time} {timezone}",)
    days = "*" if full_days else render_values(schedule.days, 1, 31)
    prefix = "" if full_weekdays else render_weekdays(schedule.weekdays) + " "
    return (f"{prefix}*-{months}-{days} {time} {timezone}",)


def convert_schedule(
    schedule: CronSchedule | str,
    timezone: str = "UTC",
    *,
    accept_dst_difference: bool = False,
    systemd_version: int | None = None,
    now: datetime | None = None,
    horizon_years: int = 5,
) -> CalendarConversion:
    """Convert a cron schedule in a zone to `OnCalendar=` lines, or refuse with the reason."""
    parsed = parse_schedule(schedule) if isinstance(schedule, str) else schedule
    if systemd_version is not None and systemd_version < MINIMUM_ZONE_VERSION:
        raise ConversionRefused(
            f"systemd {systemd_version} cannot pin a timer to a time zone (zone suffixes in "
            f"OnCalendar= need systemd {MINIMUM_ZONE_VERSION} or newer): use the cron driver "
            "on this machine"
        )
    load_timezone(timezone)  # an unknown zone fails here, with the core's message
    lines = on_calendar_lines(parsed, timezone)
    differences = find_dst_differences(parsed, timezone, now=now, years=horizon_years)
    broken = any(d.unreliable for d in differences)
    if broken or (differences and not accept_dst_difference):
        # systemd's DST handling differs from cron's here: fire a superset pinned to UTC, where
        # no clock changes, and let the run wrapper gate it (docs/scheduling.md).
        return _gated_conversion(parsed, timezone)
    return CalendarConversion(
        schedule=parsed,
        timezone=timezone,
        on_calendar=lines,
        accepted_dst_differences=tuple(differences),
    )


def _reboot_reason(schedule: CronSchedule) -> str:
    return (
        f'the schedule "{schedule.source}" has no calendar meaning and a systemd timer cannot '
        "run a job once per boot the way cron does (OnBootSec= also fires when the timer is "
        "installed after boot): use the cron driver for @reboot jobs"
    )


def _gated_conversion(parsed: CronSchedule, timezone: str) -> CalendarConversion:
    # Imported here: the cron driver's converter imports this package's neighbours.
    from crontopus.drivers.cron.convert import superset_lines

    lines, figures = superset_lines(parsed, timezone, "UTC")
    on_calendar: list[str] = []
    for line in lines:
        for expression in on_calendar_lines(parse_schedule(line), "UTC"):
            if expression not in on_calendar:
                on_calendar.append(expression)
    return CalendarConversion(parsed, timezone, tuple(on_calendar), figures=figures)
