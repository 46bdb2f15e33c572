"""Running a scheduler's command-line tool (`systemctl`, `schtasks`, ...) behind a seam.

A driver talks to its tool through a `CommandRunner`, so tests can hand it a recording runner
where the real tool cannot run (Task Scheduler off Windows), and every driver reports a hung or
missing tool the same way: a timeout is retryable, a tool that cannot start is permanent.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from typing import Protocol

from crontopus.drivers.errors import PermanentDriverError, RetryableDriverError


class CommandRunner(Protocol):
    """Runs one command and returns its exit code and output (the seam tests replace)."""

    def run(self, argv: Sequence[str]) -> subprocess.CompletedProcess[bytes]:
        """Run argv without a shell and capture its output."""
        ...


class SubprocessRunner:
    """Run commands for real, with a time limit."""

    def __init__(self, timeout: float = 60.0) -> None:
        self.timeout = timeout

    def run(self, argv: Sequence[str]) -> subprocess.CompletedProcess[bytes]:
        """Run argv without a shell and capture its output."""
        try:
            return subprocess.run(  # noqa: S603 - argv is built here, never from a shell string
                list(argv), capture_output=True, check=False, timeout=self.timeout
            )
        except subprocess.TimeoutExpired as expired:
            raise RetryableDriverError(
                f"{argv[0]} did not finish within {self.timeout:.0f}s: try again"
            ) from expired
        except OSError as error:
            raise PermanentDriverError(f"cannot run {argv[0]}: {error}") from error
