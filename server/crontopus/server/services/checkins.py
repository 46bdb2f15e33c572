"""Check-ins: what a wrapper or script reports about one run, and how reports merge.

A run's start and finish may arrive in either order, more than once, or the finish
alone; merging is a pure function of the stored run and the check-in, so every
arrival order ends in the same run.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from crontopus.core.enums import RunStatus, RunTrigger

OUTPUT_LIMIT = 64 * 1024
#: The longest duration a run can have: milliseconds in a GraphQL Int (24.8 days).
MAX_DURATION_MS = 2**31 - 1


class CheckInKind(enum.Enum):
    START = "start"
    FINISH = "finish"


@dataclass(frozen=True)
class CheckIn:
    """One report about one run; `status` is set for finishes."""

    tenant_id: uuid.UUID
    run_id: uuid.UUID
    job_id: uuid.UUID
    kind: CheckInKind
    at: datetime
    endpoint_id: uuid.UUID | None = None
    status: RunStatus | None = None
    exit_code: int | None = None
    duration_ms: int | None = None
    started_at: datetime | None = None
    output: str = ""
    output_truncated: bool = False
    commit_id: str | None = None
    job_name: str | None = None
    namespace: str | None = None
    unknown_job: bool = False
    trigger: RunTrigger = RunTrigger.SCHEDULE


@dataclass
class RunState:
    """The stored form of a run while a batch is being merged."""

    tenant_id: uuid.UUID
    id: uuid.UUID
    job_id: uuid.UUID
    status: RunStatus
    started_at: datetime
    start_reported: bool = False
    endpoint_id: uuid.UUID | None = None
    job_name: str | None = None
    namespace: str | None = None
    finished_at: datetime | None = None
    duration_ms: int | None = None
    exit_code: int | None = None
    output: str = ""
    output_truncated: bool = False
    commit_id: str | None = None
    unknown_job: bool = False
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    trigger: RunTrigger = RunTrigger.SCHEDULE

    @property
    def finished(self) -> bool:
        return self.status is not RunStatus.RUNNING


def status_for_exit_code(exit_code: int) -> RunStatus:
    return RunStatus.SUCCESS if exit_code == 0 else RunStatus.FAILURE


def new_run(check_in: CheckIn) -> RunState:
    """Start a run from its first check-in (which may be the finish)."""
    return _fold(_blank(check_in), check_in)


def _blank(check_in: CheckIn) -> RunState:
    return RunState(
        tenant_id=check_in.tenant_id,
        id=check_in.run_id,
        job_id=check_in.job_id,
        status=RunStatus.RUNNING,
        started_at=check_in.at,
        job_name=check_in.job_name,
        namespace=check_in.namespace,
        unknown_job=check_in.unknown_job,
        trigger=check_in.trigger,
    )


def merge(run: RunState, check_in: CheckIn) -> RunState:
    """Fold one check-in into a run: the first start and the first finish win."""
    return _fold(replace(run), check_in)


def _fold(merged: RunState, check_in: CheckIn) -> RunState:
    """`merge`, changing `merged` in place (it must be a copy the caller owns)."""
    if check_in.endpoint_id is not None and merged.endpoint_id not in (None, check_in.endpoint_id):
        # Another endpoint's run: one endpoint cannot report (or finish) a run of another.
        return merged
    merged.endpoint_id = merged.endpoint_id or check_in.endpoint_id
    merged.commit_id = merged.commit_id or check_in.commit_id
    if check_in.trigger is RunTrigger.MANUAL:
        # Either check-in may arrive first (or alone): one that says "asked for" marks the run.
        merged.trigger = RunTrigger.MANUAL
    if check_in.kind is CheckInKind.START:
        if not merged.start_reported:
            merged.started_at = check_in.started_at or check_in.at
            merged.start_reported = True
            if merged.finished_at is not None:
                merged.duration_ms = _elapsed_ms(merged.started_at, merged.finished_at)
        return merged
    if merged.finished:
        return merged
    assert check_in.status is not None
    merged.status = check_in.status
    merged.exit_code = check_in.exit_code
    merged.finished_at = check_in.at
    merged.output, merged.output_truncated = check_in.output, check_in.output_truncated
    if check_in.started_at is not None:
        merged.started_at, merged.start_reported = check_in.started_at, True
    if check_in.duration_ms is not None:
        merged.duration_ms = check_in.duration_ms
        if not merged.start_reported:
            # No start seen: the reported duration is the best estimate of when it began.
            merged.started_at = merged.finished_at - timedelta(milliseconds=check_in.duration_ms)
    elif merged.start_reported:
        merged.duration_ms = _elapsed_ms(merged.started_at, merged.finished_at)
    else:
        merged.started_at = merged.finished_at
    return merged


def _elapsed_ms(started_at: datetime, finished_at: datetime) -> int:
    """The time between a start and a finish reported apart, within what a duration may be.

    Each check-in is validated on its own, so a start and a finish can each be in range
    while being further apart than a run may last (or in the wrong order).
    """
    elapsed = int((finished_at - started_at).total_seconds() * 1000)
    return min(max(0, elapsed), MAX_DURATION_MS)


RunKey = tuple[uuid.UUID, uuid.UUID]


@dataclass
class MergedBatch:
    """What one batch of check-ins does to the stored runs."""

    #: Every run the batch touched, as it now stands, by (tenant id, run id).
    states: dict[RunKey, RunState]
    #: Runs the batch created, and stored runs it changed.
    inserts: list[RunState]
    updates: list[RunState]
    #: Runs this batch finished: the health counters count each of them once.
    finished: list[RunState]

    @property
    def changed(self) -> list[RunState]:
        """The runs whose stored form is new or different (subscribers hear of these)."""
        return self.inserts + self.updates


def merge_batch(existing: Mapping[RunKey, RunState], check_ins: Sequence[CheckIn]) -> MergedBatch:
    """Fold a batch of check-ins into the stored runs they name (`existing`, unchanged)."""
    states: dict[RunKey, RunState] = {}
    for check_in in check_ins:
        key = (check_in.tenant_id, check_in.run_id)
        current = states.get(key)
        if current is None:
            stored = existing.get(key)
            # One copy per run per batch; later check-ins of the batch fold into it in place.
            current = replace(stored) if stored is not None else _blank(check_in)
            states[key] = current
        _fold(current, check_in)
    inserts, updates, finished = [], [], []
    for key, state in states.items():
        stored = existing.get(key)
        if stored is None:
            inserts.append(state)
        elif state != stored:
            updates.append(state)
        else:
            continue
        if state.finished and (stored is None or not stored.finished):
            finished.append(state)
    return MergedBatch(states, inserts, updates, finished)
