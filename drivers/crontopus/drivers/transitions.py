"""A zone's offset changes, and the core evaluator's fire times around them.

Drivers whose native scheduler treats daylight-saving changes differently from cron (systemd,
Task Scheduler) compare a model of that scheduler with these fire times around every change of
the job's zone; both use the same transitions and the same reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache

from crontopus.core.schedule import CronSchedule, iter_fire_times

# Zones change offset at most a few times a year and never twice within hours: sampling every
# twelve hours finds each change, which bisection then pins to the second.
_SAMPLE = timedelta(hours=12)


@dataclass(frozen=True)
class Transition:
    """One change of a zone's UTC offset."""

    instant: datetime  # the first UTC instant with the new offset
    offset_before: timedelta
    offset_after: timedelta
    zone_name: str

    @property
    def is_gap(self) -> bool:
        """Tell whether wall-clock times were skipped (the clock jumped forward)."""
        return self.offset_after > self.offset_before

    @property
    def wall_before(self) -> datetime:
        """Return the wall-clock time at which the change happens, in the old offset."""
        return (self.instant + self.offset_before).replace(tzinfo=None)

    @property
    def wall_after(self) -> datetime:
        """Return the wall-clock time right after the change, in the new offset."""
        return (self.instant + self.offset_after).replace(tzinfo=None)

    def describe(self) -> str:
        """Say when the change happens and what the clock does, in the zone's wall time."""
        before, after = self.wall_before, self.wall_after
        verb = "jump forward" if self.is_gap else "go back"
        return (
            f"{before:%Y-%m-%d} in {self.zone_name} (clocks {verb} from {before:%H:%M} "
            f"to {after:%H:%M})"
        )


def zone_transitions(zone: tzinfo, start: datetime, end: datetime) -> list[Transition]:
    """List the offset changes of a zone between two instants, found by walking its offsets."""
    return list(_cached_transitions(zone, start.astimezone(UTC), end.astimezone(UTC)))


@lru_cache(maxsize=256)
def _cached_transitions(zone: tzinfo, start: datetime, end: datetime) -> tuple[Transition, ...]:
    found: list[Transition] = []
    name = str(zone)
    moment = start
    offset = _utcoffset(zone, moment)
    while moment < end:
        following = min(moment + _SAMPLE, end)
        next_offset = _utcoffset(zone, following)
        if next_offset != offset:
            instant = _bisect(zone, moment, following, offset)
            found.append(Transition(instant, offset, _utcoffset(zone, instant), name))
            # Resume right after the change so that two changes in one sample are both found.
            moment, offset = instant, _utcoffset(zone, instant)
            continue
        moment, offset = following, next_offset
    return tuple(found)


def _utcoffset(zone: tzinfo, moment: datetime) -> timedelta:
    return moment.astimezone(zone).utcoffset() or timedelta(0)


def _bisect(zone: tzinfo, low: datetime, high: datetime, low_offset: timedelta) -> datetime:
    # Invariant: `low` has the old offset, `high` does not; stop at one-second resolution.
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        middle = middle.replace(microsecond=0)
        if middle <= low:
            break
        if _utcoffset(zone, middle) == low_offset:
            low = middle
        else:
            high = middle
    return high


def cron_fire_times(
    schedule: CronSchedule, timezone: str, low: datetime, high: datetime
) -> list[datetime]:
    """List the core evaluator's fire times between two instants (inclusive), in UTC."""
    found: list[datetime] = []
    for moment in iter_fire_times(schedule, timezone, low - timedelta(seconds=1)):
        instant = moment.astimezone(UTC)
        if instant > high:
            break
        if instant >= low:
            found.append(instant)
    return found
