"""Convert a Crontopus schedule to a crontab schedule and the environment lines it needs."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from crontopus.core.errors import ScheduleError
from crontopus.core.schedule import CronSchedule, load_timezone, parse_schedule
from crontopus.drivers.contract import NativeSchedule
from crontopus.drivers.cron.crontab import CRON_TZ
from crontopus.drivers.cron.machine import (
    CronTzSupport,
    detect_cron_tz_support,
    machine_timezone,
    same_zone,
)
from crontopus.drivers.errors import ConversionRefused
from crontopus.drivers.superset import (
    MAX_WAKE_RATIO,
    GateFigures,
    WallTimes,
    cron_list,
    second_copies,
    shift_month_days,
    shift_months,
    shift_weekdays,
    star_step_minutes,
    wall_times,
)

DRIVER_NAME = "cron"
# More lines than this and a gated entry becomes hard to read: every minute is cheaper then.
_MAX_LINES = 24


@dataclass(frozen=True)
class CronSchedulePlan:
    """A schedule as crontab text: the schedule fields and the lines that must precede it.

    A gated plan's line fires a superset of the job's instants, in the machine's zone; the
    entry's wrapper then runs with `--gate` (see crontopus.drivers.superset).
    """

    lines: tuple[str, ...]
    environment: tuple[str, ...]
    figures: GateFigures = field(default_factory=GateFigures.native)

    @property
    def gated(self) -> bool:
        """Tell whether the run wrapper must gate this line's firings."""
        return self.figures.is_gated

    def native(self) -> NativeSchedule:
        """Return the `{"line" (or "lines"), "environment"}` form `drivers convert` prints."""
        schedule: dict[str, object] = (
            {"line": self.lines[0]} if len(self.lines) == 1 else {"lines": list(self.lines)}
        )
        return NativeSchedule(
            DRIVER_NAME,
            {**schedule, "environment": list(self.environment)},
            figures=self.figures,
        )


class CronConverter:
    """Turn schedules into crontab lines for this machine's cron and zone.

    `cron_tz` and `machine_zone` default to what the machine says, asked once and only
    when a job's zone differs from the machine's.
    """

    def __init__(self, *, cron_tz: bool | None = None, machine_zone: str | None = None) -> None:
        self._cron_tz = cron_tz
        self._machine_zone = machine_zone

    @functools.cached_property
    def cron_tz(self) -> CronTzSupport:
        """Return whether CRON_TZ works here (configured, or detected from the installed cron)."""
        if self._cron_tz is not None:
            verdict = "honours" if self._cron_tz else "ignores"
            option = "yes" if self._cron_tz else "no"
            return CronTzSupport(
                self._cron_tz,
                f"the cron driver option cron_tz={option} says this cron {verdict} CRON_TZ",
            )
        return detect_cron_tz_support()

    @functools.cached_property
    def machine_zone(self) -> str | None:
        """Return the machine's zone name (configured, or read from /etc/localtime)."""
        return self._machine_zone or machine_timezone()

    def plan(self, schedule: str, timezone: str | None) -> CronSchedulePlan:
        """Return the crontab form of `schedule` in `timezone`, or raise ConversionRefused."""
        try:
            parsed = parse_schedule(schedule)
        except ScheduleError as exc:
            raise ConversionRefused(str(exc)) from exc
        if parsed.reboot:
            return CronSchedulePlan(("@reboot",), ())
        zone = self._gated_zone(parsed, timezone)
        if zone is not None:
            return _superset_plan(parsed, zone, self._known_machine_zone())
        return CronSchedulePlan((parsed.expression,), self._environment(parsed, timezone))

    def machine_zone_environment(self) -> tuple[str, ...]:
        """Return the CRON_TZ line that pins an entry to the machine's own zone."""
        zone = self.machine_zone
        if zone is None:
            raise ConversionRefused(
                "the crontab sets CRON_TZ above Crontopus' entries and the machine's own zone"
                " cannot be named (/etc/localtime is not a link into zoneinfo and"
                " /etc/timezone is empty): set the cron driver option machine_zone"
            )
        try:
            load_timezone(zone)
        except ScheduleError as exc:
            raise ConversionRefused(f"the machine's zone: {exc}") from exc
        return (f"{CRON_TZ}={zone}",)

    def _gated_zone(self, parsed: CronSchedule, timezone: str | None) -> str | None:
        """Return the job's zone when this cron cannot run it natively, else None."""
        if timezone is None:
            return None
        try:
            load_timezone(timezone)
        except ScheduleError as exc:
            raise ConversionRefused(str(exc)) from exc
        machine = self._known_machine_zone()
        if same_zone(timezone, machine) or self.cron_tz.supported:
            return None
        return timezone

    def _known_machine_zone(self) -> str:
        zone = self.machine_zone
        if zone is None:
            raise ConversionRefused(
                "the machine's own zone cannot be named (/etc/localtime is not a link into"
                " zoneinfo and /etc/timezone is empty), so cron cannot be told when a job in"
                " another zone runs: set the cron driver option machine_zone"
            )
        try:
            load_timezone(zone)
        except ScheduleError as exc:
            raise ConversionRefused(f"the machine's zone: {exc}") from exc
        return zone

    def _environment(self, parsed: CronSchedule, timezone: str | None) -> tuple[str, ...]:
        # Reached only when cron can run the zone itself: the machine's, or through CRON_TZ.
        if parsed.reboot or timezone is None or same_zone(timezone, self._known_machine_zone()):
            # @reboot has no time of day, so no zone can change when it runs.
            return ()
        return (f"{CRON_TZ}={timezone}",)


