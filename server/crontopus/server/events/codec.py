"""The wire form of an event: compact JSON that fits in one PostgreSQL NOTIFY payload.

Events carry ids and kinds, never documents ("ids not payloads"): a subscriber that needs
more reads it from the database or the Git store. Both broadcasters check every event
against the same limit, so an oversized event fails on a developer's SQLite server the same
way it would in a PostgreSQL deployment.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import types
import typing
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from crontopus.server.events.errors import EventTooLarge, InvalidEvent
from crontopus.server.events.event import Event
from crontopus.server.events.topics import Payload

P = TypeVar("P", bound=Payload)

# PostgreSQL refuses a NOTIFY payload of 8000 bytes or more (default build).
MAX_PAYLOAD_BYTES = 7999
# Between the events packed into one notification: encoded events are JSON written with
# `ensure_ascii` and no indentation, so none holds a raw newline.
SEPARATOR = "\n"

# `json.dumps` with separators of its own builds an encoder per call; one serves every event.
_encode_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True).encode
_TYPED = (uuid.UUID, datetime)


def encode_event(event: Event, sequence: str | None = None) -> str:
    """Return `event` as ASCII JSON; raise `InvalidEvent` when it cannot travel over NOTIFY."""
    data = event.data
    uuids: list[str] = []
    times: list[str] = []
    # Typed payloads (`to_event`) hold JSON values only: their data is written as it is.
    if any(isinstance(value, _TYPED) for value in data.values()):
        data = {}
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
        text = _encode_json(body)
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


def pack(payloads: Sequence[str]) -> list[str]:
    """Join encoded events, in order, into as few notification payloads as fit the limit.

    A notification costs PostgreSQL and every listening process about as much whatever it
    carries, and a busy ingest announces a run per check-in.
    """
    packed: list[str] = []
    lines: list[str] = []
    size = -len(SEPARATOR)
    for payload in payloads:
        if lines and size + len(SEPARATOR) + len(payload) > MAX_PAYLOAD_BYTES:
            packed.append(SEPARATOR.join(lines))
            lines, size = [], -len(SEPARATOR)
        lines.append(payload)
        size += len(SEPARATOR) + len(payload)
    if lines:
        packed.append(SEPARATOR.join(lines))
    return packed


def unpack(text: str) -> list[str]:
    """The events of one notification payload (one, unless `pack` joined several)."""
    return text.split(SEPARATOR)


_HEAD = '{"t":"'
_TOPIC = '","o":"'
_TOPIC_AT = len(_HEAD) + 36  # a tenant id is 36 characters in its canonical form


def peek_event(text: str) -> tuple[uuid.UUID, str] | None:
    """The tenant id and topic of a payload `encode_event` wrote, without decoding the rest.

    A process receives every event any process publishes; it decodes only those it has a
    subscriber for. None when the payload does not start as `encode_event` writes it.
    """
    if not text.startswith(_HEAD) or not text.startswith(_TOPIC, _TOPIC_AT):
        return None
    end = text.find('"', _TOPIC_AT + len(_TOPIC))
    if end < 0:
        return None
    try:
        tenant_id = uuid.UUID(text[len(_HEAD) : _TOPIC_AT])
    except ValueError:
        return None
    return tenant_id, text[_TOPIC_AT + len(_TOPIC) : end]


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


# Typed payloads (events/topics.py) travel as `Event.data` of JSON values: ids and times as
# strings, enums as their values. Each payload class's converters are worked out once.

_Convert = Callable[[Any], Any]


def _identity(value: Any) -> Any:
    return value


def _converters(kind: Any) -> tuple[_Convert, _Convert]:
    """Return (to JSON, from JSON) for one field type."""
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        (inner,) = [arg for arg in typing.get_args(kind) if arg is not type(None)]
        dump, load = _converters(inner)
        if dump is _identity and load is _identity:
            return _identity, _identity
        return (
            lambda value: None if value is None else dump(value),
            lambda value: None if value is None else load(value),
        )
    if origin is list:
        (item,) = typing.get_args(kind)
        dump, load = _converters(item)
        if dump is _identity:
            return _identity, _identity
        return (lambda values: [dump(v) for v in values], lambda values: [load(v) for v in values])
    if kind is uuid.UUID:
        return str, _uuid
    if kind is datetime:
        return datetime.isoformat, _time
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return (lambda value: value.value), kind
    return _identity, _identity


def _uuid(value: Any) -> uuid.UUID:
    # The in-process bus hands the data on as published; a UUID may still be one.
    return value if isinstance(value, uuid.UUID) else uuid.UUID(value)


def _time(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


_Fields = tuple[tuple[str, _Convert, _Convert], ...]
_FIELDS: dict[type, _Fields] = {}


def _fields(cls: type) -> _Fields:
    found = _FIELDS.get(cls)
    if found is None:
        hints = typing.get_type_hints(cls)
        found = tuple((f.name, *_converters(hints[f.name])) for f in dataclasses.fields(cls))
        _FIELDS[cls] = found
    return found


def to_event(tenant_id: uuid.UUID, payload: Payload) -> Event:
    """Return the event that announces `payload` to the tenant's subscribers of its topic."""
    data: dict[str, Any] = {}
    # Ingest announces a run per check-in: a field written as it is costs no call.
    for name, dump, _ in _fields(type(payload)):
        value = getattr(payload, name)
        data[name] = value if dump is _identity else dump(value)
    return Event(tenant_id, payload.TOPIC, data)


def read_event(event: Event, cls: type[P]) -> P:
    """Return the payload of an event of `cls`'s topic; raise `InvalidEvent` if it is not one."""
    if event.topic != cls.TOPIC:
        raise InvalidEvent(f"a {event.topic!r} event is not a {cls.__name__}")
    data = event.data
    try:
        values = {name: load(data[name]) for name, _, load in _fields(cls) if name in data}
        return cls(**values)
    except (KeyError, TypeError, ValueError) as error:
        raise InvalidEvent(
            f"{event.topic!r} event without a valid {cls.__name__}: {error}"
        ) from None
