"""Why an event stream ended or an event was refused.

Exception
├── EventsLost               the subscriber missed events: resubscribe, reload current state
│   ├── SubscriberTooSlow    its queue overflowed, or its oldest waiting event aged past 10 s
│   └── EventBusInterrupted  the PostgreSQL listener connection dropped (or is reconnecting)
├── InvalidEvent (ValueError)  a publisher handed over an event the bus cannot carry
│   └── EventTooLarge        its encoded form exceeds PostgreSQL's NOTIFY payload limit
└── EventBusUnavailable      the event bus could not connect at start
"""

from __future__ import annotations


class EventsLost(Exception):
    """The subscriber missed events; it must resubscribe and reload the current state."""


class SubscriberTooSlow(EventsLost):
    """The subscriber's queue overflowed; it must reconnect and re-read current state."""


class EventBusInterrupted(EventsLost):
    """The connection that receives other processes' events dropped; events may be missing."""


class InvalidEvent(ValueError):
    """An event whose data cannot be carried by the bus (not JSON, or too large)."""


class EventTooLarge(InvalidEvent):
    """An event whose encoded form exceeds the NOTIFY payload limit."""


class EventBusUnavailable(Exception):
    """The event bus could not reach its database when the server started."""
