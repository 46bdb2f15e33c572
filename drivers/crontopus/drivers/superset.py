"""Native supersets of a job's instants, for schedules a scheduler cannot spell exactly.

When a native scheduler cannot fire at exactly the core evaluator's instants (the job's zone is
not the machine's and cron has no CRON_TZ, a DST edge the scheduler treats unlike cron...), a
driver installs a superset and the run wrapper gates each firing with
`crontopus.core.schedule.fires_at` (`run-job UUID --gate`). This module works out which
machine-zone wall times such a superset must cover: every UTC offset difference between the
job's zone and the machine's on any day, and on the date of each jump forward the minute right
after it, where cron runs a fixed-time job whose time was skipped. See docs/scheduling.md
("Native or gated").
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from crontopus.core.schedule import CronSchedule, iter_fire_times
from crontopus.drivers.renewal import next_january, utc_today

GATE_FLAG: Final = "--gate"
MAX_WAKE_RATIO: Final = 4
_DAY: Final = 1440  # minutes
_SAMPLE: Final = timedelta(hours=12)
_MINUTE: Final = timedelta(minutes=1)
_DAY_SPAN: Final = timedelta(days=1)
# Zone rules reach years ahead; a crontab lives as long as the job does, so look far.
_LOOK_BACK: Final = timedelta(days=400)
_LOOK_AHEAD: Final = timedelta(days=366 * 6)


@dataclass(frozen=True)
class GateFigures:
    """How a driver runs a schedule: natively, or gated with firings a day run versus woken."""

    mode: str
    runs_per_day: int | None = None
    wakes_per_day: int | None = None

    @classmethod
    def native(cls) -> GateFigures:
        """Say the scheduler fires at exactly the job's instants."""
        return cls("native")

    @classmethod
    def gated(cls, runs: int, wakes: int) -> GateFigures:
        """Say the scheduler fires a superset that the run wrapper gates."""
        return cls("gated", runs, wakes)

    @property
    def is_gated(self) -> bool:
        """Tell whether the run wrapper gates the firings."""
        return self.mode == "gated"

    def describe(self) -> str:
        """Say in words how the scheduler runs the schedule."""
        if not self.is_gated:
            return "mode: native"
        return (
            f"mode: gated (runs {self.runs_per_day} of {self.wakes_per_day} firings a day;"
            " the run wrapper skips the others)"
        )

    def to_json(self) -> dict[str, Any]:
        """Return `{"mode": ...}`, with `firingsPerDay` `{"run", "woken"}` when gated."""
        if not self.is_gated:
            return {"mode": self.mode}
        return {
            "mode": self.mode,
            "firingsPerDay": {"run": self.runs_per_day, "woken": self.wakes_per_day},
        }


@dataclass(frozen=True)
class Transition:
    """A change of a zone's UTC offset: the first instant of the new offset."""

    instant: datetime
    before: timedelta
    after: timedelta


