"""Every driver, native or gated, fires at exactly the core evaluator's instants.

For random valid schedules, job zones with DST and odd offsets, machine zones and start points
around clock changes: the native firings (the driver's own semantics, evaluated in the machine's
zone) filtered by the run wrapper's gate equal the core's next 200 instants.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, time, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crontopus.core.errors import ScheduleError
from crontopus.core.schedule import (
    MACROS,
    fires_at,
    iter_fire_times,
    next_fire_times,
    parse_schedule,
)
from crontopus.drivers.cron.convert import CronConverter
from crontopus.drivers.errors import ConversionRefused
from crontopus.drivers.superset import GATE_FLAG, MAX_WAKE_RATIO, Period, transitions
from crontopus.drivers.systemd.calendar import convert_schedule
from crontopus.drivers.taskscheduler.convert import convert_schedule as convert_to_triggers
from crontopus.drivers.taskscheduler.xml import TaskDefinition, render_task
from tests.drivers.systemd.conftest import SYSTEMD_ANALYZE, union_of_elapses
from tests.drivers.taskscheduler import reference
from tests.drivers.taskscheduler.test_xml import check_schema_rules

ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "America/Santiago",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "Asia/Kolkata",
    "Africa/Casablanca",
]
OTHER_DST_ZONE = {"America/New_York": "Europe/Berlin"}
COUNT = 200
FIELDS = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]
WINDOW_START = datetime(2026, 1, 1, tzinfo=UTC)
JOB = UUID(int=7)


@st.composite
def cron_field(draw: st.DrawFn, low: int, high: int) -> str:
    kind = draw(st.sampled_from(["star", "step", "range", "range-step", "list", "single"]))
    a = draw(st.integers(low, high))
    b = draw(st.integers(a, high))
    if kind == "star":
        return "*"
    if kind == "step":
        return f"*/{draw(st.integers(2, max(2, (high - low) // 2)))}"
    if kind == "range":
        return f"{a}-{b}"
    if kind == "range-step":
        return f"{a}-{b}/{draw(st.integers(2, 9))}"
    if kind == "list":
        values = draw(st.sets(st.integers(low, high), min_size=2, max_size=4))
        return ",".join(str(value) for value in sorted(values))
    return str(a)


@st.composite
def expressions(draw: st.DrawFn) -> str:
    if draw(st.integers(0, 5)) == 0:
        return draw(st.sampled_from(sorted(MACROS)))
    text = " ".join(draw(cron_field(low, high)) for low, high in FIELDS)
    try:
        parse_schedule(text)
    except ScheduleError:
        # A field combination that can never fire: take a plain daily time instead.
        return text.split(" ", 2)[0] + " " + text.split(" ", 2)[1] + " * * *"
    return text


# A drawn case: the cron expression, the job's zone, the machine's zone and where to start.
Case = tuple[str, str, str, datetime]


@st.composite
def cases(draw: st.DrawFn) -> Case:
    expression = draw(expressions())
    zone = draw(st.sampled_from(ZONES))
    machine = draw(st.sampled_from(["UTC", zone, OTHER_DST_ZONE.get(zone, "America/New_York")]))
    changes = [
        change.instant
        for name in {zone, machine}
        for change in transitions(name, WINDOW_START, WINDOW_START + timedelta(days=730))
    ]
    start = draw(st.sampled_from(changes)) if changes else WINDOW_START
    start += timedelta(minutes=draw(st.integers(-180, 180)), seconds=30)
    return expression, zone, machine, start


def gated(
    native: Iterable[datetime], expression: str, zone: str, until: datetime
) -> list[datetime]:
    """Return the native firings up to `until` that the wrapper's gate lets run."""
    instants = itertools.takewhile(lambda moment: moment <= until, native)
    return [moment for moment in instants if fires_at(expression, zone, moment)]


def up_to(moments: Iterable[datetime], until: datetime) -> list[datetime]:
    return list(itertools.takewhile(lambda moment: moment <= until, moments))


def utc(moments: Iterable[datetime]) -> Iterator[datetime]:
    return (moment.astimezone(UTC) for moment in moments)


