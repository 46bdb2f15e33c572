"""GraphQL query `schedulePreview`: the next fire times of a cron expression."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import strawberry

from crontopus.core.errors import ScheduleError, TimezoneError
from crontopus.core.schedule import load_timezone, next_fire_times, parse_schedule
from crontopus.server.graphql.context import Info
from crontopus.server.graphql.errors import FieldError, ValidationError

MAX_PREVIEW = 100


@strawberry.type(description="When a schedule fires next, exactly as Debian/cronie cron would.")
class SchedulePreview:
    schedule: str
    expression: str = strawberry.field(description="The five fields after expanding macros.")
    timezone: str
    next_runs: list[datetime]


SchedulePreviewResult = Annotated[
    SchedulePreview | ValidationError, strawberry.union("SchedulePreviewResult")
]


@strawberry.type
class ScheduleQueries:
    @strawberry.field(description="Preview a cron schedule in a time zone (at most 100 times).")
    def schedule_preview(
        self, info: Info, schedule: str, timezone: str = "UTC", count: int = 10
    ) -> SchedulePreviewResult:
        info.context.require_principal().require_read("Previewing schedules")
        problems = []
        try:
            load_timezone(timezone)
        except TimezoneError as error:
            problems.append(FieldError(path=["timezone"], message=str(error)))
        try:
            cron = parse_schedule(schedule)
        except ScheduleError as error:
            problems.append(FieldError(path=["schedule"], message=str(error)))
        if not 1 <= count <= MAX_PREVIEW:
            problems.append(FieldError(path=["count"], message=f"must be 1-{MAX_PREVIEW}"))
        if problems:
            return ValidationError(message="; ".join(p.message for p in problems), fields=problems)
        return SchedulePreview(
            schedule=schedule,
            expression=cron.expression,
            timezone=timezone,
            next_runs=next_fire_times(cron, timezone, datetime.now(UTC), count),
        )
