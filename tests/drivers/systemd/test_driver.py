"""The systemd driver on a real unit directory, with systemctl behind a recording seam."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from uuid import UUID

import pytest

from crontopus.drivers import DesiredEntry, get_plugin_manager, load_drivers
from crontopus.drivers.errors import ConversionRefused
from crontopus.drivers.systemd.driver import SystemdDriver
from tests.drivers.systemd.conftest import SystemdOracle

JOB = UUID("550e8400-e29b-41d4-a716-446655440000")
OTHER = UUID("6ba7b810-9dad-41d1-80b4-00c04fd430c8")


class RecordingSystemctl:
    """Answer like systemctl would and remember each call (no user manager runs in CI)."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def run(self, argv: Sequence[str]) -> subprocess.CompletedProcess[bytes]:
        self.calls.append(list(argv))
        out = b"systemd 252 (252.38-1~deb12u1)\n+PAM\n" if "--version" in argv else b""
        return subprocess.CompletedProcess(list(argv), 0, out, b"")

    def verbs(self) -> list[list[str]]:
        return [call[2:] for call in self.calls if "--version" not in call]


def entry(
    job_id: UUID = JOB,
    schedule: str = "0 2 * * *",
    timezone: str | None = None,
    command: tuple[str, ...] = ("/bin/true", "run-job"),
) -> DesiredEntry:
    return DesiredEntry.build(job_id, "backup", schedule, timezone, [*command, str(job_id)])


@pytest.fixture
def systemctl() -> RecordingSystemctl:
    return RecordingSystemctl()


@pytest.fixture
def driver(tmp_path: Path, systemctl: RecordingSystemctl) -> SystemdDriver:
    return SystemdDriver(tmp_path / "units", runner=systemctl)


def test_it_writes_units_that_systemd_accepts_and_starts_the_timer(
    driver: SystemdDriver, systemctl: RecordingSystemctl, systemd: SystemdOracle
) -> None:
    driver.apply([entry(), entry(OTHER, "*/5 9-17 * * 1-5", "UTC")])
    timer = driver.unit_dir / f"crontopus-{JOB}.timer"
    service = driver.unit_dir / f"crontopus-{JOB}.service"
    assert systemd.verify(str(timer), str(service)) == ""
    assert "OnCalendar=*-*-* 02:00:00 UTC\n" in timer.read_text()
    assert systemctl.calls[0] == ["systemctl", "--user", "--version"]
    assert systemctl.verbs() == [
        ["daemon-reload"],
        ["enable", "--now", f"crontopus-{JOB}.timer", f"crontopus-{OTHER}.timer"],
    ]


def test_it_lists_what_it_manages_with_the_content_hash(driver: SystemdDriver) -> None:
    driver.apply([entry()])
    managed = driver.list_managed()
    assert set(managed) == {JOB}
    assert managed[JOB].content_hash == entry().content_hash


def test_a_timer_in_a_zone_with_clock_changes_is_installed_again_each_january(
    tmp_path: Path, systemctl: RecordingSystemctl
) -> None:
    # Its spelling of the clock changes comes from the years ahead of the day it was planned.
    wanted = entry(schedule="30 2 * * *", timezone="Europe/Berlin")
    december = SystemdDriver(tmp_path / "units", runner=systemctl, today=date(2026, 12, 31))
    december.apply([wanted, entry(OTHER, timezone="UTC")])
    assert december.list_managed()[JOB].content_hash == wanted.content_hash
    timer = (tmp_path / "units" / f"crontopus-{JOB}.timer").read_text()
    assert f"{wanted.content_hash}:renew:2027-01-01" in timer
    january = SystemdDriver(tmp_path / "units", runner=systemctl, today=date(2027, 1, 1))
    managed = january.list_managed()
    assert managed[JOB].content_hash != wanted.content_hash
    assert managed[OTHER].content_hash == entry(OTHER, timezone="UTC").content_hash  # no changes
    january.apply([wanted])
    assert january.list_managed()[JOB].content_hash == wanted.content_hash
    assert systemctl.verbs()[-2:] == [["daemon-reload"], ["restart", f"crontopus-{JOB}.timer"]]


def test_a_second_apply_with_nothing_changed_writes_and_calls_nothing(
    driver: SystemdDriver, systemctl: RecordingSystemctl
) -> None:
    driver.apply([entry()])
    timer = driver.unit_dir / f"crontopus-{JOB}.timer"
    before = timer.stat().st_mtime_ns
    calls = len(systemctl.verbs())
    driver.apply([entry()])
    assert timer.stat().st_mtime_ns == before
    assert len(systemctl.verbs()) == calls


