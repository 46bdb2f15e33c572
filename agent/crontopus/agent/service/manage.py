"""`crontopus-agent service install|uninstall|start|stop|status`: one flow for every manager."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from crontopus.agent.errors import ServiceError
from crontopus.agent.service import launchd, systemd, windows
from crontopus.agent.service.definition import ServiceFile, ServiceSpec, under_root

Runner = Callable[[Sequence[str]], int]
SYSTEMD_RUNNING = Path("/run/systemd/system")  # what sd_booted(3) checks

MODULES: dict[str, ModuleType] = {"systemd": systemd, "launchd": launchd, "windows": windows}


def run_command(argv: Sequence[str]) -> int:
    """Run a service manager's command with inherited output; return its exit code."""
    try:
        return subprocess.run(list(argv), check=False).returncode  # noqa: S603 - fixed programs
    except FileNotFoundError:
        raise ServiceError(
            f"{argv[0]}: not found: this machine does not run the service manager the command"
            " needs; pass --manager with the one it runs (systemd, launchd or windows)"
        ) from None


@dataclass
class Service:
    """The agent's service under one manager, optionally staged below a root directory."""

    manager: str
    spec: ServiceSpec
    root: Path | None = None
    runner: Runner = run_command
    log: list[str] = field(default_factory=list)

    @property
    def module(self) -> ModuleType:
        return MODULES[self.manager]

    def files(self) -> list[ServiceFile]:
        """Return the files of the service."""
        found: list[ServiceFile] = self.module.files(self.spec)
        return found

    def commands(self, action: str) -> list[list[str]]:
        """Return the manager's command lines of an action."""
        found: list[list[str]] = self.module.commands(self.spec, action)
        return found

    def _run(self, action: str, *, check: bool = True) -> int:
        code = 0
        for argv in self.commands(action):
            if self.root is not None:
                self.log.append(f"skipped (--root): {' '.join(argv)}")
                continue
            code = self.runner(argv)
            if code != 0 and check:
                raise ServiceError(f"{' '.join(argv)} failed with exit code {code}")
        return code

    def install(self, *, start: bool = True) -> None:
        """Write the service's files, register it to start at boot, and start it."""
        self._check_manager_runs()
        for item in self.files():
            target = under_root(self.root, item.path)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(item.content)
            if sys.platform != "win32":
                os.chmod(target, item.mode)
            self.log.append(f"wrote {target}")
        if self.root is not None and self.manager == "systemd" and not self.spec.user:
            # systemctl enables a unit below a root without a running systemd: the same
            # symlinks a booted machine would get.
            unit = systemd.UNIT
            code = self.runner(["systemctl", f"--root={self.root}", "enable", unit])
            if code != 0:
                raise ServiceError(f"systemctl --root={self.root} enable {unit} failed ({code})")
            self.log.append(f"enabled {unit} below {self.root}")
        self._run("register")
        if start:
            self._run("start")

    def _check_manager_runs(self) -> None:
        # systemctl would only say "System has not been booted with systemd as init system".
        system_unit = self.manager == "systemd" and self.root is None and not self.spec.user
        if system_unit and not SYSTEMD_RUNNING.is_dir():
            raise ServiceError(
                f"systemd is not running on this machine (no {SYSTEMD_RUNNING}): start"
                " `crontopus-agent run` from its init system instead, or write the unit"
                " into an image with --root DIR"
            )

    def uninstall(self) -> None:
        """Stop the service, unregister it and remove its files."""
        self._run("stop", check=False)  # already stopped is fine
        if self.root is not None and self.manager == "systemd" and not self.spec.user:
            self.runner(["systemctl", f"--root={self.root}", "disable", systemd.UNIT])
        self._run("unregister", check=False)
        for item in self.files():
            target = under_root(self.root, item.path)
            if target.exists():
                target.unlink()
                self.log.append(f"removed {target}")
        self._run("forget", check=False)

    def start(self) -> None:
        """Start (or restart) the service."""
        self._run("start")

    def stop(self) -> None:
        """Stop the service."""
        self._run("stop")

    def status(self) -> int:
        """Print the manager's view of the service; return its exit code (0 = running)."""
        return self._run("status", check=False)
