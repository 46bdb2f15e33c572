"""When the agent heartbeats: rarely while its channel is open, at the interval while it is not.

With the channel open the server keeps the endpoint present itself (it stamps every connected
endpoint's `last_seen_at` in bulk), so a heartbeat only carries what the agent reports (its
version, driver and applied commit) and brings back the endpoint's labels. It then goes out
when the channel (re)connects (at a random moment within CONNECT_SPREAD seconds), when what it
reports changed (a sync applied a new commit), when the server says the endpoint's labels
changed (LABELS_CHANGED), and otherwise once every CHANNEL_REFRESH seconds (jittered), in case a
notice was missed. With the channel closed the heartbeat is the endpoint's presence: it goes out
every `heartbeat_interval` (jittered), the first one an interval after the channel closed.

At ten thousand agents a heartbeat every ten intervals (300 s) was 33 mutations a second, a
third of a server core; once an hour it is under three a second. A server restart closes every
channel at once and they reopen within seconds: heartbeating at once on each, ten thousand
agents sent ten thousand heartbeats in a burst the server took minutes to answer, and sockets
connecting meanwhile were refused. Spread over CONNECT_SPREAD they are 33 a second; presence
needs none of them (the open channel keeps the endpoint online), and a channel that closed for
good is followed by a heartbeat an interval later, before the endpoint counts as offline.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

#: Seconds between heartbeats while the channel is open and nothing changed.
CHANNEL_REFRESH = 3600.0
#: The heartbeat after the channel (re)opens goes out at a random moment within this many
#: seconds, so a fleet reconnecting at once (a server restart) does not heartbeat at once.
CONNECT_SPREAD = 300.0


def settle() -> float:
    """A random delay within CONNECT_SPREAD for the heartbeat after the channel opened."""
    return random.uniform(0.0, CONNECT_SPREAD)  # noqa: S311 (spreading load, not a secret)


@dataclass(frozen=True)
class Report:
    """What a heartbeat tells the server about the agent."""

    agent_version: str
    driver: str | None
    applied_commit: str | None


class HeartbeatSchedule:
    """When the next heartbeat is due (monotonic seconds), given the channel and what changed."""

    def __init__(
        self,
        interval: float,
        spread: Callable[[float], float],
        refresh: float = CHANNEL_REFRESH,
        settle: Callable[[], float] = settle,
    ) -> None:
        """`spread` jitters an interval, so a fleet does not heartbeat in step; `settle` is the
        delay of the heartbeat after the channel opened."""
        self.interval = interval
        self.refresh = refresh
        self.spread = spread
        self.settle = settle
        self.due = float("-inf")  # the first heartbeat goes out at once
        self.reported: Report | None = None
        self._retry_at = float("-inf")

    def due_now(self, at: float) -> None:
        """Heartbeat at once: the labels changed."""
        self.due = min(self.due, at)

    def connected(self, at: float) -> None:
        """The channel (re)opened: heartbeat within CONNECT_SPREAD, whatever was due before.

        With the channel open the server keeps the endpoint present, so a heartbeat due (or a
        retry pending) from while it was closed can wait too.
        """
        self.due = at + self.settle()

    def disconnected(self, at: float) -> None:
        """The channel closed: heartbeat at the normal interval from now on (the first one
        within an interval: the endpoint was seen within one, so it stays online)."""
        self.due = min(self.due, at + self.spread(self.interval))

    def note(self, report: Report, at: float) -> None:
        """Heartbeat at once if `report` differs from what the server was last told.

        After a failed heartbeat the retry waits for the normal interval all the same.
        """
        if report != self.reported:
            self.due = min(self.due, max(at, self._retry_at))

    def sent(self, report: Report, at: float, *, channel_open: bool) -> None:
        """The server took a heartbeat with `report`."""
        self.reported = report
        self._retry_at = float("-inf")
        self.due = at + self.spread(self.refresh if channel_open else self.interval)

    def failed(self, at: float) -> None:
        """A heartbeat failed: try again after the normal interval, channel or not."""
        self.due = self._retry_at = at + self.spread(self.interval)
