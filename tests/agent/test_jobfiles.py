"""Per-job config files: written only when they change, private, never half written."""

from __future__ import annotations

import json
import uuid

from crontopus.agent.jobfiles import (
    JobConfig,
    read_job_config,
    remove_job_configs,
    write_job_configs,
)
from crontopus.agent.statedir import StateDir


def config(name: str, command: str = "echo hi") -> JobConfig:
    return JobConfig(str(uuid.uuid4()), name, "default", command, args=("a b",), env={"X": "1"})


def test_configs_round_trip_and_are_private(state: StateDir) -> None:
    configs = [config(f"job-{n}") for n in range(300)]
    assert write_job_configs(state, configs) == 300
    for item in configs:
        assert read_job_config(state, uuid.UUID(item.job_id)) == item
        assert state.job_file(uuid.UUID(item.job_id)).stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in state.jobs.iterdir() if p.name.startswith(".")) == []


def test_only_changed_configs_are_written(state: StateDir) -> None:
    first, second = config("one"), config("two")
    write_job_configs(state, [first, second])
    inode = state.job_file(uuid.UUID(first.job_id)).stat().st_ino
    changed = JobConfig(**{**first.__dict__, "command": "echo changed"})
    assert write_job_configs(state, [changed, second]) == 1
    assert state.job_file(uuid.UUID(first.job_id)).stat().st_ino != inode
    assert read_job_config(state, uuid.UUID(first.job_id)) == changed


def test_a_config_from_a_newer_agent_still_loads(state: StateDir) -> None:
    item = config("newer")
    path = state.job_file(uuid.UUID(item.job_id))
    data = json.loads(item.to_bytes())
    data["retries"] = 3
    path.write_text(json.dumps(data))
    assert read_job_config(state, uuid.UUID(item.job_id)) == item


def test_configs_of_jobs_no_longer_installed_are_removed(state: StateDir) -> None:
    keep, drop = config("keep"), config("drop")
    write_job_configs(state, [keep, drop])
    assert remove_job_configs(state, {uuid.UUID(keep.job_id)}) == [uuid.UUID(drop.job_id)]
    assert read_job_config(state, uuid.UUID(drop.job_id)) is None
    assert read_job_config(state, uuid.UUID(keep.job_id)) == keep
