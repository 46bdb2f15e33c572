"""Schedules in plain English: "at 02:30 every day, Europe/Berlin".

Written here rather than taken from a cron-describing library because it reads the
schedule exactly as `parse_schedule` does (macros, names, cronie's day-of-month OR
day-of-week rule) and says the time zone; a shape it has no sentence for falls back to the
expression itself, which is never wrong.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable

from crontopus.core.errors import ScheduleError
from crontopus.core.schedule import CronSchedule, parse_schedule

_WEEKDAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
#: Lists longer than this read worse than the expression.
_MAX_LISTED = 4


def describe_schedule(schedule: str, timezone: str | None = None) -> str:
    """Return the schedule as a sentence, with the time zone when one is given."""
    try:
        cron = parse_schedule(schedule)
    except ScheduleError:
        return schedule
    sentence = _sentence(cron)
    return f"{sentence}, {timezone}" if timezone and not cron.reboot else sentence


def _sentence(cron: CronSchedule) -> str:
    if cron.reboot:
        return "when the machine starts"
    when = _time_of_day(cron)
    days = _days(cron)
    if when is None or days is None:
        return f"cron {cron.expression}"
    if when.startswith("every") and days == "every day":
        return when  # "every 5 minutes every day" says nothing more than "every 5 minutes"
    return f"{when} {days}"


def _time_of_day(cron: CronSchedule) -> str | None:
    minute_field, hour_field = cron.fields[0], cron.fields[1]
    minutes, hours = sorted(cron.minutes), sorted(cron.hours)
    every_hour = hour_field == "*"
    if minute_field == "*":
        if every_hour:
            return "every minute"
        if len(hours) == 1:
            return f"every minute from {hours[0]:02d}:00 to {hours[0]:02d}:59"
        return None
    step = _step(minute_field, 60)
    if step is not None:
        each = "every minute" if step == 1 else f"every {step} minutes"
        if every_hour:
            return each
        listed = _listed(f"{hour:02d}:00" for hour in hours)
        return f"{each} in the hours starting {listed}" if listed else None
    if every_hour:
        if minutes == [0]:
            return "every hour"
        listed = _listed(str(minute) for minute in minutes)
        if listed is None:
            return None
        what = "minute" if len(minutes) == 1 else "minutes"
        return f"every hour at {what} {listed}"
    hour_step = _step(hour_field, 24)
    if hour_step is not None and len(minutes) == 1:
        return f"every {_hours(hour_step)} at minute {minutes[0]}"
    if len(hours) * len(minutes) > _MAX_LISTED:
        return None
    times = [f"{hour:02d}:{minute:02d}" for hour in hours for minute in minutes]
    return f"at {_listed(times)}"


def _days(cron: CronSchedule) -> str | None:
    dom, month, dow = cron.fields[2], cron.fields[3], cron.fields[4]
    months = "" if month == "*" else _months(sorted(cron.months))
    if months is None:
        return None
    if dom == "*" and dow == "*":
        return f"every day{months}"
    if cron.days_are_ored:
        return None
    if dow != "*" and dom == "*":
        weekdays = sorted(cron.weekdays)
        if weekdays == [1, 2, 3, 4, 5]:
            return f"on weekdays{months}"
        named = _listed(_WEEKDAYS[day] for day in weekdays)
        return f"on {named}{months}" if named else None
    if dom != "*" and dow == "*":
        days = sorted(cron.days)
        listed = _listed(_ordinal(day) for day in days)
        if listed is None:
            return None
        return f"on the {listed} of {months.removeprefix(' in ') or 'every month'}"
    return None


def _months(months: list[int]) -> str | None:
    listed = _listed(calendar.month_name[month] for month in months)
    return f" in {listed}" if listed else None


def _step(field: str, size: int) -> int | None:
    """The step of "*/n" (or "0-59/n" over the whole range), else None."""
    if "/" not in field or "," in field:
        return None
    base, step = field.split("/", 1)
    whole = base == "*" or base in (f"0-{size - 1}",)
    return int(step) if whole and step.isdigit() and int(step) > 0 else None


def _hours(step: int) -> str:
    return "hour" if step == 1 else f"{step} hours"


def _ordinal(day: int) -> str:
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def _listed(items: Iterable[str]) -> str | None:
    values = list(items)
    if not values or len(values) > _MAX_LISTED:
        return None
    if len(values) == 1:
        return values[0]
    return ", ".join(values[:-1]) + " and " + values[-1]
