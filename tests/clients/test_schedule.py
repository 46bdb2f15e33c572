"""`schedule next`: offline previews with cron's own daylight-saving behaviour."""

from __future__ import annotations

from tests.clients.conftest import Cli


def test_it_prints_the_next_fire_times_in_the_zone(cli: Cli) -> None:
    result = cli("schedule", "next", "30 2 * * *", "--timezone", "Europe/Berlin",
                 "--after", "2026-03-28T00:00:00Z", "--count", "3")  # fmt: skip
    assert result.code == 0, result.err
    # On the spring-forward day 02:30 does not exist; cron runs the job at 03:00.
    assert result.out.splitlines() == [
        "2026-03-28T02:30:00+01:00",
        "2026-03-29T03:00:00+02:00",
        "2026-03-30T02:30:00+02:00",
    ]


def test_json_names_the_expanded_expression(cli: Cli) -> None:
    result = cli("schedule", "next", "@weekly", "--after", "2026-01-01T00:00:00", "--count",
                 "1", "--json")  # fmt: skip
    assert result.json() == {
        "schedule": "@weekly",
        "expression": "0 0 * * 0",
        "timezone": "UTC",
        "nextRuns": ["2026-01-04T00:00:00+00:00"],
    }


def test_an_expression_cron_refuses_exits_1_with_the_fix(cli: Cli) -> None:
    result = cli("schedule", "next", "5/15 * * * *")
    assert result.code == 1
    assert result.err == (
        'crontopus: error: schedule: "5/15 * * * *" is not valid cron '
        '(a step needs a range or *: use "5-59/15")\n'
    )


def test_an_unknown_zone_and_a_bad_count_are_refused(cli: Cli) -> None:
    zone = cli("schedule", "next", "* * * * *", "--timezone", "Mars/Olympus")
    assert zone.code == 1
    assert "Mars/Olympus" in zone.err
    assert cli("schedule", "next", "* * * * *", "--count", "0").code == 2
    assert cli("schedule", "next", "* * * * *", "--after", "soon").code == 2


def test_reboot_never_fires_on_a_calendar(cli: Cli) -> None:
    result = cli("schedule", "next", "@reboot")
    assert (result.code, result.out) == (0, "")
    assert "never fires on a calendar" in result.err
