"""Parsing cron expressions: what cron accepts, what each field selects, and the star rule."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from crontopus.core.errors import ScheduleError
from crontopus.core.schedule import MACROS, CronSchedule, parse_schedule

EVERY_MINUTE = frozenset(range(60))
EVERY_HOUR = frozenset(range(24))
EVERY_DAY = frozenset(range(1, 32))
EVERY_MONTH = frozenset(range(1, 13))
EVERY_WEEKDAY = frozenset(range(7))

# expression -> (minutes, hours, days, months, weekdays); None means "every value".
ACCEPTED: dict[str, tuple[set[int] | None, ...]] = {
    "* * * * *": (None, None, None, None, None),
    "*/35 * * * *": ({0, 35}, None, None, None, None),
    "0 */5 * * *": ({0}, {0, 5, 10, 15, 20}, None, None, None),
    "0,30 8-18/2 * * 1-5": ({0, 30}, {8, 10, 12, 14, 16, 18}, None, None, {1, 2, 3, 4, 5}),
    "00 05 * * *": ({0}, {5}, None, None, None),
    "1,*/20 * * * *": ({0, 1, 20, 40}, None, None, None, None),
    "*/60 * * * *": ({0}, None, None, None, None),
    "59 23 31 12 *": ({59}, {23}, {31}, {12}, None),
    "0 0 1-31/10 * *": ({0}, {0}, {1, 11, 21, 31}, None, None),
    "0 0 29 2 *": ({0}, {0}, {29}, {2}, None),
    "0 0 * jan-mar,DEC *": ({0}, {0}, None, {1, 2, 3, 12}, None),
    "0 0 * Jul,aug *": ({0}, {0}, None, {7, 8}, None),
    "0 0 * * 7": ({0}, {0}, None, None, {0}),
    "0 0 * * 0,7": ({0}, {0}, None, None, {0}),
    "0 0 * * sun": ({0}, {0}, None, None, {0}),
    "0 0 * * SUN-sat": ({0}, {0}, None, None, None),
    "0 0 * * 5-7": ({0}, {0}, None, None, {5, 6, 0}),
    "0 0 * * 1-7": ({0}, {0}, None, None, None),
    "0 0 * * 1-7/2": ({0}, {0}, None, None, {1, 3, 5, 0}),
    "0 0 * * */2": ({0}, {0}, None, None, {0, 2, 4, 6}),
    "0 0 * * */7": ({0}, {0}, None, None, {0}),
    "0 0 * * mon-fri/2": ({0}, {0}, None, None, {1, 3, 5}),
    "0 12 * * mon-fri": ({0}, {12}, None, None, {1, 2, 3, 4, 5}),
    "\t0  2 *\t* *  ": ({0}, {2}, None, None, None),
}


@pytest.mark.parametrize(("expression", "expected"), ACCEPTED.items(), ids=list(ACCEPTED))
def test_it_selects_the_values_cron_selects(
    expression: str, expected: tuple[set[int] | None, ...]
) -> None:
    schedule = parse_schedule(expression)
    everything = (EVERY_MINUTE, EVERY_HOUR, EVERY_DAY, EVERY_MONTH, EVERY_WEEKDAY)
    wanted = tuple(
        frozenset(values) if values is not None else every
        for values, every in zip(expected, everything, strict=True)
    )
    got = (schedule.minutes, schedule.hours, schedule.days, schedule.months, schedule.weekdays)
    assert got == wanted


@pytest.mark.parametrize(
    ("macro", "expression"),
    [
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
        ("@monthly", "0 0 1 * *"),
        ("@weekly", "0 0 * * 0"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@hourly", "0 * * * *"),
    ],
)
def test_it_expands_macros_like_cron(macro: str, expression: str) -> None:
    schedule = parse_schedule(macro)
    assert schedule.source == macro
    assert schedule.expression == expression
    assert schedule.fields == tuple(expression.split())
    assert dataclasses.replace(schedule, source=expression) == parse_schedule(expression)


def test_it_knows_every_macro_of_cron() -> None:
    assert set(MACROS) | {"@reboot"} == {
        "@yearly",
        "@annually",
        "@monthly",
        "@weekly",
        "@daily",
        "@midnight",
        "@hourly",
        "@reboot",
    }


def test_it_accepts_reboot_only_where_allowed() -> None:
    schedule = parse_schedule("@reboot")
    assert schedule.reboot
    assert schedule.expression == "@reboot"
    assert not schedule.wildcard_time
    assert not schedule.matches_day(date(2026, 1, 1))
    with pytest.raises(ScheduleError, match="@reboot"):
        parse_schedule("@reboot", allow_reboot=False)


def test_it_keeps_the_text_as_written_and_lowercases_names_in_the_fields() -> None:
    schedule = parse_schedule("0 2 * JAN-Mar MON")
    assert schedule.source == "0 2 * JAN-Mar MON"
    assert schedule.expression == "0 2 * jan-mar mon"
    assert schedule.fields == ("0", "2", "*", "jan-mar", "mon")


# (expression, dom restricted, dow restricted, ORed)
STAR_RULE = [
    ("0 0 * * *", False, False, False),
    ("0 0 1 * *", True, False, False),
    ("0 0 * * 1", False, True, False),
    ("0 0 */2 * 1", False, True, False),
    ("0 0 1-7 * */7", True, False, False),
    ("0 0 1-7 * 1", True, True, True),
    ("0 0 1,* * 1", True, True, True),
    ("0 0 *,1 * 1", False, True, False),
    ("@weekly", False, True, False),
]


@pytest.mark.parametrize(("expression", "dom", "dow", "ored"), STAR_RULE)
def test_it_ors_the_day_fields_only_when_neither_starts_with_a_star(
    expression: str, dom: bool, dow: bool, ored: bool
) -> None:
    schedule = parse_schedule(expression)
    assert (schedule.dom_restricted, schedule.dow_restricted, schedule.days_are_ored) == (
        dom,
        dow,
        ored,
    )


@pytest.mark.parametrize(
    ("expression", "day", "fires"),
    [
        # Mondays that fall on an odd day
        ("0 0 */2 * 1", date(2026, 1, 5), True),
        ("0 0 */2 * 1", date(2026, 1, 12), False),
        ("0 0 */2 * 1", date(2026, 1, 7), False),
        # the first Sunday of the month
        ("0 0 1-7 * */7", date(2026, 1, 4), True),
        ("0 0 1-7 * */7", date(2026, 1, 11), False),
        ("0 0 1-7 * */7", date(2026, 1, 5), False),
        # days 1-7 and every Monday
        ("0 0 1-7 * 1", date(2026, 1, 5), True),
        ("0 0 1-7 * 1", date(2026, 1, 12), True),
        ("0 0 1-7 * 1", date(2026, 1, 2), True),
        ("0 0 1-7 * 1", date(2026, 1, 13), False),
        ("0 0 * * 7", date(2026, 1, 4), True),
        ("0 0 29 2 *", date(2028, 2, 29), True),
        ("0 0 1 * *", date(2026, 2, 1), True),
        ("0 0 1 6 *", date(2026, 2, 1), False),
    ],
)
def test_it_applies_the_calendar_day_rule(expression: str, day: date, fires: bool) -> None:
    assert parse_schedule(expression).matches_day(day) is fires


@pytest.mark.parametrize(
    ("expression", "wildcard"),
    [
        ("30 2 * * *", False),
        ("0,30 1-3 * * *", False),
        ("@daily", False),
        ("*/15 * * * *", True),
        ("0 * * * *", True),
        ("* 2 * * *", True),
        ("0 */2 * * *", True),
        ("@hourly", True),
    ],
)
def test_it_tells_wildcard_jobs_from_fixed_time_jobs(expression: str, wildcard: bool) -> None:
    assert parse_schedule(expression).wildcard_time is wildcard


def test_it_caches_parsed_schedules() -> None:
    assert parse_schedule("17 4 * * *") is parse_schedule("17 4 * * *")


def test_a_schedule_is_an_immutable_value() -> None:
    schedule = parse_schedule("0 2 * * *")
    assert isinstance(schedule, CronSchedule)
    assert str(schedule) == "0 2 * * *"
    with pytest.raises(AttributeError):
        schedule.source = "x"  # type: ignore[misc]
