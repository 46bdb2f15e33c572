"""A stand-in for `schtasks.exe`: Windows is the one boundary these tests cannot cross."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest


class FakeSchtasks:
    """Record every call and keep registered task XML in memory, like Task Scheduler would."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.tasks: dict[str, str] = {}
        self.files_seen: list[bytes] = []

    def run(self, argv: Sequence[str]) -> subprocess.CompletedProcess[bytes]:
        args = list(argv)
        self.calls.append(args)
        verb = args[1]
        if verb == "/Create":
            name = args[args.index("/TN") + 1]
            data = Path(args[args.index("/XML") + 1]).read_bytes()
            self.files_seen.append(data)
            self.tasks[name] = data.decode("utf-16")
            return self._ok(f'SUCCESS: The scheduled task "{name}" has successfully been created.')
        if verb == "/Delete":
            name = args[args.index("/TN") + 1]
            if self.tasks.pop(name, None) is None:
                return self._fail("ERROR: The system cannot find the file specified.")
            return self._ok(f'SUCCESS: The scheduled task "{name}" was successfully deleted.')
        if verb == "/Query" and "/TN" in args:
            name = args[args.index("/TN") + 1]
            if name not in self.tasks:
                return self._fail("ERROR: The system cannot find the file specified.")
            return self._ok(self.tasks[name])
        if verb == "/Query":
            body = "".join(
                f"  <!-- {name} -->\n{_strip_declaration(xml)}\n"
                for name, xml in self.tasks.items()
            )
            return self._ok(f'<?xml version="1.0" encoding="UTF-8"?>\n<Tasks>\n{body}</Tasks>\n')
        return self._fail(f"ERROR: Invalid argument/option - '{verb}'.")

    def _ok(self, out: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.CompletedProcess([], 0, out.encode(), b"")

    def _fail(self, err: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.CompletedProcess([], 1, b"", err.encode())


def _strip_declaration(xml: str) -> str:
    return re.sub(r"^<\?xml[^>]*\?>\s*", "", xml)


@pytest.fixture
def fake_schtasks() -> FakeSchtasks:
    """Give a test an empty Task Scheduler behind the schtasks seam."""
    return FakeSchtasks()
