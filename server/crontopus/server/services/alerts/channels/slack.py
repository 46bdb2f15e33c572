"""Slack incoming webhook: a text message with a colour bar (red open, green resolved)."""

from __future__ import annotations

import json
from typing import Any

from crontopus.server.db.models import NotificationEvent
from crontopus.server.services.alerts.channels.http import post
from crontopus.server.services.alerts.channels.message import Message
from crontopus.server.services.alerts.channels.network import Network

_COLOURS = {
    NotificationEvent.TRIGGER: "#d93025",
    NotificationEvent.RESOLVE: "#1e8e3e",
    NotificationEvent.TEST: "#1a73e8",
}


def payload(message: Message) -> dict[str, Any]:
    """Return the incoming-webhook body for `message`."""
    fields = []
    if message.job is not None:
        fields.append({"title": "Job", "value": message.job, "short": True})
    if message.rule is not None:
        fields.append({"title": "Rule", "value": message.rule, "short": True})
    if message.endpoint_id is not None:
        fields.append({"title": "Endpoint", "value": str(message.endpoint_id), "short": False})
    attachment: dict[str, Any] = {
        "color": _COLOURS[message.event],
        "fallback": message.summary,
        "title": message.title,
        "fields": fields,
        "ts": int(message.at.timestamp()),
    }
    if message.link:
        attachment["title_link"] = message.link
    return {"text": message.summary, "attachments": [attachment]}


async def send(config: dict[str, Any], message: Message, network: Network) -> None:
    """POST the message to the incoming-webhook URL."""
    body = json.dumps(payload(message)).encode()
    await post(network, str(config["url"]), body, {"Content-Type": "application/json"})
