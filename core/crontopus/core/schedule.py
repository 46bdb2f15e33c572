"""Cron schedules: a strict parser in front of cronsim, which evaluates them like Debian cron.

cronsim was written for Healthchecks to reproduce Debian cron, including the day-of-month /
day-of-week star rule and cron's daylight-saving behaviour, but it is lenient where cronie is not
(``5/15``, ``L``, ``W``, ``#``, six fields...) and knows no macros. So every expression first goes
through :mod:`crontopus.core.cronfields`, and cronsim only ever sees five validated fields.
See docs/scheduling.md.
"""

from __future__ import annotations

import calendar
import functools
import heapq
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from cronsim import CronSim

from crontopus.core.cronfields import (
    FIELDS,
    FieldProblem,
    parse_field,
    plain_field,
)
from crontopus.core.errors import ScheduleError
from crontopus.core.timezones import DEFAULT_TIMEZONE, load_timezone

__all__ = [
    "MACROS",
    "MAX_FIRE_TIMES",
    "MAX_SCHEDULE_LENGTH",
    "REBOOT",
    "CronSchedule",
    "fires_at",
    "iter_fire_times",
    "load_timezone",
    "next_fire_times",
    "parse_schedule",
]

REBOOT: Final = "@reboot"
MACROS: Final = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
MAX_SCHEDULE_LENGTH: Final = 1024
MAX_FIRE_TIMES: Final = 1000
# The longest each month can be; February counts its leap day, which does come around.
_LONGEST_MONTH: Final = {
    month: 29 if month == 2 else calendar.monthrange(2001, month)[1] for month in range(1, 13)
}
_MINUTE: Final = timedelta(minutes=1)
# Longer than any clock change, so the whole repeated stretch is walked.
_TRANSITION_MARGIN: Final = timedelta(hours=6)
_BLANKS = re.compile(r"[ \t]+")
_LOOKS_LIKE_A_FIELD = re.compile(r"[0-9*,/?-]+|[A-Za-z]{3}")
_FIELD_NAMES: Final = "minute hour day-of-month month day-of-week"
_YEAR = re.compile(r"\d{4}([-,/]\d{1,4})*")


@dataclass(frozen=True)
class CronSchedule:
    """A validated cron schedule and the values each of its fields selects."""

    source: str
    expression: str
    fields: tuple[str, str, str, str, str]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    reboot: bool = False

    @property
    def dom_restricted(self) -> bool:
        """Tell whether the day-of-month text does not start with "*"."""
        return not self.reboot and not self.fields[2].startswith("*")

    @property
    def dow_restricted(self) -> bool:
        """Tell whether the day-of-week text does not start with "*"."""
        return not self.reboot and not self.fields[4].startswith("*")

    @property
    def days_are_ored(self) -> bool:
        """Tell whether a day matches on day-of-month OR day-of-week (both restricted)."""
        return self.dom_restricted and self.dow_restricted

    @property
    def wildcard_time(self) -> bool:
        """Tell whether cron treats the job as wildcard (not fixed-time) around DST changes."""
        return not self.reboot and (
            self.fields[0].startswith("*") or self.fields[1].startswith("*")
        )

    def matches_day(self, d: date) -> bool:
        """Tell whether the job fires at some time on calendar day `d` (times of day ignored)."""
        if self.reboot or d.month not in self.months:
            return False
        dom = d.day in self.days
        dow = d.isoweekday() % 7 in self.weekdays
        return (dom or dow) if self.days_are_ored else (dom and dow)

    def __str__(self) -> str:
        return self.source


def parse_schedule(text: str, *, allow_reboot: bool = True) -> CronSchedule:
    """Parse a cron expression or macro exactly as cron would; raise ScheduleError if it is not."""
    if not isinstance(text, str):
        raise ScheduleError(
            f'a schedule must be a string such as "0 2 * * *", not {type(text).__name__}'
        )
    return _parse_schedule(text, allow_reboot)


@functools.lru_cache(maxsize=8192)
def _parse_schedule(text: str, allow_reboot: bool) -> CronSchedule:
    written = text.strip(" \t")
    if not written:
        raise ScheduleError(
            'the schedule is empty: write five fields such as "0 2 * * *" '
            'or a macro such as "@daily"'
        )
    if len(written) > MAX_SCHEDULE_LENGTH:
        raise ScheduleError(
            f"the schedule is {len(written)} characters long: cron lines stay under "
            f"{MAX_SCHEDULE_LENGTH}, so shorten it (ranges and steps are shorter than long lists)"
        )
    hidden = next((char for char in written if not char.isprintable() and char != "\t"), None)
    if hidden is not None:
        what = "line break" if hidden in "\r\n" else f"invisible character U+{ord(hidden):04X}"
        raise ScheduleError(
            f"{written!r} is not valid cron (a schedule is one line of visible text: "
            f"remove the {what})"
        )
    if written.startswith("@"):
        return _parse_macro(text, written, allow_reboot)
    return _parse_fields(text, written, _BLANKS.split(written))


