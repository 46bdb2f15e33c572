"""Convert a Crontopus schedule to a crontab schedule and the environment lines it needs."""

from __future__ import annotations

import calendar
import functools
import itertools
from dataclasses import dataclass, field
from datetime import date

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
from crontopus.drivers.renewal import utc_today
from crontopus.drivers.superset import (
    MAX_WAKE_RATIO,
    CatchUp,
    GateFigures,
    Period,
    SecondCopy,
    WallTimes,
    catch_ups,
    cron_list,
    day_instants,
    second_copies,
    wall_times,
    wildcard_fields,
)

DRIVER_NAME = "cron"
_MONTH_LENGTH = {month: calendar.monthrange(2001, month)[1] for month in range(1, 13)}
# More lines than this and a gated entry becomes hard to read: every minute is cheaper then.
_MAX_LINES = 24


@dataclass(frozen=True)
class CronSchedulePlan:
    """A schedule as crontab text: the schedule fields and the lines that must precede it.

    A gated plan's line fires a superset of the job's instants, in the machine's zone; the
    entry's wrapper then runs with `--gate` (see crontopus.drivers.superset). Its `period` says
    which clock changes its lines spell, and from when it is planned again (`renew_on`).
    """

    lines: tuple[str, ...]
    environment: tuple[str, ...]
    figures: GateFigures = field(default_factory=GateFigures.native)
    period: Period | None = None

    @property
    def gated(self) -> bool:
        """Tell whether the run wrapper must gate this line's firings."""
        return self.figures.is_gated

    def native(self) -> NativeSchedule:
        """Return the `{"line" (or "lines"), "environment"}` form `drivers convert` prints."""
        schedule: dict[str, object] = (
            {"line": self.lines[0]} if len(self.lines) == 1 else {"lines": list(self.lines)}
        )
        if self.period is not None:
            schedule["validUntil"] = self.period.last.isoformat()
            schedule["renewOn"] = self.period.renew_on.isoformat()
        return NativeSchedule(
            DRIVER_NAME,
            {**schedule, "environment": list(self.environment)},
            figures=self.figures,
        )


class CronConverter:
    """Turn schedules into crontab lines for this machine's cron and zone.

    `cron_tz` and `machine_zone` default to what the machine says, asked once and only
    when a job's zone differs from the machine's; `today` (the date a gated plan is made on,
    which its years and renewal date count from) to today's date in UTC, asked at each plan.
    """

    def __init__(
        self,
        *,
        cron_tz: bool | None = None,
        machine_zone: str | None = None,
        today: date | None = None,
    ) -> None:
        self._cron_tz = cron_tz
        self._machine_zone = machine_zone
        self._today = today

    def today(self) -> date:
        """Return the date plans are made on."""
        return self._today or utc_today()

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
            return _superset_plan(parsed, zone, self._known_machine_zone(), self.today())
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


def _superset_plan(
    parsed: CronSchedule, job_zone: str, machine_zone: str, today: date
) -> CronSchedulePlan:
    """Return the lines for every year, or, when those wake more than the bound allows on a
    clock change that moves from year to year, the lines of a dated period (see Period)."""
    period = Period.years_from(today)
    lines, figures, bounded = _superset(parsed, job_zone, machine_zone, period)
    if not bounded:
        period = Period.year_from(today)
        lines, figures, _ = _superset(parsed, job_zone, machine_zone, period)
    return CronSchedulePlan(lines, (), figures, period)


def superset_lines(
    parsed: CronSchedule, job_zone: str, machine_zone: str
) -> tuple[tuple[str, ...], GateFigures]:
    """Return cron lines that, read in `machine_zone` by cron, cover the job's instants in
    every year the planner looks at today (see `_superset`)."""
    period = Period.years_from(utc_today())
    lines, figures, _ = _superset(parsed, job_zone, machine_zone, period)
    return lines, figures


