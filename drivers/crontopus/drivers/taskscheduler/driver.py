"""The Task Scheduler driver: one task per job in the `\\Crontopus\\` folder."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from typing import ClassVar
from uuid import UUID

from crontopus.core.enums import Concurrency
from crontopus.core.errors import ScheduleError
from crontopus.drivers.commands import CommandRunner, SubprocessRunner
from crontopus.drivers.contract import (
    Availability,
    DesiredEntry,
    Driver,
    ForeignEntry,
    InstalledEntry,
    NativeSchedule,
)
from crontopus.drivers.errors import ConversionRefused, PermanentDriverError
from crontopus.drivers.options import YES_NO, check_known, choice
from crontopus.drivers.renewal import installed_hash, next_january, stored_hash, utc_today
from crontopus.drivers.superset import GATE_FLAG, has_transitions
from crontopus.drivers.taskscheduler.convert import TriggerConversion, convert_schedule
from crontopus.drivers.taskscheduler.schtasks import Schtasks
from crontopus.drivers.taskscheduler.triggers import (
    WEEKDAY_ELEMENTS,
    BootTrigger,
    ByDay,
    ByMonth,
    ByMonthDayOfWeek,
    ByWeek,
    CalendarTrigger,
    TimeTrigger,
    Trigger,
)
from crontopus.drivers.taskscheduler.xml import (
    TASK_FOLDER,
    TaskDefinition,
    parse_task,
    render_task,
    task_name,
)

DRIVER_NAME = "taskscheduler"
# Windows' own tasks would flood discovery; they are the operating system's, not the user's.
_SYSTEM_FOLDERS = ("\\Microsoft\\",)
_OPTIONS = ("machine_timezone", "schtasks", "logon_type", "user_id", "accept_dst_differences")
_PLACEHOLDER_JOB = UUID(int=0)
_ZONE_UNSET = (
    "the taskscheduler driver option machine_timezone is not set: Task Scheduler follows the "
    "machine's clock, so Crontopus must know its IANA zone (e.g. Europe/Berlin; `tzutil /g` "
    "shows the Windows name of it)"
)


class TaskSchedulerDriver(Driver):
    """Manage Crontopus tasks in Windows Task Scheduler through `schtasks`."""

    name: ClassVar[str] = DRIVER_NAME
    description: ClassVar[str] = "Windows Task Scheduler, one task per job in \\Crontopus\\"

    def __init__(
        self,
        runner: CommandRunner | None = None,
        *,
        machine_timezone: str | None = None,
        schtasks: str = "schtasks.exe",
        logon_type: str = "S4U",
        user_id: str | None = None,
        accept_dst_differences: bool = False,
        platform: str | None = None,
        today: date | None = None,
    ) -> None:
        self._today = today
        self.schtasks = Schtasks(runner if runner is not None else SubprocessRunner(), schtasks)
        self.machine_timezone = machine_timezone
        self.logon_type = logon_type
        self.user_id = user_id
        self.accept_dst_differences = accept_dst_differences
        self.platform = platform if platform is not None else sys.platform

    @classmethod
    def from_options(cls, options: Mapping[str, str]) -> TaskSchedulerDriver:
        """Build from the agent's options (see _OPTIONS; accept_dst_differences is yes|no)."""
        check_known("taskscheduler", options, _OPTIONS)
        accept = choice("taskscheduler", options, "accept_dst_differences", YES_NO, "no")
        return cls(
            machine_timezone=options.get("machine_timezone"),
            schtasks=options.get("schtasks", "schtasks.exe"),
            logon_type=options.get("logon_type", "S4U"),
            user_id=options.get("user_id"),
            accept_dst_differences=accept,
        )

    def available(self) -> Availability:
        """Say whether this is Windows with `schtasks` on the PATH."""
        if self.platform != "win32":
            return Availability.no(
                f"Task Scheduler exists only on Windows (this machine is {self.platform}): "
                "use the cron or systemd driver"
            )
        found = shutil.which(self.schtasks.executable)
        if found is None:
            return Availability.no(f"{self.schtasks.executable} is not on the PATH")
        if self.machine_timezone is None:
            return Availability.no(_ZONE_UNSET)
        return Availability.yes(found)

    def convert_entry(
        self, schedule: str, timezone: str | None, accept: bool = False
    ) -> TriggerConversion:
        """Convert one schedule for this machine, or raise ConversionRefused."""
        if self.machine_timezone is None:
            raise PermanentDriverError(_ZONE_UNSET)
        return self._convert_for(schedule, timezone, self.machine_timezone, accept)

    def _convert_for(
        self, schedule: str, timezone: str | None, machine_timezone: str, accept: bool
    ) -> TriggerConversion:
        return convert_schedule(
            schedule,
            timezone or "UTC",
            machine_timezone=machine_timezone,
            accept_dst_difference=accept or self.accept_dst_differences,
        )

    def check(self, entry: DesiredEntry) -> None:
        """Raise ConversionRefused when the entry's schedule (with its DST opt-in) cannot be met."""
        self._entry_conversion(entry)

    def _entry_conversion(self, entry: DesiredEntry) -> TriggerConversion:
        try:
            return self.convert_entry(entry.schedule, entry.timezone, entry.accept_dst_difference)
        except ScheduleError as invalid:
            raise ConversionRefused(str(invalid), job_id=entry.job_id) from None
        except ConversionRefused as refused:
            raise ConversionRefused(refused.reason, job_id=entry.job_id) from None

    def _definition(self, entry: DesiredEntry, conversion: TriggerConversion) -> TaskDefinition:
        return TaskDefinition(
            job_id=entry.job_id,
            name=entry.name,
            triggers=conversion.triggers,
            command=entry.command[0],
            arguments=(*entry.command[1:], GATE_FLAG) if conversion.gated else entry.command[1:],
            content_hash=stored_hash(entry.content_hash, self._renewal(entry)),
            concurrency=Concurrency(entry.concurrency),
            timeout=None if entry.timeout is None else timedelta(seconds=entry.timeout),
            logon_type=self.logon_type,
            user_id=self.user_id,
        )

    def _renewal(self, entry: DesiredEntry) -> date | None:
        # The triggers' spelling of clock changes holds for the years looked at today.
        zones = (entry.timezone or "UTC", self.machine_timezone or "UTC")
        return next_january(self._date()) if any(map(has_transitions, zones)) else None

    def _date(self) -> date:
        return self._today or utc_today()

    def list_managed(self) -> dict[UUID, InstalledEntry]:
        """Return the tasks in `\\Crontopus\\` that carry a Crontopus marker."""
        managed: dict[UUID, InstalledEntry] = {}
        for listed in self.schtasks.query_all():
            if not listed.name.startswith(TASK_FOLDER):
                continue
            summary = parse_task(listed.xml)
            if summary.job_id is not None:
                digest = installed_hash(summary.content_hash or "", self._date())
                managed[summary.job_id] = InstalledEntry(summary.job_id, listed.xml, digest)
        return managed

    def list_foreign(self) -> list[ForeignEntry]:
        """Return the other tasks with a command, outside Windows' own folders."""
        foreign: list[ForeignEntry] = []
        for listed in self.schtasks.query_all():
            if listed.name.startswith(_SYSTEM_FOLDERS):
                continue
            summary = parse_task(listed.xml)
            if summary.managed or summary.command is None:
                continue
            command = summary.command + (f" {summary.arguments}" if summary.arguments else "")
            schedule = "; ".join(
                [describe_trigger(t) for t in summary.triggers]
                + [f"{kind} (not read)" for kind in summary.unsupported_triggers]
            )
            foreign.append(
                ForeignEntry.build(
                    DRIVER_NAME, schedule or "no trigger", command, listed.name, native=listed.xml
                )
            )
        return foreign

    def apply(self, entries: Sequence[DesiredEntry]) -> None:
        """Register each changed entry's task; convert them all before registering any."""
        planned: list[tuple[DesiredEntry, TriggerConversion]] = []
        for entry in entries:
            planned.append((entry, self._entry_conversion(entry)))
        installed = self.list_managed() if planned else {}
        for entry, conversion in planned:
            current = installed.get(entry.job_id)
            if current is not None and current.content_hash == entry.content_hash:
                continue
            self.schtasks.create(
                task_name(entry.job_id), render_task(self._definition(entry, conversion))
            )

    def remove(self, ids: Iterable[UUID]) -> None:
        """Delete the tasks of these jobs; unknown ids are ignored."""
        wanted = set(ids)
        if not wanted:
            return
        for job_id in sorted(wanted & set(self.list_managed()), key=str):
            self.schtasks.delete(task_name(job_id))

    def convert(self, schedule: str, timezone: str | None) -> NativeSchedule:
        """Return the task XML for a schedule (with a placeholder job), or refuse.

        Without a configured machine zone this previews a machine in the job's own zone, and
        says so.
        """
        assumed = self.machine_timezone is None
        machine = self.machine_timezone or timezone or "UTC"
        conversion = self._convert_for(schedule, timezone, machine, False)
        entry = DesiredEntry.build(
            _PLACEHOLDER_JOB,
            "example",
            schedule,
            timezone,
            ["crontopus-agent.exe", "run-job", str(_PLACEHOLDER_JOB)],
        )
        xml = render_task(self._definition(entry, conversion))
        return NativeSchedule(
            DRIVER_NAME,
            {
                "xml": xml,
                "triggers": [describe_trigger(t) for t in conversion.triggers],
                "machine_timezone": machine,
                "machine_timezone_assumed": assumed,
            },
            figures=conversion.figures,
        )


