"""What a notification says, independent of the channel that carries it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from crontopus.server.db.models import NotificationEvent


@dataclass(frozen=True)
class Message:
    """One incident event (or a channel test) as every channel renders it."""

    notification_id: uuid.UUID
    event: NotificationEvent
    tenant: str
    title: str
    at: datetime
    incident_id: uuid.UUID | None = None
    rule: str | None = None
    status: str | None = None
    job_id: uuid.UUID | None = None
    job_name: str | None = None
    namespace: str | None = None
    endpoint_id: uuid.UUID | None = None
    opened_at: datetime | None = None
    resolved_at: datetime | None = None
    link: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def summary(self) -> str:
        """One line a person reads in a chat or a subject line."""
        match self.event:
            case NotificationEvent.TRIGGER:
                return f"[Crontopus] {self.title}"
            case NotificationEvent.RESOLVE:
                return f"[Crontopus] Resolved: {self.title}"
        return f"[Crontopus] Test notification: {self.title}"

    @property
    def job(self) -> str | None:
        if self.job_name is None:
            return None
        return f"{self.namespace}/{self.job_name}" if self.namespace else self.job_name

    def as_json(self) -> dict[str, Any]:
        """The JSON body of a generic webhook (documented in docs/alerting.md)."""
        return {
            "event": self.event.value.lower(),
            "delivery_id": str(self.notification_id),
            "tenant": self.tenant,
            "summary": self.summary,
            "at": self.at.isoformat(),
            "incident": None
            if self.incident_id is None
            else {
                "id": str(self.incident_id),
                "rule": self.rule,
                "status": self.status,
                "title": self.title,
                "job_id": str(self.job_id) if self.job_id else None,
                "job": self.job,
                "endpoint_id": str(self.endpoint_id) if self.endpoint_id else None,
                "opened_at": self.opened_at.isoformat() if self.opened_at else None,
                "resolved_at": self.resolved_at.isoformat() if self.resolved_at else None,
                "link": self.link,
                "details": self.details,
            },
        }

    def as_text(self) -> str:
        """A plain-text rendering for e-mail and chat."""
        lines = [self.summary, ""]
        if self.job is not None:
            lines.append(f"Job: {self.job}")
        if self.endpoint_id is not None:
            lines.append(f"Endpoint: {self.endpoint_id}")
        if self.rule is not None:
            lines.append(f"Rule: {self.rule}")
        if self.opened_at is not None:
            lines.append(f"Opened: {self.opened_at.isoformat()}")
        if self.resolved_at is not None:
            lines.append(f"Resolved: {self.resolved_at.isoformat()}")
        for key, value in sorted(self.details.items()):
            lines.append(f"{key}: {value}")
        if self.link:
            lines += ["", self.link]
        return "\n".join(lines) + "\n"