def test_a_changed_schedule_rewrites_the_timer_and_restarts_it(
    driver: SystemdDriver, systemctl: RecordingSystemctl
) -> None:
    driver.apply([entry()])
    driver.apply([entry(schedule="30 3 * * *")])
    assert (
        "OnCalendar=*-*-* 03:30:00 UTC\n"
        in (driver.unit_dir / f"crontopus-{JOB}.timer").read_text()
    )
    assert systemctl.verbs()[-2:] == [["daemon-reload"], ["restart", f"crontopus-{JOB}.timer"]]


def test_remove_disables_the_timer_and_deletes_both_units(
    driver: SystemdDriver, systemctl: RecordingSystemctl
) -> None:
    driver.apply([entry(), entry(OTHER)])
    driver.remove([JOB, UUID(int=9)])
    assert sorted(p.name for p in driver.unit_dir.iterdir()) == [
        f"crontopus-{OTHER}.service",
        f"crontopus-{OTHER}.timer",
    ]
    assert systemctl.verbs()[-2:] == [
        ["disable", "--now", f"crontopus-{JOB}.timer"],
        ["daemon-reload"],
    ]


def test_a_refused_entry_writes_nothing_and_names_the_job(
    driver: SystemdDriver, systemctl: RecordingSystemctl
) -> None:
    # A systemd timer cannot run once per boot the way cron does.
    with pytest.raises(ConversionRefused, match=str(OTHER)) as refused:
        driver.apply([entry(), entry(OTHER, "@reboot", "Europe/Berlin")])
    assert "@reboot" in refused.value.reason
    assert not driver.unit_dir.exists()
    assert systemctl.verbs() == []


def test_the_system_scope_drops_the_user_flag(
    tmp_path: Path, systemctl: RecordingSystemctl
) -> None:
    SystemdDriver(tmp_path, scope="system", runner=systemctl).apply([entry()])
    assert systemctl.calls[-1][:3] == ["systemctl", "enable", "--now"]


def test_foreign_timers_are_listed_with_their_command_and_left_alone(driver: SystemdDriver) -> None:
    driver.apply([entry()])
    (driver.unit_dir / "logrotate.timer").write_text(
        "[Timer]\nOnCalendar=*-*-* 00:00:00\nOnCalendar=Mon *-*-* 12:00\n"
    )
    (driver.unit_dir / "logrotate.service").write_text(
        "[Service]\nExecStart=/usr/sbin/logrotate /etc/logrotate.conf\n"
    )
    (foreign,) = driver.list_foreign()
    assert foreign.driver == "systemd"
    assert foreign.schedule == "*-*-* 00:00:00; Mon *-*-* 12:00"
    assert foreign.command == "/usr/sbin/logrotate /etc/logrotate.conf"
    assert foreign.timezone is None
    driver.remove([JOB])
    assert sorted(p.name for p in driver.unit_dir.iterdir()) == [
        "logrotate.service",
        "logrotate.timer",
    ]


def test_a_foreign_timer_with_one_zone_on_every_line_reports_that_zone(
    driver: SystemdDriver,
) -> None:
    driver.unit_dir.mkdir(parents=True)
    (driver.unit_dir / "report.timer").write_text(
        "[Timer]\nOnCalendar=Mon *-*-* 08:00 Europe/Berlin\nOnCalendar=*-*-01 08:00 Europe/Berlin\n"
    )
    (foreign,) = driver.list_foreign()
    assert foreign.timezone == "Europe/Berlin"
    assert foreign.command == "report.service"


def test_convert_gives_the_lines_and_the_timer_text(driver: SystemdDriver) -> None:
    native = driver.convert("0 0 1-7 * 1", "UTC").to_json()
    assert native["driver"] == "systemd"
    assert native["native"]["on_calendar"] == [
        "*-*-01..07 00:00:00 UTC",
        "Mon *-*-* 00:00:00 UTC",
    ]
    assert "AccuracySec=1us" in native["native"]["timer"]


def test_an_old_systemd_is_refused_at_apply(tmp_path: Path, systemctl: RecordingSystemctl) -> None:
    driver = SystemdDriver(tmp_path, runner=systemctl, systemd_version=234)
    with pytest.raises(ConversionRefused, match="systemd 234"):
        driver.apply([entry()])


def test_options_choose_the_directory_and_scope(tmp_path: Path) -> None:
    driver = SystemdDriver.from_options({"unit_dir": str(tmp_path), "scope": "system"})
    assert driver.unit_dir == tmp_path
    assert driver.scope == "system"


def test_the_availability_answer_always_carries_a_reason(driver: SystemdDriver) -> None:
    availability = driver.available()
    assert availability.reason


def test_the_plugin_registers_the_driver_through_its_entry_point() -> None:
    assert load_drivers(get_plugin_manager())["systemd"] is SystemdDriver
