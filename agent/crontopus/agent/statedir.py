"""The agent's state directory: where every file the agent keeps lives, and atomic writes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

STATE_DIR_VARIABLE = "CRONTOPUS_AGENT_STATE_DIR"
ROOT_STATE_DIR = Path("/var/lib/crontopus-agent")
MACOS_ROOT_STATE_DIR = Path("/Library/Application Support/Crontopus/agent")
# Windows opens files in text mode unless told otherwise, and would write \n as \r\n.
BINARY = getattr(os, "O_BINARY", 0)
# SYSTEM and the Administrators group: the only principals a Windows state directory admits.
WINDOWS_OWNERS = ("*S-1-5-18", "*S-1-5-32-544")


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def default_state_dir(
    platform: str = sys.platform,
    environ: Mapping[str, str] | None = None,
    home: Path | None = None,
    root: bool | None = None,
) -> Path:
    """Return the state directory used when neither --state-dir nor the environment names one.

    Linux and other Unix: /var/lib/crontopus-agent for root, the XDG state home otherwise.
    macOS: /Library/Application Support/Crontopus/agent for root, the same under ~ otherwise.
    Windows: %ProgramData%\\Crontopus\\agent (the service runs as LocalSystem).
    """
    env = os.environ if environ is None else environ
    home = Path.home() if home is None else home
    root = _is_root() if root is None else root
    if platform == "win32":
        base = env.get("ProgramData") or env.get("PROGRAMDATA") or r"C:\ProgramData"
        return Path(base) / "Crontopus" / "agent"
    if platform == "darwin":
        if root:
            return MACOS_ROOT_STATE_DIR
        return home / "Library" / "Application Support" / "Crontopus" / "agent"
    if root:
        return ROOT_STATE_DIR
    base = env.get("XDG_STATE_HOME") or str(home / ".local" / "state")
    return Path(base) / "crontopus-agent"


def resolve_state_dir(option: str | None) -> Path:
    """Pick the state directory: the option, then the environment, then the default."""
    chosen = option or os.environ.get(STATE_DIR_VARIABLE)
    return Path(chosen).absolute() if chosen else default_state_dir()


@dataclass(frozen=True)
class StateDir:
    """The paths inside one state directory."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    @property
    def token(self) -> Path:
        return self.root / "endpoint-token"

    @property
    def jobs(self) -> Path:
        return self.root / "jobs"

    @property
    def locks(self) -> Path:
        return self.root / "locks"

    @property
    def spool(self) -> Path:
        return self.root / "spool"

    @property
    def mirror(self) -> Path:
        return self.root / "mirror.git"

    @property
    def sync_state(self) -> Path:
        return self.root / "sync-state.json"

    @property
    def server_labels(self) -> Path:
        return self.root / "endpoint-labels.json"

    @property
    def heartbeat(self) -> Path:
        return self.root / "last-heartbeat"

    def job_file(self, job_id: UUID) -> Path:
        return self.jobs / f"{job_id}.json"

    def lock_file(self, job_id: UUID) -> Path:
        return self.locks / f"{job_id}.lock"

    def is_default(self) -> bool:
        """Tell whether the wrapper finds this directory without --state-dir.

        Only the defaults that hold in cron's bare environment count: XDG_STATE_HOME is
        usually unset there, so a directory chosen through it must be named.
        """
        return self.root == default_state_dir(environ={})

    def create(self) -> None:
        """Create the directory tree, readable by its owner only."""
        fresh = not self.root.exists()
        for path in (self.root, self.jobs, self.locks, self.spool):
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
        if fresh and sys.platform == "win32":
            # mkdir's mode means nothing on Windows, and %ProgramData% lets every user read
            # what is created in it: the token must not be.
            subprocess.run(  # noqa: S603 - icacls with our own arguments
                restrict_command(self.root), capture_output=True, check=True
            )

    def read_token(self) -> str | None:
        """Return the endpoint token, or None before enrollment."""
        try:
            return self.token.read_text(encoding="utf-8").strip() or None
        except FileNotFoundError:
            return None

    def read_heartbeat(self) -> str | None:
        """Return when the server last took a heartbeat (ISO 8601, UTC), or None."""
        try:
            return self.heartbeat.read_text(encoding="utf-8").strip() or None
        except FileNotFoundError:
            return None

    def write_heartbeat(self, at: str) -> None:
        """Record a heartbeat the server took (the installer waits for the first one)."""
        # No directory fsync: losing the latest beat in a crash costs nothing.
        write_atomic(self.heartbeat, (at + "\n").encode(), mode=0o644, sync_directory=False)

    def write_token(self, token: str) -> None:
        """Store the endpoint token with mode 0600."""
        write_atomic(self.token, (token + "\n").encode(), mode=0o600)


def restrict_command(root: Path) -> list[str]:
    """Return the icacls command that leaves a Windows directory to SYSTEM and Administrators."""
    grants = [part for owner in WINDOWS_OWNERS for part in ("/grant:r", f"{owner}:(OI)(CI)F")]
    return ["icacls", str(root), "/inheritance:r", *grants]


def restrict(fd: int, mode: int) -> None:
    """Give an open file `mode`, which os.open's mode only sets after the umask took its part."""
    if sys.platform != "win32":  # Windows has no modes; the directory's ACL protects the file
        os.fchmod(fd, mode)


def write_atomic(
    path: Path, data: bytes, *, mode: int = 0o600, sync_directory: bool = True
) -> None:
    """Write `data` to `path` through a fsynced temp file and a rename: never half a file."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Not tempfile.mkstemp: importing tempfile costs the wrapper milliseconds on every run.
    temp = path.parent / f".{path.name}.{os.getpid()}.{time.monotonic_ns()}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | BINARY, mode)
    try:
        try:
            restrict(fd, mode)
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    if sync_directory:
        fsync_directory(path.parent)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def fsync_directory(path: Path) -> None:
    """Flush a directory entry change (a rename, a new file) to disk."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on directories; the rename is still atomic
    finally:
        os.close(fd)
