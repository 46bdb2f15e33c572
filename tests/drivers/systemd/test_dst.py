"""The daylight-saving check: refusals one by one, and the systemd model against systemd itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crontopus.core.schedule import load_timezone, parse_schedule
from crontopus.drivers.systemd.calendar import (
    convert_schedule,
    on_calendar_lines,
)
from crontopus.drivers.systemd.dst import (
    find_dst_differences,
    systemd_fire_times,
    unreliable_gap_times,
)
from crontopus.drivers.transitions import zone_transitions
from tests.drivers.systemd.conftest import SystemdOracle

NOW = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


def test_it_finds_the_transitions_of_a_zone() -> None:
    transitions = zone_transitions(load_timezone("Europe/Berlin"), NOW, NOW + timedelta(days=365))
    assert [t.instant for t in transitions] == [
        datetime(2026, 3, 29, 1, 0, tzinfo=UTC),
        datetime(2026, 10, 25, 1, 0, tzinfo=UTC),
    ]
    spring, autumn = transitions
    assert spring.is_gap
    assert not autumn.is_gap
    assert spring.describe() == (
        "2026-03-29 in Europe/Berlin (clocks jump forward from 02:00 to 03:00)"
    )
    assert autumn.describe() == ("2026-10-25 in Europe/Berlin (clocks go back from 03:00 to 02:00)")


def test_a_zone_without_dst_has_no_transitions() -> None:
    assert zone_transitions(load_timezone("Asia/Tokyo"), NOW, NOW + timedelta(days=3650)) == []


@pytest.mark.parametrize(
    ("expression", "zone", "accept"),
    [
        ("30 2 * * *", "Europe/Berlin", False),  # a fixed time in the spring gap
        ("*/15 * * * *", "Europe/Berlin", False),  # a wildcard schedule in the repeated hour
        ("30 2 29 3 *", "Europe/Berlin", False),  # meets the gap in one year only
        ("0 2 * * *", "America/New_York", False),
        # systemd 252 fails calculations inside a gap that is not whole hours ("Infinite loop
        # in calendar calculation"): such schedules are gated even with the opt-in.
        ("50 2 * * *", "Pacific/Chatham", True),
        ("15 2 * * *", "Australia/Lord_Howe", False),
        ("*/15 * * * *", "Pacific/Chatham", True),
    ],
)
def test_where_systemd_and_cron_differ_the_timer_fires_a_gated_superset_in_utc(
    expression: str, zone: str, accept: bool
) -> None:
    conversion = convert_schedule(expression, zone, now=NOW, accept_dst_difference=accept)
    assert conversion.gated
    assert all(line.endswith(" UTC") for line in conversion.on_calendar)
    assert conversion.figures.runs_per_day is not None
    assert conversion.figures.wakes_per_day is not None
    assert conversion.figures.wakes_per_day <= 4 * conversion.figures.runs_per_day


def test_a_berlin_time_in_the_spring_gap_wakes_at_both_offsets_and_at_the_jump_on_its_day() -> None:
    conversion = convert_schedule("30 2 * * *", "Europe/Berlin", now=NOW)
    assert conversion.on_calendar == ("*-*-* 00,01:30:00 UTC", "Sun *-03-25..31 01:00:00 UTC")


def test_times_clear_of_a_chatham_gap_are_accepted() -> None:
    assert convert_schedule("0 4 * * *", "Pacific/Chatham", now=NOW).on_calendar


def test_it_accepts_a_wildcard_schedule_that_only_meets_a_gap() -> None:
    # Neither cron nor systemd catches up a wildcard job in a gap.
    assert convert_schedule("*/30 2 * 3 *", "Europe/Berlin", now=NOW).on_calendar


def test_it_accepts_a_fixed_time_in_the_repeated_hour() -> None:
    # Both run it once, in the first copy of the hour.
    assert convert_schedule("30 2 * 10 *", "Europe/Berlin", now=NOW).on_calendar


def test_it_accepts_a_time_that_no_transition_touches() -> None:
    conversion = convert_schedule("0 12 * * *", "Europe/Berlin", now=NOW)
    assert conversion.accepted_dst_differences == ()


def test_it_looks_only_as_far_as_the_horizon() -> None:
    # The US rules change transitions only from 2007 on, so no later rule change hides here:
    # one year ahead sees two transitions, and a date that meets neither is accepted.
    differences = find_dst_differences(
        parse_schedule("30 2 8 3 *"), "America/New_York", now=NOW, years=1
    )
    assert [d.transition.wall_before.date().isoformat() for d in differences] == ["2026-03-08"]
    later = datetime(2026, 3, 9, tzinfo=UTC)
    assert (
        find_dst_differences(parse_schedule("30 2 8 3 *"), "America/New_York", now=later, years=1)
        == []
    )


def test_the_opt_in_accepts_systemd_behaviour_and_keeps_the_differences() -> None:
    conversion = convert_schedule(
        "30 2 * * *", "Europe/Berlin", now=NOW, accept_dst_difference=True
    )
    assert conversion.on_calendar == ("*-*-* 02:30:00 Europe/Berlin",)
    assert len(conversion.accepted_dst_differences) == 5  # one spring gap per year


@pytest.mark.parametrize(
    ("expression", "zone", "instant"),
    [
        ("30 2 * * *", "Europe/Berlin", datetime(2026, 3, 29, 1, 0, tzinfo=UTC)),
        ("30 2 * * *", "Europe/Berlin", datetime(2026, 10, 25, 1, 0, tzinfo=UTC)),
        ("*/20 * * * *", "Europe/Berlin", datetime(2026, 10, 25, 1, 0, tzinfo=UTC)),
        ("*/20 * * * *", "Europe/Berlin", datetime(2026, 3, 29, 1, 0, tzinfo=UTC)),
        ("*/10 1-3 * * *", "America/New_York", datetime(2026, 11, 1, 6, 0, tzinfo=UTC)),
        ("0,30 2 * * *", "Australia/Lord_Howe", datetime(2026, 4, 4, 15, 0, tzinfo=UTC)),
        ("*/5 1,3 * * *", "Australia/Lord_Howe", datetime(2026, 10, 3, 15, 30, tzinfo=UTC)),
    ],
)
def test_the_systemd_model_matches_systemd_around_a_transition(
    systemd: SystemdOracle, expression: str, zone: str, instant: datetime
) -> None:
    lines = on_calendar_lines(parse_schedule(expression), zone)
    low, high = instant - timedelta(hours=4), instant + timedelta(hours=4)
    base = low - timedelta(seconds=30)
    elapses = [t for t in systemd.union(lines, base, 300) if t <= high]
    assert elapses == systemd_fire_times(parse_schedule(expression), zone, low, high)


@pytest.mark.parametrize(
    "zone", ["America/Santiago", "Asia/Beirut", "America/Havana", "Africa/Cairo", "Pacific/Chatham"]
)
@pytest.mark.parametrize(
    "expression",
    ["0 0 * * *", "*/30 * * * *", "30 0 * * *", "0 1 * * *", "59 23 * * *", "45 2 * * *"],
)
def test_the_systemd_model_holds_where_midnight_or_odd_hours_are_skipped(
    systemd: SystemdOracle, zone: str, expression: str
) -> None:
    schedule = parse_schedule(expression)
    (line,) = on_calendar_lines(schedule, zone)
    for transition in zone_transitions(load_timezone(zone), NOW, NOW + timedelta(days=365)):
        if unreliable_gap_times(schedule, transition):
            continue  # refused outright, whatever systemd does there
        low, high = transition.instant - timedelta(hours=3), transition.instant + timedelta(hours=3)
        predicted = systemd_fire_times(schedule, zone, low, high)
        elapses = systemd.elapses(line, low - timedelta(seconds=30), len(predicted) + 1)
        assert [t for t in elapses if t <= high] == predicted, transition.describe()
