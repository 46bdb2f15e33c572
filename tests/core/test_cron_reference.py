"""Hold the evaluator to the rules of docs/scheduler-facts.md, not to cronsim or to ourselves.

Three independent references: cronsim's own reading of each field, a minute-by-minute cron
simulator written from the rules (star rule, DST catch-up, fixed-time once), and Debian's real
`crontab -n` syntax check.
"""

from __future__ import annotations

import random
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from cronsim import CronSim

from crontopus.core.errors import ScheduleError
from crontopus.core.schedule import CronSchedule, iter_fire_times, next_fire_times, parse_schedule

EXPRESSIONS = [
    "* * * * *",
    "*/35 * * * *",
    "0 */5 * * *",
    "7 */7 * * *",
    "0,30 8-18/2 * * 1-5",
    "1,*/20 * * * *",
    "0 0 */2 * 1",
    "0 0 1-7 * */7",
    "0 0 1-7 * 1",
    "0 0 1,* * 1",
    "0 0 *,1 * 1",
    "0 0 13 * fri",
    "0 0 * * 7",
    "0 0 * * 5-7",
    "0 0 * * 1-7/2",
    "0 0 * * */2",
    "0 0 29 2 *",
    "0 0 30 2 mon",
    "15 10 * jan-mar,dec sun-sat",
    "30 2 * * *",
    "30 * * * *",
    "*/30 2 * * *",
    "0 0 * * *",
    "0,45 1-3 * * *",
    "*/20 1 * * *",
]


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_cronsim_reads_each_field_as_we_do(expression: str) -> None:
    ours = parse_schedule(expression)
    theirs = CronSim(expression, datetime(2026, 1, 1, tzinfo=UTC))
    assert frozenset(theirs.minutes) == ours.minutes
    assert frozenset(theirs.hours) == ours.hours
    assert frozenset(theirs.days) == ours.days
    assert frozenset(theirs.months) == ours.months
    assert frozenset(day % 7 for day in theirs.weekdays if isinstance(day, int)) == ours.weekdays
    assert theirs.day_and is not ours.days_are_ored


