"""A third-party Crontopus driver: one `/etc/cron.d` file per job.

Each managed file is named `crontopus-<job uuid>` and holds the cron driver's marker, any
`CRON_TZ=` line the job needs, and one line in system-crontab format (five fields or a macro,
the user, the command). Schedules and commands are rendered by the built-in cron driver's
converter and quoting, so both drivers make the same promise. Every other file in the directory
is foreign: read for discovery, never written.
"""

from __future__ import annotations

import os
import pwd
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar
from uuid import UUID

from crontopus.drivers import (
    Availability,
    ConversionRefused,
    DesiredEntry,
    Driver,
    ForeignEntry,
    InstalledEntry,
    NativeSchedule,
    PermanentDriverError,
    hookimpl,
)
from crontopus.drivers.cron.convert import CronConverter, CronSchedulePlan
from crontopus.drivers.cron.crontab import (
    CRON_TZ,
    ManagedBlock,
    managed_block,
    parse_crontab,
    parse_environment,
    split_lines,
    strip_ending,
)
from crontopus.drivers.cron.quoting import render_command
from crontopus.drivers.options import check_known, choice
from crontopus.drivers.renewal import installed_hash, stored_hash
from crontopus.drivers.superset import GATE_FLAG

DRIVER_NAME = "crond"
DEFAULT_DIRECTORY = "/etc/cron.d"
DEFAULT_USER = "root"
FILE_PREFIX = "crontopus-"
OPTIONS = ("directory", "user", "cron_tz", "machine_zone")
_SWITCHES = {"auto": None, "yes": True, "no": False}
# Debian's cron skips cron.d files whose names hold anything else (dots included, so editor
# backups and our own temporary files are never read); cronie skips dotfiles.
_CRON_FILE_NAME = re.compile(r"[A-Za-z0-9_-]+")
# What useradd accepts by default (NAME_REGEX), so the user field is one word cron can look up.
_USER_NAME = re.compile(r"[a-z_][a-z0-9_-]{0,31}\$?")
_SYSTEM_JOB = re.compile(
    r"\s*(?P<schedule>@[A-Za-z]+|[0-9*]\S*(?:\s+\S+){4})\s+(?P<user>\S+)\s+(?P<command>\S.*?)\s*",
    re.DOTALL,
)
_PLACEHOLDER_JOB = UUID(int=0)


@dataclass(frozen=True)
class SystemJobLine:
    """The schedule, user and command of a line in system-crontab format."""

    schedule: str
    user: str
    command: str


def parse_system_job(line: str) -> SystemJobLine | None:
    """Return the parts of a system-crontab job line, or None for any other line."""
    body = strip_ending(line)
    stripped = body.lstrip(" \t")
    if not stripped.strip() or stripped.startswith("#") or parse_environment(body) is not None:
        return None
    match = _SYSTEM_JOB.fullmatch(body)
    if match is None:
        return None
    return SystemJobLine(match["schedule"], match["user"], match["command"])


def file_name(job_id: UUID) -> str:
    """Return the cron.d file name of a job (letters, digits and hyphens, as cron requires)."""
    return f"{FILE_PREFIX}{job_id}"


