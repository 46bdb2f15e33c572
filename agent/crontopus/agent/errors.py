"""Errors raised by the Crontopus agent.

Hierarchy::

    CrontopusError (crontopus.core.errors)
    └── AgentError                  base of every agent error; the CLI prints it and exits 1
        ├── UsageError              a command-line value is malformed; the CLI exits 2
        ├── ConfigError             the config file or an environment override is invalid
        ├── NotEnrolled             the state directory holds no endpoint token yet
        ├── ServerError             the server refused or could not be reached
        │   ├── ServerUnreachable   no answer or a 5xx: retry later
        │   └── ServerRefused       a 4xx or a GraphQL error: retrying the same call fails again
        ├── SyncError               the job repository could not be fetched or read
        └── ServiceError            the service manager (systemd, launchd, schtasks) failed
"""

from __future__ import annotations

from crontopus.core.errors import CrontopusError


class AgentError(CrontopusError):
    """Base class of every error the agent raises on purpose."""


class UsageError(AgentError):
    """A flag's value that is not in the flag's form (exit 2, like any usage error)."""


class ConfigError(AgentError):
    """A config value that is missing or invalid; the message names the key and the fix."""


class NotEnrolled(AgentError):
    """The agent has no endpoint token: run `crontopus-agent enroll` first."""


class ServerError(AgentError):
    """The server could not do what the agent asked."""


class ServerUnreachable(ServerError):
    """No answer, a transport error or a 5xx: the same call may succeed later."""


class ServerRefused(ServerError):
    """A 4xx answer or a GraphQL error: the request itself is wrong."""


class SyncError(AgentError):
    """The job repository could not be fetched or read."""


class ServiceError(AgentError):
    """Installing, starting or stopping the agent's service failed; the message says how."""
