"""Errors the `crontopus` command reports, each carrying the exit code it ends with.

Hierarchy::

    Exception
    └── CliError                  a failure shown on stderr as "crontopus: <message>"
        ├── UserFailure           exit 1: the input, the thing asked for, or a conflict
        │   └── ConflictFailure   the thing changed on the server meanwhile, or already exists
        ├── UsageFailure          exit 2: a command line that makes no sense
        ├── ServerUnreachable     exit 3: no answer from the server (or a 5xx)
        └── AuthFailure           exit 4: not logged in, expired login, refused credentials or role
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum
from typing import TextIO


class ExitCode(IntEnum):
    """What `crontopus` exits with; scripts branch on these."""

    OK = 0
    USER_ERROR = 1
    USAGE = 2
    UNREACHABLE = 3
    AUTH = 4


class CliError(Exception):
    """A failure to report on stderr; `details` are printed below the message, one a line."""

    exit_code = ExitCode.USER_ERROR

    def __init__(self, message: str, details: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.details = tuple(details)


class UserFailure(CliError):
    """The server or the local validator refused the input."""

    exit_code = ExitCode.USER_ERROR


class ConflictFailure(UserFailure):
    """The server refused a change because the thing changed meanwhile (or exists)."""


class UsageFailure(CliError):
    """The command line itself is wrong."""

    exit_code = ExitCode.USAGE


class ServerUnreachable(CliError):
    """The server did not answer (refused, timed out, or failed with a 5xx)."""

    exit_code = ExitCode.UNREACHABLE


class AuthFailure(CliError):
    """Credentials are missing, expired, refused, or do not allow the operation."""

    exit_code = ExitCode.AUTH


def report(error: CliError, err: TextIO) -> None:
    """Print a failure on stderr: the message, then one detail (field path: problem) a line."""
    print(f"crontopus: error: {error.message}", file=err)
    for detail in error.details:
        print(f"  {detail}", file=err)
