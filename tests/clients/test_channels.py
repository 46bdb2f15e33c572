"""`channels list|create|test` against a real server that may reach a loopback receiver."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.clients.conftest import Cli

# The receiver listens on loopback, which channels may not reach by default.
SERVER_ENV = {"CRONTOPUS_OUTBOUND_ALLOW": "127.0.0.1/32"}
CHANNEL_KEYS = {"id", "name", "kind", "config", "isDefault", "createdAt", "updatedAt"}


class Receiver(ThreadingHTTPServer):
    status = 200
    bodies: list[dict[str, Any]]


class Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        self.server.bodies.append(json.loads(self.rfile.read(length)))
        self.send_response(self.server.status)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    peer = Receiver(("127.0.0.1", 0), Handler)
    peer.bodies = []
    thread = threading.Thread(target=peer.serve_forever, daemon=True)
    thread.start()
    yield peer
    peer.shutdown()
    peer.server_close()


def url_of(peer: Receiver) -> str:
    return f"http://127.0.0.1:{peer.server_address[1]}/hook"


def test_a_channel_is_created_listed_and_tested(logged_in: Cli, receiver: Receiver) -> None:
    created = logged_in("channels", "create", "ops", "--kind", "webhook",
                        "--config", f"url={url_of(receiver)}", "--config", "secret=" + "s" * 24,
                        "--json")  # fmt: skip
    assert created.code == 0, created.err
    assert set(created.json()) == CHANNEL_KEYS
    assert created.json()["config"]["secret"] == "(set)"
    listed = logged_in("channels", "list", "--json").json()
    assert [(c["name"], c["kind"], c["isDefault"]) for c in listed] == [("ops", "WEBHOOK", True)]
    tested = logged_in("channels", "test", "ops")
    assert tested.code == 0, tested.err
    assert "Delivered a test notification to channel ops" in tested.err
    assert [body["event"] for body in receiver.bodies] == ["test"]
    receiver.status = 410
    failed = logged_in("channels", "test", "ops", "--json")
    assert failed.code == 1
    assert failed.json()["status"] == "FAILED"
    assert "answered 410" in failed.err


def test_bad_channel_settings_are_refused_naming_the_field(logged_in: Cli) -> None:
    refused = logged_in("channels", "create", "pd", "--kind", "pagerduty",
                        "--config", "routing_key=short")  # fmt: skip
    assert refused.code == 1
    assert "routing_key" in refused.err
    assert logged_in("channels", "create", "x", "--kind", "pigeon", "--config", "a=b").code == 2
    assert logged_in("channels", "create", "x", "--kind", "slack").code == 2
    assert logged_in("channels", "create", "x", "--kind", "slack", "--config-json", "[1]").code == 2
    unknown = logged_in("channels", "test", "nowhere")
    assert (unknown.code, "no channel named 'nowhere'" in unknown.err) == (1, True)
