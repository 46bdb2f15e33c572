"""Reconcile: turn manifests into scheduler entries and job configs, and apply a plan."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from crontopus.agent.config import AgentConfig
from crontopus.agent.gitsync import ManifestSet
from crontopus.agent.jobfiles import JobConfig, remove_job_configs, write_job_configs
from crontopus.agent.plan import Plan, Skipped, make_plan
from crontopus.agent.statedir import StateDir
from crontopus.core.manifest import JobManifest
from crontopus.drivers import (
    DesiredEntry,
    Driver,
    ForeignEntry,
    InstalledEntry,
    PermanentDriverError,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Applied:
    """What applying a plan did: job files changed, and adoptions the driver refused."""

    job_files_changed: int
    failed: tuple[Skipped, ...] = ()


class Reconciler:
    """Plans and applies one machine's scheduler state through one driver."""

    def __init__(self, state: StateDir, config: AgentConfig, driver: Driver) -> None:
        self.state = state
        self.config = config
        self.driver = driver
        self._wrapper = config.wrapper_path()

    def wrapper_argv(self, job_id: uuid.UUID) -> list[str]:
        """Return the argv the scheduler runs for a job: the wrapper, by absolute path."""
        argv = [self._wrapper, "run-job", str(job_id)]
        if not self.state.is_default():
            argv += ["--state-dir", str(self.state.root)]
        return argv

    def entry_for(self, manifest: JobManifest) -> DesiredEntry:
        """Return the scheduler entry of a job (the command lives in its job config)."""
        return DesiredEntry.build(
            manifest.id,
            f"{manifest.namespace}/{manifest.name}",
            manifest.schedule,
            manifest.timezone,
            self.wrapper_argv(manifest.id),
        )

    def check(self, entry: DesiredEntry) -> None:
        """Raise ConversionRefused when the driver cannot express the entry's schedule."""
        self.driver.convert(entry.schedule, entry.timezone)

    def job_config(self, manifest: JobManifest, commit: str | None) -> JobConfig:
        """Return what the wrapper needs to run the job."""
        return JobConfig(
            job_id=str(manifest.id),
            name=manifest.name,
            namespace=manifest.namespace,
            command=manifest.command,
            args=tuple(manifest.args),
            env=dict(manifest.env),
            secret_env=dict(manifest.secret_env),
            timeout=manifest.timeout,
            concurrency=str(manifest.concurrency),
            commit=commit,
            server=self.config.server,
            checkin_timeout=self.config.checkin_timeout,
            spool_max_entries=self.config.spool_max_entries,
            spool_max_bytes=self.config.spool_max_bytes,
            spool_max_age=self.config.spool_max_age,
            schedule=manifest.schedule,
            timezone=manifest.timezone,
        )

    def plan(
        self,
        manifests: ManifestSet,
        installed: Mapping[uuid.UUID, InstalledEntry],
        foreign: Sequence[ForeignEntry],
        labels: Mapping[str, str],
        discovered: Mapping[uuid.UUID, str] | None = None,
    ) -> Plan:
        """Plan the changes that make the scheduler match the manifests."""
        return make_plan(
            list(manifests.jobs.values()),
            labels,
            installed,
            foreign,
            self.entry_for,
            self.check,
            discovered,
            manifests.broken,
        )

    def apply(self, plan: Plan, manifests: ManifestSet) -> Applied:
        """Write job configs, then change the scheduler; say what changed and what failed."""
        commit = manifests.commit
        keep = set(plan.desired) | {entry.job_id for entry, _ in plan.adopt}
        # Configs first: an entry must never fire before the wrapper can find its job.
        written = write_job_configs(
            self.state,
            (self.job_config(manifests.jobs[job_id], commit) for job_id in sorted(keep, key=str)),
        )
        failed: list[Skipped] = []
        for entry, fingerprint in plan.adopt:
            log.info("adopting %s in place of foreign entry %s", entry.name, fingerprint[:12])
            try:
                self.driver.adopt(entry, fingerprint)
            except PermanentDriverError as exc:
                # Installing it next to the foreign entry would run the job twice: leave both
                # as they are, report it, and apply everything else.
                log.error("cannot adopt %s: %s", entry.name, exc)
                failed.append(Skipped(entry.job_id, entry.name, str(exc)))
        if plan.add or plan.update:
            self.driver.apply([*plan.add, *plan.update])
        not_adopted = {skipped.job_id for skipped in failed}
        if remove := [job_id for job_id in plan.remove if job_id not in not_adopted]:
            self.driver.remove(remove)
        # Configs last on removal: a run already started keeps its config until the entry is gone.
        removed = remove_job_configs(self.state, (set(plan.desired) - not_adopted) | set(plan.kept))
        return Applied(written + len(removed), tuple(failed))
