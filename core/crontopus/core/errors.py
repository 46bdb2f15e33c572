"""Errors raised by crontopus.core.

Hierarchy::

    Exception
    └── CrontopusError                 base of every Crontopus error
        ├── ScheduleError (ValueError) a cron expression cron would refuse, or that never fires
        │   └── TimezoneError          a time zone name that is not in the zone database
        ├── ManifestError (ValueError) a job manifest with problems; .problems lists them all
        └── NamespaceError (ValueError) a namespace name that is malformed or reserved
"""

from __future__ import annotations

from collections.abc import Iterable

from crontopus.core.problems import Problem


class CrontopusError(Exception):
    """Base class of every error Crontopus raises on purpose."""


class ScheduleError(CrontopusError, ValueError):
    """A schedule cron would not accept, or one that can never fire."""


class TimezoneError(ScheduleError):
    """A time zone name that is not in the zone database."""


class ManifestError(CrontopusError, ValueError):
    """A job manifest with one or more problems, all reported at once."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: list[Problem] = list(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


class NamespaceError(CrontopusError, ValueError):
    """A namespace name that is malformed or reserved."""