def deduplicated(moments: Iterable[datetime]) -> Iterator[datetime]:
    """Drop repeats: the gate runs a minute once however many lines fire in it."""
    previous = None
    for moment in moments:
        if moment != previous:
            yield moment
        previous = moment


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_the_cron_driver_runs_every_schedule_at_the_cores_instants(case: Case) -> None:
    expression, zone, machine, start = case
    converter = CronConverter(cron_tz=False, machine_zone=machine, today=start.date())
    plan = converter.plan(expression, zone)
    expected = list(utc(next_fire_times(expression, zone, start, COUNT)))
    if plan.period is not None:
        # A gated plan holds for its period: the agent plans it again long before it ends.
        expected = [moment for moment in expected if moment < period_end(plan.period, machine)]
        if not expected:
            return
    # This cron reads the line in the machine's zone, with cron's own DST rules: the core
    # evaluated in the machine's zone is that reference.
    native = deduplicated(
        heapq.merge(*(utc(iter_fire_times(line, machine, start)) for line in plan.lines))
    )
    if plan.gated:
        fired = gated(native, expression, zone, expected[-1])
        assert plan.figures.wakes_per_day is not None
        assert plan.figures.runs_per_day is not None
        assert plan.figures.wakes_per_day <= MAX_WAKE_RATIO * plan.figures.runs_per_day
    else:
        fired = list(itertools.islice(native, COUNT))
    assert fired == expected, (plan.lines, plan.figures)


@pytest.mark.parametrize(
    ("expression", "zone", "machine"),
    [
        # The other lines stay off the first Sundays of November, whose repeated hour holds an
        # instant; the job's other times on those Sundays get lines of their own, which must
        # hold in every year: Africa/Casablanca's clock changes around Ramadan reach November
        # in 2037, past the years the planner looks at.
        ("30 7,23 * * 0", "Africa/Casablanca", "America/New_York"),
        ("30 17,21 1 * 6", "Australia/Lord_Howe", "America/New_York"),
        ("18 21 26 7,8,10 6", "America/New_York", "Europe/Berlin"),
    ],
)
def test_a_crontab_runs_the_jobs_instants_around_every_fall_back_for_decades(
    expression: str, zone: str, machine: str
) -> None:
    plan = CronConverter(cron_tz=False, machine_zone=machine).plan(expression, zone)
    assert plan.gated
    local = ZoneInfo(machine)
    for change in transitions(machine, WINDOW_START, WINDOW_START + timedelta(days=366 * 35)):
        if change.after > change.before:
            continue
        day = change.instant.astimezone(local).date()
        low = datetime.combine(day - timedelta(days=8), time(0), local).astimezone(UTC)
        high = low + timedelta(days=17)
        native = deduplicated(
            heapq.merge(*(utc(iter_fire_times(line, machine, low)) for line in plan.lines))
        )
        expected = up_to(utc(iter_fire_times(expression, zone, low)), high)
        assert gated(native, expression, zone, high) == expected, day


def period_end(period: Period, machine: str) -> datetime:
    last = datetime.combine(period.last + timedelta(days=1), time(0), ZoneInfo(machine))
    return last.astimezone(UTC)


def period_start(period: Period, machine: str) -> datetime:
    return datetime.combine(period.first, time(0), ZoneInfo(machine)).astimezone(UTC)


