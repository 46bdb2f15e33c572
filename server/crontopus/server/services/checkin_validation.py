"""What a check-in may say: the one set of rules for `POST /checkin/…` and GraphQL `checkIn`.

Both entry points turn their input into a `Report` and `validate` it before anything is
queued for storage, so a value the database cannot hold (a year-1 start, an infinite
duration, a NUL byte) is answered as the caller's mistake, naming the field and the
allowed range, and never reaches a batch shared with other tenants' check-ins. The
entry points differ only in how they name fields (`FieldNames`).
"""

from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from crontopus.core.enums import RunStatus, RunTrigger
from crontopus.server.errors import FieldProblem, ValidationFailed
from crontopus.server.services.checkins import OUTPUT_LIMIT, CheckInKind
from crontopus.server.settings import CheckInLimits

#: Exit codes a report may carry; negative ones are "killed by signal N" as Python reports them.
EXIT_CODE_RANGE = (-255, 255)
_COMMIT_ID = re.compile(r"[0-9a-fA-F]{4,64}")
_EXIT_CODE = re.compile(r"-?[0-9]{1,3}")
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class FieldNames:
    """How one entry point names a report's fields, and the unit it states durations in."""

    started: tuple[str, ...]
    finished: tuple[str, ...]
    duration: tuple[str, ...]
    exit_code: tuple[str, ...]
    commit: tuple[str, ...]
    #: Milliseconds per unit of the duration field (seconds over HTTP, ms in GraphQL).
    duration_unit: int
    duration_unit_name: str


HTTP_FIELDS = FieldNames(
    started=("started",),
    finished=("finished",),
    duration=("duration",),
    exit_code=("exit-code",),
    commit=("commit",),
    duration_unit=1000,
    duration_unit_name="seconds",
)
GRAPHQL_FIELDS = FieldNames(
    started=("input", "startedAt"),
    finished=("input", "finishedAt"),
    duration=("input", "durationMs"),
    exit_code=("input", "exitCode"),
    commit=("input", "commitId"),
    duration_unit=1,
    duration_unit_name="milliseconds",
)


@dataclass(frozen=True)
class Report:
    """A check-in as a client states it, before it is checked."""

    job_id: uuid.UUID
    run_id: uuid.UUID
    kind: CheckInKind
    status: RunStatus | None = None
    exit_code: int | None = None
    duration_ms: int | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    output: str = ""
    commit_id: str | None = None
    fields: FieldNames = GRAPHQL_FIELDS
    trigger: RunTrigger = RunTrigger.SCHEDULE


@dataclass(frozen=True)
class CheckedReport:
    """A report that passed `validate`: times in UTC, output bounded and storable."""

    report: Report
    output: str
    output_truncated: bool


def parse_uuid(value: str | None, field: str) -> uuid.UUID:
    """Parse an id from a URL; raise ValidationFailed naming `field`."""
    try:
        return uuid.UUID(value or "")
    except ValueError:
        raise ValidationFailed.single(
            field, f"{value!r} is not a UUID (like 550e8400-e29b-41d4-a716-446655440000)"
        ) from None


def parse_time(value: str, field: str) -> datetime:
    """Parse an RFC 3339 time with its UTC offset; whether it is in range is `validate`'s job."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationFailed.single(
            field, f"{value!r} is not an RFC 3339 time like 2026-01-31T02:00:00Z"
        ) from None
    if parsed.tzinfo is None:
        raise ValidationFailed.single(field, "needs a UTC offset, like ...T02:00:00Z")
    return parsed


def parse_seconds(value: str, field: str) -> int:
    """Parse a duration in seconds (a decimal number) into whole milliseconds."""
    try:
        milliseconds = float(value) * 1000
    except ValueError:
        raise ValidationFailed.single(field, f"{value!r} is not a number of seconds") from None
    if not math.isfinite(milliseconds):
        raise ValidationFailed.single(field, f"{value!r} is not a finite number of seconds")
    return round(milliseconds)


def parse_exit_code(value: str) -> int | None:
    """The exit code a check-in URL's last part names, or None if it is not a number."""
    return int(value) if _EXIT_CODE.fullmatch(value) else None


def exit_code_problem(exit_code: int) -> str | None:
    low, high = EXIT_CODE_RANGE
    if low <= exit_code <= high:
        return None
    return f"{exit_code} is out of range: an exit code is between {low} and {high}"