def _parse_macro(source: str, written: str, allow_reboot: bool) -> CronSchedule:
    macro, *rest = _BLANKS.split(written)
    if rest:
        raise ScheduleError(f'"{written}" is not valid cron ({macro} takes nothing after it)')
    if macro == REBOOT:
        if not allow_reboot:
            raise ScheduleError(
                '"@reboot" is not supported here: it has no time of day to run at; '
                'give five fields such as "0 2 * * *"'
            )
        empty: frozenset[int] = frozenset()
        return CronSchedule(
            source, REBOOT, ("", "", "", "", ""), empty, empty, empty, empty, empty, reboot=True
        )
    lowered = macro.lower()
    if macro not in MACROS and (lowered in MACROS or lowered == REBOOT):
        raise ScheduleError(
            f'"{written}" is not valid cron (macros are lowercase: use "{lowered}")'
        )
    if macro not in MACROS:
        known = " ".join([*MACROS, REBOOT])
        raise ScheduleError(f'"{written}" is not valid cron (unknown macro: use one of {known})')
    expansion = MACROS[macro]
    return _parse_fields(source, written, expansion.split(" "))


def _parse_fields(source: str, written: str, texts: list[str]) -> CronSchedule:
    if len(texts) != len(FIELDS):
        raise ScheduleError(f'"{written}" is not valid cron ({_count_fix(texts)})')
    lowered = tuple(text.lower() for text in texts)
    values: list[frozenset[int]] = []
    for text, spec in zip(texts, FIELDS, strict=True):
        try:
            values.append(parse_field(text, spec))
        except FieldProblem as problem:
            raise ScheduleError(f'"{written}" is not valid cron ({problem})') from None
    fields = (lowered[0], lowered[1], lowered[2], lowered[3], lowered[4])
    minutes, hours, days, months, weekdays = values
    schedule = CronSchedule(
        source, " ".join(fields), fields, minutes, hours, days, months, weekdays
    )
    if not schedule.days_are_ored:
        _check_a_day_exists(written, schedule)
    return schedule


def _count_fix(texts: list[str]) -> str:
    count = len(texts)
    if count == 6 and _LOOKS_LIKE_A_FIELD.fullmatch(texts[-1]):
        return f"6 fields where cron has 5 ({_FIELD_NAMES}): {_six_field_fix(texts)}"
    if count >= 6:
        return (
            f"{count} fields where cron has 5 ({_FIELD_NAMES}): the command goes in spec.command, "
            "not in the schedule"
        )
    plural = "s" if count != 1 else ""
    return f'{count} field{plural} where cron has 5 ({_FIELD_NAMES}), e.g. "0 2 * * *"'


def _six_field_fix(texts: list[str]) -> str:
    # Six-field cron comes in two dialects: seconds first (Quartz, Spring, node-cron) and a year
    # last (AWS). Dropping the wrong field leaves valid cron that means something else, so say
    # which one goes and show the result.
    if _YEAR.fullmatch(texts[-1]):
        which, kept = "the last field looks like a year, which cron lacks", texts[:5]
    else:
        which = "the first field looks like seconds (as in Quartz or Spring), which cron lacks"
        kept = texts[1:]
    suggestion = _five_fields(kept)
    if suggestion is None:
        return f"{which}: drop it"
    fix = f'{which}: drop it and write "{suggestion}"'
    # A last "*" may be an every-year field too; then the other reading is worth showing.
    other = _five_fields(texts[:5]) if texts[-1] == "*" and kept != texts[:5] else None
    if other is not None and other != suggestion:
        fix += f' (if the last field is a year, drop that one instead: "{other}")'
    return fix


def _five_fields(texts: list[str]) -> str | None:
    # Quartz writes "?" for "no value" in a day field; cron writes "*".
    candidate = " ".join("*" if text == "?" else text for text in texts)
    try:
        _parse_schedule(candidate, False)
    except ScheduleError:
        return None
    return candidate


def _check_a_day_exists(written: str, schedule: CronSchedule) -> None:
    # When the day fields are ANDed, every weekday meets every existing (month, day) pair within
    # a 28-year cycle, so the schedule fires if and only if one such pair exists.
    if any(day <= _LONGEST_MONTH[month] for month in schedule.months for day in schedule.days):
        return
    months = ", ".join(calendar.month_abbr[month] for month in sorted(schedule.months))
    raise ScheduleError(
        f'"{written}" never fires: no chosen day of month ({_describe(schedule.days)}) exists in '
        f"{months}; pick days that exist in those months"
    )


def _describe(values: frozenset[int]) -> str:
    ordered = sorted(values)
    return ",".join(str(value) for value in ordered[:8]) + ("…" if len(ordered) > 8 else "")


def iter_fire_times(
    schedule: str | CronSchedule, timezone: str | None, after: datetime
) -> Iterator[datetime]:
    """Yield the times the job fires strictly after `after` (naive = UTC), in the job's zone."""
    cron = schedule if isinstance(schedule, CronSchedule) else parse_schedule(schedule)
    zone = load_timezone(timezone)
    if cron.reboot:
        return iter(())
    limit = (after if after.tzinfo is not None else after.replace(tzinfo=UTC)).astimezone(UTC)
    return _fire_times(cron, zone, limit)


