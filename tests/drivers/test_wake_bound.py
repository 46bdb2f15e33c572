"""No gated superset wakes more than 4x the job's own firings, on any day.

The bound (docs/scheduling.md, "Native or gated"): on every calendar day of the zone the
scheduler reads the superset in (the machine's for cron, UTC for systemd's and Task
Scheduler's gated entries), the distinct minutes it wakes the wrapper number at most
`MAX_WAKE_RATIO` x the larger of the job's instants that day and its firings on a day it runs
(minutes x hours): a day the job does not run may wake no more than a day it does. Checked for
every driver on the days around a clock change, around the job's first instant and around a
month's end, where day shifts between zones wake the most.
"""

from __future__ import annotations

import collections
import itertools
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings

from crontopus.core.schedule import iter_fire_times, next_fire_times, parse_schedule
from crontopus.drivers.cron.convert import CronConverter, superset_lines
from crontopus.drivers.errors import ConversionRefused
from crontopus.drivers.superset import MAX_WAKE_RATIO
from crontopus.drivers.systemd.calendar import convert_schedule
from tests.drivers.systemd.conftest import SYSTEMD_ANALYZE, systemd_elapses
from tests.drivers.taskscheduler import reference
from tests.drivers.test_gated_exactness import Case, cases, task_xml


def days_to_check(expression: str, zone: str, start: datetime, day_zone: str) -> list[date]:
    """Return the days around the start, the first instant and the end of the start's month."""
    first = next_fire_times(expression, zone, start, 1)
    local = ZoneInfo(day_zone)
    anchors = [start.astimezone(local).date()]
    if first:
        anchors.append(first[0].astimezone(local).date())
    month_end = (anchors[0].replace(day=28) + timedelta(days=4)).replace(day=1)
    anchors.append(month_end)
    return sorted({anchor + timedelta(days=d) for anchor in anchors for d in (-1, 0, 1)})


def day_bounds(day: date, day_zone: str) -> tuple[datetime, datetime]:
    zone = ZoneInfo(day_zone)
    low = datetime.combine(day, time(0), zone).astimezone(UTC)
    high = datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(UTC)
    return low, high - timedelta(seconds=1)


def instants(expression: str, zone: str, low: datetime, high: datetime) -> Iterator[datetime]:
    moments = iter_fire_times(expression, zone, low - timedelta(seconds=1))
    return itertools.takewhile(lambda moment: moment <= high, (m.astimezone(UTC) for m in moments))


def assert_bounded(
    expression: str,
    zone: str,
    day_zone: str,
    days: Iterable[date],
    woken: collections.abc.Callable[[datetime, datetime], Iterable[datetime]],
) -> None:
    parsed = parse_schedule(expression)
    per_run_day = len(parsed.minutes) * len(parsed.hours)
    for day in days:
        low, high = day_bounds(day, day_zone)
        runs = sum(1 for _ in instants(expression, zone, low, high))
        wakes = len({moment.astimezone(UTC) for moment in woken(low, high)})
        allowed = MAX_WAKE_RATIO * max(runs, per_run_day)
        assert wakes <= allowed, f"{day} in {day_zone}: {wakes} wake-ups for {runs} runs"


