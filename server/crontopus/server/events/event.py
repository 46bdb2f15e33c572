"""`Event`: something that happened in one tenant, as the event bus carries it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Event:
    """Something that happened in one tenant; `topic` says what kind, `data` the details."""

    tenant_id: uuid.UUID
    topic: str
    data: dict[str, Any] = field(default_factory=dict)
