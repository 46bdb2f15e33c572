"""When a driver plans an installed entry again, whatever changed in the repository.

A native entry's spelling of clock changes comes from the zones' rules for the years the driver
looked at when it planned the entry (see crontopus.drivers.superset.Period), and stays installed
for as long as the job does. So an entry whose spelling depends on the date it was planned on
carries a renewal date with its content hash (`<hash>:renew:<YYYY-MM-DD>`). From that date
(UTC) `installed_hash` reports a hash no job has, the agent's next sync sees the entry as out of
date, and the driver installs it again, planned from that day.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Final

_RENEW: Final = ":renew:"
_DUE: Final = ":renew-due"


def stored_hash(content_hash: str, renew_on: date | None) -> str:
    """Return the content hash to store with an entry, with its renewal date if it has one."""
    return content_hash if renew_on is None else f"{content_hash}{_RENEW}{renew_on.isoformat()}"


def installed_hash(stored: str, today: date) -> str:
    """Return the content hash of an installed entry: its job's, or one no job has from the
    entry's renewal date on."""
    digest, found, renew = stored.partition(_RENEW)
    if not found:
        return stored
    try:
        due = today >= date.fromisoformat(renew)
    except ValueError:
        due = True  # edited by hand into something else: plan it again
    return f"{digest}{_DUE}" if due else digest


def next_january(today: date) -> date:
    """Return the renewal date of a plan that spells the clock changes of years ahead."""
    return date(today.year + 1, 1, 1)


def utc_today() -> date:
    """Return today's date in UTC, the calendar renewal dates are in."""
    return datetime.now(UTC).date()
