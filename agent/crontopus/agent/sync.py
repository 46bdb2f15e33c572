"""One sync: fetch the repository, plan, apply, remember, and report to the server."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from crontopus.agent.config import AgentConfig
from crontopus.agent.errors import NotEnrolled, ServerError, SyncError
from crontopus.agent.gitsync import ManifestSet, Mirror
from crontopus.agent.plan import Plan, SkipKind, Skipped
from crontopus.agent.reconcile import Reconciler
from crontopus.agent.server import ServerClient
from crontopus.agent.statedir import StateDir, write_atomic
from crontopus.core.enums import JobSource
from crontopus.drivers import Driver, ForeignEntry, InstalledEntry

log = logging.getLogger(__name__)
_ZERO = uuid.UUID(int=0)  # any id: the wrapper argv shape is what matters


@dataclass(frozen=True)
class SyncState:
    """What the last sync applied, kept in sync-state.json for skipping and for `status`."""

    commit: str | None = None
    fingerprint: str | None = None
    applied_at: str | None = None
    repository_url: str | None = None
    reported: bool = False
    jobs: int = 0
    problems: tuple[str, ...] = ()
    refused: tuple[str, ...] = ()
    # job id -> fingerprint, as the server answered reportDiscoveredJobs (adoption keeps the id).
    discovered: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, state: StateDir) -> SyncState:
        """Read the saved state (defaults when there is none)."""
        try:
            raw: dict[str, Any] = json.loads(state.sync_state.read_bytes())
        except (FileNotFoundError, ValueError):
            return cls()
        raw["problems"] = tuple(raw.get("problems", ()))
        raw["refused"] = tuple(raw.get("refused", ()))
        known = set(cls.__dataclass_fields__)
        return cls(**{key: value for key, value in raw.items() if key in known})

    def save(self, state: StateDir) -> None:
        """Write the state atomically."""
        data = asdict(self)
        write_atomic(state.sync_state, json.dumps(data, indent=1).encode(), mode=0o600)


def load_server_labels(state: StateDir) -> dict[str, str] | None:
    """Return the endpoint's labels as the server last sent them, or None if never."""
    try:
        raw = json.loads(state.server_labels.read_bytes())
    except (FileNotFoundError, ValueError):
        return None
    return {str(key): str(value) for key, value in raw.items()} if isinstance(raw, dict) else None


def save_server_labels(state: StateDir, labels: Mapping[str, str]) -> None:
    """Remember the server's copy of the endpoint's labels (written only when it changed)."""
    if load_server_labels(state) != dict(labels):
        data = json.dumps(dict(sorted(labels.items())), indent=1).encode()
        write_atomic(state.server_labels, data, mode=0o600)


def effective_labels(state: StateDir, config: AgentConfig) -> dict[str, str]:
    """Return the labels jobs are targeted by: the server's copy once known, else the config's.

    The server matches targets against its copy too (for drift), and people change labels
    there, so once a heartbeat has brought them back they win over config.yaml.
    """
    server = load_server_labels(state)
    return dict(config.labels) if server is None else server


@dataclass(frozen=True)
class SyncOutcome:
    """What one sync did."""

    commit: str | None
    skipped: bool
    plan: Plan | None = None
    problems: tuple[str, ...] = ()
    fetch_error: str | None = None
    report_error: str | None = None
    job_files_changed: int = 0
    messages: list[str] = field(default_factory=list)


