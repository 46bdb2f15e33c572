"""What each topic's events say: one frozen dataclass per topic, encoded by `events.codec`.

Publishers build these and subscribers read them back (`to_event`, `read_event` in the codec),
so no service writes a payload by hand and no resolver parses one its own way. Events carry
ids, kinds and short strings, never documents: a subscriber that needs more reads it.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from crontopus.core.enums import RunStatus, RunTrigger
from crontopus.server.db.models import AlertRule, IncidentStatus
from crontopus.server.gitstore.store import JobChangeKind


class RunChangeKind(enum.Enum):
    STARTED = "started"
    FINISHED = "finished"


class IncidentChangeKind(enum.Enum):
    OPENED = "opened"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class EndpointEventKind(enum.StrEnum):
    """What happened to an endpoint, as `endpointEvents` announces it."""

    ENROLLED = "enrolled"
    ONLINE = "online"
    OFFLINE = "offline"
    REVOKED = "revoked"
    UPDATED = "updated"


class AgentEventKind(enum.Enum):
    """What an agent hears on its channel."""

    CONNECTED = "connected"
    REPOSITORY_CHANGED = "repository_changed"
    RUN_REQUESTED = "run_requested"
    REVOKED = "revoked"
    LABELS_CHANGED = "labels_changed"


@dataclass(frozen=True, slots=True)
class JobChanged:
    """A commit (through the API or a push) created, updated or deleted a job."""

    TOPIC: ClassVar[str] = "jobs"
    kind: JobChangeKind
    job_id: uuid.UUID
    path: str
    commit_id: str


@dataclass(frozen=True, slots=True)
class RunChanged:
    """A run started or finished (its output stays in the database)."""

    TOPIC: ClassVar[str] = "runs"
    kind: RunChangeKind
    id: uuid.UUID
    job_id: uuid.UUID
    job_name: str | None
    namespace: str | None
    endpoint_id: uuid.UUID | None
    status: RunStatus
    started_at: datetime
    finished_at: datetime | None
    duration_ms: int | None
    exit_code: int | None
    unknown_job: bool
    trigger: RunTrigger


@dataclass(frozen=True, slots=True)
class IncidentChanged:
    """An incident opened, was acknowledged or resolved."""

    TOPIC: ClassVar[str] = "incidents"
    kind: IncidentChangeKind
    id: uuid.UUID
    rule: AlertRule
    status: IncidentStatus
    title: str
    job_id: uuid.UUID | None
    job_name: str | None
    namespace: str | None
    endpoint_id: uuid.UUID | None
    opened_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    details: dict[str, Any]


@dataclass(frozen=True, slots=True)
class EndpointChanged:
    """An endpoint enrolled, came online, went offline, was revoked or updated."""

    TOPIC: ClassVar[str] = "endpoints"
    kind: EndpointEventKind
    endpoint_id: uuid.UUID
    name: str
    at: datetime


@dataclass(frozen=True, slots=True)
class AgentNotice:
    """For agents' channels: a new commit for some targets, a run request, a revocation, or
    new labels.

    `targets` lists the label sets a commit concerns (None: every endpoint); `endpoint_ids`
    names the endpoints a run request, a revocation or a label change is for; `labels` are
    that endpoint's labels now (LABELS_CHANGED), which its channel then filters commits by.
    """

    TOPIC: ClassVar[str] = "agents"
    kind: AgentEventKind
    commit: str | None = None
    targets: list[dict[str, str]] | None = None
    job_id: uuid.UUID | None = None
    request_id: uuid.UUID | None = None
    endpoint_ids: list[uuid.UUID] | None = None
    labels: dict[str, str] | None = None


Payload = JobChanged | RunChanged | IncidentChanged | EndpointChanged | AgentNotice