class CronDDriver(Driver):
    """Write one system-crontab file per job into a cron.d directory."""

    name: ClassVar[str] = DRIVER_NAME
    description: ClassVar[str] = "one /etc/cron.d file per job (an example third-party driver)"

    def __init__(
        self,
        directory: str | os.PathLike[str] = DEFAULT_DIRECTORY,
        *,
        user: str = DEFAULT_USER,
        cron_tz: bool | None = None,
        machine_zone: str | None = None,
    ) -> None:
        if not _USER_NAME.fullmatch(user):
            raise PermanentDriverError(
                f"crond driver options: user={user!r} is not a user name cron can look up:"
                " use a login name such as root or backup"
            )
        self.directory = Path(directory)
        self.user = user
        self.converter = CronConverter(cron_tz=cron_tz, machine_zone=machine_zone)

    @classmethod
    def from_options(cls, options: Mapping[str, str]) -> CronDDriver:
        """Build from options: `directory`, `user`, `cron_tz` (auto|yes|no), `machine_zone`."""
        check_known("crond", options, OPTIONS)
        cron_tz = choice("crond", options, "cron_tz", _SWITCHES, "auto")
        return cls(
            options.get("directory", DEFAULT_DIRECTORY),
            user=options.get("user", DEFAULT_USER),
            cron_tz=cron_tz,
            machine_zone=options.get("machine_zone"),
        )

    def available(self) -> Availability:
        """Say whether the directory can be written and the user exists."""
        if not self.directory.is_dir():
            return Availability.no(
                f"{self.directory} is not a directory: install cron (Debian: apt-get install"
                " cron) or set the crond driver option directory"
            )
        if not os.access(self.directory, os.W_OK | os.X_OK):
            return Availability.no(
                f"{self.directory} is not writable by this user: run the agent as root or set"
                " the crond driver option directory"
            )
        try:
            pwd.getpwnam(self.user)
        except KeyError:
            return Availability.no(
                f"user {self.user!r} does not exist here, and cron skips lines naming an"
                " unknown user: create it or set the crond driver option user"
            )
        return Availability.yes(f"files in {self.directory} run as {self.user}")

    def list_managed(self) -> dict[UUID, InstalledEntry]:
        """Return the Crontopus files of the directory, keyed by job UUID."""
        found: dict[UUID, InstalledEntry] = {}
        for path in self._files():
            block = self._managed_block(path.name, _read(path))
            if block is not None:
                # A gated plan is planned again from the renewal date stored with its hash.
                digest = installed_hash(block.content_hash, self.converter.today())
                found[block.job_id] = InstalledEntry(block.job_id, block.text, digest)
        return found

    def list_foreign(self) -> list[ForeignEntry]:
        """Return every job line of the files cron reads that Crontopus did not write."""
        found: list[ForeignEntry] = []
        for path in self._files():
            text = _read(path)
            if self._managed_block(path.name, text) is not None:
                continue
            found.extend(self._foreign_jobs(text))
        return found

    def apply(self, entries: Sequence[DesiredEntry]) -> None:
        """Write the file of each changed entry; convert them all before writing any."""
        rendered = [(entry, self._render(entry)) for entry in entries]
        for entry, text in rendered:
            path = self.directory / file_name(entry.job_id)
            current = _read(path) if path.exists() else None
            if current == text:
                continue
            if current is not None and self._managed_block(path.name, current) is None:
                raise PermanentDriverError(
                    f"job {entry.job_id}: {path} exists and has no Crontopus marker; it is left"
                    " alone: move it out of the directory, then sync again"
                )
            _write(path, text)

    def remove(self, ids: Iterable[UUID]) -> None:
        """Delete the files of these jobs; files without our marker are never deleted."""
        for job_id in ids:
            path = self.directory / file_name(job_id)
            if path.is_file() and self._managed_block(path.name, _read(path)) is not None:
                path.unlink()

    def convert(self, schedule: str, timezone: str | None) -> NativeSchedule:
        """Return `{"line", "user", "environment", "file"}` for a schedule, or refuse."""
        plan = self._plan(schedule, timezone)
        placeholder = DesiredEntry.build(
            _PLACEHOLDER_JOB,
            "example",
            schedule,
            timezone,
            ["/usr/local/bin/crontopus-agent", "run-job", str(_PLACEHOLDER_JOB)],
        )
        schedule_lines = plan.native().native
        return NativeSchedule(
            DRIVER_NAME,
            {
                **{key: value for key, value in schedule_lines.items() if key != "environment"},
                "user": self.user,
                "environment": list(plan.environment),
                "file": self._render(placeholder),
            },
            figures=plan.figures,
        )

    def _plan(self, schedule: str, timezone: str | None) -> CronSchedulePlan:
        try:
            return self.converter.plan(schedule, timezone)
        except ConversionRefused as refused:
            # The converter's advice names the cron driver's option; this driver has the same.
            reason = refused.reason.replace("the cron driver option", "the crond driver option")
            raise ConversionRefused(reason) from None

    def _render(self, entry: DesiredEntry) -> str:
        try:
            plan = self._plan(entry.schedule, entry.timezone)
        except ConversionRefused as refused:
            raise ConversionRefused(refused.reason, job_id=entry.job_id) from None
        # A gated plan fires a superset of the instants: the wrapper then gates each firing.
        argv = (*entry.command, GATE_FLAG) if plan.gated else entry.command
        try:
            command = render_command(argv)
        except PermanentDriverError as error:
            raise PermanentDriverError(f"job {entry.job_id}: {error}") from None
        if str(entry.job_id) not in command:
            # The UUID in the line is what ties it to its marker (see the cron driver's crontab.py).
            raise PermanentDriverError(
                f"job {entry.job_id}: command must contain the job UUID (the wrapper's"
                f" `run-job UUID`), got {command!r}"
            )
        line = "\n".join(f"{schedule} {self.user} {command}" for schedule in plan.lines)
        renew_on = None if plan.period is None else plan.period.renew_on
        digest = stored_hash(entry.content_hash, renew_on)
        block = managed_block(entry.job_id, digest, entry.name, plan.environment, line)
        return block.text

    def _files(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        return sorted(
            path
            for path in self.directory.iterdir()
            if _CRON_FILE_NAME.fullmatch(path.name) and path.is_file()
        )

    def _managed_block(self, name: str, text: str) -> ManagedBlock | None:
        if not name.startswith(FILE_PREFIX):
            return None
        blocks = parse_crontab(text)
        block = blocks[0] if len(blocks) == 1 else None
        if isinstance(block, ManagedBlock) and file_name(block.job_id) == name:
            return block
        return None

    def _foreign_jobs(self, text: str) -> list[ForeignEntry]:
        zone: str | None = None
        found: list[ForeignEntry] = []
        for line in split_lines(text):
            assignment = parse_environment(line)
            if assignment is not None:
                if assignment[0] == CRON_TZ:
                    zone = assignment[1] or None
                continue
            job = parse_system_job(line)
            if job is None:
                continue
            honoured = zone is not None and self.converter.cron_tz.supported
            found.append(
                ForeignEntry.build(
                    DRIVER_NAME,
                    job.schedule,
                    job.command,
                    job.user,
                    native=strip_ending(line),
                    timezone=zone if honoured else None,
                )
            )
        return found


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8", "surrogateescape")
    except OSError as error:
        raise PermanentDriverError(f"cron.d file {path}: cannot read: {error}") from error


def _write(path: Path, text: str) -> None:
    """Write through a dotted temp file (cron never reads it) renamed over the target."""
    try:
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(text.encode("utf-8", "surrogateescape"))
                file.flush()
                os.fsync(file.fileno())
            # Debian's cron ignores cron.d files that group or others may write.
            os.chmod(temporary, 0o644)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as error:
        raise PermanentDriverError(f"cron.d file {path}: cannot write: {error}") from error


@hookimpl
def crontopus_driver_classes() -> list[type[Driver]]:
    """Provide the crond driver."""
    return [CronDDriver]