@dataclass(frozen=True)
class WallTimes:
    """The machine-zone wall times a superset must cover.

    `times` are (minute of day, day shift) pairs: the day shift is how many calendar days the
    machine's date lies after the job's date at that instant (-1, 0, +1, rarely ±2).
    """

    times: frozenset[tuple[int, int]]

    @property
    def minutes(self) -> frozenset[int]:
        """Return the minutes of the hour the superset needs."""
        return frozenset(time % 60 for time, _ in self.times)

    @property
    def hours(self) -> frozenset[int]:
        """Return the hours of the day the superset needs."""
        return frozenset(time // 60 for time, _ in self.times)

    @property
    def day_shifts(self) -> frozenset[int]:
        """Return the day shifts between the job's dates and the machine's."""
        return frozenset(shift for _, shift in self.times)


def wall_times(cron: CronSchedule, job_zone: str, machine_zone: str, period: Period) -> WallTimes:
    """Return the machine wall times at which the job's instants fall on any day: its times of
    day at each offset difference the zones take in `period`. See `catch_ups` for the days of
    a jump."""
    differences, _ = _zone_pair(job_zone, machine_zone, period.start, period.end)
    times: set[tuple[int, int]] = set()
    for hour in cron.hours:
        for minute in cron.minutes:
            job_minute = hour * 60 + minute
            for difference in differences:
                shifted = job_minute - difference
                times.add((shifted % _DAY, shifted // _DAY))
    return WallTimes(frozenset(times))


@dataclass(frozen=True)
class CatchUp:
    """A machine wall minute on one machine date where cron runs a time the job's zone skipped."""

    minute: int  # of the machine's day
    day: date


def catch_ups(
    cron: CronSchedule, job_zone: str, machine_zone: str, period: Period
) -> frozenset[CatchUp]:
    """Return where a fixed-time job runs the times that its zone's jumps forward skip.

    Cron runs such a time at the first minute after the jump, a minute needed on the jump's date
    only: a superset spells it on those dates, not on every day, which would wake every day for
    it (see MAX_WAKE_RATIO). Only the jumps that skip one of the job's times on one of its days
    count; each is a minute of the machine's day and the machine's date at the jump. A dated
    `period` keeps the jumps whose machine date falls in it.
    """
    if cron.wildcard_time:
        return frozenset()  # cron does not catch wildcard jobs up
    found: set[CatchUp] = set()
    for gap in _zone_pair(job_zone, machine_zone, period.start, period.end)[1]:
        if period.dated and not period.holds(gap.catch_up.date()):
            continue
        wall = gap.first
        while wall < gap.end:
            if (
                wall.hour in cron.hours
                and wall.minute in cron.minutes
                and cron.matches_day(wall.date())
            ):
                found.add(
                    CatchUp(gap.catch_up.hour * 60 + gap.catch_up.minute, gap.catch_up.date())
                )
                break
            wall += _MINUTE
    return frozenset(found)


@dataclass(frozen=True)
class _Gap:
    """The job's wall times [first, end) that a jump forward skips, and the machine's wall time
    at the end of the jump (all naive)."""

    first: datetime
    end: datetime
    catch_up: datetime


@functools.lru_cache(maxsize=256)
def _zone_pair(
    job_zone: str, machine_zone: str, start: datetime, end: datetime
) -> tuple[frozenset[int], frozenset[_Gap]]:
    """Return the offset differences (minutes) and the job zone's jumps forward."""
    job, machine = ZoneInfo(job_zone), ZoneInfo(machine_zone)
    job_changes = transitions(job_zone, start, end)
    instants = [start, *(t.instant for t in job_changes)]
    instants += [t.instant for t in transitions(machine_zone, start, end)]
    differences = frozenset(
        _minutes(_offset(job, at)) - _minutes(_offset(machine, at)) for at in instants
    )
    gaps: set[_Gap] = set()
    for change in job_changes:
        if change.after > change.before:
            there = change.instant.astimezone(job).replace(tzinfo=None)
            here = change.instant.astimezone(machine).replace(tzinfo=None)
            gaps.add(_Gap(there - (change.after - change.before), there, here))
    return differences, frozenset(gaps)


@dataclass(frozen=True)
class Period:
    """The machine dates whose clock changes a plan spells, and when it is planned again.

    Cron has no year, so a plan's lines hold for every year. A plan for every year
    (`years_from`) spells the changes the zones' rules give from 400 days before this year
    began to six years after it, and is planned again each January, so it always reaches five
    years ahead (the lines of zones whose changes move, such as Africa/Casablanca's around
    Ramadan, change as the years pass). Where a date is a change day in some years and an
    ordinary one in others, lines for every year must fire both ways, which can wake more than
    MAX_WAKE_RATIO allows: a dated plan (`year_from`) spells the changes of `first`..`last`
    only (less than a year, so each day of the year falls in it once) and is planned again
    each month, long before `last`.
    """

    first: date
    last: date
    renew_on: date
    dated: bool = False

    @classmethod
    def years_from(cls, today: date) -> Period:
        """Return the years a plan for every year looks at, planned on `today`."""
        year = date(today.year, 1, 1)
        return cls(year - _LOOK_BACK, year + _LOOK_AHEAD - _DAY_SPAN, next_january(today))

    @classmethod
    def year_from(cls, today: date) -> Period:
        """Return the dated period planned on `today`: from two days before this month began
        (the job's and the machine's dates differ by up to two days), for 364 days."""
        month = today.replace(day=1)
        following = (month + timedelta(days=31)).replace(day=1)
        first = month - timedelta(days=2)
        return cls(first, first + timedelta(days=363), following, dated=True)

    @property
    def start(self) -> datetime:
        """Return the first instant whose clock changes the period spells (a dated one's a
        day early)."""
        first = datetime(self.first.year, self.first.month, self.first.day, tzinfo=UTC)
        return first - _DAY_SPAN if self.dated else first

    @property
    def end(self) -> datetime:
        """Return the instant after the period's last change (a dated one's a day late)."""
        last = self.last + _DAY_SPAN
        end = datetime(last.year, last.month, last.day, tzinfo=UTC)
        return end + _DAY_SPAN if self.dated else end

    def holds(self, day: date) -> bool:
        """Tell whether a machine date lies in the period."""
        return self.first <= day <= self.last


def _offset(zone: ZoneInfo, instant: datetime) -> timedelta | None:
    # ZoneInfo.utcoffset reads a datetime as wall time; the instant must be converted first.
    return instant.astimezone(zone).utcoffset()


def _minutes(offset: timedelta | None) -> int:
    return int((offset or timedelta(0)).total_seconds() // 60)


@functools.lru_cache(maxsize=256)
def _transitions_cached(zone_name: str, start: datetime, end: datetime) -> tuple[Transition, ...]:
    zone = ZoneInfo(zone_name)
    found: list[Transition] = []
    at = start
    offset = _offset(zone, at)
    while at < end:
        # Zones change their offset months apart: sample twice a day and bisect a change, then
        # go on from the change itself, so that two changes within one sample are both found.
        step = at + _SAMPLE
        following = _offset(zone, step)
        if following != offset:
            # Bisect to the minute: offsets change on whole minutes.
            low, high = at, step
            while high - low > _MINUTE:
                middle = low + (high - low) / 2
                middle = middle.replace(second=0, microsecond=0)
                if middle <= low:
                    middle = low + _MINUTE
                if _offset(zone, middle) == offset:
                    low = middle
                else:
                    high = middle
            after = _offset(zone, high)
            found.append(Transition(high, offset or timedelta(0), after or timedelta(0)))
            at, offset = high, after
            continue
        at = step
    return tuple(found)


def transitions(zone_name: str, start: datetime, end: datetime) -> tuple[Transition, ...]:
    """Return the zone's offset changes between two instants (UTC, whole hours apart)."""
    aligned = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return _transitions_cached(zone_name, aligned, end.astimezone(UTC))


def has_transitions(zone_name: str) -> bool:
    """Tell whether the zone changes its offset in the years a schedule lives."""
    span = Period.years_from(utc_today())
    return bool(transitions(zone_name, span.start, span.end))


def shift_weekdays(weekdays: Iterable[int], shifts: Iterable[int]) -> frozenset[int]:
    """Return the weekdays (0 = Sunday) the given days fall on after each day shift."""
    return frozenset((day + shift) % 7 for day in weekdays for shift in shifts)


def shift_month_days(days: Iterable[int], shifts: Iterable[int]) -> frozenset[int]:
    """Return the days of month the given days can become after each shift (a superset)."""
    result: set[int] = set()
    for day in days:
        for shift in shifts:
            moved = day + shift
            if moved < 1:
                result.update(range(26, 32))  # the end of the month before, whatever its length
            else:
                if moved <= 31:
                    result.add(moved)
                if shift > 0 and moved > 27:
                    result.update(range(1, shift + 1))  # past the end of a short month
    return frozenset(result)


def shift_months(months: Iterable[int], shifts: Iterable[int]) -> frozenset[int]:
    """Return the months the given months' days can move into after each day shift."""
    result: set[int] = set()
    for month in months:
        for shift in shifts:
            result.add(month)
            if shift > 0:
                result.add(month % 12 + 1)
            elif shift < 0:
                result.add((month - 2) % 12 + 1)
    return frozenset(result)


def cron_list(values: Iterable[int], low: int, high: int) -> str:
    """Write a set of values as a cron field: "*" when it is everything, else ranges and lists."""
    ordered = sorted(set(values))
    if ordered == list(range(low, high + 1)):
        return "*"
    parts: list[str] = []
    start = previous = ordered[0]
    for value in [*ordered[1:], None]:
        if value is not None and value == previous + 1:
            previous = value
            continue
        parts.append(str(start) if start == previous else f"{start}-{previous}")
        if value is not None:
            start = previous = value
    return ",".join(parts)


def day_count(first: date, last: date) -> int:
    """Return the days from `first` to `last`, both included."""
    return (last - first).days + 1


@dataclass(frozen=True)
class SecondCopy:
    """Job instants in the second copy of an hour the machine's clock repeats.

    Cron runs a fixed-time line once in a repeated hour, in the first copy, so these need a
    wildcard line of their own (see `wildcard_fields`), on the machine dates of the clock
    changes only (`days`).
    """

    hour: int
    minutes: frozenset[int]
    days: frozenset[date]


@functools.lru_cache(maxsize=1024)
def second_copies(
    expression: str, job_zone: str, machine_zone: str, period: Period
) -> tuple[SecondCopy, ...]:
    """Return, per machine wall hour, the job's instants in a repeated hour's second copy at
    the clock changes of `period`."""
    machine = ZoneInfo(machine_zone)
    found: dict[int, tuple[set[int], set[date]]] = {}
    for change in transitions(machine_zone, period.start, period.end):
        if change.after >= change.before:
            continue
        end = change.instant + (change.before - change.after)
        for instant in iter_fire_times(expression, job_zone, change.instant - _MINUTE):
            if instant >= end:
                break
            wall = instant.astimezone(machine)
            if period.dated and not period.holds(wall.date()):
                continue
            minutes, days = found.setdefault(wall.hour, (set(), set()))
            minutes.add(wall.minute)
            days.add(wall.date())
    return tuple(
        SecondCopy(hour, frozenset(minutes), frozenset(days))
        for hour, (minutes, days) in sorted(found.items())
    )


def day_instants(
    expression: str, job_zone: str, machine_zone: str, days: Iterable[date]
) -> tuple[frozenset[int], frozenset[int]]:
    """Return the machine wall minutes of the day at which the job has instants on these
    machine dates: outside a repeated hour's second copy, and in it."""
    machine = ZoneInfo(machine_zone)
    plain: set[int] = set()
    repeated: set[int] = set()
    for day in days:
        low = datetime(day.year, day.month, day.day, tzinfo=machine).astimezone(UTC)
        following = day + timedelta(days=1)
        high = datetime(following.year, following.month, following.day, tzinfo=machine)
        for instant in iter_fire_times(expression, job_zone, low - timedelta(seconds=1)):
            if instant >= high:
                break
            wall = instant.astimezone(machine)
            (repeated if wall.fold else plain).add(wall.hour * 60 + wall.minute)
    return frozenset(plain), frozenset(repeated)


def wildcard_fields(hour: int, minutes: frozenset[int]) -> tuple[str, str, int]:
    """Return minute and hour fields that cron runs in both copies of a repeated `hour` at
    `minutes`, and how many minutes they wake on the day of the clock change.

    Cron runs a line in both copies only when its minute or hour field starts with "*", and a
    `*/step` always adds minute (or hour) 0 and the step's multiples: "*/30,18 1" wakes at 01:00,
    01:18 and 01:30 twice, "18 */23,1" at 00:18, 01:18 twice and 23:18. The one that wakes less.
    """
    spellings: list[tuple[int, str, str]] = []
    for step in range(1, 60):
        covered = set(range(0, 60, step))
        rest = minutes - covered
        field = "*" if step == 1 else f"*/{step}" + (f",{cron_list(rest, 0, 59)}" if rest else "")
        spellings.append((2 * len(covered | minutes), field, str(hour)))
    for step in range(1, 24):
        hours = set(range(0, 24, step)) | {hour}
        field = "*" if step == 1 else f"*/{step}" + ("" if hour % step == 0 else f",{hour}")
        spellings.append((len(minutes) * (len(hours) + 1), cron_list(minutes, 0, 59), field))
    wakes, minute_field, hour_field = min(spellings)
    return minute_field, hour_field, wakes
