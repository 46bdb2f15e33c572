"""`systemctl` behind a runner seam, so apply and remove are testable without a user manager."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from typing import Literal, Protocol

from crontopus.drivers.errors import PermanentDriverError, RetryableDriverError

Scope = Literal["user", "system"]


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


class Systemctl:
    """The few `systemctl` calls the driver makes, in the user's or the system's manager."""

    def __init__(
        self, runner: CommandRunner, scope: Scope = "user", executable: str = "systemctl"
    ) -> None:
        self.runner = runner
        self.scope = scope
        self.executable = executable

    def _argv(self, *args: str) -> list[str]:
        scope = ["--user"] if self.scope == "user" else []
        return [self.executable, *scope, *args]

    def _call(self, *args: str) -> str:
        argv = self._argv(*args)
        result = self.runner.run(argv)
        if result.returncode != 0:
            message = result.stderr.decode(errors="replace").strip() or "no message"
            raise RetryableDriverError(f"{' '.join(argv)} failed: {message}")
        return result.stdout.decode(errors="replace")

    def daemon_reload(self) -> None:
        """Make the manager read changed unit files."""
        self._call("daemon-reload")

    def enable_now(self, units: Sequence[str]) -> None:
        """Enable and start timers."""
        if units:
            self._call("enable", "--now", *units)

    def restart(self, units: Sequence[str]) -> None:
        """Restart timers so that a changed schedule takes effect at once."""
        if units:
            self._call("restart", *units)

    def disable_now(self, units: Sequence[str]) -> None:
        """Stop and disable timers (a job already running is left to finish, as cron does)."""
        if units:
            self._call("disable", "--now", *units)

    def version(self) -> int:
        """Return the systemd major version."""
        match = re.match(r"systemd (\d+)", self._call("--version"))
        if match is None:
            raise PermanentDriverError("systemctl --version did not name a systemd version")
        return int(match.group(1))
