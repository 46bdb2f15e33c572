"""The `schtasks` command behind a runner seam: create, query and delete tasks.

Windows cannot run here, so tests hand `Schtasks` a recording runner; on Windows the
`SubprocessRunner` runs the real command.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from crontopus.drivers.commands import CommandRunner
from crontopus.drivers.errors import RetryableDriverError
from crontopus.drivers.taskscheduler.xml import decode_task, encode_task

# `schtasks /Query /XML ONE` prints one <Tasks> document with each task's path in a comment.
_LISTED_TASK = re.compile(r"<!--\s*(\\[^>]*?)\s*-->\s*(<Task\b.*?</Task>)", re.S)
_NOT_FOUND = re.compile(r"cannot find|does not exist", re.I)


@dataclass(frozen=True)
class ListedTask:
    """One task from a query: its path and its XML text."""

    name: str
    xml: str


def _output(data: bytes) -> str:
    try:
        return decode_task(data)
    except UnicodeDecodeError:
        return data.decode("latin-1")


class Schtasks:
    """Create, query and delete tasks with `schtasks.exe`."""

    def __init__(
        self,
        runner: CommandRunner,
        executable: str = "schtasks.exe",
        scratch_dir: str | Path | None = None,
    ) -> None:
        self.runner = runner
        self.executable = executable
        self.scratch_dir = scratch_dir

    def create(self, name: str, xml: str) -> None:
        """Register (or replace) a task from its XML, written to a UTF-16 file."""
        handle, path = tempfile.mkstemp(suffix=".xml", dir=self.scratch_dir)
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(encode_task(xml))
            self._check(
                [self.executable, "/Create", "/TN", name, "/XML", path, "/F"], f"create {name}"
            )
        finally:
            Path(path).unlink(missing_ok=True)

    def query(self, name: str) -> str | None:
        """Return one task's XML, or None when no such task exists."""
        result = self.runner.run([self.executable, "/Query", "/TN", name, "/XML"])
        if result.returncode != 0:
            if _NOT_FOUND.search(_output(result.stderr) + _output(result.stdout)):
                return None
            raise RetryableDriverError(
                f"schtasks could not query {name}: {_output(result.stderr).strip()}"
            )
        return _output(result.stdout)

    def query_all(self) -> list[ListedTask]:
        """Return every task this account can see, with its XML."""
        stdout = self._check([self.executable, "/Query", "/XML", "ONE"], "list tasks")
        return [ListedTask(name, xml) for name, xml in _LISTED_TASK.findall(stdout)]

    def delete(self, name: str) -> None:
        """Delete a task; a task already gone is not an error."""
        result = self.runner.run([self.executable, "/Delete", "/TN", name, "/F"])
        if result.returncode != 0 and not _NOT_FOUND.search(
            _output(result.stderr) + _output(result.stdout)
        ):
            raise RetryableDriverError(
                f"schtasks could not delete {name}: {_output(result.stderr).strip()}"
            )

    def _check(self, argv: list[str], what: str) -> str:
        result = self.runner.run(argv)
        if result.returncode != 0:
            message = (_output(result.stderr) or _output(result.stdout)).strip()
            raise RetryableDriverError(f"schtasks could not {what}: {message or 'no message'}")
        return _output(result.stdout)