SAME_EXAMPLES = settings(
    deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


def check_crontab(case: Case) -> None:
    expression, zone, machine, start = case
    if expression == "@reboot":
        return
    converter = CronConverter(cron_tz=False, machine_zone=machine, today=start.date())
    plan = converter.plan(expression, zone)

    def woken(low: datetime, high: datetime) -> Iterator[datetime]:
        for line in plan.lines:
            moments = iter_fire_times(line, machine, low - timedelta(seconds=1))
            yield from itertools.takewhile(lambda moment: moment <= high, moments)

    days = days_to_check(expression, zone, start, machine)
    if plan.period is not None:
        # A gated plan is planned again long before its period ends.
        days = [day for day in days if plan.period.holds(day)]
    assert_bounded(expression, zone, machine, days, woken)


# The examples are the same on every run (derandomized), so the build does not pass or fail by
# chance; the cases below were found by random runs with thousands of examples.
@settings(SAME_EXAMPLES, max_examples=40)
@given(cases())
def test_a_gated_crontab_never_wakes_more_than_four_times_the_jobs_firings(case: Case) -> None:
    check_crontab(case)


def example(expression: str, zone: str, machine: str, start: str) -> Case:
    return expression, zone, machine, datetime.fromisoformat(start).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    "case",
    [
        # A daily job in Casablanca (whose offset moves for Ramadan) on a New York machine: the
        # minute where cron catches up the time the jump after Ramadan skips is spelled on the
        # jump's dates only, not every day (it made 5 wake-ups a day for 1 run).
        example("1 2 * * *", "Africa/Casablanca", "America/New_York", "2026-03-08 07:00:30"),
        # Days ORed (the 1st of odd months, or Sundays) across a half-hour zone: the exact lines
        # need more than the line limit, and one day shift's lines alone, widened to every
        # minute of their hours, woke 960 times on a Saturday where 864 are allowed.
        example(
            "*/7 * 1-1 */2 0-0", "Australia/Lord_Howe", "America/New_York", "2026-03-08 07:00:30"
        ),
        # Instants in the second copy of New York's repeated hour: the wildcard line that covers
        # them was "*" (every minute of the hour, twice) where `*/22,23` does.
        example("22,23 * * * *", "Australia/Lord_Howe", "America/New_York", "2026-10-03 17:11:30"),
        example(
            "45-53 10-11 1-1 10-11 4-4", "Asia/Kolkata", "America/New_York", "2026-11-01 05:52:30"
        ),
        example(
            "53,58 1,3,14 1,12,14 * 1",
            "America/Santiago",
            "America/New_York",
            "2027-11-07 04:51:30",
        ),
        example("18-50 21 26 7,8,10 6", "America/New_York", "Europe/Berlin", "2026-10-25 03:35:30"),
        # ...and that line fired on every Sunday of October (`*/18 2 * 10 0`) for an instant on
        # the last Sunday of October 2030 only: it is now limited to October 27.
        example("18 21 26 7,8,10 0", "America/New_York", "Europe/Berlin", "2026-10-25 03:35:30"),
    ],
)
def test_a_crontab_found_over_the_bound_once_now_keeps_it(case: Case) -> None:
    check_crontab(case)


# Cron runs a line in both copies of a repeated hour only when its minute or hour field starts
# with "*", and such a field also fires at minute or hour 0: a job that runs once a day, whose
# instant falls in the second copy, woke 5 times on the day the clock goes back (02:18 CEST and
# 03:18 from its other lines, 02:18 CET, and 00:18 and 12:18 from `18 */12,2 25-31 10 */7`). The
# other lines now stay off the dates of that wildcard line, which wakes 4 times alone.
@pytest.mark.parametrize(
    "case",
    [
        example("18 21 26 7,8,10 6", "America/New_York", "Europe/Berlin", "2026-10-25 03:35:30"),
        example("30 7 * * *", "Europe/Berlin", "America/New_York", "2026-11-01 05:35:30"),
        # ...and with other instants on those dates, which get lines there of their own.
        example("30 7,23 * * 0", "Africa/Casablanca", "America/New_York", "2026-11-01 05:35:30"),
        example("30 17,21 1 * 6", "Australia/Lord_Howe", "America/New_York", "2026-11-01 05:35:30"),
    ],
)
def test_a_single_run_in_a_repeated_hour_wakes_only_for_its_wildcard_line_that_day(
    case: Case,
) -> None:
    check_crontab(case)


# Africa/Casablanca's clock goes back before Ramadan, on dates that move through the year: the
# Sundays of February 7-23 that hold its changes in some years (03:00 in Berlin is 02:00 in the
# second copy) are ordinary days in others (03:00 in Berlin is 03:00 there), and cron has no
# year. Lines for every year put the wildcard line's 4 wake-ups and the 03:00 line on the day of
# the change: 5 for 1 run. A plan dated for the coming year spells that year's change only.
# The same with the job in Africa/Casablanca on a Berlin machine: 9 for 2 runs without it.
MOVING_CHANGES = [
    example("0 3 * * *", "Europe/Berlin", "Africa/Casablanca", "2026-02-15 02:00:30"),
    example("15,45 2 * * *", "Africa/Casablanca", "Europe/Berlin", "2026-10-25 02:13:30"),
]


