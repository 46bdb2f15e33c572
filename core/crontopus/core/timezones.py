"""Time zone names: IANA zones from the zone database (the `tzdata` package backs it up)."""

from __future__ import annotations

import difflib
import functools
import zoneinfo
from typing import Final

from crontopus.core.errors import TimezoneError

DEFAULT_TIMEZONE: Final = "UTC"
# Present as files in some zone directories but not zones a person means: "localtime" is this
# machine's setting (it would differ between the server and each endpoint), the others are
# compilation artefacts.
_NOT_ZONES: Final = frozenset({"localtime", "posixrules", "posix", "right", "Factory"})


@functools.cache
def known_timezones() -> frozenset[str]:
    """Return every zone name a job may use."""
    return frozenset(zoneinfo.available_timezones() - _NOT_ZONES) | {DEFAULT_TIMEZONE}


@functools.cache
def _by_folded_name() -> dict[str, str]:
    return {name.casefold(): name for name in known_timezones()}


def timezone_problem(name: object) -> str | None:
    """Return why `name` is not a usable time zone, or None when it is one."""
    if not isinstance(name, str):
        return f'a time zone must be a string such as "Europe/Berlin", not {type(name).__name__}'
    if name in known_timezones():
        return None
    shown = name if len(name) <= 64 else name[:60] + "…"
    exact = _by_folded_name().get(name.casefold())
    if exact is not None:
        return f'unknown time zone "{shown}": zone names are case-sensitive, use "{exact}"'
    close = difflib.get_close_matches(name, sorted(known_timezones()), n=1, cutoff=0.75)
    hint = f'did you mean "{close[0]}"?' if close else 'use an IANA name such as "Europe/Berlin"'
    return f'unknown time zone "{shown}": {hint}'


def load_timezone(name: str | None) -> zoneinfo.ZoneInfo:
    """Return the zone named `name` (UTC for None or ""); raise TimezoneError if unknown."""
    if name is None or name == "":
        name = DEFAULT_TIMEZONE
    problem = timezone_problem(name)
    if problem is not None:
        raise TimezoneError(problem)
    return zoneinfo.ZoneInfo(name)
