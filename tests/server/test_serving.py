"""A serving process freezes its startup heap and collects young objects less often."""

from __future__ import annotations

import asyncio
import base64
import gc
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from crontopus.server.serving import (
    GC_YOUNG_THRESHOLD,
    WebSocketProtocol,
    prepare_process,
    uvicorn_options,
)
from crontopus.server.settings import Settings
from tests.server.conftest import free_port


@pytest.fixture
def restored_collector() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_preparing_the_process_freezes_what_exists_and_raises_the_young_threshold(
    restored_collector: None,
) -> None:
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    prepare_process()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD


def test_uvicorn_reads_no_forwarded_headers_and_compresses_only_when_enabled(
    tmp_path: Path,
) -> None:
    plain = Settings.from_env({"CRONTOPUS_DATA_DIR": str(tmp_path)})
    compressed = Settings.from_env(
        {"CRONTOPUS_DATA_DIR": str(tmp_path), "CRONTOPUS_WEBSOCKET_COMPRESSION": "true"}
    )
    assert uvicorn_options(plain)["proxy_headers"] is False
    assert uvicorn_options(plain)["ws_per_message_deflate"] is False
    assert uvicorn_options(compressed)["ws_per_message_deflate"] is True


async def _echo_socket(scope: Any, receive: Any, send: Any) -> None:
    """A bare ASGI app that accepts a WebSocket and holds it until the peer leaves."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    while (await receive())["type"] != "websocket.disconnect":
        pass


async def _held_open(port: int, ping_every: float | None, seconds: float) -> bool:
    """Open a raw WebSocket that never answers pings; tell whether it lasted `seconds`."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        f"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    assert b" 101 " in await reader.readuntil(b"\r\n\r\n")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    try:
        while loop.time() < deadline:
            if ping_every is not None:
                writer.write(bytes([0x89, 0x80]) + os.urandom(4))  # a masked, empty ping
            try:
                if not await asyncio.wait_for(reader.read(4096), ping_every or 0.1):
                    return False  # the server closed the connection
            except TimeoutError:
                pass
        return True
    finally:
        writer.close()


async def test_the_server_pings_only_peers_that_do_not_ping_it() -> None:
    config = uvicorn.Config(
        _echo_socket,
        host="127.0.0.1",
        port=free_port(),
        ws=WebSocketProtocol,
        ws_ping_interval=0.2,
        ws_ping_timeout=0.2,
        log_level="warning",
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:  # noqa: ASYNC110 (uvicorn offers no event to wait on)
            await asyncio.sleep(0.05)
        # A peer that pings is never pinged, so its unanswered pongs do not matter...
        assert await _held_open(config.port, ping_every=0.1, seconds=2.0)
        # ...a silent one is pinged, and closed when it does not answer.
        assert not await _held_open(config.port, ping_every=None, seconds=2.0)
    finally:
        server.should_exit = True
        await serving
