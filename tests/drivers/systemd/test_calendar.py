"""The OnCalendar= conversion, checked against the real systemd-analyze and the core evaluator."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crontopus.core.schedule import next_fire_times, parse_schedule
from crontopus.drivers.errors import ConversionRefused
from crontopus.drivers.systemd.calendar import (
    convert_schedule,
    on_calendar_lines,
    render_values,
    render_weekdays,
)
from tests.drivers.systemd.conftest import SystemdOracle

# Not on a whole minute, so "strictly after" cannot differ between the two evaluators.
BASE = datetime(2026, 2, 20, 10, 17, 30, tzinfo=UTC)

# (expression, zone, how many fire times to compare)
TRICKY = [
    ("* * * * *", "UTC", 200),
    ("*/7 * * * *", "UTC", 200),
    ("*/35 * * * *", "UTC", 100),
    ("5-59/15 * * * *", "UTC", 100),
    ("5-40/15 * * * *", "UTC", 100),
    ("1-5,10-12/2,59 * * * *", "UTC", 200),
    ("0 */5 * * *", "UTC", 100),
    ("0 */7 * * *", "UTC", 100),
    ("15,45 9-17 * * 1-5", "UTC", 200),
    ("0 0 1 * *", "UTC", 40),
    ("0 0 31 * *", "UTC", 40),
    ("0 0 30 * *", "UTC", 40),
    ("0 0 29 2 *", "UTC", 6),
    ("0 0 */2 * *", "UTC", 100),
    ("0 0 */10 * *", "UTC", 60),
    ("0 0 1 */3 *", "UTC", 20),
    ("0 0 */2 * 1", "UTC", 40),
    ("0 0 1-7 * */7", "UTC", 40),
    ("0 0 1-7 * 1", "UTC", 80),
    ("0 0 1,15 * 5", "UTC", 80),
    ("0 0 13 * 5", "UTC", 80),
    ("0 0 1-31 * 1", "UTC", 40),
    ("0 0 * * 0", "UTC", 20),
    ("0 0 * * 7", "UTC", 20),
    ("0 0 * * 0,7", "UTC", 20),
    ("0 22 * * 5-7", "UTC", 40),
    ("0 0 * * 6,0", "UTC", 40),
    ("0 6 * jan,jul mon", "UTC", 40),
    ("0 6 * JAN-MAR MON-FRI", "UTC", 40),
    ("30 4 1,15 feb-apr sun", "UTC", 40),
    ("0 0 * * */2", "UTC", 40),
    ("0 12 */3 * */2", "UTC", 40),
    ("0 12 2-30/3 * 1,3", "UTC", 60),
    ("@hourly", "UTC", 50),
    ("@daily", "UTC", 20),
    ("@midnight", "UTC", 20),
    ("@weekly", "UTC", 20),
    ("@monthly", "UTC", 20),
    ("@yearly", "UTC", 5),
    ("@annually", "UTC", 5),
    ("0 12 * * *", "Europe/Berlin", 60),
    ("0 9 * * 1-5", "America/New_York", 60),
    ("0 3 * * 0", "Europe/Berlin", 60),
    ("30 1 * * *", "Australia/Lord_Howe", 60),
    ("*/10 * * * *", "Asia/Kolkata", 200),
    ("0 0 1-7 * 1", "Asia/Kathmandu", 40),
    ("45 23 31 12 *", "Pacific/Chatham", 4),
    ("*/30 2 * 3 *", "Europe/Berlin", 120),
    ("30 2 * 10 *", "Europe/Berlin", 60),
]


@pytest.mark.parametrize(("expression", "zone", "count"), TRICKY)
def test_the_timer_fires_exactly_when_cron_would(
    systemd: SystemdOracle, expression: str, zone: str, count: int
) -> None:
    conversion = convert_schedule(expression, zone, now=BASE)
    expected = [t.astimezone(UTC) for t in next_fire_times(expression, zone, BASE, count)]
    assert len(expected) == count
    assert systemd.union(conversion.on_calendar, BASE, count) == expected


def test_it_writes_the_zone_on_every_line_even_utc() -> None:
    lines = convert_schedule("0 0 1,15 * 5", "UTC", now=BASE).on_calendar
    assert lines == ("*-*-01,15 00:00:00 UTC", "Fri *-*-* 00:00:00 UTC")


def test_it_splits_the_day_or_into_two_lines() -> None:
    lines = on_calendar_lines(parse_schedule("0 0 1-7 * 1"), "UTC")
    assert lines == ("*-*-01..07 00:00:00 UTC", "Mon *-*-* 00:00:00 UTC")


def test_it_keeps_the_day_and_in_one_line_when_a_day_field_starts_with_a_star() -> None:
    assert on_calendar_lines(parse_schedule("0 0 1-7 * */7"), "UTC") == (
        "Sun *-*-01..07 00:00:00 UTC",
    )
    odd_days = ",".join(f"{d:02d}" for d in range(1, 32, 2))
    assert on_calendar_lines(parse_schedule("0 0 */2 * 1"), "UTC") == (
        f"Mon *-*-{odd_days} 00:00:00 UTC",
    )


def test_it_writes_weekday_ranges_as_explicit_lists() -> None:
    assert on_calendar_lines(parse_schedule("0 22 * * 5-7"), "UTC") == (
        "Fri,Sat,Sun *-*-* 22:00:00 UTC",
    )


def test_it_never_emits_a_shorthand() -> None:
    for macro in ("@hourly", "@daily", "@weekly", "@monthly", "@yearly"):
        (line,) = on_calendar_lines(parse_schedule(macro), "UTC")
        assert line[0] in "*0123456789S"
        assert not any(word in line for word in ("hourly", "daily", "weekly", "monthly"))
    assert on_calendar_lines(parse_schedule("@weekly"), "UTC") == ("Sun *-*-* 00:00:00 UTC",)


def test_it_spells_steps_as_explicit_values_because_systemd_drops_them_after_a_carry(
    systemd: SystemdOracle,
) -> None:
    late = datetime(2026, 2, 28, 23, 50, 30, tzinfo=UTC)
    # systemd 252 misses 00:00 with its own repetition syntax; the explicit list does not.
    assert render_values(range(0, 60, 35), 0, 59) == "00,35"
    (line,) = on_calendar_lines(parse_schedule("*/35 * * * *"), "UTC")
    assert systemd.elapses(line, late, 1) == [datetime(2026, 3, 1, 0, 0, tzinfo=UTC)]
    assert render_values(range(0, 24, 5), 0, 23) == "00,05,10,15,20"
    assert render_values(range(1, 32, 2), 1, 31) == ",".join(f"{d:02d}" for d in range(1, 32, 2))


def test_runs_of_consecutive_values_become_ranges() -> None:
    assert render_values([1, 2, 3, 4, 5, 10, 12, 59], 0, 59) == "01..05,10,12,59"
    assert render_values([1, 2], 0, 59) == "01,02"
    assert render_values(range(60), 0, 59) == "*"


def test_weekdays_are_named_monday_first() -> None:
    assert render_weekdays({0, 1, 6}) == "Mon,Sat,Sun"


def test_it_refuses_reboot_and_points_to_the_cron_driver() -> None:
    with pytest.raises(ConversionRefused, match="@reboot") as refused:
        convert_schedule("@reboot", "UTC", now=BASE)
    assert "cron driver" in refused.value.reason


def test_it_refuses_a_systemd_too_old_for_zone_suffixes() -> None:
    with pytest.raises(ConversionRefused, match=r"systemd 234 .* 235"):
        convert_schedule("0 0 * * *", "UTC", systemd_version=234, now=BASE)


def test_the_installed_systemd_accepts_zone_suffixes(systemd: SystemdOracle) -> None:
    assert systemd.version >= 235
    assert convert_schedule("0 0 * * *", "UTC", systemd_version=systemd.version, now=BASE)
