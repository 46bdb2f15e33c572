"""`schedule next`: offline previews with cron's own daylight-saving behaviour."""

from __future__ import annotations

from tests.clients.conftest import Cli


def test_it_prints_the_next_fire_times_in_the_zone(cli: Cli) -> None:
    result = cli("schedule", "next", "30 2 * * *", "--timezone", "Europe/Berlin",
                 "--after", "2026-03-28T00:00:00Z", "--count", "3")  # fmt: skip
    assert result.code == 0, result.err
    # On the spring-forward day 02:30 does not exist; cron runs the job at 03:00.
    assert result.out.splitlines()[:3] == [
        "2026-03-28T02:30:00+01:00",
        "2026-03-29T03:00:00+02:00",
        "2026-03-30T02:30:00+02:00",
    ]


def test_it_says_how_each_driver_runs_the_schedule_on_a_machine_in_another_zone(cli: Cli) -> None:
    result = cli("schedule", "next", "30 2 * * *", "--timezone", "Europe/Berlin", "--count", "1")
    assert result.code == 0, result.err
    # 00:30 UTC in summer, 01:30 in winter, 01:00 on the day Berlin skips 02:30.
    assert result.out.splitlines()[1:] == [
        "",
        "on a machine whose clock runs in UTC:",
        "  cron           gated: runs 1 of 3 firings a day",
        "  systemd        gated: runs 1 of 3 firings a day",
        "  taskscheduler  gated: runs 1 of 3 firings a day",
    ]


def test_on_a_machine_in_the_jobs_zone_cron_and_systemd_run_natively(cli: Cli) -> None:
    result = cli("schedule", "next", "0 12 * * 1-5", "--timezone", "Europe/Berlin",
                 "--machine-zone", "Europe/Berlin", "--count", "1", "--json")  # fmt: skip
    assert result.code == 0, result.err
    document = result.json()
    assert document["machineZone"] == "Europe/Berlin"
    assert document["drivers"] == {
        "cron": {"mode": "native"},
        "systemd": {"mode": "native"},
        "taskscheduler": {"mode": "native"},
    }


def test_a_driver_that_cannot_run_the_schedule_says_why(cli: Cli) -> None:
    result = cli("schedule", "next", "@reboot", "--json")
    drivers = result.json()["drivers"]
    assert drivers["cron"] == {"mode": "native"}
    assert drivers["systemd"]["mode"] == "refused"
    assert "once per boot" in drivers["systemd"]["reason"]


def test_json_names_the_expanded_expression(cli: Cli) -> None:
    result = cli("schedule", "next", "@weekly", "--after", "2026-01-01T00:00:00", "--count",
                 "1", "--json")  # fmt: skip
    assert result.json() == {
        "schedule": "@weekly",
        "expression": "0 0 * * 0",
        "timezone": "UTC",
        "nextRuns": ["2026-01-04T00:00:00+00:00"],
        "machineZone": "UTC",
        "drivers": {
            "cron": {"mode": "native"},
            "systemd": {"mode": "native"},
            "taskscheduler": {"mode": "native"},
        },
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
    machine = cli("schedule", "next", "* * * * *", "--machine-zone", "Mars/Olympus")
    assert machine.code == 1
    assert machine.err.startswith("crontopus: error: --machine-zone: ")


def test_reboot_never_fires_on_a_calendar(cli: Cli) -> None:
    result = cli("schedule", "next", "@reboot")
    assert result.code == 0
    assert result.out.startswith("\non a machine whose clock runs in UTC:")
    assert "never fires on a calendar" in result.err