def _superset(
    parsed: CronSchedule, job_zone: str, machine_zone: str, period: Period
) -> tuple[tuple[str, ...], GateFigures, bool]:
    """Return cron lines that, read in `machine_zone` by cron, cover the job's instants.

    Each line covers the wall times of one day shift (the machine's date minus the job's) on
    exactly the machine dates that shift maps the job's days to, so a day wakes only for the
    runs of that day (see MAX_WAKE_RATIO). What a clock change alone needs, the minute where
    cron catches up a time a jump forward skipped and the second copy of a repeated hour, gets
    lines of its own on the dates of the changes. Returns the lines, how many firings a day
    run versus wake at most, and whether the dates of the repeated hours keep the bound (see
    `_off_copy_dates`). Other drivers reuse it with a zone they can pin (systemd: UTC).

    The clock changes are those of `period`: of the years it reaches, or of its dates alone
    when it is dated.
    """
    times = wall_times(parsed, job_zone, machine_zone, period)
    runs = len(parsed.minutes) * len(parsed.hours)
    days = {shift: shifted_days(parsed, shift) for shift in times.day_shifts}
    dated, dated_wakes = _catch_up_lines(catch_ups(parsed, job_zone, machine_zone, period))
    copies = _second_copy_lines(second_copies(parsed.expression, job_zone, machine_zone, period))
    copy_lines = [line for copy in copies for line in copy.lines]
    copy_wakes = sum(copy.wakes for copy in copies)
    # These fire on the dates of clock changes only; counted as if all on one day.
    wanted = _spelling(times, days, runs, len(dated) + len(copy_lines), dated_wakes + copy_wakes)
    lines = [
        (minute, hour, fields, _wakes([(minute, hour, shift)]))
        for minute, hour, shift in wanted
        for fields in days[shift]
    ]
    bounded = True
    for copy in copies:
        lines, kept = _off_copy_dates(lines, copy, parsed, job_zone, machine_zone, runs, period)
        bounded = bounded and kept
    # A day's firings count the jumps' dates, not the day the machine's clock goes back (25
    # hours, whose repeated hour wakes twice).
    return (
        tuple([" ".join((minute, hour, *fields)) for minute, hour, fields, _ in lines])
        + tuple(dated + copy_lines),
        GateFigures.gated(runs, _wakes(wanted) + dated_wakes),
        bounded,
    )


_Line = tuple[str, str, int]  # minute field, hour field, day shift


def _spelling(
    times: WallTimes,
    days: dict[int, list[tuple[str, str, str]]],
    runs: int,
    others: int,
    extra: int,
) -> list[_Line]:
    """Choose, per day shift, its exact wall times or their minutes in every hour they fall in.

    Exact lines wake the least but can take many lines (one per set of hours sharing minutes,
    times the shift's day fields). Among the choices that keep the bound and the line limit,
    the fewest wake-ups; when none keeps both, the bound wins over readability: the fewest lines
    within the bound. Wake-ups are counted as if every shift's lines fired on one day, which
    over-counts the days that only some shifts reach: an over-count only errs towards exact.
    """
    shifts = sorted(times.day_shifts)
    exact = {shift: _exact_lines(times, shift) for shift in shifts}
    merged = {shift: [_merged_line(times, shift)] for shift in shifts}
    choices = [
        [
            line
            for shift, fine in zip(shifts, picks, strict=True)
            for line in (exact if fine else merged)[shift]
        ]
        for picks in itertools.product((True, False), repeat=len(shifts))
    ]

    def cost(lines: list[_Line]) -> tuple[bool, bool, int]:
        wakes = _wakes(lines) + extra
        count = _line_count(lines, days) + others
        over_bound, over_limit = wakes > MAX_WAKE_RATIO * runs, count > _MAX_LINES
        return over_bound, over_limit, count if over_limit and not over_bound else wakes

    return min(choices, key=cost)


def _exact_lines(times: WallTimes, shift: int) -> list[_Line]:
    """Cover exactly a day shift's wall times, one line per set of hours sharing minutes."""
    by_hour: dict[int, set[int]] = {}
    for time, found in times.times:
        if found == shift:
            hour, minute = divmod(time, 60)
            by_hour.setdefault(hour, set()).add(minute)
    grouped: dict[frozenset[int], set[int]] = {}
    for hour, minutes in by_hour.items():
        grouped.setdefault(frozenset(minutes), set()).add(hour)
    return sorted(
        (cron_list(minutes, 0, 59), cron_list(hours, 0, 23), shift)
        for minutes, hours in grouped.items()
    )