class Syncer:
    """Runs syncs for one state directory with one driver and an optional server client."""

    def __init__(
        self,
        state: StateDir,
        config: AgentConfig,
        driver: Driver,
        client: ServerClient | None = None,
    ) -> None:
        self.state = state
        self.config = config
        self.driver = driver
        self.client = client
        self.reconciler = Reconciler(state, config, driver)

    def sync(
        self, *, dry_run: bool = False, force: bool = False, fetch: bool = True
    ) -> SyncOutcome:
        """Fetch, and apply the repository when it or the scheduler changed since last time.

        `fetch=False` applies the last fetched commit without asking the server (the agent
        channel says when there is a new one); with nothing fetched yet it fetches anyway.
        """
        saved = SyncState.load(self.state)
        token = self.state.read_token()
        if token is None:
            raise NotEnrolled(
                f"{self.state.token}: no endpoint token: run `crontopus-agent enroll` first"
            )
        url = self._repository_url(saved)
        mirror = Mirror(self.state.mirror, url, token, self.config.branch)
        fetch_error: str | None = None
        try:
            commit = None if fetch else mirror.head()
            if commit is None:
                commit = mirror.fetch()
        except SyncError as exc:
            # Keep applying the last fetched commit: the scheduler may have drifted meanwhile.
            commit = mirror.head()
            if commit is None:
                # Never fetched: applying "no jobs" would remove every installed entry.
                raise
            fetch_error = str(exc)
            log.warning("%s; using the last fetched commit", exc)
        installed = self.driver.list_managed()
        foreign = self.driver.list_foreign()
        fingerprint = self._fingerprint(commit, installed, foreign, saved.discovered)
        if not force and not dry_run and fingerprint == saved.fingerprint and saved.reported:
            return SyncOutcome(commit, True, problems=saved.problems, fetch_error=fetch_error)
        discovered, report_error = dict(saved.discovered), None
        if not dry_run:
            # Report foreign entries before planning: the answer names the job ids they have,
            # which is how an adopted job is recognised (and never installed twice).
            discovered, report_error = self._report_discovered(foreign, discovered)
        manifests = mirror.manifests(commit)
        labels = effective_labels(self.state, self.config)
        adoptable = {uuid.UUID(job_id): fp for job_id, fp in discovered.items()}
        plan = self.reconciler.plan(manifests, installed, foreign, labels, adoptable)
        problems = tuple(str(problem) for problem in manifests.problems)
        for problem in problems:
            log.warning("manifest problem: %s", problem)
        if dry_run:
            return SyncOutcome(commit, False, plan, problems, fetch_error)
        applied = self.reconciler.apply(plan, manifests)
        changed = applied.job_files_changed
        if plan.changes_scheduler or changed:
            log.info("applied %s: %s", commit, plan.lines()[-1])
        installed = self.driver.list_managed()
        foreign = self.driver.list_foreign()
        present = {entry.fingerprint for entry in foreign}
        discovered = {job: fp for job, fp in discovered.items() if fp in present}
        report_error = report_error or self._report_instances(
            manifests, plan, installed, discovered, applied.failed
        )
        SyncState(
            commit=commit,
            fingerprint=self._fingerprint(commit, installed, foreign, discovered),
            applied_at=datetime.now(UTC).isoformat(timespec="seconds"),
            repository_url=url,
            reported=report_error is None,
            jobs=len(installed),
            problems=problems,
            refused=tuple(f"{s.name}: {s.reason}" for s in (*plan.refused, *applied.failed)),
            discovered=discovered,
        ).save(self.state)
        return SyncOutcome(
            commit, False, plan, problems, fetch_error, report_error, job_files_changed=changed
        )

    def _repository_url(self, saved: SyncState) -> str:
        if self.config.repository_url:
            return self.config.repository_url
        if saved.repository_url:
            return saved.repository_url
        if self.client is None:
            raise SyncError(
                "repository_url: unknown and no server to ask: set repository_url"
                " or enroll the agent"
            )
        try:
            return self.client.repository().clone_url
        except ServerError as exc:
            raise SyncError(f"asking the server for the repository URL failed: {exc}") from exc

    def _fingerprint(
        self,
        commit: str | None,
        installed: Mapping[Any, InstalledEntry],
        foreign: Sequence[ForeignEntry],
        discovered: Mapping[str, str],
    ) -> str:
        """Hash everything a sync depends on, so an unchanged cycle can skip all work."""
        try:
            job_files = sorted(os.listdir(self.state.jobs))
        except FileNotFoundError:
            job_files = []
        inputs = {
            "commit": commit,
            "config": repr(sorted(self.config.to_yaml_dict().items(), key=lambda kv: kv[0])),
            "labels": effective_labels(self.state, self.config),
            "wrapper": self.reconciler.wrapper_argv(_ZERO),
            "installed": sorted(f"{k}:{v.content_hash}:{v.native}" for k, v in installed.items()),
            "foreign": sorted(entry.fingerprint for entry in foreign),
            "discovered": dict(discovered),
            "job_files": job_files,
        }
        encoded = json.dumps(inputs, sort_keys=True, default=str).encode()
        return hashlib.sha256(encoded).hexdigest()

    def _report_discovered(
        self, foreign: Sequence[ForeignEntry], discovered: dict[str, str]
    ) -> tuple[dict[str, str], str | None]:
        """Report the foreign entries; return the job-id map updated from the answer."""
        if self.client is None or not foreign:
            return discovered, None
        items = [
            {
                "schedule": entry.schedule,
                "command": entry.command,
                "user": entry.user,
                "driver": entry.driver,
                "fingerprint": entry.fingerprint,
            }
            for entry in foreign
        ]
        try:
            answered = self.client.report_discovered_jobs(items)
        except ServerError as exc:
            log.warning("reporting discovered jobs failed (retried next cycle): %s", exc)
            return discovered, str(exc)
        updated = {job: fp for job, fp in discovered.items() if fp not in answered}
        updated.update({job_id: fp for fp, job_id in answered.items()})
        return updated, None

    def _report_instances(
        self,
        manifests: ManifestSet,
        plan: Plan,
        installed: Mapping[Any, InstalledEntry],
        discovered: Mapping[str, str],
        failed: Sequence[Skipped] = (),
    ) -> str | None:
        """Report what the scheduler holds: managed jobs and the discovered entries."""
        if self.client is None:
            return None
        instances = instance_reports(self.driver.name, manifests, plan, installed, failed)
        managed = {item["jobId"] for item in instances}
        instances += [
            {
                "jobId": job_id,
                "driver": self.driver.name,
                "state": "INSTALLED",
                "source": JobSource.DISCOVERED.value,
            }
            for job_id in sorted(discovered)
            if job_id not in managed
        ]
        try:
            self.client.report_job_instances(instances)
        except ServerError as exc:
            log.warning("reporting job instances failed (retried next cycle): %s", exc)
            return str(exc)
        return None


