"""The driver contract: the abstract Driver and the entries it exchanges with the agent."""

from __future__ import annotations

import abc
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self
from uuid import UUID

from crontopus.core.enums import Concurrency
from crontopus.drivers.errors import ConversionRefused, PermanentDriverError
from crontopus.drivers.superset import GateFigures

# A content hash is written into native markers, so it must survive any native format.
_HASH_PATTERN = re.compile(r"[A-Za-z0-9_.:+-]{1,128}")
_CONCURRENCY = tuple(policy.value for policy in Concurrency)


def content_hash(*parts: str | None) -> str:
    """Hash the parts that shape a native entry, so unchanged entries are detected."""
    digest = hashlib.sha256()
    for part in parts:
        # A separator that cannot occur in text keeps ("ab", "c") apart from ("a", "bc").
        digest.update(b"\x00" if part is None else b"\x01" + part.encode("utf-8", "surrogatepass"))
        digest.update(b"\x1f")
    return digest.hexdigest()[:32]


def foreign_fingerprint(schedule: str, command: str, user: str) -> str:
    """Return the stable sha256 of a foreign entry's normalised schedule, command and user."""
    normalised = "\x1f".join((" ".join(schedule.lower().split()), command.strip(), user.strip()))
    return hashlib.sha256(normalised.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Availability:
    """Whether a driver can run on this machine, and why not when it cannot."""

    ok: bool
    reason: str = ""

    @classmethod
    def yes(cls, reason: str = "") -> Self:
        """Say the driver can run (the reason may name what was found)."""
        return cls(True, reason)

    @classmethod
    def no(cls, reason: str) -> Self:
        """Say the driver cannot run, with a reason an operator can act on."""
        return cls(False, reason)

    def __bool__(self) -> bool:
        return self.ok


@dataclass(frozen=True)
class DesiredEntry:
    """One job as the agent wants it installed.

    `command` is the wrapper's argv, built by the agent (absolute path of `crontopus-agent`,
    `run-job`, the job UUID, and `--state-dir DIR` when not the default). Drivers identify
    their entries by `job_id` and detect changes by `content_hash`.

    The last three fields carry manifest choices a native scheduler may need:
    `accept_dst_difference` is the job's opt-in for this driver (`spec.systemd` or
    `spec.taskScheduler` `.acceptDstDifferences`), `timeout` is `spec.timeout` in seconds and
    `concurrency` is `spec.concurrency` ("allow" or "forbid"). Drivers that have no use for
    them ignore them.
    """

    job_id: UUID
    name: str
    schedule: str
    timezone: str | None
    command: tuple[str, ...]
    content_hash: str
    accept_dst_difference: bool = False
    timeout: int | None = None
    concurrency: str = Concurrency.ALLOW.value

    def __post_init__(self) -> None:
        if not self.command:
            raise ValueError(f"job {self.job_id}: command: the wrapper argv is empty")
        if not _HASH_PATTERN.fullmatch(self.content_hash):
            raise ValueError(
                f"job {self.job_id}: content_hash: {self.content_hash!r} must be 1-128 characters"
                " of letters, digits and _.:+- (use crontopus.drivers.content_hash)"
            )
        if self.timeout is not None and (
            isinstance(self.timeout, bool) or not isinstance(self.timeout, int) or self.timeout < 1
        ):
            raise ValueError(
                f"job {self.job_id}: timeout: {self.timeout!r} must be whole seconds >= 1 or None"
            )
        if self.concurrency not in _CONCURRENCY:
            raise ValueError(
                f"job {self.job_id}: concurrency: {self.concurrency!r} must be one of"
                f" {', '.join(_CONCURRENCY)}"
            )

    @classmethod
    def build(
        cls,
        job_id: UUID,
        name: str,
        schedule: str,
        timezone: str | None,
        command: Sequence[str],
        *,
        accept_dst_difference: bool = False,
        timeout: int | None = None,
        concurrency: str = Concurrency.ALLOW.value,
    ) -> Self:
        """Build an entry whose content hash covers every field that shapes it."""
        argv = tuple(command)
        policy = str(concurrency)
        options: list[str | None] = []
        # Options join the hash only when set, so entries built before they existed keep their
        # hash and an upgraded agent rewrites nothing. None cannot occur in argv, so it
        # separates the options from the argv unambiguously.
        if accept_dst_difference:
            options.append("accept_dst_difference=true")
        if timeout is not None:
            options.append(f"timeout={timeout}")
        if policy != Concurrency.ALLOW.value:
            options.append(f"concurrency={policy}")
        extra: tuple[str | None, ...] = (None, *options) if options else ()
        digest = content_hash(str(job_id), name, schedule, timezone, *argv, *extra)
        return cls(
            job_id,
            name,
            schedule,
            timezone,
            argv,
            digest,
            accept_dst_difference=accept_dst_difference,
            timeout=timeout,
            concurrency=policy,
        )


@dataclass(frozen=True)
class InstalledEntry:
    """A managed entry as read back from the scheduler."""

    job_id: UUID
    native: str
    content_hash: str


@dataclass(frozen=True)
class ForeignEntry:
    """An entry the driver did not create, reported for discovery and never changed."""

    driver: str
    schedule: str
    command: str
    user: str
    fingerprint: str
    native: str = ""
    timezone: str | None = None

    @classmethod
    def build(
        cls,
        driver: str,
        schedule: str,
        command: str,
        user: str,
        *,
        native: str = "",
        timezone: str | None = None,
    ) -> Self:
        """Build a foreign entry with its fingerprint computed from schedule, command and user."""
        fingerprint = foreign_fingerprint(schedule, command, user)
        return cls(driver, schedule, command, user, fingerprint, native, timezone)


@dataclass(frozen=True)
class NativeSchedule:
    """A schedule in a driver's native form; `native` is plain JSON-able data.

    `figures` says whether the scheduler fires at exactly the job's instants (native) or at a
    superset the run wrapper gates, with how many firings a day run versus wake up.
    """

    driver: str
    native: dict[str, Any] = field(default_factory=dict)
    figures: GateFigures = field(default_factory=GateFigures.native)

    def to_json(self) -> dict[str, Any]:
        """Return the `{"driver", "native", "mode"}` document `drivers convert --json` prints."""
        return {"driver": self.driver, "native": self.native, **self.figures.to_json()}


class Driver(abc.ABC):
    """A scheduler backend: installs, lists and removes entries in one native scheduler.

    Drivers never touch entries they did not create; they find their own by the job UUID
    marker. Errors are `crontopus.drivers.errors` exceptions that say whether to retry.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""

    @classmethod
    def from_options(cls, options: Mapping[str, str]) -> Self:
        """Build the driver from the agent's per-driver options (strings from its config)."""
        return cls(**options)

    @abc.abstractmethod
    def available(self) -> Availability:
        """Say whether the driver can run on this machine; never raise."""

    @abc.abstractmethod
    def list_managed(self) -> dict[UUID, InstalledEntry]:
        """Return the entries this driver installed, keyed by job UUID."""

    @abc.abstractmethod
    def list_foreign(self) -> list[ForeignEntry]:
        """Return the entries this driver can see but did not install."""

    @abc.abstractmethod
    def apply(self, entries: Sequence[DesiredEntry]) -> None:
        """Add or update the entries by job UUID; write nothing when nothing changed.

        Entries not named are left alone. A refused entry raises ConversionRefused before
        anything is written.
        """

    @abc.abstractmethod
    def remove(self, ids: Iterable[UUID]) -> None:
        """Remove the managed entries of these jobs; unknown ids are ignored."""

    def adopt(self, entry: DesiredEntry, fingerprint: str) -> None:
        """Install `entry` in place of the foreign entries with `fingerprint`, in one write.

        Called when a discovered job has been adopted in Git, so the machine never runs it
        twice. Identical foreign entries share a fingerprint and are all replaced; when none is
        left this is a plain `apply([entry])`. The default refuses: override it.
        """
        raise PermanentDriverError(
            f"driver {self.name!r} cannot adopt foreign entries: remove the entry with"
            f" fingerprint {fingerprint} by hand, then sync again"
        )

    @abc.abstractmethod
    def convert(self, schedule: str, timezone: str | None) -> NativeSchedule:
        """Convert a cron schedule to the native form, or raise ConversionRefused."""

    def check(self, entry: DesiredEntry) -> None:
        """Raise ConversionRefused (with the job id) when `apply` would refuse `entry`.

        Writes nothing. The default converts the schedule and zone; drivers whose conversion
        depends on the entry's options (a DST opt-in) override it.
        """
        try:
            self.convert(entry.schedule, entry.timezone)
        except ConversionRefused as refused:
            if refused.job_id is not None:
                raise
            raise ConversionRefused(refused.reason, job_id=entry.job_id) from None
