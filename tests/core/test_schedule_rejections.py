"""Refusing what cron refuses, and what would never fire, each with its reason and a fix."""

from __future__ import annotations

import pytest

from crontopus.core.errors import CrontopusError, ScheduleError
from crontopus.core.schedule import parse_schedule

REJECTED = {
    "5/15 * * * *": '"5/15 * * * *" is not valid cron (a step needs a range or *: use "5-59/15")',
    "0 23/2 * * *": '"0 23/2 * * *" is not valid cron (a step needs a range or *: use "23-23/2")',
    "0 0 * * mon/2": (
        '"0 0 * * mon/2" is not valid cron (a step needs a range or *: use "mon-sat/2")'
    ),
    "*/0 * * * *": (
        '"*/0 * * * *" is not valid cron (the step in "*/0" (minute) must be at least 1: '
        'use "*/1" or "*")'
    ),
    "*/61 * * * *": (
        '"*/61 * * * *" is not valid cron (the step in "*/61" is larger than the minute field '
        "(0-59), so it only ever matches its first value: write that value instead)"
    ),
    "*/x * * * *": (
        '"*/x * * * *" is not valid cron (the step in "*/x" (minute) must be a whole number, '
        'e.g. "*/5")'
    ),
    "*/5/2 * * * *": (
        '"*/5/2 * * * *" is not valid cron ("*/5/2" in minute has two steps: keep one "/n")'
    ),
    "0 0 L * *": (
        '"0 0 L * *" is not valid cron ("L" is a Quartz extension ("L" means last), not cron: '
        "list the days explicitly and test for the exact day in the command)"
    ),
    "0 0 15W * *": (
        '"0 0 15W * *" is not valid cron ("15W" is a Quartz extension ("W" means nearest '
        "weekday), not cron: list the days explicitly and test for the exact day in the command)"
    ),
    "0 0 * * 5L": (
        '"0 0 * * 5L" is not valid cron ("5L" is a Quartz extension ("L" means last), not cron: '
        "list the days explicitly and test for the exact day in the command)"
    ),
    "0 0 * * 1#2": (
        '"0 0 * * 1#2" is not valid cron ("1#2" (nth weekday with "#") is a Quartz extension, '
        "not cron: run on days 1-7 and test the weekday in the command)"
    ),
    "0 0 ? * *": '"0 0 ? * *" is not valid cron ("?" is a Quartz placeholder, not cron: use "*")',
    "~ * * * *": (
        '"~ * * * *" is not valid cron ("~" (a random value) is not cron: write a fixed value '
        'such as "20")'
    ),
    "0 0 1 1 * 2026": (
        '"0 0 1 1 * 2026" is not valid cron (6 fields where cron has 5 (minute hour day-of-month '
        "month day-of-week): the last field looks like a year, which cron lacks: drop it "
        'and write "0 0 1 1 *")'
    ),
    "0 0 2 * * *": (
        '"0 0 2 * * *" is not valid cron (6 fields where cron has 5 (minute hour day-of-month '
        "month day-of-week): the first field looks like seconds (as in Quartz or Spring), which "
        'cron lacks: drop it and write "0 2 * * *" (if the last field is a year, drop that one '
        'instead: "0 0 2 * *"))'
    ),
    "0 30 2 ? * MON": (
        '"0 30 2 ? * MON" is not valid cron (6 fields where cron has 5 (minute hour day-of-month '
        "month day-of-week): the first field looks like seconds (as in Quartz or Spring), which "
        'cron lacks: drop it and write "30 2 * * MON")'
    ),
    "* * * * * /usr/bin/backup": (
        '"* * * * * /usr/bin/backup" is not valid cron (6 fields where cron has 5 (minute hour '
        "day-of-month month day-of-week): the command goes in spec.command, not in the schedule)"
    ),
    "0 2 * *": (
        '"0 2 * *" is not valid cron (4 fields where cron has 5 (minute hour day-of-month month '
        'day-of-week), e.g. "0 2 * * *")'
    ),
    "0 0 0 * *": '"0 0 0 * *" is not valid cron (0 is out of range for day-of-month: use 1-31)',
    "60 * * * *": '"60 * * * *" is not valid cron (60 is out of range for minute: use 0-59)',
    "0 24 * * *": '"0 24 * * *" is not valid cron (24 is out of range for hour: use 0-23)',
    "0 0 * 13 *": '"0 0 * 13 *" is not valid cron (13 is out of range for month: use 1-12)',
    "0 0 * * 8": (
        '"0 0 * * 8" is not valid cron (8 is out of range for day-of-week: use 0-7 '
        "(0 and 7 are both Sunday))"
    ),
    "5-1 * * * *": (
        '"5-1 * * * *" is not valid cron (range "5-1" in minute runs backwards and cron ranges '
        'do not wrap: write "5-59,0-1")'
    ),
    "0 0 * * fri-mon": (
        '"0 0 * * fri-mon" is not valid cron (range "fri-mon" in day-of-week runs backwards and '
        'cron ranges do not wrap: write "fri-sat,sun-mon")'
    ),
    "0 0 * dec-jan *": (
        '"0 0 * dec-jan *" is not valid cron (range "dec-jan" in month runs backwards and cron '
        'ranges do not wrap: write "dec,jan")'
    ),
    "-5 * * * *": (
        '"-5 * * * *" is not valid cron (range "-5" in minute has no start: write it as "a-b")'
    ),
    "5- * * * *": (
        '"5- * * * *" is not valid cron (range "5-" in minute has no end: write it as "a-b")'
    ),
    "1-2-3 * * * *": (
        '"1-2-3 * * * *" is not valid cron ("1-2-3" in minute is not a range: '
        'write ranges as "a-b")'
    ),
    "1,,2 * * * *": (
        '"1,,2 * * * *" is not valid cron (minute field "1,,2" has an empty list item: '
        'remove the extra ",")'
    ),
    "0 0 * * monday": (
        '"0 0 * * monday" is not valid cron ("monday" is not a day-of-week name: use one of '
        "sun, mon, tue, wed, thu, fri, sat)"
    ),
    "0 0 * janu *": (
        '"0 0 * janu *" is not valid cron ("janu" is not a month name: use one of jan, feb, mar, '
        "apr, may, jun, jul, aug, sep, oct, nov, dec)"
    ),
    "H * * * *": (
        '"H * * * *" is not valid cron ("H" is not a number: names are only allowed in the month '
        "and day-of-week fields (minute takes 0-59))"
    ),
    "0 0 * * 1-fri2": (
        '"0 0 * * 1-fri2" is not valid cron ("fri2" is not a day-of-week value: use a number 0-7 '
        "or a three-letter name)"
    ),
    "0 0 * * 1;2": (
        '"0 0 * * 1;2" is not valid cron (unexpected character ";" in day-of-week field "1;2": '
        'cron fields hold numbers, names, "*", ",", "-" and "/")'
    ),
    "@Daily": '"@Daily" is not valid cron (macros are lowercase: use "@daily")',
    "@every 5m": '"@every 5m" is not valid cron (@every takes nothing after it)',
    "@every": (
        '"@every" is not valid cron (unknown macro: use one of @yearly @annually @monthly @weekly '
        "@daily @midnight @hourly @reboot)"
    ),
    "@daily 0 0 * * *": '"@daily 0 0 * * *" is not valid cron (@daily takes nothing after it)',
    "": (
        'the schedule is empty: write five fields such as "0 2 * * *" or a macro such as "@daily"'
    ),
    "0 0 * * *\n": (
        "'0 0 * * *\\n' is not valid cron (a schedule is one line of visible text: "
        "remove the line break)"
    ),
    "0\u00a02 * * *": (
        "'0\\xa02 * * *' is not valid cron (a schedule is one line of visible text: "
        "remove the invisible character U+00A0)"
    ),
    "*-5 * * * *": (
        '"*-5 * * * *" is not valid cron ("*-5" in minute mixes "*" with other text: '
        '"*" stands alone or takes a step, as in "*/5")'
    ),
    "*5 * * * *": (
        '"*5 * * * *" is not valid cron ("*5" in minute mixes "*" with other text: '
        '"*" stands alone or takes a step, as in "*/5")'
    ),
    "0 0 30 2 *": (
        '"0 0 30 2 *" never fires: no chosen day of month (30) exists in Feb; '
        "pick days that exist in those months"
    ),
    "0 0 31 4 *": (
        '"0 0 31 4 *" never fires: no chosen day of month (31) exists in Apr; '
        "pick days that exist in those months"
    ),
    "0 0 31 2,4,6,9,11 *": (
        '"0 0 31 2,4,6,9,11 *" never fires: no chosen day of month (31) exists in Feb, Apr, Jun, '
        "Sep, Nov; pick days that exist in those months"
    ),
    "0 0 30,31 feb */2": (
        '"0 0 30,31 feb */2" never fires: no chosen day of month (30,31) exists in Feb; '
        "pick days that exist in those months"
    ),
}


