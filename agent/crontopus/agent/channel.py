"""The agent channel: one WebSocket to the server, subscribed to this endpoint's events.

A thread keeps one `graphql-transport-ws` connection open with the endpoint token and
subscribes to `agentEvents`. The server's first message is CONNECTED with the repository's
HEAD; then come repository changes (with the new commit), run requests, label changes and
revocation. Each
event is handed to `on_event` (the daemon queues it and wakes its loop). A dropped connection
is opened again after a jittered, growing delay, so a fleet does not reconnect in step when
a server restarts; while it is down the daemon polls (docs/agent-protocol.md).
"""

from __future__ import annotations

import enum
import json
import logging
import random
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.sync.client import ClientConnection, connect

log = logging.getLogger(__name__)

SUBPROTOCOL = "graphql-transport-ws"
AGENT_EVENTS = "subscription AgentEvents { agentEvents { kind commitId jobId requestId } }"
#: Close codes of a refused credential (credentials.py on the server): retry only slowly.
REFUSED_CODES = (4401, 4403)
RECONNECT_MIN = 1.0
RECONNECT_SPREAD = 15.0
RECONNECT_MAX = 60.0
REFUSED_DELAY = 300.0
OPEN_TIMEOUT = 10.0


class EventKind(enum.Enum):
    CONNECTED = "CONNECTED"
    REPOSITORY_CHANGED = "REPOSITORY_CHANGED"
    RUN_REQUESTED = "RUN_REQUESTED"
    REVOKED = "REVOKED"
    #: The endpoint's labels changed: the daemon heartbeats (which returns them) and syncs.
    LABELS_CHANGED = "LABELS_CHANGED"
    #: Not from the server: the channel closed; the daemon polls until CONNECTED again.
    DISCONNECTED = "DISCONNECTED"


@dataclass(frozen=True)
class ChannelEvent:
    kind: EventKind
    commit: str | None = None
    job_id: str | None = None
    request_id: str | None = None

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> ChannelEvent:
        return cls(
            EventKind(data["kind"]),
            data.get("commitId"),
            data.get("jobId"),
            data.get("requestId"),
        )


def websocket_url(server: str) -> str:
    """Return the server's GraphQL WebSocket URL (`ws://…/graphql` or `wss://…/graphql`)."""
    parts = urlsplit(server.rstrip("/"))
    scheme = "wss" if parts.scheme == "https" else "ws"
    return urlunsplit((scheme, parts.netloc, parts.path + "/graphql", "", ""))


def reconnect_delay(failures: int) -> float:
    """How long to wait before reconnecting after `failures` failed attempts in a row.

    A channel that was open and dropped (0 failures: the server restarted, a proxy cut it) is
    reopened after a random delay spread over RECONNECT_SPREAD seconds, so a fleet does not
    come back in one burst; after that the backoff doubles up to RECONNECT_MAX, each delay a
    random half to all of it.
    """
    if failures <= 0:
        return random.uniform(RECONNECT_MIN, RECONNECT_SPREAD)  # noqa: S311 (not a secret)
    backoff = min(RECONNECT_MAX, 2.0 * 2.0 ** (failures - 1))
    return backoff * random.uniform(0.5, 1.0)  # noqa: S311 (spreading reconnects, not a secret)


class Channel:
    """Keeps the agent's channel open in a thread until `stop()`."""

    def __init__(
        self,
        server: str,
        token: str,
        on_event: Callable[[ChannelEvent], None],
        *,
        url: str | None = None,
        user_agent: str = "crontopus-agent",
        delay: Callable[[int], float] = reconnect_delay,
    ) -> None:
        self.url = url or websocket_url(server)
        self.token = token
        self.on_event = on_event
        self.user_agent = user_agent
        self.delay = delay
        self.connected = threading.Event()
        self.revoked = False
        self._stopping = threading.Event()
        self._socket: ClientConnection | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="channel", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Close the socket and wait (bounded) for the thread to end."""
        self._stopping.set()
        with self._lock:
            socket = self._socket
        if socket is not None:
            socket.close()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            refused = False
            try:
                told = self._session()
                failures = 0 if told else failures + 1
            except ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd is not None else None
                why = f"{code} {closed.rcvd.reason}" if closed.rcvd else "connection lost"
                refused = code in REFUSED_CODES
                if not self._stopping.is_set():
                    log.warning("channel closed (%s); polling meanwhile", why)
                failures += 1
            except (OSError, TimeoutError, InvalidHandshake, InvalidURI, ValueError) as error:
                if failures == 0:
                    log.warning(
                        "channel to %s unavailable (%s); polling meanwhile", self.url, error
                    )
                failures += 1
            finally:
                with self._lock:
                    self._socket = None
                if self.connected.is_set():
                    self.connected.clear()
                    self.on_event(ChannelEvent(EventKind.DISCONNECTED))
            if self.revoked:
                log.error("this endpoint was revoked: the channel stays closed (enroll again)")
                return
            wait = REFUSED_DELAY if refused else self.delay(failures)
            self._stopping.wait(wait)

    def _session(self) -> bool:
        """Run one connection until it closes; return whether the server said anything."""
        headers = {"Authorization": f"Bearer {self.token}"}
        context = ssl.create_default_context() if self.url.startswith("wss:") else None
        with connect(
            self.url,
            subprotocols=[SUBPROTOCOL],  # type: ignore[list-item]
            additional_headers=headers,
            user_agent_header=self.user_agent,
            open_timeout=OPEN_TIMEOUT,
            ssl=context,
            compression=None,
            # Keepalive pings find a silently dropped connection within a minute or so.
            ping_interval=30,
            ping_timeout=30,
        ) as socket:
            with self._lock:
                self._socket = socket
            if self._stopping.is_set():
                return False
            init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {self.token}"}}
            socket.send(json.dumps(init))
            ack = json.loads(socket.recv(timeout=OPEN_TIMEOUT))
            if ack.get("type") != "connection_ack":
                raise ValueError(f"the server answered {ack.get('type')!r} to connection_init")
            subscribe = {"id": "1", "type": "subscribe", "payload": {"query": AGENT_EVENTS}}
            socket.send(json.dumps(subscribe))
            told = False
            for raw in socket:
                message = json.loads(raw)
                kind = message.get("type")
                if kind == "ping":
                    socket.send(json.dumps({"type": "pong"}))
                elif kind == "next":
                    payload = message.get("payload") or {}
                    data = (payload.get("data") or {}).get("agentEvents")
                    if data is None:
                        # Events may be lost (the server's bus was interrupted): reconnect,
                        # which starts again from CONNECTED and HEAD.
                        log.warning("channel: %s; reconnecting", payload.get("errors"))
                        return told
                    event = ChannelEvent.from_payload(data)
                    told = True
                    if event.kind is EventKind.CONNECTED:
                        self.connected.set()
                    if event.kind is EventKind.REVOKED:
                        self.revoked = True
                    self.on_event(event)
                    if self.revoked:
                        return told
                elif kind in ("error", "complete"):
                    log.warning("channel subscription ended: %s", message.get("payload"))
                    return told
            return told
