"""Check-ins: one run's start or finish, sent to `POST /checkin/<job>/<event>?rid=…`.

This module uses only the standard library (a socket for plain HTTP, `http.client` for HTTPS),
because the wrapper imports it on every run and httpx would add tens of milliseconds to each one.
"""

from __future__ import annotations

import enum
import json
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

OUTPUT_LIMIT = 64 * 1024
USER_AGENT = "crontopus-agent"


class Delivery(enum.Enum):
    """What became of one attempt to send a check-in."""

    DELIVERED = "delivered"  # 2xx: the server stored it
    REFUSED = "refused"  # 4xx: permanent; drop it and log why
    UNREACHABLE = "unreachable"  # no answer or 5xx: spool it and retry later


@dataclass(frozen=True)
class CheckIn:
    """One check-in; `event` is `start`, `timeout` or the finished run's exit code as text."""

    job_id: str
    run_id: str
    event: str
    started: str
    duration: float | None = None
    commit: str | None = None
    output: str = ""
    trigger: str | None = None  # "manual" for a run someone asked for (run now)

    def path(self) -> str:
        """Return the request path with its query string."""
        params: dict[str, str] = {"rid": self.run_id, "started": self.started}
        if self.duration is not None:
            params["duration"] = f"{self.duration:.3f}"
        if self.commit:
            params["commit"] = self.commit
        if self.trigger:
            params["trigger"] = self.trigger
        return f"/checkin/{quote(self.job_id)}/{quote(self.event)}?{urlencode(params)}"

    def to_json(self) -> bytes:
        """Serialise for the spool."""
        return json.dumps(asdict(self), ensure_ascii=False).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes) -> CheckIn:
        """Load a check-in written by `to_json`."""
        raw: dict[str, Any] = json.loads(data)
        return cls(**raw)


@dataclass(frozen=True)
class SendResult:
    """The outcome of one attempt, with the server's status and message when it answered."""

    delivery: Delivery
    status: int | None = None
    message: str = ""


# Servers already asked whether plain http is acceptable, and the answer (None: it is).
_PLAIN_HTTP_VERDICTS: dict[str, str | None] = {}


def plain_http_refusal(server: str, timeout: float) -> str | None:
    """Say why not to send a token to `server` over plain http (None when it may be sent).

    A server whose public URL is https is behind TLS somewhere: a plain-http URL reaches it
    around the TLS, and the token would cross the network readable. The server names its
    public URL in `GET /health`, which needs no credential, so asking discloses nothing.
    Raises OSError or ValueError when the server cannot be asked (then it is unreachable).
    """
    parts = urlsplit(server)
    if parts.scheme != "http":
        return None
    if server in _PLAIN_HTTP_VERDICTS:
        return _PLAIN_HTTP_VERDICTS[server]
    verdict = None
    status, text = _request_plain(
        "GET", parts.netloc, parts.path.rstrip("/") + "/health", {}, b"", timeout
    )
    try:
        public = json.loads(text).get("publicUrl") if status == 200 else None
    except (ValueError, AttributeError):
        public = None  # an older server or another program: it names no public URL
    if isinstance(public, str) and public.startswith("https://"):
        verdict = (
            f"the server's public URL is {public}, but the agent is configured with {server}: "
            "refusing to send the token over plain http "
            f"(set the agent's server to {public.rstrip('/')})"
        )
    _PLAIN_HTTP_VERDICTS[server] = verdict
    return verdict


def send_checkin(server: str, token: str, checkin: CheckIn, timeout: float) -> SendResult:
    """POST one check-in; classify the answer as delivered, refused or unreachable."""
    parts = urlsplit(server)
    body = checkin.output.encode("utf-8", "replace")[-OUTPUT_LIMIT:]
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "text/plain; charset=utf-8",
        "User-Agent": USER_AGENT,
    }
    path = parts.path.rstrip("/") + checkin.path()
    try:
        if (refusal := plain_http_refusal(server, timeout)) is not None:
            # Kept in the spool, not dropped: once the URL is fixed, the runs are delivered.
            return SendResult(Delivery.UNREACHABLE, None, refusal)
        if parts.scheme == "https":
            status, text = _post_tls(parts.netloc, path, headers, body, timeout)
        else:
            status, text = _request_plain("POST", parts.netloc, path, headers, body, timeout)
    except (OSError, ValueError) as exc:
        return SendResult(Delivery.UNREACHABLE, None, f"{type(exc).__name__}: {exc}")
    if 200 <= status < 300:
        return SendResult(Delivery.DELIVERED, status)
    if status == 403 and _kept(text):
        # The tenant is suspended: the server refused the check-in but stored it all the same.
        return SendResult(Delivery.DELIVERED, status, text)
    # 408 and 429 are the server asking for a later retry, not a refusal of the content.
    if 400 <= status < 500 and status not in (408, 429):
        return SendResult(Delivery.REFUSED, status, text)
    return SendResult(Delivery.UNREACHABLE, status, text)


def _kept(text: str) -> bool:
    """Whether a refusal says the server stored the check-in anyway (`"kept": true`)."""
    try:
        body = json.loads(text)
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("kept") is True


def _request_plain(
    method: str, netloc: str, path: str, headers: dict[str, str], body: bytes, timeout: float
) -> tuple[int, str]:
    """Send one request over plain HTTP/1.1 with a bare socket.

    http.client imports ssl and the email package (~10-20 ms, paid on every run); a check-in
    needs one request with `Connection: close` and the status line, so a socket suffices.
    """
    import socket

    address = urlsplit(f"//{netloc}")
    lines = [f"{method} {path} HTTP/1.1", f"Host: {netloc}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines += ["Connection: close", "", ""]
    request = "\r\n".join(lines).encode("latin-1") + body
    with socket.create_connection((address.hostname or "", address.port or 80), timeout) as sock:
        sock.sendall(request)
        answer = bytearray()
        while len(answer) < 16384:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    head, _, rest = bytes(answer).partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].split()
    if len(status_line) < 2 or not status_line[0].startswith(b"HTTP/"):
        raise ValueError(f"not an HTTP answer: {bytes(answer[:80])!r}")
    if not status_line[1].isdigit():
        raise ValueError(f"not an HTTP answer: {bytes(answer[:80])!r}")
    return int(status_line[1]), rest[:4096].decode("utf-8", "replace").strip()


def _post_tls(
    netloc: str, path: str, headers: dict[str, str], body: bytes, timeout: float
) -> tuple[int, str]:
    """POST over HTTPS with http.client (TLS costs its import time anyway)."""
    import http.client

    connection = http.client.HTTPSConnection(netloc, timeout=timeout)
    try:
        connection.request("POST", path, body, headers)
        response = connection.getresponse()
        return response.status, response.read(4096).decode("utf-8", "replace").strip()
    except http.client.HTTPException as exc:
        raise ValueError(f"{type(exc).__name__}: {exc}") from exc
    finally:
        connection.close()
