"""Registers the Task Scheduler driver; loaded through the entry point `taskscheduler`."""

from __future__ import annotations

from crontopus.drivers.contract import Driver
from crontopus.drivers.hookspecs import hookimpl
from crontopus.drivers.taskscheduler.driver import TaskSchedulerDriver


@hookimpl
def crontopus_driver_classes() -> list[type[Driver]]:
    """Provide the Task Scheduler driver (it reports itself unavailable off Windows)."""
    return [TaskSchedulerDriver]


@hookimpl
def crontopus_default_driver(platform: str) -> str | None:
    """Recommend Task Scheduler on Windows."""
    return TaskSchedulerDriver.name if platform == "win32" else None