def _superset_plan(parsed: CronSchedule, job_zone: str, machine_zone: str) -> CronSchedulePlan:
    lines, figures = superset_lines(parsed, job_zone, machine_zone)
    return CronSchedulePlan(lines, (), figures)


def superset_lines(
    parsed: CronSchedule, job_zone: str, machine_zone: str
) -> tuple[tuple[str, ...], GateFigures]:
    """Return cron lines that, read in `machine_zone` by cron, cover the job's instants.

    The fewest wake-ups this module finds, and how many a day run versus wake. Other drivers
    reuse it with a zone they can pin (systemd: UTC).
    """
    times = wall_times(parsed, job_zone, machine_zone)
    runs = len(parsed.minutes) * len(parsed.hours)
    exact = _exact_lines(times)
    every_minute = [("*", "*", frozenset(shift for _, shift in times.times))]
    wanted = exact if len(exact) <= _MAX_LINES else every_minute
    if _wakes(wanted) > MAX_WAKE_RATIO * runs and _wakes(every_minute) < _wakes(wanted):
        wanted = every_minute
    lines = [
        " ".join((minute, hour, *_day_fields(parsed, shifts))) for minute, hour, shifts in wanted
    ]
    # Only on the days the machine's clock goes back: see SecondCopy.
    lines += [
        f"{star_step_minutes(copy.minutes)} {copy.hour} * {cron_list(copy.months, 1, 12)}"
        f" {cron_list(copy.weekdays, 0, 6)}"
        for copy in second_copies(parsed.expression, job_zone, machine_zone)
    ]
    return tuple(lines), GateFigures.gated(runs, _wakes(wanted))


_Line = tuple[str, str, frozenset[int]]  # minute field, hour field, day shifts


def _exact_lines(times: WallTimes) -> list[_Line]:
    """Cover exactly the wall times, one line per set of hours sharing minutes and day shifts."""
    shifts_at: dict[tuple[int, int], set[int]] = {}
    for time, shift in times.times:
        shifts_at.setdefault(divmod(time, 60), set()).add(shift)
    grouped: dict[tuple[frozenset[int], frozenset[int]], set[int]] = {}
    by_hour: dict[tuple[int, frozenset[int]], set[int]] = {}
    for (hour, minute), shifts in shifts_at.items():
        by_hour.setdefault((hour, frozenset(shifts)), set()).add(minute)
    for (hour, day_shifts), minute_set in by_hour.items():
        grouped.setdefault((frozenset(minute_set), day_shifts), set()).add(hour)
    return sorted(
        (cron_list(minutes, 0, 59), cron_list(hours, 0, 23), day_shifts)
        for (minutes, day_shifts), hours in grouped.items()
    )


def _wakes(lines: list[_Line]) -> int:
    return sum(_count(minute, 60) * _count(hour, 24) for minute, hour, _ in lines)


def _count(field: str, size: int) -> int:
    if field == "*":
        return size
    if field.startswith("*/"):
        return -(-size // int(field[2:]))
    total = 0
    for part in field.split(","):
        low, _, high = part.partition("-")
        total += int(high or low) - int(low) + 1
    return total


def _day_fields(parsed: CronSchedule, shifts: frozenset[int]) -> tuple[str, str, str]:
    day, month, weekday = parsed.fields[2], parsed.fields[3], parsed.fields[4]
    if shifts == {0}:
        return day, month, weekday
    # A field written with a leading "*" stays "*": that keeps cron's star rule (AND) and is a
    # superset. Restricted fields stay restricted ("1-31", not "*"), which keeps the OR.
    if not day.startswith("*"):
        day = _restricted(shift_month_days(parsed.days, shifts), 1, 31)
    else:
        day = "*"
    if not weekday.startswith("*"):
        weekday = _restricted(shift_weekdays(parsed.weekdays, shifts), 0, 6)
    else:
        weekday = "*"
    month = "*" if month.startswith("*") else cron_list(shift_months(parsed.months, shifts), 1, 12)
    return day, month, weekday


def _restricted(values: frozenset[int], low: int, high: int) -> str:
    text = cron_list(values, low, high)
    return f"{low}-{high}" if text == "*" else text
