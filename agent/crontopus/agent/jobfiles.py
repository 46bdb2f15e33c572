"""Per-job config files: everything `run-job UUID` needs, written by the reconciler.

They are JSON (not YAML) because the wrapper reads one on every run and JSON loads in a
fraction of the time; the scheduler entry carries only the job UUID.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any
from uuid import UUID

from crontopus.agent.statedir import StateDir, write_atomic

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
    timeout: int | None = None
    concurrency: str = "allow"
    commit: str | None = None
    server: str | None = None
    checkin_timeout: float = 10.0
    spool_max_entries: int = 10_000
    spool_max_bytes: int = 64 * 1024 * 1024

    def to_bytes(self) -> bytes:
        """Serialise as canonical JSON, so an unchanged job rewrites nothing."""
        data: dict[str, Any] = {"version": FORMAT_VERSION, **asdict(self)}
        data["args"] = list(self.args)
        data["env"] = dict(self.env)
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
    """Write the job's config if it changed; return whether a write happened.

    The caller fsyncs the jobs directory once after a batch of writes.
    """
    path = state.job_file(UUID(config.job_id))
    data = config.to_bytes()
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    write_atomic(path, data, mode=0o600, sync_directory=False)
    return True


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