def describe_trigger(trigger: Trigger) -> str:
    """Describe a trigger in a few words, for listings."""
    match trigger:
        case BootTrigger():
            return "at boot"
        case TimeTrigger(start=start, repetition=repetition, utc=utc):
            every = f" every {repetition.interval}" if repetition else ""
            return f"from {start:%Y-%m-%d %H:%M}{' UTC' if utc else ''}{every}"
        case CalendarTrigger(start=start, schedule=schedule, repetition=repetition, utc=utc):
            then = ""
            if repetition is not None:
                then = f", then every {repetition.interval} for {repetition.duration}"
            return f"{_describe_schedule(schedule)} at {start:%H:%M}{' UTC' if utc else ''}{then}"
    raise TypeError(f"unknown trigger {trigger!r}")


def _describe_schedule(schedule: object) -> str:
    match schedule:
        case ByDay(interval=interval):
            return "daily" if interval == 1 else f"every {interval} days"
        case ByWeek(weekdays=weekdays):
            return "weekly on " + ",".join(WEEKDAY_ELEMENTS[d][:3] for d in sorted(weekdays))
        case ByMonth(days=days, months=months, last_day=last):
            listed = ",".join(str(d) for d in sorted(days)) + (",Last" if last else "")
            return f"on days {listed} of months {','.join(str(m) for m in sorted(months))}"
        case ByMonthDayOfWeek(weeks=weeks, weekdays=weekdays, months=months, last_week=last):
            listed = ",".join(str(w) for w in sorted(weeks)) + (",Last" if last else "")
            names = ",".join(WEEKDAY_ELEMENTS[d][:3] for d in sorted(weekdays))
            return f"{names} of weeks {listed} of months {','.join(str(m) for m in sorted(months))}"
    raise TypeError(f"unknown schedule {schedule!r}")
