"""When the agent heartbeats: rarely while its channel is open, at the interval while it is not.

With the channel open the server keeps the endpoint present itself (it stamps every connected
endpoint's `last_seen_at` in bulk), so a heartbeat only carries what the agent reports (its
version, driver and applied commit) and brings back the endpoint's labels. It then goes out
when the channel (re)connects, when what it reports changed (a sync applied a new commit), when
the server says the endpoint's labels changed (LABELS_CHANGED), and otherwise once every
CHANNEL_REFRESH seconds (jittered), in case a notice was missed. With the channel closed the
heartbeat is the endpoint's presence: it goes out every `heartbeat_interval` (jittered).

At ten thousand agents a heartbeat every ten intervals (300 s) was 33 mutations a second, a
third of a server core; once an hour it is under three a second.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

#: Seconds between heartbeats while the channel is open and nothing changed.
CHANNEL_REFRESH = 3600.0


@dataclass(frozen=True)
class Report:
    """What a heartbeat tells the server about the agent."""

    agent_version: str
    driver: str | None
    applied_commit: str | None


class HeartbeatSchedule:
    """When the next heartbeat is due (monotonic seconds), given the channel and what changed."""

    def __init__(
        self, interval: float, spread: Callable[[float], float], refresh: float = CHANNEL_REFRESH
    ) -> None:
        """`spread` jitters an interval, so a fleet does not heartbeat in step."""
        self.interval = interval
        self.refresh = refresh
        self.spread = spread
        self.due = float("-inf")  # the first heartbeat goes out at once
        self.reported: Report | None = None
        self._retry_at = float("-inf")

    def due_now(self, at: float) -> None:
        """Heartbeat at once: the channel (re)connected or closed, or the labels changed."""
        self.due = min(self.due, at)

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
