"""Convert a Crontopus schedule to a crontab schedule and the environment lines it needs."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from crontopus.core.errors import ScheduleError
from crontopus.core.schedule import CronSchedule, load_timezone, parse_schedule
from crontopus.drivers.contract import NativeSchedule
from crontopus.drivers.cron.crontab import CRON_TZ
from crontopus.drivers.cron.machine import (
    CronTzSupport,
    detect_cron_tz_support,
    machine_timezone,
    same_zone,
)
from crontopus.drivers.errors import ConversionRefused

DRIVER_NAME = "cron"


@dataclass(frozen=True)
class CronSchedulePlan:
    """A schedule as crontab text: the schedule fields and the lines that must precede it."""

    line: str
    environment: tuple[str, ...]

    def native(self) -> NativeSchedule:
        """Return the `{"line", "environment"}` form `drivers convert` prints."""
        return NativeSchedule(
            DRIVER_NAME, {"line": self.line, "environment": list(self.environment)}
        )


class CronConverter:
    """Turn schedules into crontab lines for this machine's cron and zone.

    `cron_tz` and `machine_zone` default to what the machine says, asked once and only
    when a job's zone differs from the machine's.
    """

    def __init__(self, *, cron_tz: bool | None = None, machine_zone: str | None = None) -> None:
        self._cron_tz = cron_tz
        self._machine_zone = machine_zone

    @functools.cached_property
    def cron_tz(self) -> CronTzSupport:
        """Return whether CRON_TZ works here (configured, or detected from the installed cron)."""
        if self._cron_tz is not None:
            verdict = "honours" if self._cron_tz else "ignores"
            option = "yes" if self._cron_tz else "no"
            return CronTzSupport(
                self._cron_tz,
                f"the cron driver option cron_tz={option} says this cron {verdict} CRON_TZ",
            )
        return detect_cron_tz_support()

    @functools.cached_property
    def machine_zone(self) -> str | None:
        """Return the machine's zone name (configured, or read from /etc/localtime)."""
        return self._machine_zone or machine_timezone()

    def plan(self, schedule: str, timezone: str | None) -> CronSchedulePlan:
        """Return the crontab form of `schedule` in `timezone`, or raise ConversionRefused."""
        try:
            parsed = parse_schedule(schedule)
        except ScheduleError as exc:
            raise ConversionRefused(str(exc)) from exc
        line = "@reboot" if parsed.reboot else parsed.expression
        return CronSchedulePlan(line, self._environment(parsed, timezone))

    def machine_zone_environment(self) -> tuple[str, ...]:
        """Return the CRON_TZ line that pins an entry to the machine's own zone."""
        zone = self.machine_zone
        if zone is None:
            raise ConversionRefused(
                "the crontab sets CRON_TZ above Crontopus' entries and the machine's own zone"
                " cannot be named (/etc/localtime is not a link into zoneinfo and"
                " /etc/timezone is empty): set the cron driver option machine_zone"
            )
        try:
            load_timezone(zone)
        except ScheduleError as exc:
            raise ConversionRefused(f"the machine's zone: {exc}") from exc
        return (f"{CRON_TZ}={zone}",)

    def _environment(self, parsed: CronSchedule, timezone: str | None) -> tuple[str, ...]:
        if parsed.reboot or timezone is None:
            # @reboot has no time of day, so no zone can change when it runs.
            return ()
        try:
            load_timezone(timezone)
        except ScheduleError as exc:
            raise ConversionRefused(str(exc)) from exc
        machine = self.machine_zone
        if machine is not None and same_zone(timezone, machine):
            return ()
        if not self.cron_tz.supported:
            here = f"the machine runs in {machine}" if machine else "the machine's zone is unknown"
            raise ConversionRefused(
                f'time zone "{timezone}": {here}, and {self.cron_tz.evidence}, so cron cannot'
                f' run "{parsed.source}" in {timezone}: set the job\'s timezone to'
                f" {machine or 'the machine zone'}, use a driver with zone support (systemd),"
                " or set the cron driver option cron_tz=yes if this cron honours CRON_TZ"
            )
        return (f"{CRON_TZ}={timezone}",)
