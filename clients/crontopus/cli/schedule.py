"""`schedule next`: when a cron expression fires, offline, with crontopus.core's evaluator, and
how each driver would run it (crontopus.drivers.preview)."""

from __future__ import annotations

from datetime import UTC, datetime

from crontopus.cli import output
from crontopus.cli.errors import UsageFailure, UserFailure
from crontopus.cli.invocation import Invocation
from crontopus.cli.runs import parse_instant
from crontopus.core.errors import ScheduleError
from crontopus.core.schedule import MAX_FIRE_TIMES, load_timezone, next_fire_times, parse_schedule
from crontopus.drivers.preview import preview


async def next_times(inv: Invocation) -> int:
    """Print the next fire times of a schedule in a time zone."""
    count: int = inv.value("count")
    if not 1 <= count <= MAX_FIRE_TIMES:
        raise UsageFailure(f"--count: {count} is not between 1 and {MAX_FIRE_TIMES}")
    after_text = inv.value("after")
    after = (
        datetime.fromisoformat(parse_instant(after_text, "--after"))
        if after_text
        else datetime.now(UTC)
    )
    expression: str = inv.value("expression")
    timezone: str = inv.value("timezone")
    machine_zone: str = inv.value("machine_zone")
    try:
        cron = parse_schedule(expression)
        times = next_fire_times(cron, timezone, after, count)
    except ScheduleError as error:
        raise UserFailure(f"schedule: {error}") from None
    try:
        load_timezone(machine_zone)
    except ScheduleError as error:
        raise UserFailure(f"--machine-zone: {error}") from None
    drivers = preview(expression, timezone, machine_zone)
    if inv.json:
        output.dump_json(
            inv,
            {
                "schedule": expression,
                "expression": cron.expression,
                "timezone": timezone,
                "nextRuns": [moment.isoformat() for moment in times],
                "machineZone": machine_zone,
                "drivers": {found.driver: found.to_json() for found in drivers},
            },
        )
        return 0
    for moment in times:
        print(moment.isoformat(), file=inv.out)
    if not times:
        output.note(inv, f"{expression!r} never fires on a calendar (@reboot runs at boot only)")
    print(f"\non a machine whose clock runs in {machine_zone}:", file=inv.out)
    for found in drivers:
        print(f"  {found.driver:<14} {found.describe()}", file=inv.out)
    return 0
