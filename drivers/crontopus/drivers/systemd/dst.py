"""Where systemd's daylight-saving behaviour departs from cron's, for one schedule and zone.

systemd evaluates `OnCalendar=` in wall-clock time: a wall time that does not exist (inside a
spring-forward gap) is skipped, and a wall time that exists twice fires only at its first copy.
Cron runs fixed-time jobs at the end of a gap and wildcard jobs in both copies of a repeated
hour.  Rather than encode the rules twice, this module models systemd and compares the model with
the core evaluator (the cron reference) around every transition of the zone.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from crontopus.core.schedule import CronSchedule, load_timezone
from crontopus.drivers.transitions import Transition, cron_fire_times, zone_transitions

# Real transitions move the clock by at most three hours (scheduler-facts.md): four hours either
# side of the instant covers every fire time a transition can disturb.
_WINDOW = timedelta(hours=4)


@dataclass(frozen=True)
class DstDifference:
    """Fire times around one transition on which cron and systemd disagree."""

    transition: Transition
    cron_only: tuple[datetime, ...]
    systemd_only: tuple[datetime, ...]
    # Wall times named inside a gap where systemd's own arithmetic breaks down (see below).
    unreliable: tuple[datetime, ...] = ()

    def describe(self) -> str:
        """Say which runs cron makes that systemd does not, and the reverse, in wall time."""
        parts = []
        if self.cron_only:
            parts.append("cron runs it at " + _wall_list(self.cron_only) + " and systemd does not")
        if self.systemd_only:
            parts.append(
                "systemd runs it at " + _wall_list(self.systemd_only) + " and cron does not"
            )
        return "; ".join(parts)


def _wall_list(instants: tuple[datetime, ...]) -> str:
    shown = [f"{t:%H:%M} (UTC{_offset(t)})" for t in instants[:4]]
    if len(instants) > 4:
        shown.append(f"… {len(instants) - 4} more")
    return ", ".join(shown)


def _offset(moment: datetime) -> str:
    offset = moment.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def systemd_fire_times(
    schedule: CronSchedule, timezone: str, low: datetime, high: datetime
) -> list[datetime]:
    """Model systemd's elapses of the schedule's lines between two instants (inclusive)."""
    zone = load_timezone(timezone)
    first_wall = low.astimezone(zone).replace(tzinfo=None, second=0, microsecond=0)
    last_wall = high.astimezone(zone).replace(tzinfo=None)
    # Walk wall-clock minutes with a margin, since wall time is not monotonic across a change.
    found: set[datetime] = set()
    for wall in _minutes(first_wall - _WINDOW, last_wall + _WINDOW):
        if wall.minute not in schedule.minutes or wall.hour not in schedule.hours:
            continue
        if not schedule.matches_day(wall.date()):
            continue
        first_copy = wall.replace(tzinfo=zone, fold=0)
        instant = first_copy.astimezone(UTC)
        if instant.astimezone(zone).replace(tzinfo=None) != wall:
            continue  # inside a gap: systemd skips it
        if low <= instant <= high:
            found.add(instant)
    return sorted(found)


def _minutes(first: datetime, last: datetime) -> Iterator[datetime]:
    current = first
    step = timedelta(minutes=1)
    while current <= last:
        yield current
        current += step


def unreliable_gap_times(schedule: CronSchedule, transition: Transition) -> tuple[datetime, ...]:
    """Return the wall times the schedule names inside a gap that is not whole hours.

    systemd normalises a skipped wall time with mktime(); when the gap does not start and end
    on the hour (Chatham's 02:45-03:45, Lord Howe's 02:00-02:30) that normalisation can go
    backwards, and systemd 252 then fails the calculation ("Infinite loop in calendar
    calculation", EDEADLK) or skips the first valid time after the gap. No model of that is
    trustworthy, so such schedules are refused outright.
    """
    before, after = transition.wall_before, transition.wall_after
    if not transition.is_gap or (before.minute == 0 and after.minute == 0):
        return ()
    return tuple(
        wall
        for wall in _minutes(before, after - timedelta(minutes=1))
        if wall.minute in schedule.minutes
        and wall.hour in schedule.hours
        and schedule.matches_day(wall.date())
    )


def find_dst_differences(
    schedule: CronSchedule,
    timezone: str,
    *,
    now: datetime | None = None,
    years: int = 5,
) -> list[DstDifference]:
    """Compare cron and systemd around each transition of the zone in the coming years."""
    # Start at midnight UTC so that an agent's repeated reconciles hit the cache all day.
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return list(_differences(schedule, timezone, start, years))


@lru_cache(maxsize=1024)
def _differences(
    schedule: CronSchedule, timezone: str, start: datetime, years: int
) -> tuple[DstDifference, ...]:
    zone = load_timezone(timezone)
    end = start + timedelta(days=366 * years)
    differences: list[DstDifference] = []
    for transition in zone_transitions(zone, start, end):
        low, high = transition.instant - _WINDOW, transition.instant + _WINDOW
        cron = set(cron_fire_times(schedule, timezone, low, high))
        systemd = set(systemd_fire_times(schedule, timezone, low, high))
        unreliable = unreliable_gap_times(schedule, transition)
        if cron != systemd or unreliable:
            differences.append(
                DstDifference(
                    transition=transition,
                    cron_only=tuple(t.astimezone(zone) for t in sorted(cron - systemd)),
                    systemd_only=tuple(t.astimezone(zone) for t in sorted(systemd - cron)),
                    unreliable=unreliable,
                )
            )
    return tuple(differences)
