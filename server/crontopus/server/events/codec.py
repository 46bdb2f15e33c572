"""The wire form of an event: compact JSON that fits in one PostgreSQL NOTIFY payload.

Events carry ids and kinds, never documents ("ids not payloads"): a subscriber that needs
more reads it from the database or the Git store. Both broadcasters check every event
against the same limit, so an oversized event fails on a developer's SQLite server the same
way it would in a PostgreSQL deployment.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from crontopus.server.events.errors import EventTooLarge, InvalidEvent
from crontopus.server.events.event import Event

# PostgreSQL refuses a NOTIFY payload of 8000 bytes or more (default build).
MAX_PAYLOAD_BYTES = 7999


def encode_event(event: Event, sequence: str | None = None) -> str:
    """Return `event` as ASCII JSON; raise `InvalidEvent` when it cannot travel over NOTIFY."""
    data: dict[str, Any] = {}
    uuids: list[str] = []
    times: list[str] = []
    for key, value in event.data.items():
        if isinstance(value, uuid.UUID):
            data[key] = str(value)
            uuids.append(key)
        elif isinstance(value, datetime):
            data[key] = value.isoformat()
            times.append(key)
        else:
            data[key] = value
    body: dict[str, Any] = {"t": str(event.tenant_id), "o": event.topic, "d": data}
    if uuids:
        body["u"] = uuids
    if times:
        body["w"] = times
    if sequence is not None:
        # Makes every payload unique: PostgreSQL folds identical notifications of one
        # transaction into one, which would swallow a legitimately repeated event.
        body["n"] = sequence
    try:
        text = json.dumps(body, separators=(",", ":"), ensure_ascii=True)
    except (TypeError, ValueError) as error:
        raise InvalidEvent(
            f"event {event.topic!r}: data is not JSON-serialisable ({error}); "
            "publish ids, kinds and short strings only"
        ) from None
    if len(text) > MAX_PAYLOAD_BYTES:
        raise EventTooLarge(
            f"event {event.topic!r}: encoded size {len(text)} bytes exceeds the "
            f"{MAX_PAYLOAD_BYTES}-byte NOTIFY limit; publish ids and let subscribers "
            "read the details from the database"
        )
    return text


def decode_event(text: str) -> tuple[uuid.UUID, str, dict[str, Any]]:
    """Return (tenant id, topic, data) of a payload; raise `InvalidEvent` on a foreign one."""
    try:
        body = json.loads(text)
        tenant_id = uuid.UUID(body["t"])
        topic = body["o"]
        data = body["d"]
        if not isinstance(topic, str) or not isinstance(data, dict):
            raise TypeError("topic must be a string and data an object")
        for key in body.get("u", ()):
            data[key] = uuid.UUID(data[key])
        for key in body.get("w", ()):
            data[key] = datetime.fromisoformat(data[key])
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise InvalidEvent(f"not a Crontopus event payload ({error}): {text[:80]!r}") from None
    return tenant_id, topic, data
