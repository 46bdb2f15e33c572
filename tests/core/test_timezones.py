"""Time zones: IANA names only, case-sensitive, with a hint for near misses."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from crontopus.core.errors import ScheduleError, TimezoneError
from crontopus.core.schedule import load_timezone
from crontopus.core.timezones import known_timezones, timezone_problem


@pytest.mark.parametrize(
    "name", ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Etc/GMT+5", "US/Eastern"]
)
def test_it_loads_iana_zones(name: str) -> None:
    assert load_timezone(name) == ZoneInfo(name)
    assert timezone_problem(name) is None


def test_no_zone_means_utc() -> None:
    assert load_timezone(None) == ZoneInfo("UTC")
    assert load_timezone("") == ZoneInfo("UTC")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Europe/Berln", 'unknown time zone "Europe/Berln": did you mean "Europe/Berlin"?'),
        (
            "europe/berlin",
            'unknown time zone "europe/berlin": zone names are case-sensitive, use "Europe/Berlin"',
        ),
        (
            "Mars/Olympus",
            'unknown time zone "Mars/Olympus": use an IANA name such as "Europe/Berlin"',
        ),
        # Present as files on many systems, but not zones a job can be scheduled in.
        ("localtime", 'unknown time zone "localtime": use an IANA name such as "Europe/Berlin"'),
        ("posixrules", 'unknown time zone "posixrules": use an IANA name such as "Europe/Berlin"'),
        ("../../etc/passwd", 'unknown time zone "../../etc/passwd"'),
        ("+02:00", 'unknown time zone "+02:00"'),
    ],
)
def test_it_refuses_unknown_zones(name: str, message: str) -> None:
    with pytest.raises(TimezoneError) as caught:
        load_timezone(name)
    assert str(caught.value).startswith(message)
    assert isinstance(caught.value, ScheduleError)


def test_a_zone_must_be_a_string() -> None:
    assert timezone_problem(2) == ('a time zone must be a string such as "Europe/Berlin", not int')


def test_the_zone_list_comes_from_the_zone_database() -> None:
    zones = known_timezones()
    assert "Europe/Berlin" in zones
    assert "UTC" in zones
    assert "localtime" not in zones
    assert len(zones) > 300
