"""One set of rules for what a check-in may say, whichever entry point it came through."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from crontopus.server.errors import ValidationFailed
from crontopus.server.services.checkin_validation import (
    GRAPHQL_FIELDS,
    HTTP_FIELDS,
    Report,
    clean_output,
    parse_seconds,
    parse_time,
    validate,
)
from crontopus.server.services.checkins import OUTPUT_LIMIT, CheckInKind
from crontopus.server.settings import CheckInLimits

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
LIMITS = CheckInLimits()


def finish(**fields: object) -> Report:
    return Report(uuid.uuid4(), uuid.uuid4(), CheckInKind.FINISH, **fields)  # type: ignore[arg-type]


def problems(report: Report, limits: CheckInLimits = LIMITS) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as failure:
        validate(report, limits, NOW)
    return {".".join(problem.path): problem.message for problem in failure.value.problems}


@pytest.mark.parametrize(
    "started",
    ["0001-01-01T00:00:00+14:00", "0046-02-24T15:19:41Z", "9999-12-31T23:59:59-14:00"],
)
def test_it_rejects_a_time_the_database_cannot_hold_naming_the_window(started: str) -> None:
    found = problems(finish(started_at=parse_time(started, "started"), duration_ms=1000))
    message = found["input.startedAt"]
    assert "out of range" in message
    assert "from 90 days ago to 10 minutes ahead" in message
    assert "(2026-08-28T02:00:00Z to 2026-11-26T02:10:00Z)" in message


def test_a_late_spooled_check_in_and_a_skewed_clock_are_accepted() -> None:
    late = validate(finish(started_at=NOW - timedelta(days=89), duration_ms=5), LIMITS, NOW)
    assert late.report.started_at == NOW - timedelta(days=89)
    ahead = NOW + timedelta(minutes=9)
    assert validate(finish(finished_at=ahead), LIMITS, NOW).report.finished_at == ahead


def test_the_window_is_configurable() -> None:
    narrow = CheckInLimits(max_age=timedelta(days=1), max_ahead=timedelta(0))
    found = problems(finish(finished_at=NOW - timedelta(days=2)), narrow)
    assert "from 24 hours ago to 0 seconds ahead" in found["input.finishedAt"]
    assert "input.finishedAt" in problems(finish(finished_at=NOW + timedelta(seconds=1)), narrow)


def test_times_are_stored_in_utc() -> None:
    berlin = datetime(2026, 11, 26, 3, 0, tzinfo=timezone(timedelta(hours=1)))
    checked = validate(finish(started_at=berlin, duration_ms=1), LIMITS, NOW)
    assert checked.report.started_at == NOW
    assert checked.report.started_at.tzinfo is UTC


def test_a_time_without_a_zone_is_rejected() -> None:
    found = problems(finish(finished_at=datetime(2026, 11, 26, 1, 0)))
    assert "needs a UTC offset" in found["input.finishedAt"]
    with pytest.raises(ValidationFailed, match="needs a UTC offset"):
        parse_time("2026-11-26T01:00:00", "started")


def test_durations_are_bounded_and_named_in_the_callers_unit() -> None:
    assert (
        "between 0 and 2147483000 milliseconds"
        in problems(finish(duration_ms=-1))["input.durationMs"]
    )
    over = finish(duration_ms=10**15, fields=HTTP_FIELDS)
    assert problems(over)["duration"] == (
        "1e+12 is out of range: a duration is between 0 and 2147483 seconds (24.9 days)"
    )
    week = CheckInLimits(max_duration=timedelta(days=7))
    assert "(7 days)" in problems(finish(duration_ms=8 * 86400 * 1000), week)["input.durationMs"]


@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "1e400"])
def test_a_duration_that_is_not_a_finite_number_is_rejected(text: str) -> None:
    with pytest.raises(ValidationFailed, match="not a finite number of seconds"):
        parse_seconds(text, "duration")


def test_a_start_and_finish_further_apart_than_a_run_may_last_are_rejected() -> None:
    week = CheckInLimits(max_duration=timedelta(days=7))
    report = finish(started_at=NOW - timedelta(days=8), fields=HTTP_FIELDS)
    assert "makes the run last 8 days" in problems(report, week)["started"]
    with_duration = finish(started_at=NOW - timedelta(days=8), duration_ms=1000)
    assert validate(with_duration, week, NOW).report.duration_ms == 1000


@pytest.mark.parametrize("code", [-256, 256, 2**31 - 1])
def test_exit_codes_outside_minus_255_to_255_are_rejected(code: int) -> None:
    message = problems(finish(exit_code=code))["input.exitCode"]
    assert message == f"{code} is out of range: an exit code is between -255 and 255"


def test_signal_exit_codes_are_accepted() -> None:
    assert validate(finish(exit_code=-9), LIMITS, NOW).report.exit_code == -9


@pytest.mark.parametrize("commit", ["v1.2", "abc", "a" * 65, "c0ffee\x00"])
def test_a_commit_must_be_a_git_object_id(commit: str) -> None:
    assert "is not a Git commit id" in problems(finish(commit_id=commit))["input.commitId"]


def test_every_problem_is_named_at_once() -> None:
    found = problems(finish(exit_code=999, duration_ms=-5, commit_id="nope"))
    assert set(found) == {"input.exitCode", "input.durationMs", "input.commitId"}
    assert set(GRAPHQL_FIELDS.__dict__) == set(HTTP_FIELDS.__dict__)


def test_output_keeps_the_tail_and_flags_truncation() -> None:
    text, truncated = clean_output("a" * 10 + "b" * OUTPUT_LIMIT)
    assert truncated is True
    assert text == "b" * OUTPUT_LIMIT
    assert clean_output("short") == ("short", False)
    text, truncated = clean_output("é" * OUTPUT_LIMIT)
    assert truncated is True
    assert len(text.encode()) == OUTPUT_LIMIT
    assert set(text) == {"é"}


def test_nul_bytes_and_unpaired_surrogates_become_replacement_characters() -> None:
    text, truncated = clean_output("ok\x00done \ud800 end")
    assert (text, truncated) == ("ok\ufffddone \ufffd end", False)
    text.encode("utf-8")  # storable as UTF-8 by both databases