def _fire_times(cron: CronSchedule, zone: ZoneInfo, limit: datetime) -> Iterator[datetime]:
    if zone.key == "UTC":
        for fire in CronSim(_plain_expression(cron.expression), limit):
            yield fire.replace(tzinfo=zone)
    elif cron.wildcard_time:
        yield from _wildcard_fire_times(cron, zone, limit)
    else:
        yield from _fixed_fire_times(cron, zone, limit)


# cronsim walks zoned time itself only in whole-hour steps, which misses times after a
# 30-minute change (Australia/Lord_Howe) and after a DST gap at midnight (America/Santiago).
# So it only walks the wall clock here (naive datetimes: calendar, steps, star rule), and the
# mapping of wall times to instants follows cron's rules from docs/scheduling.md.


def _fixed_fire_times(cron: CronSchedule, zone: ZoneInfo, limit: datetime) -> Iterator[datetime]:
    latest = limit
    for wall in CronSim(
        _plain_expression(cron.expression), limit.astimezone(zone).replace(tzinfo=None)
    ):
        # fold=0: in a repeated hour, a fixed-time job runs in the first copy only.
        moment = wall.replace(tzinfo=zone)
        while _is_imaginary(moment):
            # A time skipped by a jump forward runs right after the jump.
            moment = (moment.replace(tzinfo=None) + _MINUTE).replace(tzinfo=zone)
        instant = moment.astimezone(UTC)
        # `latest` drops fire times before `limit` (when `limit` lies in the second copy of a
        # repeated hour) and merges several skipped times caught up at the same minute.
        if instant > latest:
            latest = instant
            yield moment


def _wildcard_fire_times(cron: CronSchedule, zone: ZoneInfo, limit: datetime) -> Iterator[datetime]:
    start = limit.astimezone(zone).replace(tzinfo=None)
    if _offset_changes_near(zone, limit):
        # The second copy of a repeated hour comes after wall times that are later than it.
        start -= _TRANSITION_MARGIN
    pending: list[tuple[datetime, datetime]] = []
    for wall in CronSim(_plain_expression(cron.expression), start):
        first = wall.replace(tzinfo=zone, fold=0)
        if _is_imaginary(first):
            continue  # skipped by a jump forward: wildcard jobs do not catch up
        first_instant = first.astimezone(UTC)
        while pending and pending[0][0] <= first_instant:
            yield heapq.heappop(pending)[1]
        second = wall.replace(tzinfo=zone, fold=1)
        second_instant = second.astimezone(UTC)
        if first_instant > limit:
            heapq.heappush(pending, (first_instant, first))
        if second_instant != first_instant and second_instant > limit:
            heapq.heappush(pending, (second_instant, second))
    while pending:
        yield heapq.heappop(pending)[1]


@functools.lru_cache(maxsize=8192)
def _plain_expression(expression: str) -> str:
    return " ".join(
        plain_field(text, spec) for text, spec in zip(expression.split(" "), FIELDS, strict=True)
    )


def _is_imaginary(moment: datetime) -> bool:
    zone = moment.tzinfo
    return moment.astimezone(UTC).astimezone(zone).replace(fold=0) != moment.replace(fold=0)


def _offset_changes_near(zone: ZoneInfo, moment: datetime) -> bool:
    offsets = {
        zone.utcoffset(moment.astimezone(zone) + shift)
        for shift in (-_TRANSITION_MARGIN, timedelta(0), _TRANSITION_MARGIN)
    }
    return len(offsets) > 1


def next_fire_times(
    schedule: str | CronSchedule, timezone: str | None, after: datetime, count: int
) -> list[datetime]:
    """Return up to `count` (at most MAX_FIRE_TIMES) fire times strictly after `after`."""
    wanted = max(0, min(count, MAX_FIRE_TIMES))
    return list(itertools.islice(iter_fire_times(schedule, timezone, after), wanted))


def fires_at(schedule: str | CronSchedule, timezone: str | None, moment: datetime) -> bool:
    """Tell whether the job fires in the minute that contains `moment` (naive = UTC).

    This is the run wrapper's gate for drivers that install a native superset of the
    instants: a firing runs only when its minute is one of the job's own instants.
    """
    cron = schedule if isinstance(schedule, CronSchedule) else parse_schedule(schedule)
    if cron.reboot:
        return False
    # Not load_timezone: its check lists every zone on disk, which would cost the gate more
    # than the rest of its decision; ZoneInfo still refuses a name that is not a zone.
    zone = ZoneInfo(timezone or DEFAULT_TIMEZONE)
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    minute = aware.astimezone(UTC).replace(second=0, microsecond=0)
    following = next(_fire_times(cron, zone, minute - _MINUTE), None)
    return following is not None and following.astimezone(UTC) == minute