def clean_output(text: str, limit: int = OUTPUT_LIMIT) -> tuple[str, bool]:
    """Keep the last `limit` bytes of output as storable text; flag truncation.

    The tail holds the error, so that is what is kept. NUL (which PostgreSQL text cannot
    hold) and unpaired surrogates (which are not UTF-8) become U+FFFD instead of failing.
    """
    if text.isascii() and len(text) <= limit and "\x00" not in text:
        return text, False  # the common case, decided without encoding
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        text = _SURROGATE.sub("\ufffd", text)
        data = text.encode("utf-8")
    if len(data) <= limit:
        return text, False
    return data[-limit:].decode("utf-8", "ignore"), True


def _when(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _span(delta: timedelta) -> str:
    seconds = delta.total_seconds()
    for size, unit in ((86400, "days"), (3600, "hours"), (60, "minutes")):
        if seconds >= 2 * size:
            return f"{round(seconds / size, 1):g} {unit}"
    return f"{seconds:g} seconds"


def _time_in_window(
    found: list[FieldProblem],
    value: datetime,
    path: tuple[str, ...],
    limits: CheckInLimits,
    now: datetime,
) -> datetime | None:
    """The time in UTC if it is zone-aware and inside the window; None (and a problem) if not."""
    tzinfo = value.tzinfo
    if tzinfo is not UTC and (tzinfo is None or value.utcoffset() is None):
        found.append(FieldProblem(path, "needs a UTC offset, like 2026-01-31T02:00:00Z"))
        return None
    earliest, latest = now - limits.max_age, now + limits.max_ahead
    # Compared before any conversion: an offset on year 1 or 9999 overflows astimezone().
    if not earliest <= value <= latest:
        message = (
            f"{value.isoformat()} is out of range: a check-in may report times from "
            f"{_span(limits.max_age)} ago to {_span(limits.max_ahead)} ahead of the server's "
            f"clock ({_when(earliest)} to {_when(latest)}); check the reporting machine's clock"
        )
        found.append(FieldProblem(path, message))
        return None
    return value if tzinfo is UTC else value.astimezone(UTC)


def validate(report: Report, limits: CheckInLimits, now: datetime) -> CheckedReport:
    """Check a report against `limits` at `now`; raise ValidationFailed naming every problem."""
    # On the path of every check-in: checks that do not apply cost one comparison each.
    fields = report.fields
    found: list[FieldProblem] = []
    started = report.started_at
    if started is not None:
        started = _time_in_window(found, started, fields.started, limits, now)
    finished = report.finished_at
    if finished is not None:
        finished = _time_in_window(found, finished, fields.finished, limits, now)
    duration = report.duration_ms
    # total_seconds(): a timedelta divided by a timedelta takes ten times as long.
    if duration is not None and not 0 <= duration <= limits.max_duration.total_seconds() * 1000:
        unit = fields.duration_unit
        longest = int(limits.max_duration.total_seconds() * 1000) // unit
        message = (
            f"{duration / unit:g} is out of range: a duration is between 0 and {longest} "
            f"{fields.duration_unit_name} ({_span(limits.max_duration)})"
        )
        found.append(FieldProblem(fields.duration, message))
    if report.exit_code is not None and (problem := exit_code_problem(report.exit_code)):
        found.append(FieldProblem(fields.exit_code, problem))
    commit = report.commit_id
    if commit is not None and not _COMMIT_ID.fullmatch(commit):
        message = f"{commit[:80]!r} is not a Git commit id (4 to 64 hexadecimal digits)"
        found.append(FieldProblem(fields.commit, message))
    if started is not None and duration is None and report.kind is CheckInKind.FINISH:
        # Without a stated duration the run lasted from its start to its finish.
        lasted = (finished or now) - started
        if lasted > limits.max_duration:
            message = (
                f"makes the run last {_span(lasted)}, longer than the "
                f"{_span(limits.max_duration)} a run may last; state its duration"
            )
            found.append(FieldProblem(fields.started, message))
    if found:
        raise ValidationFailed(found)
    output, truncated = clean_output(report.output)
    if started is not report.started_at or finished is not report.finished_at:
        report = replace(report, started_at=started, finished_at=finished)
    return CheckedReport(report, output, truncated)
