"""Generic webhook: a signed JSON POST.

The signature is `v1=` + hex HMAC-SHA256 of `"<timestamp>." + body` with the channel's secret,
sent with the timestamp, so a receiver can reject tampered bodies and replays of old ones.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

from crontopus.server.services.alerts.channels.http import post
from crontopus.server.services.alerts.channels.message import Message
from crontopus.server.services.alerts.channels.network import Network

SIGNATURE_HEADER = "X-Crontopus-Signature"
TIMESTAMP_HEADER = "X-Crontopus-Timestamp"
EVENT_HEADER = "X-Crontopus-Event"
DELIVERY_HEADER = "X-Crontopus-Delivery"
REPLAY_TOLERANCE = 300


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """Return the signature header value of `body` sent at `timestamp`."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "v1=" + digest.hexdigest()


def verify(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    now: float | None = None,
    tolerance: int = REPLAY_TOLERANCE,
) -> bool:
    """Tell whether a received webhook is authentic and fresh (what a receiver should do)."""
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - sent) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, sent, body), signature)


async def send(config: dict[str, Any], message: Message, network: Network) -> None:
    """POST the message as JSON, signed when the channel has a secret."""
    body = json.dumps(message.as_json(), separators=(",", ":")).encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Crontopus-Webhook/1",
        TIMESTAMP_HEADER: str(timestamp),
        EVENT_HEADER: message.event.value.lower(),
        DELIVERY_HEADER: str(message.notification_id),
    }
    secret = config.get("secret")
    if secret:
        headers[SIGNATURE_HEADER] = sign(str(secret), timestamp, body)
    await post(network, str(config["url"]), body, headers)