@pytest.mark.parametrize("case", MOVING_CHANGES)
def test_a_repeated_hour_on_a_moving_clock_change_keeps_the_bound_with_a_dated_plan(
    case: Case,
) -> None:
    check_crontab(case)


@pytest.mark.parametrize("case", MOVING_CHANGES)
def test_lines_for_every_year_would_wake_over_the_bound_on_a_moving_clock_change(
    case: Case,
) -> None:
    expression, zone, machine, start = case
    lines, _ = superset_lines(parse_schedule(expression), zone, machine)

    def woken(low: datetime, high: datetime) -> Iterator[datetime]:
        for line in lines:
            moments = iter_fire_times(line, machine, low - timedelta(seconds=1))
            yield from itertools.takewhile(lambda moment: moment <= high, moments)

    with pytest.raises(AssertionError, match="wake-ups"):
        assert_bounded(
            expression, zone, machine, [start.astimezone(ZoneInfo(machine)).date()], woken
        )


def test_a_fixed_clock_change_gets_lines_for_every_year() -> None:
    plan = CronConverter(cron_tz=False, machine_zone="America/New_York").plan(
        "30 7 * * *", "Europe/Berlin"
    )
    assert plan.period is not None
    assert not plan.period.dated


def test_the_other_lines_of_a_job_in_a_repeated_hour_skip_the_dates_of_the_clock_change() -> None:
    plan = CronConverter(cron_tz=False, machine_zone="America/New_York").plan(
        "30 7 * * *", "Europe/Berlin"
    )
    assert plan.lines == (
        "30 1-2 * 1-10,12 *",
        "30 1-2 8-31 11 *",
        "30 1-2 */31,2-7 11 1-6",
        "*/30 1 1-7 11 */7",
    )


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed")
@settings(SAME_EXAMPLES, max_examples=25)
@given(cases())
def test_a_gated_timer_never_wakes_more_than_four_times_the_jobs_firings(case: Case) -> None:
    expression, zone, _, start = case
    try:
        conversion = convert_schedule(expression, zone, now=start)
    except ConversionRefused:
        assert expression == "@reboot"
        return
    if not conversion.gated:
        return  # native: the timer elapses at the job's instants only
    parsed = parse_schedule(expression)
    most = MAX_WAKE_RATIO * len(parsed.minutes) * len(parsed.hours) * 3 + 1

    def woken(low: datetime, high: datetime) -> Iterator[datetime]:
        # systemd-analyze itself, asked for more elapses than the bound allows in a day.
        for line in conversion.on_calendar:
            moments = systemd_elapses(line, low - timedelta(seconds=1), most)
            yield from (moment for moment in moments if low <= moment <= high)

    days = days_to_check(expression, zone, start, "UTC")
    assert_bounded(expression, zone, "UTC", days, woken)


@settings(SAME_EXAMPLES, max_examples=40)
@given(cases())
def test_a_gated_task_never_wakes_more_than_four_times_the_jobs_firings(case: Case) -> None:
    expression, zone, machine, start = case
    if expression == "@reboot":
        return
    xml, is_gated = task_xml(expression, zone, machine, start)
    if not is_gated:
        return  # native: the triggers fire at the job's instants only
    triggers = reference.read_triggers(xml)

    def woken(low: datetime, high: datetime) -> Iterator[datetime]:
        return reference.firings(triggers, machine, low, high)

    days = days_to_check(expression, zone, start, "UTC")
    assert_bounded(expression, zone, "UTC", days, woken)


def test_the_bound_catches_a_superset_that_wakes_every_minute_for_a_daily_job() -> None:
    def every_minute(low: datetime, high: datetime) -> Iterator[datetime]:
        return iter_fire_times("* * * * *", "UTC", low - timedelta(seconds=1))

    def bounded(low: datetime, high: datetime) -> Iterable[datetime]:
        return itertools.takewhile(lambda moment: moment <= high, every_minute(low, high))

    with pytest.raises(AssertionError, match="1440 wake-ups for 1 runs"):
        assert_bounded("0 12 * * *", "UTC", "UTC", [date(2026, 3, 1)], bounded)
