"""Channels at send time: the policy is applied to every connection, the connection goes to the
judged address under the URL's name, and what a peer answers is bounded and never repeated."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from crontopus.server.services.alerts.channels import email as email_channel
from crontopus.server.services.alerts.channels import webhook
from crontopus.server.services.alerts.channels.errors import PermanentDelivery, RetryableDelivery
from crontopus.server.services.alerts.channels.http import MAX_ANSWER
from tests.server.services.alerts.conftest import Receiver, local_network, serve_app
from tests.server.services.alerts.test_channels import message


async def test_a_peer_no_longer_allowed_is_refused_at_send_time_and_never_reached(
    receiver: Receiver,
) -> None:
    # The channel was saved while loopback was allowed; the operator has closed it since.
    async with local_network(allow="") as network:
        with pytest.raises(PermanentDelivery, match=r"127\.0\.0\.1 is a loopback address"):
            await webhook.send({"url": f"{receiver.url}/hook"}, message(), network)
    assert await receiver.quiet_for(0.2) == []


async def test_a_name_is_resolved_for_the_connection_and_kept_for_the_host_header(
    receiver: Receiver,
) -> None:
    port = receiver.url.rsplit(":", 1)[1]
    async with local_network(allow="127.0.0.0/8,::1/128") as network:
        await webhook.send({"url": f"http://localhost:{port}/hook"}, message(), network)
    (got,) = await receiver.wait_for(1)
    assert got.headers["host"] == f"localhost:{port}"


@pytest.fixture(scope="module")
def localhost_certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate valid for the name localhost only (not for 127.0.0.1)."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls-name")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


async def test_tls_checks_the_urls_name_while_connecting_to_the_judged_address(
    localhost_certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = localhost_certificate
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    seen: list[str] = []

    async def hook(request: Request) -> Response:
        seen.append(request.headers["host"])
        return Response(status_code=204)

    app = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
    async with (
        serve_app(app, ssl_certfile=str(cert), ssl_keyfile=str(key)) as port,
        local_network(allow="127.0.0.0/8,::1/128") as network,
    ):
        await webhook.send({"url": f"https://localhost:{port}/hook"}, message(), network)
        # The certificate names localhost, not the address the connection went to.
        with pytest.raises(RetryableDelivery, match=r"certificate is not valid for '127\.0\.0\.1'"):
            await webhook.send({"url": f"https://127.0.0.1:{port}/hook"}, message(), network)
    assert seen == [f"localhost:{port}"]


async def test_what_a_peer_answers_is_never_repeated(receiver: Receiver) -> None:
    receiver.statuses = [405]
    receiver.answer = b"root:x:0:0:root:/root:/bin/bash"
    async with local_network() as network:
        with pytest.raises(PermanentDelivery) as caught:
            await webhook.send({"url": f"{receiver.url}/hook"}, message(), network)
    assert "answered 405 (Method Not Allowed)" in caught.value.message
    assert "root" not in caught.value.message


async def test_an_endless_answer_is_read_no_further_than_the_limit() -> None:
    sent = 0

    async def endless(request: Request) -> Response:
        async def chunks() -> AsyncIterator[bytes]:
            nonlocal sent
            while True:
                sent += 16384
                yield b"x" * 16384
                await asyncio.sleep(0)  # the client runs on this event loop too

        return StreamingResponse(chunks())

    app = Starlette(routes=[Route("/hook", endless, methods=["POST"])])
    async with serve_app(app) as port, local_network() as network:
        async with asyncio.timeout(5):
            await webhook.send({"url": f"http://127.0.0.1:{port}/hook"}, message(), network)
        await asyncio.sleep(0.2)
        stopped_at = sent
        await asyncio.sleep(0.3)
    # The client hung up after MAX_ANSWER bytes: the server stopped (its socket buffers aside).
    assert sent == stopped_at
    assert sent < MAX_ANSWER + 16 * 1024 * 1024


@contextlib.asynccontextmanager
async def silent_smtp_server() -> AsyncIterator[tuple[int, asyncio.Event]]:
    """A TCP server that accepts and never greets; the event is set when a client hangs up."""
    closed = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # returns at EOF: the client shut the connection down
        closed.set()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield port, closed


async def test_a_silent_smtp_server_is_cut_off_and_its_connection_closed() -> None:
    async with silent_smtp_server() as (port, closed), local_network() as network:
        config = {
            "host": "127.0.0.1",
            "port": port,
            "security": "none",
            "sender": "crontopus@example.com",
            "recipients": ["ops@example.com"],
        }
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.5):
                await email_channel.send(config, message(), network)
        # The worker thread was waiting for a greeting (for up to 15 s); the cut-off ends it.
        async with asyncio.timeout(2):
            await closed.wait()
        assert time.monotonic() - started < 3


def test_smtp_connects_only_after_the_policy_judged_the_host() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        probe.listen()
        port = probe.getsockname()[1]
        config = {
            "host": "127.0.0.1",
            "port": port,
            "security": "none",
            "sender": "crontopus@example.com",
            "recipients": ["ops@example.com"],
        }

        async def attempt() -> None:
            async with local_network(allow="") as network:
                await email_channel.send(config, message(), network)

        with pytest.raises(PermanentDelivery, match="loopback"):
            asyncio.run(attempt())
        probe.settimeout(0.2)
        with pytest.raises(TimeoutError):
            probe.accept()