@pytest.mark.parametrize(
    "expression",
    ["5/15 * * * *", "0 0 L * *", "0 0 LW * *", "0 0 * * 5L", "0 0 * * 1#2", "0 0 1 1 * *"],
)
def test_cronsim_alone_accepts_what_cron_refuses_so_our_parser_stands_in_front(
    expression: str,
) -> None:
    CronSim(expression, datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(ScheduleError):
        parse_schedule(expression)


def _fires_on(schedule: CronSchedule, wall: datetime) -> bool:
    if wall.minute not in schedule.minutes or wall.hour not in schedule.hours:
        return False
    if wall.month not in schedule.months:
        return False
    dom = wall.day in schedule.days
    dow = wall.isoweekday() % 7 in schedule.weekdays
    # docs/scheduler-facts.md: ORed only when neither field's text starts with "*".
    if not schedule.fields[2].startswith("*") and not schedule.fields[4].startswith("*"):
        return dom or dow
    return dom and dow


def simulate_cron(
    schedule: CronSchedule, zone: ZoneInfo, start: datetime, end: datetime
) -> Iterator[datetime]:
    """Run cron's clock-change rules minute by minute, written from scheduler-facts.md."""
    wildcard = schedule.fields[0].startswith("*") or schedule.fields[1].startswith("*")
    minute = timedelta(minutes=1)
    moment = start
    previous_wall: datetime | None = None
    latest_wall: datetime | None = None
    while moment <= end:
        wall = moment.astimezone(zone).replace(tzinfo=None)
        if wildcard:
            # Wildcard jobs run at every wall minute that happens, both copies of a repeated hour,
            # and never catch up on skipped ones.
            fire = _fires_on(schedule, wall)
        elif latest_wall is not None and wall <= latest_wall:
            fire = False  # the clock went back: fixed-time jobs already ran in the first copy
        else:
            # Fixed-time jobs whose time was skipped by a jump forward run right after it.
            skipped = previous_wall + minute if previous_wall is not None else wall
            fire = False
            while skipped <= wall and not fire:
                fire = _fires_on(schedule, skipped)
                skipped += minute
        if fire:
            yield moment.astimezone(zone)
        previous_wall = wall
        latest_wall = wall if latest_wall is None else max(latest_wall, wall)
        moment += minute


WINDOWS = [
    ("Europe/Berlin", datetime(2026, 3, 28, 12, tzinfo=UTC)),
    ("Europe/Berlin", datetime(2026, 10, 24, 12, tzinfo=UTC)),
    ("America/New_York", datetime(2026, 3, 7, 12, tzinfo=UTC)),
    ("America/New_York", datetime(2026, 10, 31, 12, tzinfo=UTC)),
    ("America/Santiago", datetime(2026, 9, 5, 12, tzinfo=UTC)),
    ("America/Santiago", datetime(2026, 4, 4, 12, tzinfo=UTC)),
    ("Australia/Lord_Howe", datetime(2026, 10, 3, 6, tzinfo=UTC)),  # a 30-minute change
    ("UTC", datetime(2026, 2, 20, tzinfo=UTC)),
]
DST_EXPRESSIONS = [e for e in EXPRESSIONS if not e.startswith("0 0 29 2")]


@pytest.mark.parametrize(("zone_name", "start"), WINDOWS, ids=[f"{z}-{s:%m}" for z, s in WINDOWS])
def test_fire_times_match_a_cron_simulator_across_clock_changes(
    zone_name: str, start: datetime
) -> None:
    zone = ZoneInfo(zone_name)
    end = start + timedelta(days=2)
    for expression in DST_EXPRESSIONS:
        schedule = parse_schedule(expression)
        expected = [m.isoformat() for m in simulate_cron(schedule, zone, start, end)]
        got = []
        for moment in iter_fire_times(schedule, zone_name, start - timedelta(seconds=1)):
            if moment.astimezone(UTC) > end:
                break
            got.append(moment.isoformat())
        assert got == expected, expression


def test_the_simulator_itself_catches_up_a_skipped_fixed_time_job() -> None:
    zone = ZoneInfo("Europe/Berlin")
    start = datetime(2026, 3, 29, 0, 0, tzinfo=UTC)
    end = start + timedelta(hours=3)
    runs = list(simulate_cron(parse_schedule("30 2 * * *"), zone, start, end))
    assert [m.isoformat() for m in runs] == ["2026-03-29T03:00:00+02:00"]


def _debian_crontab() -> str | None:
    crontab = shutil.which("crontab")
    if crontab is None:
        return None
    usage = subprocess.run([crontab, "-h"], capture_output=True, text=True, check=False)
    if "-n" not in usage.stdout + usage.stderr:
        return None
    # -n still needs the spool directory; a known-good line tells whether this user may use it.
    probe = subprocess.run(
        [crontab, "-n", "-"],
        input="0 0 * * * /bin/true\n",
        capture_output=True,
        text=True,
        check=False,
    )
    return crontab if probe.returncode == 0 else None


CRONTAB = _debian_crontab()
needs_crontab = pytest.mark.skipif(CRONTAB is None, reason="needs a crontab with -n (dry run)")


def _crontab_accepts(expression: str, tmp_path: Path) -> bool:
    assert CRONTAB is not None
    table = tmp_path / "crontab"
    table.write_text(f"{expression} /bin/true\n")
    # -n only checks the syntax (through a temporary file it removes); it installs nothing.
    result = subprocess.run([CRONTAB, "-n", str(table)], capture_output=True, check=False)
    return result.returncode == 0


@needs_crontab
@pytest.mark.parametrize(
    "expression",
    [*EXPRESSIONS, "@daily", "@hourly", "@weekly", "@yearly", "@reboot", "00 05 * * *"],
)
def test_the_real_crontab_accepts_what_we_accept(expression: str, tmp_path: Path) -> None:
    parse_schedule(expression)
    assert _crontab_accepts(expression, tmp_path)


@needs_crontab
@pytest.mark.parametrize(
    "expression",
    [
        "5/15 * * * *",
        "*/0 * * * *",
        "0 0 L * *",
        "0 0 15W * *",
        "0 0 * * 5L",
        "~ * * * *",
        "0 0 ? * *",
        "0 0 0 * *",
        "0 0 * * 8",
        "0 24 * * *",
        "60 * * * *",
        "0 0 * 13 *",
        "0 0 * * monday",
        "H * * * *",
        "@Daily",
        "@every",
    ],
)
def test_the_real_crontab_also_refuses_these(expression: str, tmp_path: Path) -> None:
    assert not _crontab_accepts(expression, tmp_path)


def _random_field(rng: random.Random, low: int, high: int, names: tuple[str, ...]) -> str:
    def value() -> str:
        number = rng.randint(low, high)
        if names and rng.random() < 0.3:
            return names[min(number - (1 if low == 1 else 0), len(names) - 1)].upper()
        return str(number)

    items = []
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        shape = rng.random()
        if shape < 0.25:
            items.append("*")
        elif shape < 0.45:
            items.append(f"*/{rng.randint(1, high - low + 1)}")
        elif shape < 0.7:
            start, end = sorted((rng.randint(low, high), rng.randint(low, high)))
            step = f"/{rng.randint(1, high - low + 1)}" if rng.random() < 0.4 else ""
            items.append(f"{start}-{end}{step}")
        else:
            items.append(value())
    return ",".join(items)


def _random_expressions(count: int) -> list[str]:
    rng = random.Random(20260329)
    months = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
    days = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
    found: list[str] = []
    while len(found) < count:
        expression = " ".join(
            [
                _random_field(rng, 0, 59, ()),
                _random_field(rng, 0, 23, ()),
                _random_field(rng, 1, 31, ()),
                _random_field(rng, 1, 12, months),
                _random_field(rng, 0, 7, days),
            ]
        )
        try:
            parse_schedule(expression)
        except ScheduleError:
            continue
        found.append(expression)
    return found


RANDOM_EXPRESSIONS = _random_expressions(300)


def _brute_force_fire_times(schedule: CronSchedule, after: datetime, count: int) -> list[str]:
    """Walk the calendar day by day by scheduler-facts.md, no cronsim involved."""
    found: list[str] = []
    day = after.date()
    while len(found) < count:
        midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
        if _fires_on(
            schedule, midnight.replace(hour=min(schedule.hours), minute=min(schedule.minutes))
        ):
            for hour in sorted(schedule.hours):
                for minute in sorted(schedule.minutes):
                    moment = midnight.replace(hour=hour, minute=minute)
                    if moment > after and len(found) < count:
                        found.append(moment.isoformat())
        day += timedelta(days=1)
    return found


def test_fire_times_of_hundreds_of_generated_expressions_match_a_brute_force_walk() -> None:
    after = datetime(2026, 2, 27, 13, 7, 30, tzinfo=UTC)
    for expression in RANDOM_EXPRESSIONS:
        schedule = parse_schedule(expression)
        expected = _brute_force_fire_times(schedule, after, 12)
        got = [m.isoformat() for m in next_fire_times(schedule, None, after, 12)]
        assert got == expected, expression


def test_a_stepped_range_of_one_value_is_that_value() -> None:
    # cronsim alone reads "9-9/18" like "9/18" (the 9th and the 27th); cron reads the 9th.
    assert CronSim("0 0 9-9/18 * *", datetime(2026, 1, 1)).days == {9, 27}
    schedule = parse_schedule("0 0 9-9/18 * *")
    assert schedule.days == frozenset({9})
    after = datetime(2026, 1, 10, tzinfo=UTC)
    assert [m.day for m in next_fire_times(schedule, None, after, 3)] == [9, 9, 9]


@needs_crontab
def test_the_real_crontab_accepts_every_generated_expression_we_accept(tmp_path: Path) -> None:
    rejected = [e for e in RANDOM_EXPRESSIONS[:100] if not _crontab_accepts(e, tmp_path)]
    assert rejected == []


TIME_OF_DAY_EXPRESSIONS = sorted(
    {" ".join([*e.split()[:2], "*", "*", "*"]) for e in RANDOM_EXPRESSIONS}
)[:40]


@pytest.mark.parametrize(
    ("zone_name", "start"), WINDOWS[:7], ids=[f"{z}-{s:%m}" for z, s in WINDOWS[:7]]
)
def test_generated_times_of_day_match_the_cron_simulator_across_clock_changes(
    zone_name: str, start: datetime
) -> None:
    zone = ZoneInfo(zone_name)
    end = start + timedelta(days=1)
    for expression in TIME_OF_DAY_EXPRESSIONS:
        schedule = parse_schedule(expression)
        expected = [m.isoformat() for m in simulate_cron(schedule, zone, start, end)]
        got = []
        for moment in iter_fire_times(schedule, zone_name, start - timedelta(seconds=1)):
            if moment.astimezone(UTC) > end:
                break
            got.append(moment.isoformat())
        assert got == expected, expression
