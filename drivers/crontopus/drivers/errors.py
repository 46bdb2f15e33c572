"""Errors raised by Crontopus drivers.

Hierarchy::

    CrontopusError (crontopus.core.errors)
    └── DriverError                     base of every driver error; .retryable says what to do
        ├── PermanentDriverError        retrying the same call cannot succeed: fix input or machine
        │   ├── ConversionRefused       the schedule cannot be expressed exactly; .reason says why
        │   └── DriverUnavailable       the driver cannot run on this machine; .reason says why
        └── RetryableDriverError        a transient failure (timeout, concurrent edit): try again
"""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from crontopus.core.errors import CrontopusError


class DriverError(CrontopusError):
    """Base class of every error a driver raises on purpose."""

    retryable: ClassVar[bool] = False


class PermanentDriverError(DriverError):
    """A failure that repeats until the input or the machine changes."""

    retryable = False


class RetryableDriverError(DriverError):
    """A transient failure: the same call may succeed later."""

    retryable = True


class ConversionRefused(PermanentDriverError):
    """A schedule the driver cannot express exactly in its native form."""

    def __init__(self, reason: str, *, job_id: UUID | None = None) -> None:
        self.reason = reason
        self.job_id = job_id
        super().__init__(reason if job_id is None else f"job {job_id}: {reason}")


class DriverUnavailable(PermanentDriverError):
    """A driver asked to work on a machine where it cannot run."""

    def __init__(self, driver: str, reason: str) -> None:
        self.driver = driver
        self.reason = reason
        super().__init__(f"driver {driver!r} is unavailable: {reason}")
