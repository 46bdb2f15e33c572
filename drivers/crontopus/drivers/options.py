"""Checking a driver's options (the `[drivers.NAME]` table of the agent's configuration).

Every driver refuses an option it does not know and a value outside its choices, naming the
driver, the option and what would be accepted, so a typo in the agent's configuration is
reported the same way whichever driver it is for.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TypeVar

from crontopus.drivers.errors import PermanentDriverError

T = TypeVar("T")


def check_known(driver: str, options: Mapping[str, str], known: Collection[str]) -> None:
    """Refuse options that `driver` does not know, listing the ones it does."""
    unknown = set(options) - set(known)
    if unknown:
        raise PermanentDriverError(
            f"{driver} driver options: unknown {', '.join(sorted(unknown))}; known are "
            + ", ".join(known)
        )


def choice(
    driver: str, options: Mapping[str, str], name: str, choices: Mapping[str, T], default: str
) -> T:
    """Return the value `choices` maps the option `name` (or `default`) to; refuse any other."""
    value = options.get(name, default)
    if value not in choices:
        allowed = list(choices)
        spelled = ", ".join(allowed[:-1]) + f" or {allowed[-1]}" if len(allowed) > 1 else allowed[0]
        raise PermanentDriverError(f"{driver} driver options: {name}={value!r} must be {spelled}")
    return choices[value]


#: The choices of a yes/no option.
YES_NO = {"yes": True, "no": False}
