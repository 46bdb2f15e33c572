"""The agent never sends its token over plain http to a server whose public URL is https."""

from __future__ import annotations

import http.server
import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from crontopus.agent.checkin import CheckIn, Delivery, send_checkin
from crontopus.agent.errors import ServerRefused
from crontopus.agent.server import ServerClient


@dataclass
class Server:
    """A local HTTP server that names a public URL in /health and records every request."""

    url: str = ""
    public_url: str | None = None
    seen: list[tuple[str, str, str | None]] = field(default_factory=list)


@pytest.fixture
def server() -> Iterator[Server]:
    state = Server()

    class Handler(http.server.BaseHTTPRequestHandler):
        def answer(self, body: bytes) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            state.seen.append(("GET", self.path, self.headers.get("Authorization")))
            health = {"status": "ok"}
            if state.public_url:
                health["publicUrl"] = state.public_url
            self.answer(json.dumps(health).encode())

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            state.seen.append(("POST", self.path, self.headers.get("Authorization")))
            self.answer(b'{"data": {"repository": {"cloneUrl": "x", "headCommit": null}}}')

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    # A path per test: verdicts are remembered per server URL for the life of the process.
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/{uuid.uuid4().hex}"
    yield state
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def checkin() -> CheckIn:
    return CheckIn(str(uuid.uuid4()), str(uuid.uuid4()), "0", "2026-01-31T02:00:00.000Z", 1.0)


def test_a_check_in_is_kept_for_later_instead_of_crossing_plain_http(server: Server) -> None:
    server.public_url = "https://crontopus.example.com"
    result = send_checkin(server.url, "cte_secret", checkin(), timeout=5)
    assert result.delivery is Delivery.UNREACHABLE  # spooled, delivered once the URL is fixed
    assert "refusing to send the token over plain http" in result.message
    assert "https://crontopus.example.com" in result.message
    assert [(method, auth) for method, _, auth in server.seen] == [("GET", None)]


def test_the_graphql_client_refuses_before_sending_its_token(server: Server) -> None:
    server.public_url = "https://crontopus.example.com/"
    with (
        ServerClient(server.url, "cte_secret") as client,
        pytest.raises(ServerRefused, match="set the agent's server to https://crontopus"),
    ):
        client.repository()
    assert all(auth is None for _, _, auth in server.seen)
    assert [method for method, _, _ in server.seen] == ["GET"]


def test_plain_http_is_fine_when_the_server_names_no_https_url(server: Server) -> None:
    with ServerClient(server.url, "cte_secret") as client:
        assert client.repository().clone_url == "x"
    assert server.seen[-1] == ("POST", "/" + server.url.rsplit("/", 1)[1] + "/graphql",
                               "Bearer cte_secret")  # fmt: skip
    assert send_checkin(server.url, "cte_secret", checkin(), 5).delivery is Delivery.DELIVERED
