"""How a server process runs: the collector settings and uvicorn options `serve` uses.

The benchmarks serve their bare baselines and Crontopus through these same two functions,
so what they measure is what `crontopus-server serve` runs.
"""

from __future__ import annotations

import gc
import math
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from crontopus.server.settings import Settings

# Allocations between young collections (CPython's default is 700).
GC_YOUNG_THRESHOLD = 20_000


#: A peer that pinged this recently needs no ping from the server (the agent pings every 30 s).
PEER_KEEPALIVE_SECONDS = 45.0


class WebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol, leaving peers that ping on their own alone.

    uvicorn pings every socket every 20 s to find dead peers and keep proxies from closing
    idle sockets. Each ping and its pong cost the server ~0.1 ms of CPU: 500 a second for
    ten thousand agents, a tenth of a core, although every agent pings the server every 30 s
    itself. So a socket whose peer pinged within `PEER_KEEPALIVE_SECONDS` is not pinged; once
    its pings stop, the server's resume, and a dead peer is still closed within about a
    minute and a half. Browsers cannot ping: their sockets are pinged as before.
    """

    peer_pinged_at = -math.inf

    def handle_ping(self) -> None:
        self.peer_pinged_at = self.loop.time()
        super().handle_ping()

    def send_keepalive_ping(self) -> None:
        if self.loop.time() - self.peer_pinged_at < PEER_KEEPALIVE_SECONDS:
            self.ping_timer = None
            self.schedule_ping()
            return
        super().send_keepalive_ping()


def prepare_process() -> None:
    """Tune the cyclic garbage collector once the app is built, just before serving.

    What exists now (modules, the schema, the app) lives as long as the process: freezing it
    keeps full collections from walking it, which under a busy live stream paused the event
    loop for ~150 ms every few seconds. Check-ins and fan-out allocate fast, so young
    collections come rarer too: at the default threshold, collections took a third of the
    event loop's time at 5,000 check-ins/s.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 10, 10)


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for `uvicorn.run` besides the app, host, port and logging."""
    return {
        # Forwarded headers are read inside the app, from CRONTOPUS_TRUSTED_PROXIES only
        # (security/proxies.py); uvicorn's own reading would trust 127.0.0.1 by default.
        "proxy_headers": False,
        "ws": WebSocketProtocol,
        # Compressing is per socket: a thousand subscribers of one shared result would each
        # deflate the same bytes again (see docs/events.md).
        "ws_per_message_deflate": settings.websocket_compression,
        # A bigger WebSocket message is refused by uvicorn (close 1009) before it is buffered.
        "ws_max_size": settings.transport.websocket_message,
    }
