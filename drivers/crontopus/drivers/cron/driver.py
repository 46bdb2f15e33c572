"""The cron driver: Crontopus entries in a crontab, foreign lines untouched."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import ClassVar
from uuid import UUID

from crontopus.drivers.contract import (
    Availability,
    DesiredEntry,
    Driver,
    ForeignEntry,
    InstalledEntry,
    NativeSchedule,
    foreign_fingerprint,
)
from crontopus.drivers.cron.backend import CommandCrontab, CrontabBackend, FileCrontab
from crontopus.drivers.cron.convert import DRIVER_NAME, CronConverter
from crontopus.drivers.cron.crontab import (
    CRON_TZ,
    Block,
    ForeignLine,
    ManagedBlock,
    managed_block,
    merge,
    parse_crontab,
    parse_environment,
    parse_job,
    render_crontab,
    strip_ending,
)
from crontopus.drivers.cron.quoting import render_command
from crontopus.drivers.errors import (
    ConversionRefused,
    PermanentDriverError,
    RetryableDriverError,
)
from crontopus.drivers.options import check_known, choice
from crontopus.drivers.renewal import installed_hash, stored_hash
from crontopus.drivers.superset import GATE_FLAG

_SWITCHES = {"auto": None, "yes": True, "no": False}


class CronDriver(Driver):
    """Manage Crontopus entries in one crontab (the invoking user's unless told otherwise)."""

    name: ClassVar[str] = DRIVER_NAME
    description: ClassVar[str] = "the user's crontab, through the crontab command"

    def __init__(
        self,
        backend: CrontabBackend | None = None,
        *,
        cron_tz: bool | None = None,
        machine_zone: str | None = None,
        today: date | None = None,
    ) -> None:
        self.backend: CrontabBackend = backend if backend is not None else CommandCrontab()
        self.converter = CronConverter(cron_tz=cron_tz, machine_zone=machine_zone, today=today)

    @classmethod
    def from_options(cls, options: Mapping[str, str]) -> CronDriver:
        """Build from options: `crontab_file` or `user`, `cron_tz` (auto|yes|no), `machine_zone`."""
        check_known("cron", options, ("crontab_file", "user", "cron_tz", "machine_zone"))
        cron_tz = choice("cron", options, "cron_tz", _SWITCHES, "auto")
        backend: CrontabBackend
        if "crontab_file" in options:
            backend = FileCrontab(options["crontab_file"], user=options.get("user"))
        else:
            backend = CommandCrontab(options.get("user"))
        return cls(backend, cron_tz=cron_tz, machine_zone=options.get("machine_zone"))

    def available(self) -> Availability:
        """Say whether the crontab can be read and written."""
        return self.backend.available()

    def list_managed(self) -> dict[UUID, InstalledEntry]:
        """Return the marked entries, keyed by job UUID (the first one wins on duplicates)."""
        found: dict[UUID, InstalledEntry] = {}
        for block in parse_crontab(self.backend.read()):
            if isinstance(block, ManagedBlock) and block.job_id not in found:
                digest = installed_hash(block.content_hash, self.converter.today())
                found[block.job_id] = InstalledEntry(block.job_id, block.text, digest)
        return found

    def list_foreign(self) -> list[ForeignEntry]:
        """Return every unmarked job line with its schedule, command and CRON_TZ zone."""
        honours_zone: bool | None = None
        zone: str | None = None
        found: list[ForeignEntry] = []
        for block in parse_crontab(self.backend.read()):
            if isinstance(block, ManagedBlock):
                zone = _last_zone(block.environment, zone)
                continue
            if not isinstance(block, ForeignLine):
                continue
            assignment = parse_environment(block.text)
            if assignment is not None:
                if assignment[0] == CRON_TZ:
                    zone = assignment[1] or None
                continue
            job = parse_job(block.text)
            if job is None:
                continue
            if zone is not None and honours_zone is None:
                honours_zone = self.converter.cron_tz.supported
            found.append(
                ForeignEntry.build(
                    self.name,
                    job.schedule,
                    job.command,
                    self.backend.user,
                    native=strip_ending(block.text),
                    timezone=zone if honours_zone else None,
                )
            )
        return found

    def apply(self, entries: Sequence[DesiredEntry]) -> None:
        """Add or update entries by job UUID; write only when the crontab would change."""
        text = self.backend.read()
        blocks = parse_crontab(text)
        pin_machine_zone = self._foreign_sets_zone(blocks)
        desired = {entry.job_id: self._block(entry, pin_machine_zone) for entry in entries}
        self._write_if_changed(text, blocks, merge(blocks, desired, ()))

    def adopt(self, entry: DesiredEntry, fingerprint: str) -> None:
        """Replace the foreign job lines with this fingerprint by the managed entry."""
        text = self.backend.read()
        blocks = parse_crontab(text)
        kept = [block for block in blocks if self._fingerprint(block) != fingerprint]
        pin_machine_zone = self._foreign_sets_zone(kept)
        desired = {entry.job_id: self._block(entry, pin_machine_zone)}
        self._write_if_changed(text, blocks, merge(kept, desired, ()))

    def remove(self, ids: Iterable[UUID]) -> None:
        """Remove the entries of these jobs; write only when one was present."""
        text = self.backend.read()
        blocks = parse_crontab(text)
        self._write_if_changed(text, blocks, merge(blocks, {}, ids))

    def convert(self, schedule: str, timezone: str | None) -> NativeSchedule:
        """Return `{"line": schedule fields, "environment": [CRON_TZ=...]}` or refuse."""
        return self.converter.plan(schedule, timezone).native()

    def _block(self, entry: DesiredEntry, pin_machine_zone: bool) -> ManagedBlock:
        try:
            plan = self.converter.plan(entry.schedule, entry.timezone)
            environment = plan.environment
            if pin_machine_zone and not environment and plan.lines != ("@reboot",):
                environment = self.converter.machine_zone_environment()
        except ConversionRefused as exc:
            raise ConversionRefused(exc.reason, job_id=entry.job_id) from exc
        argv = (*entry.command, GATE_FLAG) if plan.gated else entry.command
        command = render_command(argv)
        if str(entry.job_id) not in command:
            # The UUID in the line is what ties it to its marker (see crontab.py).
            raise PermanentDriverError(
                f"job {entry.job_id}: command must contain the job UUID (the wrapper's"
                f" `run-job UUID`), got {command!r}"
            )
        line = "\n".join(f"{schedule} {command}" for schedule in plan.lines)
        renew_on = None if plan.period is None else plan.period.renew_on
        digest = stored_hash(entry.content_hash, renew_on)
        return managed_block(entry.job_id, digest, entry.name, environment, line)

    def _fingerprint(self, block: Block) -> str | None:
        job = parse_job(block.text) if isinstance(block, ForeignLine) else None
        if job is None:
            return None
        return foreign_fingerprint(job.schedule, job.command, self.backend.user)

    def _foreign_sets_zone(self, blocks: Sequence[Block]) -> bool:
        sets_zone = any(
            isinstance(block, ForeignLine)
            and (parse_environment(block.text) or ("", ""))[0] == CRON_TZ
            for block in blocks
        )
        # Only a cron that honours CRON_TZ lets a foreign CRON_TZ line move our entries.
        return sets_zone and self.converter.cron_tz.supported

    def _write_if_changed(self, text: str, old: Sequence[Block], new: Sequence[Block]) -> None:
        if list(old) == list(new):
            return
        if self.backend.read() != text:
            raise RetryableDriverError(
                f"{self.backend.describe()} changed while Crontopus was updating it;"
                " nothing was written: retry"
            )
        self.backend.write(render_crontab(new))


def _last_zone(environment: Sequence[str], current: str | None) -> str | None:
    for line in environment:
        assignment = parse_environment(line)
        if assignment is not None and assignment[0] == CRON_TZ:
            current = assignment[1] or None
    return current