def _merged_line(times: WallTimes, shift: int) -> _Line:
    """Cover a day shift's wall times in one line: every minute they use, in every hour."""
    minutes = {time % 60 for time, found in times.times if found == shift}
    hours = {time // 60 for time, found in times.times if found == shift}
    return cron_list(minutes, 0, 59), cron_list(hours, 0, 23), shift


def _catch_up_lines(found: frozenset[CatchUp]) -> tuple[list[str], int]:
    """Return lines for the catch-up minutes on their machine dates, and the most a day wakes.

    At most one line per catch-up minute and month: see `_on_dates`.
    """
    by_month: dict[tuple[int, int], set[date]] = {}
    for catch_up in found:
        by_month.setdefault((catch_up.minute, catch_up.day.month), set()).add(catch_up.day)
    lines: list[str] = []
    per_day: dict[tuple[int, int], int] = {}
    for (minute, _), dates in sorted(by_month.items()):
        fields, covered = _on_dates(dates)
        lines.append(" ".join((str(minute % 60), str(minute // 60), *fields)))
        for day in covered:
            per_day[day] = per_day.get(day, 0) + 1
    return lines, max(per_day.values(), default=0)


@dataclass(frozen=True)
class _CopyDates:
    """The wildcard lines of one month for the second copies of repeated hours: the days of
    that month they fire on (`days` AND `weekdays`), and the minutes of the day they wake."""

    month: int
    days: frozenset[int]
    weekdays: frozenset[int]
    fields: tuple[str, str, str]
    lines: tuple[str, ...]
    times: frozenset[int]
    wakes: int


def _second_copy_lines(copies: tuple[SecondCopy, ...]) -> list[_CopyDates]:
    """Return wildcard lines for the second copies of repeated hours on the dates of the clock
    changes, grouped by month and dates (see SecondCopy)."""
    grouped: dict[tuple[int, tuple[str, str, str]], list[tuple[str, set[int], int]]] = {}
    ranges: dict[tuple[int, tuple[str, str, str]], tuple[frozenset[int], frozenset[int]]] = {}
    for copy in copies:
        minute, hour, wakes = wildcard_fields(copy.hour, copy.minutes)
        by_month: dict[int, set[date]] = {}
        for day in copy.days:
            by_month.setdefault(day.month, set()).add(day)
        for month, dates in sorted(by_month.items()):
            fields, covered = _on_dates(dates)
            key = (month, fields)
            ranges[key] = (
                frozenset(day for _, day in covered),
                frozenset(d.isoweekday() % 7 for d in dates),
            )
            awake = parse_schedule(f"{minute} {hour} * * *")
            times = {h * 60 + m for h in awake.hours for m in awake.minutes}
            grouped.setdefault(key, []).append((" ".join((minute, hour, *fields)), times, wakes))
    return [
        _CopyDates(
            month,
            *ranges[(month, fields)],
            fields,
            tuple(line for line, _, _ in found),
            frozenset(time for _, times, _ in found for time in times),
            sum(wakes for _, _, wakes in found),
        )
        for (month, fields), found in sorted(grouped.items())
    ]


_Placed = tuple[str, str, tuple[str, str, str], int]  # minute, hour, day fields, wake-ups


def _off_copy_dates(
    lines: list[_Placed],
    copy: _CopyDates,
    parsed: CronSchedule,
    job_zone: str,
    machine_zone: str,
    runs: int,
    period: Period,
) -> tuple[list[_Placed], bool]:
    """Keep the lines off the dates a second copy's wildcard line fires on, when together
    they would wake more than the bound allows there, and give those dates exact lines.

    A wildcard line costs at least two wake-ups more than the instants it covers, so a job
    that runs once a day goes over the bound on a day its other lines wake too. The other
    lines are split around those dates; on them, the job's own wall times there (over the
    years of `_dates_of`) get lines on the copy's dates, and the wildcard line covers the
    second copy. Left as they are when an instant in a second copy is not covered by the
    wildcard line (a year past the look-ahead). Also says whether those dates keep the
    bound: not when the clock change moves, so that on its date in other years the job runs
    at other wall times (see `Period`).
    """
    bound = MAX_WAKE_RATIO * runs
    touching = [line for line in lines if _meets(line[2], copy)]
    if copy.wakes + sum(line[3] for line in touching) <= bound:
        return lines, True
    plain, repeated = day_instants(
        parsed.expression, job_zone, machine_zone, _dates_of(copy, period)
    )
    if not repeated <= copy.times:
        return lines, False
    placed: list[_Placed] = []
    for minute, hour, fields, wakes in lines:
        placed += [(minute, hour, part, wakes) for part in _without(fields, copy)]
    own = [
        (minute, hour, _wakes([(minute, hour, 0)]))
        for minute, hour in _grouped_times(plain - copy.times)
    ]
    for minute, hour, wakes in own:
        placed.append((minute, hour, copy.fields, wakes))
    return placed, copy.wakes + sum(wakes for _, _, wakes in own) <= bound


# A date of a month falls on every weekday within 28 years (the Gregorian calendar's cycle in
# this century), and a lunar month (the clock changes around Ramadan in Africa/Casablanca)
# goes round the solar year in 33.
_YEARS_SCANNED = 34


def _dates_of(copy: _CopyDates, period: Period) -> list[date]:
    """Return the copy's dates from the first year the planner looks at, for as long as the
    lines must hold whatever the year (cron has no year: the lines stay installed), or those
    of a dated period."""
    years = range(period.first.year, period.last.year + 1)
    if not period.dated:
        years = range(years.start, years.start + max(_YEARS_SCANNED, len(years)))
    return [
        date(year, copy.month, day)
        for year in years
        for day in sorted(copy.days)
        if day <= calendar.monthrange(year, copy.month)[1]
        and date(year, copy.month, day).isoweekday() % 7 in copy.weekdays
        and (not period.dated or period.holds(date(year, copy.month, day)))
    ]


def _grouped_times(times: frozenset[int]) -> list[tuple[str, str]]:
    """Write minutes of the day as (minute, hour) fields, hours sharing minutes together."""
    by_hour: dict[int, set[int]] = {}
    for time in times:
        by_hour.setdefault(time // 60, set()).add(time % 60)
    grouped: dict[frozenset[int], set[int]] = {}
    for hour, minutes in by_hour.items():
        grouped.setdefault(frozenset(minutes), set()).add(hour)
    return sorted(
        (cron_list(minutes, 0, 59), cron_list(hours, 0, 23)) for minutes, hours in grouped.items()
    )


def _day_sets(fields: tuple[str, str, str]) -> tuple[CronSchedule, bool] | None:
    try:
        parsed = parse_schedule(" ".join(("0", "0", *fields)))
    except ScheduleError:
        return None  # no such date: the line never fires
    return parsed, parsed.days_are_ored


def _meets(fields: tuple[str, str, str], copy: _CopyDates) -> bool:
    """Tell whether day fields can fire on one of the copy's dates."""
    found = _day_sets(fields)
    if found is None or copy.month not in found[0].months:
        return False
    parsed, ored = found
    days, weekdays = parsed.days & copy.days, parsed.weekdays & copy.weekdays
    return bool(days or weekdays) if ored else bool(days and weekdays)


def _without(fields: tuple[str, str, str], copy: _CopyDates) -> list[tuple[str, str, str]]:
    """Return day fields for the dates `fields` name, less the copy's dates."""
    found = _day_sets(fields)
    if found is None or not _meets(fields, copy):
        return [fields]
    parsed, ored = found
    others = parsed.months - {copy.month}
    parts = [(fields[0], cron_list(others, 1, 12), fields[2])] if others else []
    outside, inside = _ALL_DAYS - copy.days, _ALL_WEEKDAYS - copy.weekdays
    if ored:
        # Cron ORs the two day fields: each is split on its own.
        pieces = [
            (parsed.days - copy.days, _ALL_WEEKDAYS),
            (outside, parsed.weekdays),
            (parsed.days & copy.days, inside),
            (copy.days - parsed.days, parsed.weekdays & inside),
        ]
    else:
        pieces = [
            (parsed.days - copy.days, parsed.weekdays),
            (parsed.days & copy.days, parsed.weekdays & inside),
        ]
    for days, weekdays in pieces:
        if days and weekdays:
            part = _and_fields(frozenset(days), frozenset({copy.month}), frozenset(weekdays))
            if part not in parts:
                parts.append(part)
    return parts


def _on_dates(dates: set[date]) -> tuple[tuple[str, str, str], set[tuple[int, int]]]:
    """Return day-of-month, month and weekday fields for dates of one month in several years,
    and the (month, day) pairs they can fire on.

    Cron has no year, so the fields name the range of the dates' days and their weekdays: "the
    last Sunday of March" (`25-31 3 */7`) for a zone with a rule, a few weeks of dates for one
    whose changes move (Africa/Casablanca's after Ramadan). A range rather than the dates keeps
    the line the same as the years pass; either wakes once more on a few dates a year.
    """
    month = next(iter(dates)).month
    first, last = min(d.day for d in dates), max(d.day for d in dates)
    weekdays = frozenset(d.isoweekday() % 7 for d in dates)
    fields = _and_fields(frozenset(range(first, last + 1)), frozenset({month}), weekdays)
    starred = {1} if fields[0].startswith("*/31") else set()  # "*/31" is the 1st
    return fields, {(month, day) for day in starred | set(range(first, last + 1))}


def _line_count(lines: list[_Line], days: dict[int, list[tuple[str, str, str]]]) -> int:
    return sum(len(days[shift]) for _, _, shift in lines)


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


_ALL_DAYS = frozenset(range(1, 32))
_ALL_WEEKDAYS = frozenset(range(7))
_ALL_MONTHS = frozenset(range(1, 13))
# February counts both lengths: a date's neighbour depends on the year.
_LENGTHS = {month: (28, 29) if month == 2 else (_MONTH_LENGTH[month],) for month in _ALL_MONTHS}


def shifted_days(parsed: CronSchedule, shift: int) -> list[tuple[str, str, str]]:
    """Return day-of-month, month and weekday fields for the machine dates `shift` days after
    the job's dates: exact, except that cron cannot say "the last day of February" (both 28
    and 29 are written) nor AND two day lists that miss day 1 and Sunday (day 1 is added)."""
    if shift == 0:
        return [(parsed.fields[2], parsed.fields[3], parsed.fields[4])]
    if parsed.days_are_ored:
        # Cron ORs the two day fields: a union of "these days" and "these weekdays".
        parts = [(parsed.days, _ALL_WEEKDAYS), (_ALL_DAYS, parsed.weekdays)]
    else:
        parts = [(parsed.days, parsed.weekdays)]
    found: list[tuple[str, str, str]] = []
    for days, weekdays in parts:
        moved_weekdays = frozenset((day + shift) % 7 for day in weekdays)
        for month_days, months in _moved_dates(days, parsed.months, shift):
            fields = _and_fields(month_days, months, moved_weekdays)
            if fields not in found:
                found.append(fields)
    return found


def _moved_dates(
    days: frozenset[int], months: frozenset[int], shift: int
) -> list[tuple[frozenset[int], frozenset[int]]]:
    """Return (days of month, months) groups holding every date `shift` days after the
    given days of the given months."""
    moved: dict[int, set[int]] = {}
    for month in months:
        for length in _LENGTHS[month]:
            for day in days:
                if day > length:
                    continue
                target_month, target_day = month, day + shift
                if target_day > length:
                    target_month, target_day = month % 12 + 1, target_day - length
                elif target_day < 1:
                    target_month = (month - 2) % 12 + 1
                    for previous in _LENGTHS[target_month]:
                        moved.setdefault(target_month, set()).add(previous + target_day)
                    continue
                moved.setdefault(target_month, set()).add(target_day)
    grouped: dict[frozenset[int], set[int]] = {}
    for month, found in moved.items():
        full = found >= set(range(1, min(_LENGTHS[month]) + 1))
        grouped.setdefault(_ALL_DAYS if full else frozenset(found), set()).add(month)
    return sorted((found, frozenset(group)) for found, group in grouped.items())


def _and_fields(
    days: frozenset[int], months: frozenset[int], weekdays: frozenset[int]
) -> tuple[str, str, str]:
    """Write days AND weekdays in these months as cron fields, keeping cron's star rule."""
    month = cron_list(months, 1, 12)
    day_text = cron_list(days, 1, 31)
    weekday_text = cron_list(weekdays, 0, 6)
    if day_text == "*" or weekday_text == "*":
        return day_text, month, weekday_text  # a "*" field makes cron AND them
    # A field that starts with "*" ANDs: "*/31" is day 1 and "*/7" is Sunday.
    if 0 in weekdays:
        return _restricted(days, 1, 31), month, _starred("*/7", weekdays - {0}, 0, 6)
    return _starred("*/31", days - {1}, 1, 31), month, weekday_text


def _starred(star: str, rest: frozenset[int], low: int, high: int) -> str:
    return star if not rest else f"{star},{cron_list(rest, low, high)}"


def _restricted(values: frozenset[int], low: int, high: int) -> str:
    text = cron_list(values, low, high)
    return f"{low}-{high}" if text == "*" else text
