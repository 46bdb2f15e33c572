"""The check-in spool: check-ins the server could not take yet, one fsynced file each.

One file per check-in (named by the time it was spooled, so names sort oldest first) lets
concurrent wrappers append without a shared lock, and a delivered check-in is removed with
one unlink. The run UUID in every check-in makes redelivery idempotent on the server.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from crontopus.agent.checkin import CheckIn, Delivery, SendResult
from crontopus.agent.statedir import fsync_directory

if TYPE_CHECKING:
    import logging


def _log() -> logging.Logger:
    # Imported on demand: logging costs the wrapper milliseconds and it rarely logs.
    import logging

    return logging.getLogger(__name__)


SUFFIX = ".checkin"
DROPPED_FILE = "dropped"
LOCK_FILE = ".lock"
# Each check-in carries at most 64 KiB of output; this keeps a long outage from filling the disk.
DEFAULT_MAX_BYTES = 64 * 1024 * 1024


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
        self, directory: Path, max_entries: int = 10_000, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> None:
        self.directory = directory
        self.max_entries = max_entries
        self.max_bytes = max_bytes

    def append(self, checkin: CheckIn) -> Path:
        """Store a check-in durably, dropping the oldest ones when the spool is full."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        data = checkin.to_json()
        with self._locked():
            self._make_room(len(data))
            name = f"{time.time_ns():020d}-{checkin.run_id}-{checkin.event}{SUFFIX}"
            path = self.directory / name
            temp = self.directory / f".{name}.tmp"
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temp, path)
            fsync_directory(self.directory)
        return path

    def entries(self) -> list[Path]:
        """Return the spooled check-ins, oldest first."""
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return []
        return [self.directory / name for name in sorted(names) if name.endswith(SUFFIX)]

    def dropped(self) -> int:
        """Return how many check-ins were dropped because the spool was full."""
        try:
            return int((self.directory / DROPPED_FILE).read_text().strip() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def drain(self, send: Callable[[CheckIn], SendResult], limit: int | None = None) -> DrainResult:
        """Send spooled check-ins oldest first; stop at the first one the server cannot take."""
        delivered = refused = 0
        unreachable = False
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
        counter = self.directory / DROPPED_FILE
        counter.write_text(f"{self.dropped() + excess}\n")
        _log().warning(
            "spool: full (%d entries or %d bytes at most): dropped the %d oldest",
            self.max_entries,
            self.max_bytes,
            excess,
        )

    @contextmanager
    def _locked(self) -> Iterator[None]:
        # Appends hold the lock only to keep the size bound and the dropped counter exact.
        fd = os.open(self.directory / LOCK_FILE, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0
