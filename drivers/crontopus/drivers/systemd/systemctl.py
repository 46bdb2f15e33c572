"""`systemctl` behind a runner seam, so apply and remove are testable without a user manager."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

from crontopus.drivers.commands import CommandRunner
from crontopus.drivers.errors import PermanentDriverError, RetryableDriverError

Scope = Literal["user", "system"]


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
