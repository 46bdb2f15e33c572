"""The Task Scheduler trigger model: the subset of the 1.2 schema Crontopus writes and reads.

Times are naive wall-clock times of the machine (a `StartBoundary` without an offset follows the
machine's zone and its DST). Weekdays use cron's numbers (Sunday=0) so they compare directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

# Schema limits (Task Scheduler 1.2).
MAX_TRIGGERS = 48
MIN_INTERVAL = timedelta(minutes=1)
MAX_INTERVAL = timedelta(days=31)

# A start boundary safely in the past: a TimeTrigger's repetition is counted from it, so the
# pattern is already running on the day the task is registered.
PAST_START = datetime(2000, 1, 1)

WEEKDAY_ELEMENTS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
MONTH_ELEMENTS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
ALL_MONTHS = frozenset(range(1, 13))
ALL_WEEKDAYS = frozenset(range(7))


@dataclass(frozen=True)
class Repetition:
    """Run again every `interval` for `duration` after each start (None: indefinitely)."""

    interval: timedelta
    duration: timedelta | None = None

    def __post_init__(self) -> None:
        if not MIN_INTERVAL <= self.interval <= MAX_INTERVAL:
            raise ValueError(f"Repetition.Interval {self.interval} is outside 1 minute to 31 days")
        if self.duration is not None and self.duration < self.interval:
            raise ValueError(
                f"Repetition.Duration {self.duration} is shorter than its interval {self.interval}"
            )

    def offsets(self) -> range | None:
        """Return how many intervals after the start it fires (None: without end)."""
        if self.duration is None:
            return None
        return range(int(self.duration / self.interval) + 1)


@dataclass(frozen=True)
class ByDay:
    """`ScheduleByDay`: every `interval` days from the start boundary's date."""

    interval: int = 1


@dataclass(frozen=True)
class ByWeek:
    """`ScheduleByWeek`: on these weekdays, every `interval` weeks."""

    weekdays: frozenset[int]
    interval: int = 1


@dataclass(frozen=True)
class ByMonth:
    """`ScheduleByMonth`: on these days of these months (`last_day`: the month's last day)."""

    days: frozenset[int]
    months: frozenset[int] = ALL_MONTHS
    last_day: bool = False


@dataclass(frozen=True)
class ByMonthDayOfWeek:
    """`ScheduleByMonthDayOfWeek`: these weekdays in weeks 1-4 (days 1-7, 8-14, ...) or Last."""

    weeks: frozenset[int]
    weekdays: frozenset[int]
    months: frozenset[int] = ALL_MONTHS
    last_week: bool = False


Schedule = ByDay | ByWeek | ByMonth | ByMonthDayOfWeek


@dataclass(frozen=True)
class TimeTrigger:
    """A one-time start, repeating from then on: how Crontopus spells "every N minutes".

    With `utc`, `start` is a UTC instant (written with `Z`): the repetition then counts from a
    fixed instant, independent of how Windows reads old zone rules for the year 2000.
    """

    start: datetime
    repetition: Repetition | None = None
    utc: bool = False


@dataclass(frozen=True)
class CalendarTrigger:
    """A daily, weekly or monthly start at one time of day, optionally repeating after it.

    With `utc`, `start` is written with `Z` ("synchronize across time zones"): the time of day
    and the days are read in UTC, so the machine's zone and its clock changes do not move it.
    """

    start: datetime
    schedule: Schedule
    repetition: Repetition | None = None
    utc: bool = False


@dataclass(frozen=True)
class BootTrigger:
    """Start when the machine boots (cron's @reboot)."""


Trigger = TimeTrigger | CalendarTrigger | BootTrigger
