"""Next fire times: cron's calendar, in the job's time zone, through daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from crontopus.core.errors import TimezoneError
from crontopus.core.schedule import (
    MAX_FIRE_TIMES,
    iter_fire_times,
    next_fire_times,
    parse_schedule,
)


def fires(expression: str, zone: str | None, after: datetime, count: int) -> list[str]:
    return [moment.isoformat() for moment in next_fire_times(expression, zone, after, count)]


JAN_1 = datetime(2026, 1, 1, tzinfo=UTC)

CALENDAR = [
    (
        "*/35 * * * *",
        datetime(2026, 1, 1, 10, 0, tzinfo=UTC),
        ["2026-01-01T10:35:00+00:00", "2026-01-01T11:00:00+00:00", "2026-01-01T11:35:00+00:00"],
    ),
    (
        "0 */5 * * *",
        datetime(2026, 1, 1, 16, 0, tzinfo=UTC),
        ["2026-01-01T20:00:00+00:00", "2026-01-02T00:00:00+00:00", "2026-01-02T05:00:00+00:00"],
    ),
    (
        # Mondays that fall on an odd day
        "0 0 */2 * 1",
        JAN_1,
        [
            "2026-01-05T00:00:00+00:00",
            "2026-01-19T00:00:00+00:00",
            "2026-02-09T00:00:00+00:00",
            "2026-02-23T00:00:00+00:00",
        ],
    ),
    (
        # the first Sunday of each month
        "0 0 1-7 * */7",
        JAN_1,
        [
            "2026-01-04T00:00:00+00:00",
            "2026-02-01T00:00:00+00:00",
            "2026-03-01T00:00:00+00:00",
            "2026-04-05T00:00:00+00:00",
        ],
    ),
    (
        # days 1-7 and every Monday
        "0 0 1-7 * 1",
        JAN_1,
        [
            "2026-01-02T00:00:00+00:00",
            "2026-01-03T00:00:00+00:00",
            "2026-01-04T00:00:00+00:00",
            "2026-01-05T00:00:00+00:00",
            "2026-01-06T00:00:00+00:00",
            "2026-01-07T00:00:00+00:00",
            "2026-01-12T00:00:00+00:00",
            "2026-01-19T00:00:00+00:00",
            "2026-01-26T00:00:00+00:00",
            "2026-02-01T00:00:00+00:00",
        ],
    ),
    (
        "0 0 29 2 *",
        JAN_1,
        ["2028-02-29T00:00:00+00:00", "2032-02-29T00:00:00+00:00", "2036-02-29T00:00:00+00:00"],
    ),
    (
        # 2100 is no leap year
        "0 0 29 2 *",
        datetime(2097, 1, 1, tzinfo=UTC),
        ["2104-02-29T00:00:00+00:00"],
    ),
    (
        "@weekly",
        JAN_1,
        ["2026-01-04T00:00:00+00:00", "2026-01-11T00:00:00+00:00"],
    ),
    (
        "0 0 * * 7",
        JAN_1,
        ["2026-01-04T00:00:00+00:00", "2026-01-11T00:00:00+00:00"],
    ),
    (
        "@yearly",
        JAN_1,
        ["2027-01-01T00:00:00+00:00", "2028-01-01T00:00:00+00:00"],
    ),
    (
        "30 12 * * mon-fri",
        datetime(2026, 1, 2, 13, 0, tzinfo=UTC),
        ["2026-01-05T12:30:00+00:00", "2026-01-06T12:30:00+00:00"],
    ),
]


@pytest.mark.parametrize(("expression", "after", "expected"), CALENDAR)
def test_it_fires_when_cron_fires(expression: str, after: datetime, expected: list[str]) -> None:
    assert fires(expression, None, after, len(expected)) == expected


# Europe/Berlin 2026: 02:00 CET -> 03:00 CEST on 29 March, 03:00 CEST -> 02:00 CET on 25 October.
# America/New_York 2026: 02:00 EST -> 03:00 EDT on 8 March, 02:00 EDT -> 01:00 EST on 1 November.
DST = [
    pytest.param(
        "30 2 * * *",
        "Europe/Berlin",
        datetime(2026, 3, 28, 12, 0, tzinfo=UTC),
        ["2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"],
        id="berlin-spring-fixed-time-runs-at-03:00",
    ),
    pytest.param(
        "0 2 * * *",
        "Europe/Berlin",
        datetime(2026, 3, 28, 12, 0, tzinfo=UTC),
        ["2026-03-29T03:00:00+02:00", "2026-03-30T02:00:00+02:00"],
        id="berlin-spring-fixed-time-on-the-hour",
    ),
    pytest.param(
        "0,30 2 * * *",
        "Europe/Berlin",
        datetime(2026, 3, 29, 0, 0, tzinfo=UTC),
        ["2026-03-29T03:00:00+02:00", "2026-03-30T02:00:00+02:00"],
        id="berlin-spring-two-skipped-times-run-once-at-03:00",
    ),
    pytest.param(
        "*/30 * * * *",
        "Europe/Berlin",
        datetime(2026, 3, 29, 0, 0, tzinfo=UTC),
        ["2026-03-29T01:30:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-29T03:30:00+02:00"],
        id="berlin-spring-wildcard-skips",
    ),
    pytest.param(
        "30 * * * *",
        "Europe/Berlin",
        datetime(2026, 3, 29, 0, 0, tzinfo=UTC),
        ["2026-03-29T01:30:00+01:00", "2026-03-29T03:30:00+02:00"],
        id="berlin-spring-wildcard-hour-skips",
    ),
    pytest.param(
        "30 2 * * *",
        "Europe/Berlin",
        datetime(2026, 10, 24, 12, 0, tzinfo=UTC),
        ["2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"],
        id="berlin-fall-fixed-time-once",
    ),
    pytest.param(
        "30 * * * *",
        "Europe/Berlin",
        datetime(2026, 10, 24, 23, 0, tzinfo=UTC),
        [
            "2026-10-25T01:30:00+02:00",
            "2026-10-25T02:30:00+02:00",
            "2026-10-25T02:30:00+01:00",
            "2026-10-25T03:30:00+01:00",
        ],
        id="berlin-fall-wildcard-twice",
    ),
    pytest.param(
        "*/30 2 * * *",
        "Europe/Berlin",
        datetime(2026, 10, 24, 23, 0, tzinfo=UTC),
        [
            "2026-10-25T02:00:00+02:00",
            "2026-10-25T02:30:00+02:00",
            "2026-10-25T02:00:00+01:00",
            "2026-10-25T02:30:00+01:00",
            "2026-10-26T02:00:00+01:00",
        ],
        id="berlin-fall-wildcard-minute-twice",
    ),
    pytest.param(
        "30 2 * * *",
        "America/New_York",
        datetime(2026, 3, 7, 12, 0, tzinfo=UTC),
        ["2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"],
        id="new-york-spring-fixed-time-runs-at-03:00",
    ),
    pytest.param(
        "*/20 2 * * *",
        "America/New_York",
        datetime(2026, 3, 6, 12, 0, tzinfo=UTC),
        ["2026-03-07T02:00:00-05:00", "2026-03-07T02:20:00-05:00", "2026-03-07T02:40:00-05:00"],
        id="new-york-wildcard-before-the-change",
    ),
    pytest.param(
        "*/20 2 * * *",
        "America/New_York",
        datetime(2026, 3, 8, 0, 0, tzinfo=UTC),
        ["2026-03-09T02:00:00-04:00"],
        id="new-york-spring-wildcard-skips-the-whole-day",
    ),
    pytest.param(
        "30 1 * * *",
        "America/New_York",
        datetime(2026, 10, 31, 12, 0, tzinfo=UTC),
        ["2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"],
        id="new-york-fall-fixed-time-once",
    ),
    pytest.param(
        "*/20 1 * * *",
        "America/New_York",
        datetime(2026, 11, 1, 4, 0, tzinfo=UTC),
        [
            "2026-11-01T01:00:00-04:00",
            "2026-11-01T01:20:00-04:00",
            "2026-11-01T01:40:00-04:00",
            "2026-11-01T01:00:00-05:00",
            "2026-11-01T01:20:00-05:00",
            "2026-11-01T01:40:00-05:00",
            "2026-11-02T01:00:00-05:00",
        ],
        id="new-york-fall-wildcard-twice",
    ),
    pytest.param(
        # America/Santiago skips from 00:00 to 01:00 on 6 September 2026: a wildcard job picks
        # up at the first real minute.
        "*/30 * 6 9 *",
        "America/Santiago",
        datetime(2026, 9, 6, 0, 0, tzinfo=UTC),
        ["2026-09-06T01:00:00-03:00", "2026-09-06T01:30:00-03:00"],
        id="santiago-midnight-gap-wildcard",
    ),
    pytest.param(
        # Australia/Lord_Howe moves from 02:00 to 02:30 on 4 October 2026.
        "30 * * * *",
        "Australia/Lord_Howe",
        datetime(2026, 10, 3, 14, 0, tzinfo=UTC),
        ["2026-10-04T01:30:00+10:30", "2026-10-04T02:30:00+11:00", "2026-10-04T03:30:00+11:00"],
        id="lord-howe-half-hour-change-wildcard",
    ),
    pytest.param(
        "0 2 * * *",
        "Australia/Lord_Howe",
        datetime(2026, 10, 3, 6, 0, tzinfo=UTC),
        ["2026-10-04T02:30:00+11:00", "2026-10-05T02:00:00+11:00"],
        id="lord-howe-half-hour-change-fixed-time",
    ),
    pytest.param(
        "0 0 * * *",
        "America/Santiago",
        datetime(2026, 9, 5, 12, 0, tzinfo=UTC),
        ["2026-09-06T01:00:00-03:00", "2026-09-07T00:00:00-03:00"],
        id="santiago-midnight-gap-fixed-time",
    ),
]


@pytest.mark.parametrize(("expression", "zone", "after", "expected"), DST)
def test_it_follows_crons_daylight_saving_rules(
    expression: str, zone: str, after: datetime, expected: list[str]
) -> None:
    assert fires(expression, zone, after, len(expected)) == expected


def test_a_fixed_time_job_does_not_fire_again_in_the_second_copy_of_the_hour() -> None:
    new_york = ZoneInfo("America/New_York")
    second_copy = datetime(2026, 11, 1, 1, 15, fold=1, tzinfo=new_york)
    assert fires("30 1 * * *", "America/New_York", second_copy, 1) == ["2026-11-02T01:30:00-05:00"]
    assert fires("30 * * * *", "America/New_York", second_copy, 1) == ["2026-11-01T01:30:00-05:00"]


def test_results_are_strictly_after_the_given_moment() -> None:
    at_a_fire_time = datetime(2026, 1, 1, 2, 0, tzinfo=UTC)
    assert fires("0 2 * * *", None, at_a_fire_time, 1) == ["2026-01-02T02:00:00+00:00"]
    just_before = datetime(2026, 1, 1, 1, 59, 59, 999999, tzinfo=UTC)
    assert fires("0 2 * * *", None, just_before, 1) == ["2026-01-01T02:00:00+00:00"]


def test_a_naive_moment_means_utc() -> None:
    naive = datetime(2026, 1, 1, 11, 30)
    assert fires("0 12 * * *", "Europe/Berlin", naive, 1) == ["2026-01-02T12:00:00+01:00"]


def test_times_come_in_the_jobs_zone_and_utc_by_default() -> None:
    (berlin,) = next_fire_times("0 12 * * *", "Europe/Berlin", JAN_1, 1)
    assert berlin.tzinfo == ZoneInfo("Europe/Berlin")
    (utc,) = next_fire_times("0 12 * * *", None, JAN_1, 1)
    assert utc.tzinfo == ZoneInfo("UTC")
    assert next_fire_times("0 12 * * *", "", JAN_1, 1) == [utc]


def test_the_count_is_capped() -> None:
    assert len(next_fire_times("* * * * *", None, JAN_1, 5000)) == MAX_FIRE_TIMES
    assert next_fire_times("* * * * *", None, JAN_1, 0) == []
    assert next_fire_times("* * * * *", None, JAN_1, -3) == []


def test_reboot_has_no_fire_times() -> None:
    assert next_fire_times("@reboot", None, JAN_1, 5) == []
    assert list(iter_fire_times("@reboot", "Europe/Berlin", JAN_1)) == []


def test_it_takes_a_parsed_schedule_too() -> None:
    schedule = parse_schedule("@daily")
    assert next_fire_times(schedule, None, JAN_1, 1) == next_fire_times("@daily", None, JAN_1, 1)


def test_it_iterates_lazily_over_fire_times() -> None:
    moments = iter_fire_times("0 0 1 * *", "Europe/Berlin", JAN_1)
    # Midnight of 1 January 2026 in Berlin lies before JAN_1 (midnight UTC).
    assert [next(moments).isoformat() for _ in range(12)][-1] == "2027-01-01T00:00:00+01:00"


def test_an_unknown_zone_is_refused() -> None:
    with pytest.raises(TimezoneError, match='did you mean "Europe/Berlin"'):
        next_fire_times("@daily", "Europe/Berln", JAN_1, 1)
