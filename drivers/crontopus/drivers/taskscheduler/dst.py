"""Time-zone checks for Task Scheduler: the machine's zone, and the job's DST transitions.

Task Scheduler knows no IANA zones: a start boundary without an offset follows the machine's
zone. So a job is exact only when its zone agrees with the machine's over the coming years, and
only when the triggers fire like cron around every transition of that zone.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache

from crontopus.core.schedule import CronSchedule, load_timezone
from crontopus.drivers.errors import ConversionRefused
from crontopus.drivers.taskscheduler.expand import expand
from crontopus.drivers.taskscheduler.triggers import Trigger
from crontopus.drivers.transitions import Transition, cron_fire_times, zone_transitions

DST_OPT_IN_FIELD = "spec.taskScheduler.acceptDstDifferences"

# A calendar trigger's repetition lasts under a day, so a transition can disturb runs that
# started up to a day before it; four hours after it cover the wall-clock shift itself.
_BEFORE = timedelta(hours=4)
_AFTER = timedelta(hours=28)
_STEADY = timedelta(days=2)


def _signature(name: str, start: datetime, end: datetime) -> tuple[object, ...]:
    zone = load_timezone(name)
    offset = start.astimezone(zone).utcoffset()
    changes = tuple((t.instant, t.offset_after) for t in zone_transitions(zone, start, end))
    return (offset, changes)


def check_machine_zone(
    timezone: str, machine_timezone: str, start: datetime, end: datetime
) -> None:
    """Refuse a job whose zone does not keep the machine's wall time over the horizon."""
    if timezone == machine_timezone:
        return
    if _signature(timezone, start, end) == _signature(machine_timezone, start, end):
        return
    raise ConversionRefused(
        f"the job's time zone {timezone} differs from this machine's ({machine_timezone}), "
        "and Task Scheduler has no time zones: a task follows the machine's clock and its "
        f"daylight-saving changes. Set spec.timezone to {machine_timezone}, or use the cron "
        "or systemd driver"
    )


def check_dst(
    schedule: CronSchedule,
    timezone: str,
    triggers: tuple[Trigger, ...],
    start: datetime,
    end: datetime,
) -> None:
    """Refuse when the triggers and cron disagree around a transition of the zone."""
    reason = _dst_reason(schedule, timezone, triggers, _midnight(start), _midnight(end))
    if reason:
        raise ConversionRefused(reason)


def _midnight(moment: datetime) -> datetime:
    # Whole UTC days let an agent's repeated reconciles hit the cache below.
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


@lru_cache(maxsize=1024)
def _dst_reason(
    schedule: CronSchedule,
    timezone: str,
    triggers: tuple[Trigger, ...],
    start: datetime,
    end: datetime,
) -> str:
    for transition in zone_transitions(load_timezone(timezone), start, end):
        problem = _difference(schedule, timezone, triggers, transition)
        if problem:
            return (
                f'the schedule "{schedule.source}" in {timezone} meets the daylight-saving '
                f"change of {transition.describe()}: {problem}. Task Scheduler and cron "
                f"differ there; set {DST_OPT_IN_FIELD}: true to accept Task Scheduler's "
                "behaviour, or use the cron driver"
            )
    return ""


def check_steady_state(
    schedule: CronSchedule, timezone: str, triggers: tuple[Trigger, ...], start: datetime
) -> None:
    """Refuse when the triggers and cron disagree over the next two days, away from any change.

    A `TimeTrigger` counts from a fixed instant in 2000; in a zone whose offset is not a whole
    number of repetition intervals away from UTC (Asia/Kolkata's +05:30 and an hourly job) its
    runs would land on the wrong minute every day.
    """
    low, high = start, start + _STEADY
    expansion = expand(triggers, timezone, low, high)
    cron = set(cron_fire_times(schedule, timezone, low, high))
    if expansion.uncertain or set(expansion.times) != cron:
        zone = load_timezone(timezone)
        missing = sorted(cron - set(expansion.times))
        extra = sorted(set(expansion.times) - cron)
        shown = _walls(missing or extra, zone)
        raise ConversionRefused(
            f'the schedule "{schedule.source}" in {timezone} cannot be spelled with repeating '
            f"Task Scheduler triggers: they would {'miss' if missing else 'add'} runs at "
            f"{shown}; use the cron driver"
        )


def _difference(
    schedule: CronSchedule, timezone: str, triggers: tuple[Trigger, ...], transition: Transition
) -> str:
    low, high = transition.instant - _BEFORE, transition.instant + _AFTER
    expansion = expand(triggers, timezone, low, high)
    if expansion.uncertain:
        walls = ", ".join(f"{w:%Y-%m-%d %H:%M}" for w in expansion.uncertain[:3])
        return (
            f"a trigger starts at {walls}, a wall time that is skipped or repeated that day, "
            "and Windows documents no rule for it"
        )
    zone = load_timezone(timezone)
    cron = set(cron_fire_times(schedule, timezone, low, high))
    tasks = set(expansion.times)
    parts = []
    if cron - tasks:
        parts.append(
            "cron runs it at " + _walls(sorted(cron - tasks), zone) + " and Windows does not"
        )
    if tasks - cron:
        parts.append(
            "Windows runs it at " + _walls(sorted(tasks - cron), zone) + " and cron does not"
        )
    return "; ".join(parts)


def _walls(instants: list[datetime], zone: object) -> str:
    shown = [f"{t.astimezone(zone):%m-%d %H:%M%z}" for t in instants[:4]]  # type: ignore[arg-type]
    if len(instants) > 4:
        shown.append(f"… {len(instants) - 4} more")
    return ", ".join(shown)