def instance_reports(
    driver: str,
    manifests: ManifestSet,
    plan: Plan,
    installed: Mapping[Any, InstalledEntry],
    failed: Sequence[Skipped] = (),
) -> list[dict[str, str]]:
    """Say, per job meant for this endpoint, what its scheduler holds (and why not, if not)."""
    states: dict[Any, str] = {}
    reasons: dict[Any, str] = {}
    for skipped in plan.skipped:
        if skipped.kind is SkipKind.INACTIVE:
            states[skipped.job_id] = "DISABLED"
    for job_id in plan.desired:
        states[job_id] = "INSTALLED" if job_id in installed else "FAILED"
    for refused in (*plan.refused, *failed):
        states[refused.job_id] = "FAILED"
        reasons[refused.job_id] = refused.reason
    for job_id, state in states.items():
        if state == "FAILED" and job_id not in reasons:
            reasons[job_id] = "the scheduler does not hold the entry the agent applied"
    reports = []
    for job_id, state in sorted(states.items(), key=lambda kv: str(kv[0])):
        if job_id not in manifests.jobs:
            continue
        item = {
            "jobId": str(job_id),
            "driver": driver,
            "state": state,
            "source": JobSource.MANAGED.value,
        }
        if state == "FAILED":
            # The server keeps at most MAX_REASON characters: cut here rather than be refused.
            item["failureReason"] = _shorten(reasons[job_id], MAX_REASON)
        reports.append(item)
    return reports


MAX_REASON = 2000


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