# Africa/Casablanca's clock changes move with Ramadan, so these get plans dated for the year
# to come in most years, planned again every month, and lines for every year, planned again each
# January, in the others (see Period). Around every clock change of either zone for 35 years, the
# plan made that month and the plan made ten months before run the job's instants.
@pytest.mark.parametrize(
    ("expression", "zone", "machine"),
    [
        ("0 3 * * *", "Europe/Berlin", "Africa/Casablanca"),
        ("15,45 2 * * *", "Africa/Casablanca", "Europe/Berlin"),
    ],
)
def test_dated_plans_run_the_jobs_instants_around_every_clock_change_for_decades(
    expression: str, zone: str, machine: str
) -> None:
    local = ZoneInfo(machine)
    span = WINDOW_START, WINDOW_START + timedelta(days=366 * 35)
    changes = sorted(
        {change.instant for name in (zone, machine) for change in transitions(name, *span)}
    )
    dated = 0
    for change in changes:
        day = change.astimezone(local).date()
        month = day.replace(day=1)
        for planned_on in (month, (month - timedelta(days=300)).replace(day=1)):
            converter = CronConverter(cron_tz=False, machine_zone=machine, today=planned_on)
            plan = converter.plan(expression, zone)
            assert plan.period is not None
            dated += plan.period.dated
            assert plan.period.holds(day)
            middle = datetime.combine(day, time(12), local).astimezone(UTC)
            low = max(middle - timedelta(days=8), period_start(plan.period, machine))
            high = min(middle + timedelta(days=8), period_end(plan.period, machine))
            native = deduplicated(
                heapq.merge(*(utc(iter_fire_times(line, machine, low)) for line in plan.lines))
            )
            expected = up_to(utc(iter_fire_times(expression, zone, low)), high)
            assert gated(native, expression, zone, high) == expected, (day, planned_on)
    assert dated > 50


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed")
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_the_systemd_driver_runs_every_schedule_at_the_cores_instants(case: Case) -> None:
    # A timer names its zone in OnCalendar=, so the machine's zone does not change it.
    expression, zone, _, start = case
    try:
        conversion = convert_schedule(expression, zone, now=start)
    except ConversionRefused:
        assert expression == "@reboot"  # no boot trigger: the one refusal left
        return
    # The conversion looks five years ahead; the oracle is asked about the first four.
    until = start + timedelta(days=4 * 365)
    expected = [
        moment for moment in utc(next_fire_times(expression, zone, start, COUNT)) if moment <= until
    ]
    if not expected:
        return
    wanted = len(expected) * (MAX_WAKE_RATIO + 1) if conversion.gated else len(expected)
    # Asked from just before the first instant: a superset may wake for days before it (a
    # month-end shift), and the gate drops all of those anyway.
    base = max(start, expected[0] - timedelta(minutes=1))
    elapses = union_of_elapses(conversion.on_calendar, base, wanted)
    if conversion.gated:
        fired = gated(elapses, expression, zone, expected[-1])
    else:
        fired = elapses[: len(expected)]
    assert fired == expected, (conversion.on_calendar, conversion.figures)


def task_xml(expression: str, zone: str, machine: str, start: datetime) -> tuple[str, bool]:
    """Render the task the driver registers for a job, and say whether it is gated."""
    conversion = convert_to_triggers(expression, zone, machine_timezone=machine, now=start)
    arguments = ("run-job", str(JOB), *((GATE_FLAG,) if conversion.gated else ()))
    task = TaskDefinition(JOB, "job", conversion.triggers, "crontopus-agent.exe", arguments)
    return render_task(task), conversion.gated


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_the_task_scheduler_driver_runs_every_schedule_at_the_cores_instants(case: Case) -> None:
    expression, zone, machine, start = case
    xml, is_gated = task_xml(expression, zone, machine, start)
    check_schema_rules(xml)
    assert (GATE_FLAG in xml) == is_gated
    triggers = reference.read_triggers(xml)
    if expression == "@reboot":
        assert [t.kind for t in triggers] == ["BootTrigger"]
        return
    # The native conversion looks five years ahead; the oracle is asked about the first four.
    until = start + timedelta(days=4 * 365)
    expected = [
        moment for moment in utc(next_fire_times(expression, zone, start, COUNT)) if moment <= until
    ]
    if not expected:
        return
    if not is_gated:
        fired = list(reference.firings(triggers, machine, start, expected[-1]))
        assert fired == expected, xml
        return
    # Every instant is a firing the gate lets through...
    missed = [t for t in expected if not reference.fires_at(triggers, machine, t)]
    assert missed == [], xml
    # ...and around the start and the first instant the gate lets nothing else through: the
    # gate runs a firing when the evaluator has an instant there (`fires_at`, asked directly
    # for the first few firings of each stretch; the rest are compared with its instants).
    around_start = (start, min(start + timedelta(days=1), expected[-1]))
    around_first = (max(start, expected[0] - timedelta(days=1)), expected[0])
    instants = set(expected)
    for low, high in (around_start, around_first):
        woken = list(reference.firings(triggers, machine, low, high))
        for moment in woken[:5]:
            assert fires_at(expression, zone, moment) == (moment in instants)
        assert [t for t in woken if t in instants] == [t for t in expected if low <= t <= high]
