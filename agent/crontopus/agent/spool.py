"""The check-in spool: check-ins the server could not take yet, one fsynced file each.

One file per check-in (named by the time it was spooled, so names sort oldest first) lets
concurrent wrappers append without a shared lock, and a delivered check-in is removed with
one unlink. The run UUID in every check-in makes redelivery idempotent on the server.

The spool is bounded in entries, bytes and age. What it drops, it says: a warning naming how
many and why, and a count per reason in `drops.json` (`crontopus-agent status`). A check-in that
could not even be spooled (a full disk) leaves an empty marker file, which needs no data blocks,
so it is counted once there is room again.
"""

from __future__ import annotations

import enum
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from crontopus.agent.checkin import CheckIn, Delivery, SendResult
from crontopus.agent.locks import lock, release
from crontopus.agent.statedir import BINARY, fsync_directory

if TYPE_CHECKING:
    import logging


def _log() -> logging.Logger:
    # Imported on demand: logging costs the wrapper milliseconds and it rarely logs.
    import logging

    return logging.getLogger(__name__)


SUFFIX = ".checkin"
DROPPED_FILE = "dropped"  # the total of older agents, counted as FULL
DROPS_FILE = "drops.json"
UNSPOOLED_PREFIX = ".unspooled-"
LOCK_FILE = ".lock"
# Each check-in carries at most 64 KiB of output; this keeps a long outage from filling the disk.
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
# A run reported a week late is history, not monitoring; the server would judge it stale anyway.
DEFAULT_MAX_AGE = 7 * 24 * 3600.0


class DropReason(enum.Enum):
    """Why check-ins left the spool undelivered."""

    FULL = "full"  # past spool_max_entries or spool_max_bytes: the oldest went
    EXPIRED = "expired"  # older than spool_max_age
    DISK_FULL = "diskFull"  # the disk could not take it: never spooled

    @property
    def why(self) -> str:
        return {
            DropReason.FULL: "the spool reached spool_max_entries or spool_max_bytes",
            DropReason.EXPIRED: "they waited longer than spool_max_age",
            DropReason.DISK_FULL: "the disk was full when they were to be spooled",
        }[self]


@dataclass(frozen=True)
class Drops:
    """What the spool dropped so far: a count per reason and the last drop."""

    counts: dict[str, int]
    last: dict[str, object] | None

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class DrainResult:
    """What one pass over the spool did."""

    delivered: int
    refused: int
    remaining: int
    unreachable: bool


