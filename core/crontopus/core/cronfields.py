"""The grammar of one cron field, as strict as cronie and with a fix in every refusal.

cronie reads a field as a comma-separated list of items; an item is ``*``, a number or name, or a
range ``a-b``, and only ``*`` and ranges may carry a step ``/n``. Debian's cron silently ignores
text after a malformed item (``1#2`` reads as ``1``), so this grammar is stricter than either:
whatever it accepts, both cronie and Debian cron read the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

MONTH_NAMES: Final = (
    "jan",
    "feb",
    "mar",
    "apr",
    "may",
    "jun",
    "jul",
    "aug",
    "sep",
    "oct",
    "nov",
    "dec",
)
DAY_NAMES: Final = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")

_MAX_DIGITS: Final = 6
_NUMBER = re.compile(r"[0-9]+")
_NAME = re.compile(r"[A-Za-z]+")
_QUARTZ_SUFFIX = re.compile(r"([0-9]*)([LlWw]+)")
_ALLOWED = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ*,-/")


class FieldProblem(ValueError):
    """One field of a cron expression is malformed; str() is the reason with its fix."""


@dataclass(frozen=True)
class FieldSpec:
    """The bounds and names of one of the five cron fields."""

    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    name_base: int = 0

    @property
    def size(self) -> int:
        """Count the values the field can hold."""
        return self.high - self.low + 1

    def label(self, value: int, *, as_name: bool) -> str:
        """Write `value` back as a name when the user wrote names, else as a number."""
        if as_name and self.names:
            index = min(value - self.name_base, len(self.names) - 1)
            return self.names[index]
        return str(value)


MINUTE: Final = FieldSpec("minute", 0, 59)
HOUR: Final = FieldSpec("hour", 0, 23)
DAY_OF_MONTH: Final = FieldSpec("day-of-month", 1, 31)
MONTH: Final = FieldSpec("month", 1, 12, MONTH_NAMES, name_base=1)
# cronie reads day-of-week as 0-7 (both ends Sunday) and folds 7 into 0 afterwards.
DAY_OF_WEEK: Final = FieldSpec("day-of-week", 0, 7, DAY_NAMES)
FIELDS: Final = (MINUTE, HOUR, DAY_OF_MONTH, MONTH, DAY_OF_WEEK)


def parse_field(text: str, spec: FieldSpec) -> frozenset[int]:
    """Return the values one field selects; raise FieldProblem naming the fix otherwise."""
    _check_characters(text, spec)
    values: set[int] = set()
    for item in text.split(","):
        if not item:
            raise FieldProblem(
                f'{spec.name} field "{text}" has an empty list item: remove the extra ","'
            )
        values.update(_parse_item(item, spec))
    if spec is DAY_OF_WEEK and 7 in values:
        values.discard(7)
        values.add(0)
    return frozenset(values)


def plain_field(text: str, spec: FieldSpec) -> str:
    """Rewrite a valid field so only "*", "*/n" and plain numbers remain, keeping its first item.

    cronsim reads a stepped one-value range such as "9-9/18" as "9/18" (9, 27); cronie reads it as
    9. Spelling every item other than "*" and "*/n" as its values leaves nothing to misread, and
    a field that starts with "*" still does, which keeps the day-of-month/day-of-week rule.
    """
    items = []
    for item in text.split(","):
        if item == "*" or item.startswith("*/"):
            items.append(item)
        else:
            items.extend(str(value) for value in _parse_item(item, spec))
    return ",".join(items)


def _check_characters(text: str, spec: FieldSpec) -> None:
    if "?" in text:
        raise FieldProblem('"?" is a Quartz placeholder, not cron: use "*"')
    if "#" in text:
        raise FieldProblem(
            f'"{text}" (nth weekday with "#") is a Quartz extension, not cron: '
            "run on days 1-7 and test the weekday in the command"
        )
    if "~" in text:
        raise FieldProblem(
            f'"~" (a random value) is not cron: write a fixed value such as '
            f'"{spec.low + spec.size // 3}"'
        )
    for char in text:
        if char not in _ALLOWED:
            shown = char if char.isprintable() else repr(char)
            raise FieldProblem(
                f'unexpected character "{shown}" in {spec.name} field "{text}": '
                'cron fields hold numbers, names, "*", ",", "-" and "/"'
            )


def _parse_item(item: str, spec: FieldSpec) -> range:
    base, slash, step_text = item.partition("/")
    step = _parse_step(item, step_text, spec) if slash else 1
    if base == "*":
        return range(spec.low, spec.high + 1, step)
    if "*" in base:
        raise FieldProblem(
            f'"{item}" in {spec.name} mixes "*" with other text: "*" stands alone or takes a '
            'step, as in "*/5"'
        )
    start_text, dash, end_text = base.partition("-")
    if not dash:
        value = _parse_value(base, spec)
        if slash:
            high = spec.label(spec.high, as_name=not base.isdigit())
            raise FieldProblem(f'a step needs a range or *: use "{base}-{high}/{step}"')
        return range(value, value + 1)
    if not start_text:
        raise FieldProblem(f'range "{base}" in {spec.name} has no start: write it as "a-b"')
    if not end_text:
        raise FieldProblem(f'range "{base}" in {spec.name} has no end: write it as "a-b"')
    if "-" in end_text:
        raise FieldProblem(f'"{base}" in {spec.name} is not a range: write ranges as "a-b"')
    start = _parse_value(start_text, spec)
    end = _parse_value(end_text, spec)
    if start > end:
        as_name = not start_text.isdigit()
        high = spec.label(spec.high, as_name=as_name)
        low = spec.label(spec.low, as_name=as_name)
        head = start_text if start_text.lower() == high else f"{start_text}-{high}"
        tail = end_text if end_text.lower() == low else f"{low}-{end_text}"
        fix = f"{head},{tail}"
        raise FieldProblem(
            f'range "{base}" in {spec.name} runs backwards and cron ranges do not wrap: '
            f'write "{fix}"'
        )
    return range(start, end + 1, step)


def _parse_step(item: str, step_text: str, spec: FieldSpec) -> int:
    if "/" in step_text:
        raise FieldProblem(f'"{item}" in {spec.name} has two steps: keep one "/n"')
    if not _NUMBER.fullmatch(step_text):
        raise FieldProblem(f'the step in "{item}" ({spec.name}) must be a whole number, e.g. "*/5"')
    step = _number(step_text)
    if step == 0:
        raise FieldProblem(
            f'the step in "{item}" ({spec.name}) must be at least 1: use "*/1" or "*"'
        )
    if step > spec.size:
        raise FieldProblem(
            f'the step in "{item}" is larger than the {spec.name} field ({spec.low}-{spec.high}), '
            f"so it only ever matches its first value: write that value instead"
        )
    return step


def _parse_value(text: str, spec: FieldSpec) -> int:
    if _NUMBER.fullmatch(text):
        value = _number(text)
        if not spec.low <= value <= spec.high:
            hint = " (0 and 7 are both Sunday)" if spec is DAY_OF_WEEK else ""
            raise FieldProblem(
                f"{text[:_MAX_DIGITS]}{'…' if len(text) > _MAX_DIGITS else ''} is out of range "
                f"for {spec.name}: use {spec.low}-{spec.high}{hint}"
            )
        return value
    quartz = _QUARTZ_SUFFIX.fullmatch(text)
    if quartz and (quartz.group(1) or text.upper() in ("L", "W", "LW")):
        meaning = "nearest weekday" if "W" in text.upper() else "last"
        raise FieldProblem(
            f'"{text}" is a Quartz extension ("{quartz.group(2)}" means {meaning}), not cron: '
            "list the days explicitly "
            "and test for the exact day in the command"
        )
    if _NAME.fullmatch(text):
        if not spec.names:
            raise FieldProblem(
                f'"{text}" is not a number: names are only allowed in the month and '
                f"day-of-week fields ({spec.name} takes {spec.low}-{spec.high})"
            )
        lowered = text.lower()
        if lowered in spec.names:
            return spec.names.index(lowered) + spec.name_base
        choices = ", ".join(spec.names)
        raise FieldProblem(f'"{text}" is not a {spec.name} name: use one of {choices}')
    raise FieldProblem(
        f'"{text}" is not a {spec.name} value: use a number {spec.low}-{spec.high}'
        + (" or a three-letter name" if spec.names else "")
    )


def _number(digits: str) -> int:
    # Any longer number is out of range anyway; the cap keeps int() cheap on hostile input.
    return int(digits) if len(digits) <= _MAX_DIGITS else 10**_MAX_DIGITS
