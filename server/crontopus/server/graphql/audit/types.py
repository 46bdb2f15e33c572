"""GraphQL types for the audit log."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from crontopus.server.db import models


@strawberry.type(description="Who did what to which thing, and when.")
class AuditEvent:
    id: uuid.UUID
    actor: str = strawberry.field(
        description='Who acted, as stored: a user name, "<user> (token)" or "endpoint:<id>".'
    )
    actor_name: str = strawberry.field(
        description="Who acted, as a person reads it: an endpoint by its current name."
    )
    action: str
    target: str
    details: JSON
    created_at: datetime

    @classmethod
    def from_model(cls, event: models.AuditEvent, actor_name: str | None = None) -> AuditEvent:
        return cls(
            id=event.id,
            actor=event.actor,
            actor_name=actor_name or event.actor,
            action=event.action,
            target=event.target,
            details=JSON(event.details),
            created_at=event.created_at,
        )


@strawberry.input(description="Which audit events to list; given fields combine with AND.")
class AuditFilter:
    action: str | None = strawberry.field(
        default=None,
        description='One action ("member.add"), or every action under a prefix ending in "."',
    )
    actor: str | None = strawberry.field(default=None, description="Who acted, exactly.")
    search: str | None = strawberry.field(default=None, description="Text in the target.")
