"""The Task Scheduler driver uses the entry's timeout, concurrency and DST opt-in."""

from __future__ import annotations

from uuid import UUID

from crontopus.core.enums import Concurrency
from crontopus.drivers import DesiredEntry
from crontopus.drivers.taskscheduler.driver import TaskSchedulerDriver
from tests.drivers.taskscheduler.conftest import FakeSchtasks

JOB = UUID("550e8400-e29b-41d4-a716-446655440000")
TASK = f"\\Crontopus\\crontopus-{JOB}"
AGENT = "C:\\Crontopus\\crontopus-agent.exe"


def entry(
    schedule: str = "0 3 * * *",
    timezone: str = "UTC",
    *,
    accept_dst_difference: bool = False,
    timeout: int | None = None,
    concurrency: str = Concurrency.ALLOW.value,
) -> DesiredEntry:
    argv = [AGENT, "run-job", str(JOB)]
    return DesiredEntry.build(
        JOB,
        "backup",
        schedule,
        timezone,
        argv,
        accept_dst_difference=accept_dst_difference,
        timeout=timeout,
        concurrency=concurrency,
    )


def applied_xml(
    fake_schtasks: FakeSchtasks,
    machine: str = "UTC",
    *,
    timeout: int | None = None,
    concurrency: str = Concurrency.ALLOW.value,
) -> str:
    driver = TaskSchedulerDriver(fake_schtasks, machine_timezone=machine)
    driver.apply([entry(timeout=timeout, concurrency=concurrency)])
    return fake_schtasks.tasks[TASK]


def test_by_default_a_task_runs_alongside_itself_without_a_time_limit(
    fake_schtasks: FakeSchtasks,
) -> None:
    xml = applied_xml(fake_schtasks)
    assert "<MultipleInstancesPolicy>Parallel</MultipleInstancesPolicy>" in xml
    assert "<ExecutionTimeLimit>PT0S</ExecutionTimeLimit>" in xml


def test_a_timeout_limits_the_task_to_it_plus_the_wrappers_margin(
    fake_schtasks: FakeSchtasks,
) -> None:
    xml = applied_xml(fake_schtasks, timeout=3600)
    assert "<ExecutionTimeLimit>PT1H5M</ExecutionTimeLimit>" in xml


def test_forbid_ignores_a_new_start_while_a_run_goes_on(fake_schtasks: FakeSchtasks) -> None:
    xml = applied_xml(fake_schtasks, concurrency="forbid")
    assert "<MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>" in xml


def test_a_changed_timeout_registers_the_task_again(fake_schtasks: FakeSchtasks) -> None:
    driver = TaskSchedulerDriver(fake_schtasks, machine_timezone="UTC")
    driver.apply([entry(timeout=60)])
    driver.apply([entry(timeout=120)])
    creates = [call for call in fake_schtasks.calls if call[1] == "/Create"]
    assert len(creates) == 2
    assert "<ExecutionTimeLimit>PT7M</ExecutionTimeLimit>" in fake_schtasks.tasks[TASK]


def test_without_the_opt_in_a_dst_difference_runs_gated(fake_schtasks: FakeSchtasks) -> None:
    driver = TaskSchedulerDriver(fake_schtasks, machine_timezone="Europe/Berlin")
    berlin = entry("0 */2 * * *", "Europe/Berlin")
    driver.check(berlin)
    driver.apply([berlin])
    assert f"<Arguments>run-job {JOB} --gate</Arguments>" in fake_schtasks.tasks[TASK]


def test_with_the_opt_in_the_task_runs_natively_under_task_schedulers_rules(
    fake_schtasks: FakeSchtasks,
) -> None:
    driver = TaskSchedulerDriver(fake_schtasks, machine_timezone="Europe/Berlin")
    berlin = entry("0 */2 * * *", "Europe/Berlin", accept_dst_difference=True)
    driver.check(berlin)
    driver.apply([berlin])
    assert driver.list_managed()[JOB].content_hash == berlin.content_hash
    assert f"<Arguments>run-job {JOB}</Arguments>" in fake_schtasks.tasks[TASK]
