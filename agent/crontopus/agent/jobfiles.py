"""Per-job config files: everything `run-job UUID` needs, written by the reconciler.

They are JSON (not YAML) because the wrapper reads one on every run and JSON loads in a
fraction of the time; the scheduler entry carries only the job UUID.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

from crontopus.agent.statedir import BINARY, StateDir, fsync_directory, restrict

FORMAT_VERSION = 1


@dataclass(frozen=True)
class JobConfig:
    """One job as the wrapper runs it."""

    job_id: str
    name: str
    namespace: str
    command: str
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    #: Variable -> secret name: the wrapper fetches the values at run time; none is stored.
    secret_env: Mapping[str, str] = field(default_factory=dict)
    timeout: int | None = None
    concurrency: str = "allow"
    commit: str | None = None
    server: str | None = None
    checkin_timeout: float = 10.0
    spool_max_entries: int = 10_000
    spool_max_bytes: int = 64 * 1024 * 1024
    spool_max_age: float = 7 * 24 * 3600.0
    # The job's own schedule and zone: a gated firing (`run-job UUID --gate`) runs only at them.
    schedule: str | None = None
    timezone: str | None = None

    def to_bytes(self) -> bytes:
        """Serialise as canonical JSON, so an unchanged job rewrites nothing."""
        data: dict[str, Any] = {"version": FORMAT_VERSION, **asdict(self)}
        data["args"] = list(self.args)
        data["env"] = dict(self.env)
        data["secret_env"] = dict(self.secret_env)
        return (json.dumps(data, sort_keys=True, ensure_ascii=False, indent=1) + "\n").encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> JobConfig:
        """Load a job config written by `to_bytes`."""
        raw = json.loads(data)
        raw["args"] = tuple(raw.get("args", ()))
        # Keys a newer agent wrote are ignored, so a downgrade keeps running jobs.
        known = set(cls.__dataclass_fields__)
        return cls(**{key: value for key, value in raw.items() if key in known})


def read_job_config(state: StateDir, job_id: UUID) -> JobConfig | None:
    """Return the job's config, or None when the agent has not installed it."""
    try:
        return JobConfig.from_bytes(state.job_file(job_id).read_bytes())
    except FileNotFoundError:
        return None


def write_job_config(state: StateDir, config: JobConfig) -> bool:
    """Write one job's config if it changed; return whether a write happened."""
    return write_job_configs(state, [config]) == 1


def write_job_configs(state: StateDir, configs: Iterable[JobConfig]) -> int:
    """Write the configs that changed, durably and in batches; return how many were written.

    Each file goes to a temp file that is fsynced before it is renamed into place, so no reader
    ever sees half a config. The fsyncs run in parallel: one at a time, 1,000 jobs cost seconds
    on a busy disk, while the file system commits concurrent ones together.
    """
    changed: list[tuple[Path, bytes]] = []
    for config in configs:
        path = state.job_file(UUID(config.job_id))
        data = config.to_bytes()
        try:
            if path.read_bytes() == data:
                continue
        except FileNotFoundError:
            pass
        changed.append((path, data))
    if not changed:
        return 0
    state.jobs.mkdir(mode=0o700, parents=True, exist_ok=True)
    for start in range(0, len(changed), _BATCH):
        _write_batch(changed[start : start + _BATCH])
    fsync_directory(state.jobs)
    return len(changed)


_BATCH = 256  # files open at once: well under the usual limit of 1,024 descriptors


def _write_batch(files: list[tuple[Path, bytes]]) -> None:
    temps: list[Path] = []
    fds: list[int] = []
    try:
        for path, data in files:
            temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            fds.append(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | BINARY, 0o600))
            temps.append(temp)
            restrict(fds[-1], 0o600)
            view = memoryview(data)
            while view:
                view = view[os.write(fds[-1], view) :]
        with ThreadPoolExecutor(max_workers=min(16, len(fds))) as pool:
            list(pool.map(os.fsync, fds))
    except BaseException:
        for temp in temps:
            temp.unlink(missing_ok=True)
        raise
    finally:
        for fd in fds:
            os.close(fd)
    for temp, (path, _) in zip(temps, files, strict=True):
        os.replace(temp, path)


def remove_job_configs(state: StateDir, keep: set[UUID]) -> list[UUID]:
    """Delete the configs of jobs not in `keep`; return the ids removed."""
    removed: list[UUID] = []
    try:
        names = os.listdir(state.jobs)
    except FileNotFoundError:
        return removed
    for name in names:
        if not name.endswith(".json"):
            continue
        try:
            job_id = UUID(name.removesuffix(".json"))
        except ValueError:
            continue
        if job_id not in keep:
            state.job_file(job_id).unlink(missing_ok=True)
            removed.append(job_id)
    return removed
