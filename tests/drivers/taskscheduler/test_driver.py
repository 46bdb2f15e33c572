"""The Task Scheduler driver on a stand-in schtasks: apply, list, remove, convert."""

from __future__ import annotations

from datetime import date
from uuid import UUID

import pytest

from crontopus.drivers import DesiredEntry, get_plugin_manager, load_drivers
from crontopus.drivers.errors import ConversionRefused, PermanentDriverError
from crontopus.drivers.taskscheduler.driver import TaskSchedulerDriver
from crontopus.drivers.taskscheduler.xml import parse_task
from tests.drivers.taskscheduler.conftest import FakeSchtasks

JOB = UUID("550e8400-e29b-41d4-a716-446655440000")
OTHER = UUID("6ba7b810-9dad-41d1-80b4-00c04fd430c8")
AGENT = "C:\\Crontopus\\crontopus-agent.exe"


def entry(
    job_id: UUID = JOB, schedule: str = "*/15 * * * *", timezone: str | None = None
) -> DesiredEntry:
    return DesiredEntry.build(job_id, "backup", schedule, timezone, [AGENT, "run-job", str(job_id)])


def test_it_is_unavailable_off_windows_with_a_reason(fake_schtasks: FakeSchtasks) -> None:
    availability = TaskSchedulerDriver(fake_schtasks, platform="linux").available()
    assert not availability
    assert "only on Windows" in availability.reason


def test_it_applies_lists_and_removes_a_task(fake_schtasks: FakeSchtasks) -> None:
    driver = TaskSchedulerDriver(fake_schtasks, machine_timezone="UTC")
    driver.apply([entry(), entry(OTHER, "0 2 * * 1-5")])
    assert set(fake_schtasks.tasks) == {
        f"\\Crontopus\\crontopus-{JOB}",
        f"\\Crontopus\\crontopus-{OTHER}",
    }
    managed = driver.list_managed()
    assert set(managed) == {JOB, OTHER}
    assert managed[JOB].content_hash == entry().content_hash
    driver.remove([JOB, UUID(int=7)])
    assert set(driver.list_managed()) == {OTHER}


def test_a_second_apply_with_nothing_changed_registers_nothing(fake_schtasks: FakeSchtasks) -> None:
    driver = TaskSchedulerDriver(fake_schtasks, machine_timezone="UTC")
    driver.apply([entry()])
    creates = len([c for c in fake_schtasks.calls if c[1] == "/Create"])
    driver.apply([entry()])
    assert len([c for c in fake_schtasks.calls if c[1] == "/Create"]) == creates == 1


def test_a_task_on_a_machine_with_clock_changes_is_registered_again_each_january(
    fake_schtasks: FakeSchtasks,
) -> None:
    # Its spelling of the clock changes comes from the years ahead of the day it was planned.
    wanted, fixed = entry(timezone="Europe/Berlin"), entry(OTHER, timezone="Asia/Kolkata")

    def driver_on(today: date, machine: str) -> TaskSchedulerDriver:
        return TaskSchedulerDriver(fake_schtasks, machine_timezone=machine, today=today)

    driver_on(date(2026, 12, 31), "Europe/Berlin").apply([wanted])
    driver_on(date(2026, 12, 31), "Asia/Kolkata").apply([fixed])
    managed = driver_on(date(2026, 12, 31), "Europe/Berlin").list_managed()
    assert managed[JOB].content_hash == wanted.content_hash
    managed = driver_on(date(2027, 1, 1), "Europe/Berlin").list_managed()
    assert managed[JOB].content_hash != wanted.content_hash
    # Kolkata has had no clock change for decades: planned once for good.
    managed = driver_on(date(2027, 1, 1), "Asia/Kolkata").list_managed()
    assert managed[OTHER].content_hash == fixed.content_hash


def test_a_changed_schedule_replaces_the_task(fake_schtasks: FakeSchtasks) -> None:
    driver = TaskSchedulerDriver(fake_schtasks, machine_timezone="UTC")
    driver.apply([entry()])
    driver.apply([entry(schedule="0 3 * * *")])
    summary = parse_task(fake_schtasks.tasks[f"\\Crontopus\\crontopus-{JOB}"])
    assert len(summary.triggers) == 1
    assert summary.triggers[0].start.hour == 3  # type: ignore[union-attr]


