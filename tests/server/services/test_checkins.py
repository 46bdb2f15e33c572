"""Start and finish check-ins merge into one correct run, whatever order and repeats."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from crontopus.core.enums import RunStatus
from crontopus.server.services.checkins import (
    CheckIn,
    CheckInKind,
    RunState,
    merge,
    merge_batch,
    new_run,
)

TENANT, RUN, JOB = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
T0 = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


def start(at: datetime = T0) -> CheckIn:
    return CheckIn(TENANT, RUN, JOB, CheckInKind.START, at)


def finish(at: datetime = T0 + timedelta(seconds=12), **kw: object) -> CheckIn:
    values: dict[str, object] = {"status": RunStatus.FAILURE, "exit_code": 3, "output": "boom"}
    values.update(kw)
    return CheckIn(TENANT, RUN, JOB, CheckInKind.FINISH, at, **values)  # type: ignore[arg-type]


def fold(check_ins: list[CheckIn]) -> RunState:
    state = new_run(check_ins[0])
    for check_in in check_ins[1:]:
        state = merge(state, check_in)
    return state


@pytest.mark.parametrize(
    "order",
    [list(p) for n in (2, 3, 4) for p in itertools.product(["start", "finish"], repeat=n)
     if "start" in p and "finish" in p],
)  # fmt: skip
def test_any_order_and_any_repeats_of_start_and_finish_give_the_same_run(
    order: list[str],
) -> None:
    events = [start() if name == "start" else finish() for name in order]
    state = fold(events)
    assert state.status is RunStatus.FAILURE
    assert state.exit_code == 3
    assert state.started_at == T0
    assert state.finished_at == T0 + timedelta(seconds=12)
    assert state.duration_ms == 12_000
    assert state.output == "boom"


def test_a_finish_without_a_start_dates_the_start_from_the_duration() -> None:
    state = new_run(finish(duration_ms=5_000, status=RunStatus.SUCCESS, exit_code=0))
    assert state.status is RunStatus.SUCCESS
    assert state.started_at == T0 + timedelta(seconds=7)
    assert state.duration_ms == 5_000


def test_a_late_start_corrects_the_estimated_start() -> None:
    state = merge(new_run(finish()), start())
    assert state.started_at == T0
    assert state.duration_ms == 12_000


def test_the_first_finish_wins_over_a_conflicting_repeat() -> None:
    state = fold([start(), finish(), finish(status=RunStatus.SUCCESS, exit_code=0, output="ok")])
    assert state.status is RunStatus.FAILURE
    assert state.output == "boom"


def test_a_start_alone_leaves_the_run_running() -> None:
    state = new_run(start())
    assert state.status is RunStatus.RUNNING
    assert state.finished_at is None


def received_now(runs: list[RunState]) -> list[RunState]:
    return [replace(run, received_at=T0) for run in runs]


def test_a_batch_with_start_and_finish_inserts_one_finished_run() -> None:
    merged = merge_batch({}, [start(), finish()])
    assert received_now(merged.inserts) == received_now([fold([start(), finish()])])
    assert merged.updates == []
    assert merged.finished == merged.inserts


def test_a_batch_that_changes_nothing_writes_nothing_and_counts_nothing() -> None:
    stored = fold([start(), finish()])
    merged = merge_batch({(TENANT, RUN): stored}, [finish(), start()])
    assert merged.inserts == merged.updates == merged.finished == []
    assert merged.states == {(TENANT, RUN): stored}


def test_a_finish_for_a_stored_start_is_an_update_counted_once() -> None:
    stored = new_run(start())
    before = replace(stored)
    merged = merge_batch({(TENANT, RUN): stored}, [finish(), finish(exit_code=9)])
    assert received_now(merged.updates) == received_now([fold([start(), finish()])])
    assert merged.finished == merged.updates
    assert stored == before, "the stored run given in must not change"
