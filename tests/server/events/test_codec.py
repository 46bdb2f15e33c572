"""Every topic's payload survives the wire: typed on both ends, JSON in between."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from crontopus.core.enums import RunStatus, RunTrigger
from crontopus.server.db.models import AlertRule, IncidentStatus
from crontopus.server.events.codec import (
    MAX_PAYLOAD_BYTES,
    decode_event,
    encode_event,
    pack,
    peek_event,
    read_event,
    to_event,
    unpack,
)
from crontopus.server.events.errors import InvalidEvent
from crontopus.server.events.event import Event
from crontopus.server.events.topics import (
    AgentEventKind,
    AgentNotice,
    EndpointChanged,
    EndpointEventKind,
    IncidentChanged,
    IncidentChangeKind,
    JobChanged,
    Payload,
    RunChanged,
    RunChangeKind,
)
from crontopus.server.gitstore.store import JobChangeKind

TENANT = uuid.UUID("00000000-0000-4000-8000-00000000a11c")
AT = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)

PAYLOADS: list[Payload] = [
    JobChanged(JobChangeKind.UPDATED, uuid.uuid4(), "default/backup.yaml", "a" * 40),
    RunChanged(
        kind=RunChangeKind.FINISHED,
        id=uuid.uuid4(),
        job_id=uuid.uuid4(),
        job_name="backup",
        namespace="default",
        endpoint_id=None,
        status=RunStatus.FAILURE,
        started_at=AT,
        finished_at=AT,
        duration_ms=1200,
        exit_code=2,
        unknown_job=False,
        trigger=RunTrigger.MANUAL,
    ),
    IncidentChanged(
        kind=IncidentChangeKind.OPENED,
        id=uuid.uuid4(),
        rule=AlertRule.FAILURE,
        status=IncidentStatus.OPEN,
        title="backup failed",
        job_id=uuid.uuid4(),
        job_name="backup",
        namespace="default",
        endpoint_id=uuid.uuid4(),
        opened_at=AT,
        acknowledged_at=None,
        acknowledged_by=None,
        resolved_at=None,
        resolved_by=None,
        details={"exitCode": 2},
    ),
    EndpointChanged(EndpointEventKind.OFFLINE, uuid.uuid4(), "web-1", AT),
    AgentNotice(AgentEventKind.REPOSITORY_CHANGED, commit="b" * 40, targets=[{"env": "prod"}]),
    AgentNotice(
        AgentEventKind.RUN_REQUESTED,
        job_id=uuid.uuid4(),
        request_id=uuid.uuid4(),
        endpoint_ids=[uuid.uuid4(), uuid.uuid4()],
    ),
]


@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: type(p).__name__)
def test_a_payload_reads_back_equal_after_crossing_the_wire(payload: Payload) -> None:
    event = to_event(TENANT, payload)
    assert event.topic == payload.TOPIC
    json.dumps(event.data)  # JSON values only: ids, times and kinds as strings
    tenant_id, topic, data = decode_event(encode_event(event, sequence="1"))
    assert read_event(Event(tenant_id, topic, data), type(payload)) == payload


@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: type(p).__name__)
def test_a_payload_reads_back_equal_on_the_in_process_bus(payload: Payload) -> None:
    assert read_event(to_event(TENANT, payload), type(payload)) == payload


def test_an_event_of_another_topic_is_not_read_as_this_one() -> None:
    event = to_event(TENANT, PAYLOADS[0])
    with pytest.raises(InvalidEvent, match="'jobs' event is not a RunChanged"):
        read_event(event, RunChanged)


def test_a_payload_missing_a_field_is_refused_with_its_name() -> None:
    event = Event(TENANT, "endpoints", {"kind": "offline", "name": "web-1", "at": AT.isoformat()})
    with pytest.raises(InvalidEvent, match="endpoint_id"):
        read_event(event, EndpointChanged)


@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: type(p).__name__)
def test_a_payload_tells_its_tenant_and_topic_without_being_decoded(payload: Payload) -> None:
    event = to_event(TENANT, payload)
    assert peek_event(encode_event(event, sequence="7")) == (TENANT, event.topic)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not json",
        '{"o":"runs","t":"00000000-0000-4000-8000-00000000a11c","d":{}}',
        '{"t":"not-a-uuid-but-thirty-six-characters","o":"runs","d":{}}',
        '{"t":"00000000-0000-4000-8000-00000000a11c","o":"runs',
    ],
)
def test_a_payload_not_written_by_encode_event_is_not_peeked(text: str) -> None:
    assert peek_event(text) is None


def test_packed_events_fit_the_notify_limit_and_unpack_whole_and_in_order() -> None:
    # Line breaks inside values travel escaped, so they cannot split an event in two.
    events = [
        encode_event(Event(TENANT, "runs", {"n": n, "text": "a\nb" * (n % 300)}), sequence=str(n))
        for n in range(500)
    ]
    notifications = pack(events)
    assert len(notifications) < len(events)
    assert all(len(text) <= MAX_PAYLOAD_BYTES for text in notifications)
    received = [text for notification in notifications for text in unpack(notification)]
    assert received == events
    assert [decode_event(text)[2]["n"] for text in received] == list(range(500))


def test_a_notification_of_one_event_unpacks_to_that_event() -> None:
    text = encode_event(to_event(TENANT, PAYLOADS[0]), sequence="1")
    assert pack([text]) == [text]
    assert unpack(text) == [text]
