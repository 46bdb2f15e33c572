"""The agent's state directory: where every file the agent keeps lives, and atomic writes."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

STATE_DIR_VARIABLE = "CRONTOPUS_AGENT_STATE_DIR"
ROOT_STATE_DIR = Path("/var/lib/crontopus-agent")


def default_state_dir() -> Path:
    """Return the state directory used when neither --state-dir nor the environment names one."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return ROOT_STATE_DIR
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
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

    def job_file(self, job_id: UUID) -> Path:
        return self.jobs / f"{job_id}.json"

    def lock_file(self, job_id: UUID) -> Path:
        return self.locks / f"{job_id}.lock"

    def is_default(self) -> bool:
        """Tell whether the wrapper finds this directory without --state-dir.

        Only the defaults that hold in cron's bare environment count: XDG_STATE_HOME is
        usually unset there, so a directory chosen through it must be named.
        """
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            return self.root == ROOT_STATE_DIR
        return self.root == Path.home() / ".local" / "state" / "crontopus-agent"

    def create(self) -> None:
        """Create the directory tree, readable by its owner only."""
        for path in (self.root, self.jobs, self.locks, self.spool):
            path.mkdir(mode=0o700, parents=True, exist_ok=True)

    def read_token(self) -> str | None:
        """Return the endpoint token, or None before enrollment."""
        try:
            return self.token.read_text(encoding="utf-8").strip() or None
        except FileNotFoundError:
            return None

    def write_token(self, token: str) -> None:
        """Store the endpoint token with mode 0600."""
        write_atomic(self.token, (token + "\n").encode(), mode=0o600)


def write_atomic(
    path: Path, data: bytes, *, mode: int = 0o600, sync_directory: bool = True
) -> None:
    """Write `data` to `path` through a fsynced temp file and a rename: never half a file."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Not tempfile.mkstemp: importing tempfile costs the wrapper milliseconds on every run.
    temp = path.parent / f".{path.name}.{os.getpid()}.{time.monotonic_ns()}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        try:
            os.fchmod(fd, mode)  # os.open's mode passes through the umask
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