def test_a_refused_entry_registers_nothing_and_names_the_job(fake_schtasks: FakeSchtasks) -> None:
    driver = TaskSchedulerDriver(fake_schtasks, machine_timezone="UTC")
    with pytest.raises(ConversionRefused, match=str(OTHER)) as refused:
        driver.apply([entry(), entry(OTHER, "5/15 * * * *", "UTC")])
    assert 'use "5-59/15"' in refused.value.reason
    assert fake_schtasks.tasks == {}


def test_a_job_in_another_zone_runs_gated_from_utc_triggers(fake_schtasks: FakeSchtasks) -> None:
    driver = TaskSchedulerDriver(fake_schtasks, machine_timezone="UTC")
    driver.apply([entry(OTHER, "30 2 * * *", "Europe/Berlin")])
    summary = parse_task(fake_schtasks.tasks[f"\\Crontopus\\crontopus-{OTHER}"])
    assert summary.arguments == f"run-job {OTHER} --gate"
    assert all(t.utc for t in summary.triggers)  # type: ignore[union-attr]


def test_foreign_tasks_are_listed_but_windows_own_are_not(fake_schtasks: FakeSchtasks) -> None:
    driver = TaskSchedulerDriver(fake_schtasks, machine_timezone="UTC")
    driver.apply([entry()])
    foreign_xml = fake_schtasks.tasks[f"\\Crontopus\\crontopus-{JOB}"].replace(
        f"crontopus-job={JOB}", "made by hand"
    )
    fake_schtasks.tasks["\\Nightly backup"] = foreign_xml
    fake_schtasks.tasks["\\Microsoft\\Windows\\Defrag\\ScheduledDefrag"] = foreign_xml
    (foreign,) = driver.list_foreign()
    assert foreign.user == "\\Nightly backup"
    assert foreign.schedule == "from 2000-01-01 00:00 UTC every 0:15:00"
    assert foreign.command.startswith(AGENT)
    assert driver.list_managed().keys() == {JOB}


def test_it_refuses_to_register_without_knowing_the_machine_zone(
    fake_schtasks: FakeSchtasks,
) -> None:
    driver = TaskSchedulerDriver(fake_schtasks, platform="win32")
    with pytest.raises(PermanentDriverError, match="machine_timezone is not set"):
        driver.apply([entry()])
    assert fake_schtasks.tasks == {}


def test_convert_previews_a_machine_in_the_job_zone_when_none_is_configured() -> None:
    native = TaskSchedulerDriver(platform="win32").convert("0 12 * * *", "Europe/Berlin").native
    assert native["machine_timezone"] == "Europe/Berlin"
    assert native["machine_timezone_assumed"] is True


def test_convert_prints_the_task_xml() -> None:
    native = TaskSchedulerDriver(platform="win32").convert("0 0 1-7 * */7", None).to_json()
    assert native["driver"] == "taskscheduler"
    assert "<ScheduleByMonthDayOfWeek>" in native["native"]["xml"]
    assert native["native"]["triggers"] == [
        "Sun of weeks 1 of months 1,2,3,4,5,6,7,8,9,10,11,12 at 00:00"
    ]


def test_the_machine_zone_comes_from_the_options() -> None:
    driver = TaskSchedulerDriver.from_options({"machine_timezone": "Europe/Berlin"})
    native = driver.convert("0 12 * * *", "Europe/Berlin").native
    assert native["machine_timezone"] == "Europe/Berlin"
    assert native["machine_timezone_assumed"] is False
    other = driver.convert("0 12 * * *", "UTC").to_json()
    assert other["mode"] == "gated"
    assert other["firingsPerDay"] == {"run": 1, "woken": 1}
    assert other["native"]["triggers"] == ["daily at 12:00 UTC"]


def test_the_plugin_registers_the_driver_through_its_entry_point() -> None:
    drivers = load_drivers(get_plugin_manager())
    assert drivers["taskscheduler"] is TaskSchedulerDriver


def test_on_windows_it_is_unavailable_until_the_machine_zone_is_set(
    fake_schtasks: FakeSchtasks,
) -> None:
    # /bin/true stands in for schtasks.exe on the PATH.
    driver = TaskSchedulerDriver(fake_schtasks, platform="win32", schtasks="/bin/true")
    assert "machine_timezone is not set" in driver.available().reason
    driver.machine_timezone = "Europe/Berlin"
    assert driver.available()
