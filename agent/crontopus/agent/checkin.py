"""Check-ins: one run's start or finish, sent to `POST /checkin/<job>/<event>?rid=…`.

This module uses only the standard library (`http.client`), because the wrapper imports it
on every run and httpx would add tens of milliseconds to each one.
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

    def path(self) -> str:
        """Return the request path with its query string."""
        params: dict[str, str] = {"rid": self.run_id, "started": self.started}
        if self.duration is not None:
            params["duration"] = f"{self.duration:.3f}"
        if self.commit:
            params["commit"] = self.commit
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


def send_checkin(server: str, token: str, checkin: CheckIn, timeout: float) -> SendResult:
    """POST one check-in; classify the answer as delivered, refused or unreachable."""
    import http.client

    parts = urlsplit(server)
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(parts.netloc, timeout=timeout)
    else:
        connection = http.client.HTTPConnection(parts.netloc, timeout=timeout)
    body = checkin.output.encode("utf-8", "replace")[-OUTPUT_LIMIT:]
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "text/plain; charset=utf-8",
        "User-Agent": USER_AGENT,
    }
    try:
        connection.request("POST", parts.path.rstrip("/") + checkin.path(), body, headers)
        response = connection.getresponse()
        text = response.read(4096).decode("utf-8", "replace").strip()
        status = response.status
    except (OSError, http.client.HTTPException) as exc:
        return SendResult(Delivery.UNREACHABLE, None, f"{type(exc).__name__}: {exc}")
    finally:
        connection.close()
    if 200 <= status < 300:
        return SendResult(Delivery.DELIVERED, status)
    # 408 and 429 are the server asking for a later retry, not a refusal of the content.
    if 400 <= status < 500 and status not in (408, 429):
        return SendResult(Delivery.REFUSED, status, text)
    return SendResult(Delivery.UNREACHABLE, status, text)
