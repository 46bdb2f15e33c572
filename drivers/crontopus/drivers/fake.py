"""An in-memory driver that honours the contract, for tests and plugin authors."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import ClassVar
from uuid import UUID

from crontopus.core.errors import ScheduleError
from crontopus.core.schedule import load_timezone, parse_schedule
from crontopus.drivers.contract import (
    Availability,
    DesiredEntry,
    Driver,
    ForeignEntry,
    InstalledEntry,
    NativeSchedule,
)
from crontopus.drivers.errors import ConversionRefused, DriverUnavailable
from crontopus.drivers.hookspecs import hookimpl


class FakeDriver(Driver):
    """Keep entries in a dict; count writes so tests can prove a no-op wrote nothing.

    `refuse_timezones=True` makes it refuse every explicit time zone, like a scheduler
    without zone support; `reason` makes it unavailable.
    """

    name: ClassVar[str] = "fake"
    description: ClassVar[str] = "in-memory driver for tests"

    def __init__(
        self,
        *,
        foreign: Iterable[ForeignEntry] = (),
        unavailable_reason: str | None = None,
        refuse_timezones: bool = False,
    ) -> None:
        self.entries: dict[UUID, InstalledEntry] = {}
        self.foreign = list(foreign)
        self.unavailable_reason = unavailable_reason
        self.refuse_timezones = refuse_timezones
        self.writes = 0

    @classmethod
    def from_options(cls, options: Mapping[str, str]) -> FakeDriver:
        """Build from options: `unavailable_reason`, `refuse_timezones` ("yes"/"no")."""
        return cls(
            unavailable_reason=options.get("unavailable_reason"),
            refuse_timezones=options.get("refuse_timezones", "no") == "yes",
        )

    def available(self) -> Availability:
        """Say yes unless built with an unavailable reason."""
        if self.unavailable_reason is not None:
            return Availability.no(self.unavailable_reason)
        return Availability.yes("in memory")

    def list_managed(self) -> dict[UUID, InstalledEntry]:
        """Return a copy of the installed entries."""
        self._require_available()
        return dict(self.entries)

    def list_foreign(self) -> list[ForeignEntry]:
        """Return the foreign entries it was seeded with."""
        self._require_available()
        return list(self.foreign)

    def apply(self, entries: Sequence[DesiredEntry]) -> None:
        """Store the entries; count a write only when something changed."""
        self._require_available()
        rendered: dict[UUID, InstalledEntry] = {}
        for entry in entries:
            try:
                native = self.convert(entry.schedule, entry.timezone)
            except ConversionRefused as exc:
                raise ConversionRefused(exc.reason, job_id=entry.job_id) from exc
            text = json.dumps(
                {"name": entry.name, "command": list(entry.command), **native.native},
                ensure_ascii=False,
                sort_keys=True,
            )
            rendered[entry.job_id] = InstalledEntry(entry.job_id, text, entry.content_hash)
        changed = {key: value for key, value in rendered.items() if self.entries.get(key) != value}
        if changed:
            self.entries.update(changed)
            self.writes += 1

    def remove(self, ids: Iterable[UUID]) -> None:
        """Drop the entries of these jobs; count a write only when one existed."""
        self._require_available()
        present = [job_id for job_id in ids if job_id in self.entries]
        for job_id in present:
            del self.entries[job_id]
        if present:
            self.writes += 1

    def adopt(self, entry: DesiredEntry, fingerprint: str) -> None:
        """Drop the foreign entries with this fingerprint and store the entry, as one write."""
        self._require_available()
        kept = [item for item in self.foreign if item.fingerprint != fingerprint]
        if len(kept) == len(self.foreign):
            self.apply([entry])
            return
        writes = self.writes
        self.apply([entry])
        self.foreign = kept
        self.writes = writes + 1

    def convert(self, schedule: str, timezone: str | None) -> NativeSchedule:
        """Validate with crontopus.core and return the expanded expression and zone."""
        try:
            parsed = parse_schedule(schedule)
            if timezone is not None:
                load_timezone(timezone)
        except ScheduleError as exc:
            raise ConversionRefused(str(exc)) from exc
        if timezone is not None and self.refuse_timezones and not parsed.reboot:
            raise ConversionRefused(
                f"time zone {timezone!r}: the fake driver was built with refuse_timezones=True"
            )
        expression = "@reboot" if parsed.reboot else parsed.expression
        return NativeSchedule(self.name, {"expression": expression, "timezone": timezone})

    def _require_available(self) -> None:
        if self.unavailable_reason is not None:
            raise DriverUnavailable(self.name, self.unavailable_reason)


@hookimpl
def crontopus_driver_classes() -> list[type[Driver]]:
    """Provide the fake driver when this module is registered as a plugin."""
    return [FakeDriver]
