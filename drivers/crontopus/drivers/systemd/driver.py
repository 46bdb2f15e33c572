"""The systemd driver: a `.timer` and a `.service` per job in one unit directory."""

from __future__ import annotations

import getpass
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import ClassVar
from uuid import UUID

from crontopus.core.timezones import timezone_problem
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
from crontopus.drivers.systemd.calendar import CalendarConversion, convert_schedule
from crontopus.drivers.systemd.systemctl import Scope, Systemctl
from crontopus.drivers.systemd.units import (
    UNIT_PREFIX,
    TimerUnit,
    parse_exec_start,
    parse_timer,
    render_service,
    render_timer,
    service_name,
    timer_name,
)

DRIVER_NAME = "systemd"
SYSTEM_UNIT_DIR = Path("/etc/systemd/system")
_OPTIONS = ("unit_dir", "scope", "systemctl", "accept_dst_differences")
_PLACEHOLDER_JOB = UUID(int=0)


def user_unit_dir() -> Path:
    """Return the user's unit directory (`$XDG_CONFIG_HOME/systemd/user`)."""
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "systemd" / "user"


@dataclass(frozen=True)
class _Planned:
    entry: DesiredEntry
    timer: str
    service: str


class SystemdDriver(Driver):
    """Manage Crontopus timers in the user's (default) or the system's systemd manager.

    User timers run only while the user manager runs: `loginctl enable-linger USER` keeps it
    running without a login session, which is what a cron-like job needs.
    """

    name: ClassVar[str] = DRIVER_NAME
    description: ClassVar[str] = "systemd timers, one .timer and .service per job"

    def __init__(
        self,
        unit_dir: str | Path | None = None,
        *,
        scope: Scope = "user",
        runner: CommandRunner | None = None,
        systemctl: str = "systemctl",
        systemd_version: int | None = None,
        accept_dst_differences: bool = False,
        today: date | None = None,
    ) -> None:
        self._today = today
        default_dir = user_unit_dir() if scope == "user" else SYSTEM_UNIT_DIR
        self.unit_dir = Path(unit_dir) if unit_dir is not None else default_dir
        self.scope: Scope = scope
        self.systemctl = Systemctl(runner or SubprocessRunner(), scope, systemctl)
        self.systemd_version = systemd_version
        self.accept_dst_differences = accept_dst_differences

    @classmethod
    def from_options(cls, options: Mapping[str, str]) -> SystemdDriver:
        """Build from the agent's options (see _OPTIONS; scope is user|system)."""
        check_known("systemd", options, _OPTIONS)
        scopes: dict[str, Scope] = {"user": "user", "system": "system"}
        return cls(
            options.get("unit_dir"),
            scope=choice("systemd", options, "scope", scopes, "user"),
            systemctl=options.get("systemctl", "systemctl"),
            accept_dst_differences=choice(
                "systemd", options, "accept_dst_differences", YES_NO, "no"
            ),
        )

    def available(self) -> Availability:
        """Say whether systemd runs this machine and `systemctl` is at hand."""
        if shutil.which(self.systemctl.executable) is None:
            return Availability.no(f"{self.systemctl.executable} is not on the PATH")
        if not Path("/run/systemd/system").is_dir():
            return Availability.no("systemd is not the init system here (no /run/systemd/system)")
        if self.scope == "user" and not os.environ.get("XDG_RUNTIME_DIR"):
            return Availability.no(
                "no user manager for this session (XDG_RUNTIME_DIR is unset): run "
                "`loginctl enable-linger` for the agent's user, or use scope=system"
            )
        return Availability.yes(f"{self.scope} timers in {self.unit_dir}")

    def _convert(self, schedule: str, timezone: str | None, accept: bool) -> CalendarConversion:
        return convert_schedule(
            schedule,
            timezone or "UTC",
            accept_dst_difference=accept or self.accept_dst_differences,
            systemd_version=self.systemd_version,
        )

    def _timers(self) -> list[tuple[Path, TimerUnit]]:
        if not self.unit_dir.is_dir():
            return []
        return [
            (path, parse_timer(path.name, path.read_text(errors="replace")))
            for path in sorted(self.unit_dir.glob("*.timer"))
            if path.is_file()
        ]

    def list_managed(self) -> dict[UUID, InstalledEntry]:
        """Return the Crontopus timers in the unit directory, keyed by job UUID."""
        managed: dict[UUID, InstalledEntry] = {}
        for path, unit in self._timers():
            if unit.job_id is not None and path.name == timer_name(unit.job_id):
                digest = installed_hash(unit.content_hash or "", self._date())
                managed[unit.job_id] = InstalledEntry(
                    unit.job_id, path.read_text(errors="replace"), digest
                )
        return managed

    def list_foreign(self) -> list[ForeignEntry]:
        """Return the other calendar timers of the unit directory, with their service's command."""
        owner = getpass.getuser() if self.scope == "user" else "root"
        foreign: list[ForeignEntry] = []
        for path, unit in self._timers():
            if unit.managed or path.name.startswith(UNIT_PREFIX) or not unit.on_calendar:
                continue
            service = self.unit_dir / (unit.unit or path.name.removesuffix(".timer") + ".service")
            command = ""
            if service.is_file():
                command = parse_exec_start(service.read_text(errors="replace")) or ""
            foreign.append(
                ForeignEntry.build(
                    DRIVER_NAME,
                    "; ".join(unit.on_calendar),
                    command or service.name,
                    owner,
                    native=path.read_text(errors="replace"),
                    timezone=_common_zone(unit.on_calendar),
                )
            )
        return foreign

    def apply(self, entries: Sequence[DesiredEntry]) -> None:
        """Write each changed job's units, reload, and (re)start their timers."""
        if entries and self.systemd_version is None:
            self.systemd_version = self.systemctl.version()
        planned = [self._plan(entry) for entry in entries]
        added: list[str] = []
        changed: list[str] = []
        for plan in planned:
            timer_path = self.unit_dir / timer_name(plan.entry.job_id)
            service_path = self.unit_dir / service_name(plan.entry.job_id)
            existed = timer_path.is_file()
            wrote_service = _write_if_changed(service_path, plan.service)
            wrote_timer = _write_if_changed(timer_path, plan.timer)
            if not existed:
                added.append(timer_path.name)
            elif wrote_timer or wrote_service:
                changed.append(timer_path.name)
        if added or changed:
            self.systemctl.daemon_reload()
            self.systemctl.enable_now(added)
            self.systemctl.restart(changed)

    def check(self, entry: DesiredEntry) -> None:
        """Raise ConversionRefused when the entry's schedule (with its DST opt-in) cannot be met."""
        self._entry_conversion(entry)

    def _entry_conversion(self, entry: DesiredEntry) -> CalendarConversion:
        try:
            return self._convert(entry.schedule, entry.timezone, entry.accept_dst_difference)
        except ConversionRefused as refused:
            raise ConversionRefused(refused.reason, job_id=entry.job_id) from None

    def _plan(self, entry: DesiredEntry) -> _Planned:
        conversion = self._entry_conversion(entry)
        argv = (*entry.command, GATE_FLAG) if conversion.gated else entry.command
        try:
            service = render_service(entry.job_id, argv, name=entry.name)
        except ValueError as error:
            raise PermanentDriverError(f"job {entry.job_id}: command: {error}") from None
        # The timer's spelling of clock changes holds for the years looked at today.
        renew_on = next_january(self._date()) if has_transitions(conversion.timezone) else None
        digest = stored_hash(entry.content_hash, renew_on)
        timer = render_timer(
            entry.job_id, conversion.on_calendar, name=entry.name, content_hash=digest
        )
        return _Planned(entry, timer, service)

    def _date(self) -> date:
        return self._today or utc_today()

    def remove(self, ids: Iterable[UUID]) -> None:
        """Stop, disable and delete the timers and services of these jobs."""
        present = [job_id for job_id in ids if (self.unit_dir / timer_name(job_id)).is_file()]
        if not present:
            return
        self.systemctl.disable_now([timer_name(job_id) for job_id in present])
        for job_id in present:
            (self.unit_dir / timer_name(job_id)).unlink(missing_ok=True)
            (self.unit_dir / service_name(job_id)).unlink(missing_ok=True)
        self.systemctl.daemon_reload()

    def convert(self, schedule: str, timezone: str | None) -> NativeSchedule:
        """Return the OnCalendar= lines and the timer unit for a schedule, or refuse."""
        conversion = self._convert(schedule, timezone, False)
        return NativeSchedule(
            DRIVER_NAME,
            {
                "on_calendar": list(conversion.on_calendar),
                "timer": render_timer(_PLACEHOLDER_JOB, conversion.on_calendar),
            },
            figures=conversion.figures,
        )


def _common_zone(lines: Sequence[str]) -> str | None:
    """Return the zone suffix every OnCalendar= line shares, if they name one."""
    suffixes = {line.split()[-1] for line in lines if len(line.split()) > 1}
    if len(suffixes) != 1 or len(lines) != sum(1 for line in lines if len(line.split()) > 1):
        return None
    (zone,) = suffixes
    return zone if timezone_problem(zone) is None else None


def _write_if_changed(path: Path, text: str) -> bool:
    """Write a file atomically unless it already holds `text`; tell whether it wrote."""
    if path.is_file() and path.read_text(errors="replace") == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w") as file:
            file.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return True
