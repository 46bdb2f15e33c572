"""The reconcile plan: what to add, update, remove and adopt so the scheduler matches Git.

Planning is pure (manifests, labels and what the driver reports in, a Plan out), so
`sync --dry-run` prints exactly what a real sync would do.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from crontopus.core.manifest import JobManifest
from crontopus.drivers import ConversionRefused, DesiredEntry, ForeignEntry, InstalledEntry

# How the agent knows that a managed job is an adopted foreign entry: the server answers each
# reportDiscoveredJobs item with the job id it gave that fingerprint, and adoption keeps the id;
# a manifest may also name the fingerprint (its first 16-64 hex digits) in this label.
FINGERPRINT_LABEL = "crontopus.io/fingerprint"
MIN_FINGERPRINT_LENGTH = 16


class SkipKind(enum.Enum):
    """Why a job is not installed on this endpoint."""

    DISCOVERED = "discovered"  # a foreign entry's manifest: read-only
    NOT_TARGETED = "not-targeted"  # its targets do not match the endpoint's labels
    INACTIVE = "inactive"  # enabled: false or paused: true
    REFUSED = "refused"  # the driver cannot express its schedule


@dataclass(frozen=True)
class Skipped:
    """A job the agent does not install here, and why."""

    job_id: uuid.UUID
    name: str
    reason: str
    kind: SkipKind = SkipKind.REFUSED


@dataclass(frozen=True)
class Plan:
    """The changes one sync makes to the scheduler."""

    add: tuple[DesiredEntry, ...] = ()
    update: tuple[DesiredEntry, ...] = ()
    remove: tuple[uuid.UUID, ...] = ()
    adopt: tuple[tuple[DesiredEntry, str], ...] = ()
    retire: tuple[uuid.UUID, ...] = ()  # adopted jobs that are paused: adopt, then remove
    unchanged: tuple[uuid.UUID, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    refused: tuple[Skipped, ...] = ()
    desired: Mapping[uuid.UUID, DesiredEntry] = field(default_factory=dict)
    kept: tuple[uuid.UUID, ...] = ()  # installed jobs whose manifest is broken: left as they are

    @property
    def changes_scheduler(self) -> bool:
        """Tell whether applying this plan writes to the scheduler."""
        return bool(self.add or self.update or self.remove or self.adopt)

    def lines(self) -> list[str]:
        """Describe the plan for people, one change per line (what `--dry-run` prints)."""
        out = [f"+ add     {e.job_id}  {e.schedule}  {e.name}" for e in self.add]
        out += [f"~ update  {e.job_id}  {e.schedule}  {e.name}" for e in self.update]
        out += [
            f"> adopt   {e.job_id}  {e.schedule}  {e.name}  (replaces foreign entry {fp[:12]})"
            for e, fp in self.adopt
        ]
        out += [f"- remove  {job_id}" for job_id in self.remove]
        out += [f"! refused {s.job_id}  {s.name}: {s.reason}" for s in self.refused]
        out += [f"= kept    {job_id}  (its manifest is broken)" for job_id in self.kept]
        out.append(
            f"{len(self.add)} to add, {len(self.update)} to update, {len(self.adopt)} to adopt,"
            f" {len(self.remove)} to remove, {len(self.unchanged)} unchanged,"
            f" {len(self.skipped)} not for this endpoint, {len(self.refused)} refused"
        )
        return out


def make_plan(
    manifests: Sequence[JobManifest],
    endpoint_labels: Mapping[str, str],
    installed: Mapping[uuid.UUID, InstalledEntry],
    foreign: Sequence[ForeignEntry],
    entry_for: Callable[[JobManifest], DesiredEntry],
    check: Callable[[DesiredEntry], None],
    discovered: Mapping[uuid.UUID, str] | None = None,
    broken: frozenset[uuid.UUID] = frozenset(),
) -> Plan:
    """Plan the changes; `check` raises ConversionRefused for an entry the driver cannot take."""
    add: list[DesiredEntry] = []
    update: list[DesiredEntry] = []
    adopt: list[tuple[DesiredEntry, str]] = []
    retire: list[uuid.UUID] = []
    unchanged: list[uuid.UUID] = []
    skipped: list[Skipped] = []
    refused: list[Skipped] = []
    desired: dict[uuid.UUID, DesiredEntry] = {}
    for manifest in sorted(manifests, key=lambda m: (m.namespace, m.name, str(m.id))):
        label = f"{manifest.namespace}/{manifest.name}"
        if manifest.is_discovered:
            reason = "discovered jobs are never installed"
            skipped.append(Skipped(manifest.id, label, reason, SkipKind.DISCOVERED))
            continue
        if not manifest.targets.matches(endpoint_labels):
            reason = "its targets do not match this endpoint"
            skipped.append(Skipped(manifest.id, label, reason, SkipKind.NOT_TARGETED))
            continue
        entry = entry_for(manifest)
        fingerprint = adopted_fingerprint(manifest, foreign, discovered or {})
        if not manifest.active:
            state = "disabled" if not manifest.enabled else "paused"
            skipped.append(Skipped(manifest.id, label, f"the job is {state}", SkipKind.INACTIVE))
            if fingerprint is not None and _expressible(entry, check):
                # Adopted and paused at once: the foreign copy must stop too.
                adopt.append((entry, fingerprint))
                retire.append(manifest.id)
            continue
        try:
            check(entry)
        except ConversionRefused as exc:
            refused.append(Skipped(manifest.id, label, exc.reason))
            continue
        desired[manifest.id] = entry
        if fingerprint is not None:
            adopt.append((entry, fingerprint))
        elif manifest.id not in installed:
            add.append(entry)
        elif installed[manifest.id].content_hash != entry.content_hash:
            update.append(entry)
        else:
            unchanged.append(manifest.id)
    # A job whose file is broken stays as installed: a typo must not stop a running schedule.
    kept = [job_id for job_id in installed if job_id in broken and job_id not in desired]
    remove = [job_id for job_id in installed if job_id not in desired and job_id not in broken]
    remove += [job_id for job_id in retire if job_id not in installed]
    return Plan(
        tuple(add),
        tuple(update),
        tuple(sorted(remove, key=str)),
        tuple(adopt),
        tuple(retire),
        tuple(unchanged),
        tuple(skipped),
        tuple(refused),
        desired,
        tuple(kept),
    )


def _expressible(entry: DesiredEntry, check: Callable[[DesiredEntry], None]) -> bool:
    try:
        check(entry)
    except ConversionRefused:
        return False
    return True


def adopted_fingerprint(
    manifest: JobManifest,
    foreign: Sequence[ForeignEntry],
    discovered: Mapping[uuid.UUID, str],
) -> str | None:
    """Return the fingerprint of the foreign entry this managed job replaces, if still present.

    `discovered` maps job ids to the fingerprints the server gave them when they were reported.
    """
    wanted = discovered.get(manifest.id)
    short = manifest.labels.get(FINGERPRINT_LABEL, "").lower()
    for entry in foreign:
        if entry.fingerprint == wanted:
            return entry.fingerprint
        if len(short) >= MIN_FINGERPRINT_LENGTH and entry.fingerprint.startswith(short):
            return entry.fingerprint
    return None
