"""What every service manager is given and what it answers: files to write and commands to run."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path, PurePath

from crontopus.agent.errors import UsageError

SERVICE_NAME = "crontopus-agent"
LAUNCHD_LABEL = "io.crontopus.agent"
WINDOWS_TASK = "\\Crontopus\\Agent"
MANAGERS = ("systemd", "launchd", "windows")


@dataclass(frozen=True)
class ServiceSpec:
    """How the daemon is started: the program, its state directory and whose service it is."""

    executable: str
    state_dir: PurePath
    user: bool = False  # a per-user service (systemd --user, a LaunchAgent) instead of system-wide
    home: PurePath | None = None  # the user's home, for per-user file locations
    uid: int | None = None  # the user's id, for launchd's gui/<uid> domain

    def arguments(self) -> list[str]:
        """Return the daemon's command line."""
        return [self.executable, "--state-dir", str(self.state_dir), "run"]


@dataclass(frozen=True)
class ServiceFile:
    """One file a service manager needs, at its absolute path on the target machine."""

    path: PurePath
    content: bytes
    mode: int = 0o644


def default_manager(platform: str = sys.platform) -> str:
    """Return the service manager of a platform."""
    if platform == "darwin":
        return "launchd"
    if platform == "win32":
        return "windows"
    return "systemd"


def check_manager(name: str) -> str:
    """Return `name` when it is a known service manager, else explain the choices."""
    if name not in MANAGERS:
        raise UsageError(f"--manager: {name!r} is not one of {', '.join(MANAGERS)}")
    return name


def under_root(root: Path | None, path: PurePath) -> Path:
    """Return where `path` lands when files are written below `root` (a staging tree)."""
    if root is None:
        return Path(path)
    relative = Path(*path.parts[1:]) if path.is_absolute() else Path(path)
    return root / relative