@pytest.mark.parametrize(("expression", "message"), REJECTED.items(), ids=list(REJECTED))
def test_it_refuses_with_the_reason_and_a_fix(expression: str, message: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        parse_schedule(expression)
    assert str(caught.value) == message


def test_a_newline_inside_the_schedule_is_refused() -> None:
    with pytest.raises(ScheduleError, match="line break"):
        parse_schedule("0 0 * * *\n* * * * * rm -rf /")


def test_an_overlong_schedule_is_refused() -> None:
    with pytest.raises(ScheduleError, match="characters long"):
        parse_schedule(",".join(["1"] * 600) + " * * * *")


def test_huge_numbers_are_out_of_range_not_a_crash() -> None:
    with pytest.raises(ScheduleError, match="out of range"):
        parse_schedule("9" * 900 + " * * * *")


def test_a_non_string_schedule_is_refused() -> None:
    with pytest.raises(ScheduleError, match="must be a string"):
        parse_schedule(5)  # type: ignore[arg-type]


def test_a_day_that_exists_only_in_leap_years_is_accepted() -> None:
    assert parse_schedule("0 0 29 2 *").days == frozenset({29})


def test_an_impossible_day_is_fine_when_the_weekday_is_ored_in() -> None:
    # Both day fields are restricted, so cron fires on every Monday of February.
    assert parse_schedule("0 0 30 2 mon").days_are_ored


def test_schedule_errors_are_value_errors_and_crontopus_errors() -> None:
    with pytest.raises(ValueError, match="5-59/15"):
        parse_schedule("5/15 * * * *")
    with pytest.raises(CrontopusError):
        parse_schedule("5/15 * * * *")
