"""States and choices shared by the server, the agent, the drivers and the clients."""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    """Where one run of a job stands."""

    RUNNING = "RUNNING"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    TIMEOUT = "TIMEOUT"
    MISSED = "MISSED"


class JobStatus(StrEnum):
    """Whether a job is doing what its schedule says, in one word."""

    NEW = "NEW"  # never reported a run
    UP = "UP"  # its last run succeeded and nothing is due
    LATE = "LATE"  # a fire time passed with no start, and its grace time is still running
    DOWN = "DOWN"  # a fire time passed its grace time with no start (a missed run)
    FAILING = "FAILING"  # its last run failed, or a failure alert is open
    PAUSED = "PAUSED"  # disabled or paused in its manifest


class RunTrigger(StrEnum):
    """What started a run: its schedule, or a person asking to run it now."""

    SCHEDULE = "SCHEDULE"
    MANUAL = "MANUAL"


class EndpointStatus(StrEnum):
    """Whether an enrolled machine is reporting in."""

    ONLINE = "ONLINE"
    OFFLINE = "OFFLINE"
    REVOKED = "REVOKED"


class HealthStatus(StrEnum):
    """How well a job or an endpoint has been doing lately."""

    HEALTHY = "HEALTHY"
    DEGRADED = "DEGRADED"
    FAILING = "FAILING"
    UNKNOWN = "UNKNOWN"


class Concurrency(StrEnum):
    """What happens when a job is due while its previous run is still going.

    The values are lowercase because they are written as such in manifests.
    """

    ALLOW = "allow"
    FORBID = "forbid"


class JobSource(StrEnum):
    """Whether Crontopus manages a job or found it on a machine."""

    MANAGED = "MANAGED"
    DISCOVERED = "DISCOVERED"
