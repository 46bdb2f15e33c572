"""PagerDuty Events API v2: trigger on open, resolve on resolution, one dedup key per incident."""

from __future__ import annotations

import json
from typing import Any, Final

from crontopus.server.db.models import NotificationEvent
from crontopus.server.services.alerts.channels.http import post
from crontopus.server.services.alerts.channels.message import Message
from crontopus.server.services.alerts.channels.network import Network

EVENTS_URL: Final = "https://events.pagerduty.com/v2/enqueue"
SEVERITIES: Final = ("critical", "error", "warning", "info")


def dedup_key(message: Message) -> str:
    """The key that ties a resolve to its trigger: the incident id (a test gets its own)."""
    return f"crontopus-{message.incident_id or message.notification_id}"


def payload(config: dict[str, Any], message: Message) -> dict[str, Any]:
    """Return the Events API v2 body for `message`."""
    body: dict[str, Any] = {
        "routing_key": str(config["routing_key"]),
        "event_action": "resolve" if message.event is NotificationEvent.RESOLVE else "trigger",
        "dedup_key": dedup_key(message),
    }
    if message.event is not NotificationEvent.RESOLVE:
        body["payload"] = {
            "summary": message.summary[:1024],
            "source": message.job or message.tenant,
            "severity": config.get("severity", "error"),
            "timestamp": message.at.isoformat(),
            "component": message.namespace,
            "group": message.tenant,
            "class": message.rule,
            "custom_details": message.as_json()["incident"] or {},
        }
        if message.link:
            body["links"] = [{"href": message.link, "text": "Open in Crontopus"}]
    return body


async def send(config: dict[str, Any], message: Message, network: Network) -> None:
    """Send a trigger or resolve event."""
    body = json.dumps(payload(config, message)).encode()
    url = str(config.get("url") or EVENTS_URL)
    await post(network, url, body, {"Content-Type": "application/json"})
