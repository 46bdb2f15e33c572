"""How each built-in driver would run a schedule, away from the machine: for previews.

`crontopus schedule next` asks this before a job exists. The machine is described by the zone
its clock runs in; cron is taken to be Debian's, which ignores `CRON_TZ` (cronie would run
another zone natively), and systemd to be 235 or newer (zones in `OnCalendar=`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crontopus.drivers.cron.convert import CronConverter
from crontopus.drivers.errors import ConversionRefused
from crontopus.drivers.superset import GateFigures
from crontopus.drivers.systemd.calendar import convert_schedule as systemd_convert
from crontopus.drivers.taskscheduler.convert import convert_schedule as task_convert

DRIVERS = ("cron", "systemd", "taskscheduler")


@dataclass(frozen=True)
class DriverPreview:
    """One driver's way of running a schedule: its figures, or why it refuses."""

    driver: str
    figures: GateFigures
    refused: str | None = None

    def describe(self) -> str:
        """Say in words how the driver runs the schedule."""
        if self.refused is not None:
            return f"refused: {self.refused}"
        if not self.figures.is_gated:
            return "native"
        return (
            f"gated: runs {self.figures.runs_per_day} of {self.figures.wakes_per_day} firings a day"
        )

    def to_json(self) -> dict[str, Any]:
        """Return `{"mode": ...}` as `drivers convert --json` does, or mode "refused"."""
        if self.refused is not None:
            return {"mode": "refused", "reason": self.refused}
        return self.figures.to_json()


def preview(schedule: str, timezone: str, machine_zone: str) -> list[DriverPreview]:
    """Return how cron, systemd and Task Scheduler would run `schedule` in `timezone` on a
    machine whose clock runs in `machine_zone` (both zones already valid)."""
    found: list[DriverPreview] = []
    for driver in DRIVERS:
        try:
            found.append(DriverPreview(driver, _figures(driver, schedule, timezone, machine_zone)))
        except ConversionRefused as refused:
            found.append(DriverPreview(driver, GateFigures.native(), refused.reason))
    return found


def _figures(driver: str, schedule: str, timezone: str, machine_zone: str) -> GateFigures:
    if driver == "cron":
        converter = CronConverter(cron_tz=False, machine_zone=machine_zone)
        return converter.plan(schedule, timezone).figures
    if driver == "systemd":
        return systemd_convert(schedule, timezone).figures
    return task_convert(schedule, timezone, machine_timezone=machine_zone).figures