class Spool:
    """A bounded directory of check-ins waiting for delivery."""

    def __init__(
        self,
        directory: Path,
        max_entries: int = 10_000,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_age: float = DEFAULT_MAX_AGE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = directory
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.max_age = max_age
        self.clock = clock

    def append(self, checkin: CheckIn) -> Path:
        """Store a check-in durably, dropping the oldest ones when the spool is full."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        data = checkin.to_json()
        with self._locked():
            self._expire()
            self._make_room(len(data))
            name = f"{round(self.clock() * 1e9):020d}-{checkin.run_id}-{checkin.event}{SUFFIX}"
            path = self.directory / name
            temp = self.directory / f".{name}.tmp"
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | BINARY, 0o600)
            try:
                os.write(fd, data)
                os.fsync(fd)
            except OSError:
                os.close(fd)
                temp.unlink(missing_ok=True)  # a full disk must not keep half a check-in
                raise
            os.close(fd)
            os.replace(temp, path)
            fsync_directory(self.directory)
        return path

    def note_unspooled(self, checkin: CheckIn) -> None:
        """Count a check-in that could not be spooled (best effort: the disk may be full)."""
        moment = round(self.clock() * 1e9)
        name = f"{UNSPOOLED_PREFIX}{moment:020d}-{checkin.run_id}-{checkin.event}"
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.close(os.open(self.directory / name, os.O_WRONLY | os.O_CREAT, 0o600))
        except OSError:
            pass  # not even an inode: the wrapper's stderr is the only record

    def expire(self) -> int:
        """Drop check-ins older than max_age; return how many went."""
        try:
            with self._locked():
                return self._expire()
        except FileNotFoundError:
            return 0

    def entries(self) -> list[Path]:
        """Return the spooled check-ins, oldest first."""
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return []
        return [self.directory / name for name in sorted(names) if name.endswith(SUFFIX)]

    def dropped(self) -> int:
        """Return how many check-ins were dropped, for any reason."""
        return self.drops().total

    def drops(self) -> Drops:
        """Return what was dropped, per reason, and the last drop."""
        counts = {reason.value: 0 for reason in DropReason}
        last: dict[str, object] | None = None
        try:
            recorded = json.loads((self.directory / DROPS_FILE).read_text())
            for key, value in dict(recorded.get("counts", {})).items():
                counts[str(key)] = int(value)
            last = recorded.get("last")
        except (FileNotFoundError, ValueError, TypeError, AttributeError):
            pass
        try:
            legacy = int((self.directory / DROPPED_FILE).read_text().strip() or 0)
        except (FileNotFoundError, ValueError):
            legacy = 0
        counts[DropReason.FULL.value] += legacy
        markers = self._unspooled()
        counts[DropReason.DISK_FULL.value] += len(markers)
        if markers:
            moment = int(markers[-1].name[len(UNSPOOLED_PREFIX) :][:20]) / 1e9
            last = _drop_record(DropReason.DISK_FULL, len(markers), moment)
        return Drops(counts, last)

    def drain(self, send: Callable[[CheckIn], SendResult], limit: int | None = None) -> DrainResult:
        """Send spooled check-ins oldest first; stop at the first one the server cannot take."""
        delivered = refused = 0
        unreachable = False
        self.expire()
        for path in self.entries()[:limit]:
            try:
                checkin = CheckIn.from_json(path.read_bytes())
            except FileNotFoundError:
                continue  # another drainer delivered it
            except (ValueError, TypeError) as exc:
                _log().error("spool: %s is unreadable (%s); removing it", path.name, exc)
                path.unlink(missing_ok=True)
                continue
            result = send(checkin)
            if result.delivery is Delivery.UNREACHABLE:
                unreachable = True
                break
            if result.delivery is Delivery.REFUSED:
                refused += 1
                _log().warning(
                    "spool: server refused check-in %s of run %s (job %s): %s %s; dropped",
                    checkin.event,
                    checkin.run_id,
                    checkin.job_id,
                    result.status,
                    result.message,
                )
            else:
                delivered += 1
            path.unlink(missing_ok=True)
        if delivered or refused:
            fsync_directory(self.directory)
        return DrainResult(delivered, refused, len(self.entries()), unreachable)

    def _make_room(self, incoming: int) -> None:
        entries = self.entries()
        sizes = [_size(path) for path in entries]
        total = sum(sizes) + incoming
        excess = max(0, len(entries) - self.max_entries + 1)
        while excess < len(entries) and total - sum(sizes[:excess]) > self.max_bytes:
            excess += 1
        if excess <= 0:
            return
        for path in entries[:excess]:
            path.unlink(missing_ok=True)
        self._record(DropReason.FULL, excess)
        _log().warning(
            "spool: full (%d entries or %d bytes at most): dropped the %d oldest check-ins",
            self.max_entries,
            self.max_bytes,
            excess,
        )

    def _expire(self) -> int:
        horizon = self.clock() - self.max_age
        old = [path for path in self.entries() if _spooled_at(path) < horizon]
        if not old:
            return 0
        for path in old:
            path.unlink(missing_ok=True)
        self._record(DropReason.EXPIRED, len(old))
        _log().warning(
            "spool: dropped %d check-ins older than %.0f s (spool_max_age): the server was"
            " unreachable that long",
            len(old),
            self.max_age,
        )
        return len(old)

    def _unspooled(self) -> list[Path]:
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return []
        return [self.directory / n for n in sorted(names) if n.startswith(UNSPOOLED_PREFIX)]

    def _record(self, reason: DropReason, count: int) -> None:
        """Add a drop to drops.json, folding in the markers of check-ins never spooled."""
        drops = self.drops()
        counts = dict(drops.counts)
        counts[reason.value] += count
        markers = self._unspooled()
        text = json.dumps(
            {"counts": counts, "last": _drop_record(reason, count, self.clock())}, indent=1
        )
        temp = self.directory / f".{DROPS_FILE}.tmp"
        temp.write_text(text + "\n")
        os.replace(temp, self.directory / DROPS_FILE)
        # Folded into the file now (and the legacy counter with them).
        for path in markers:
            path.unlink(missing_ok=True)
        (self.directory / DROPPED_FILE).unlink(missing_ok=True)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        # Appends hold the lock only to keep the size bound and the dropped counter exact.
        fd = os.open(self.directory / LOCK_FILE, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            lock(fd, wait=True)
            yield
        finally:
            release(fd)


def _spooled_at(path: Path) -> float:
    try:
        return int(path.name[:20]) / 1e9
    except ValueError:
        return float("inf")  # not ours to judge by age


def _drop_record(reason: DropReason, count: int, moment: float) -> dict[str, object]:
    at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))
    return {"at": at, "reason": reason.value, "count": count, "why": reason.why}


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0
