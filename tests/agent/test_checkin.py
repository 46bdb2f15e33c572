"""Sending one check-in: what the wrapper puts on the wire and how it reads the answer."""

from __future__ import annotations

import http.server
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import pytest

from crontopus.agent.checkin import OUTPUT_LIMIT, CheckIn, Delivery, send_checkin
from tests.agent.conftest import free_port


@dataclass
class Recorder:
    """A local HTTP server answering with a chosen status and recording what it received."""

    url: str
    status: int = 200
    body: bytes = b'{"ok": true}'
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    state = Recorder("")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            data = self.rfile.read(int(self.headers["Content-Length"]))
            state.requests.append((self.path, dict(self.headers.items()), data))
            self.send_response(state.status)
            self.send_header("Content-Length", str(len(state.body)))
            self.end_headers()
            self.wfile.write(state.body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


def finish(output: str = "done\n") -> CheckIn:
    return CheckIn(
        str(uuid.uuid4()), str(uuid.uuid4()), "3", "2026-01-31T02:00:00.000Z", 1.5, "abc", output
    )


def test_a_finish_is_posted_with_its_query_token_and_output(recorder: Recorder) -> None:
    checkin = finish("résumé 100%\n")
    result = send_checkin(recorder.url + "/", "cte_secret", checkin, timeout=5)
    assert result.delivery is Delivery.DELIVERED
    ((path, headers, body),) = recorder.requests
    url = urlsplit(path)
    assert url.path == f"/checkin/{checkin.job_id}/3"
    assert parse_qs(url.query) == {
        "rid": [checkin.run_id],
        "started": ["2026-01-31T02:00:00.000Z"],
        "duration": ["1.500"],
        "commit": ["abc"],
    }
    assert headers["Authorization"] == "Bearer cte_secret"
    assert body.decode() == "résumé 100%\n"


def test_only_the_last_64_kib_of_output_are_sent(recorder: Recorder) -> None:
    send_checkin(recorder.url, "t", finish("a" * OUTPUT_LIMIT + "tail"), timeout=5)
    body = recorder.requests[0][2]
    assert len(body) == OUTPUT_LIMIT
    assert body.endswith(b"tail")


def test_a_4xx_is_a_refusal_with_the_servers_message(recorder: Recorder) -> None:
    recorder.status, recorder.body = 400, b'{"error": "rid is required"}'
    result = send_checkin(recorder.url, "t", finish(), timeout=5)
    assert (result.delivery, result.status) == (Delivery.REFUSED, 400)
    assert "rid is required" in result.message


def test_a_refusal_that_kept_the_check_in_counts_as_delivered(recorder: Recorder) -> None:
    # A suspended tenant's server stores the check-in and answers 403 saying so: neither
    # dropped as refused (logged as lost) nor spooled for ever.
    recorder.status, recorder.body = 403, b'{"ok": false, "suspended": true, "kept": true}'
    result = send_checkin(recorder.url, "t", finish(), timeout=5)
    assert (result.delivery, result.status) == (Delivery.DELIVERED, 403)
    recorder.body = b'{"ok": false, "error": "forbidden"}'
    assert send_checkin(recorder.url, "t", finish(), timeout=5).delivery is Delivery.REFUSED


@pytest.mark.parametrize("status", [500, 503, 408, 429])
def test_a_5xx_or_a_retry_later_answer_means_unreachable(recorder: Recorder, status: int) -> None:
    recorder.status = status
    assert send_checkin(recorder.url, "t", finish(), timeout=5).delivery is Delivery.UNREACHABLE


def test_a_closed_port_means_unreachable() -> None:
    result = send_checkin(f"http://127.0.0.1:{free_port()}", "t", finish(), timeout=5)
    assert result.delivery is Delivery.UNREACHABLE
    assert "ConnectionRefusedError" in result.message


def test_an_answer_that_is_not_http_means_unreachable() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def answer() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(b"SSH-2.0-OpenSSH\r\n")

    thread = threading.Thread(target=answer)
    thread.start()
    try:
        result = send_checkin(f"http://127.0.0.1:{port}", "t", finish(), timeout=5)
    finally:
        thread.join()
        listener.close()
    assert result.delivery is Delivery.UNREACHABLE
    assert "not an HTTP answer" in result.message
