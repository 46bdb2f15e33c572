"""`channels list|create|test`."""

from __future__ import annotations

import json
from typing import Any

from crontopus.cli import manifests, output
from crontopus.cli import operations as ops
from crontopus.cli.errors import UsageFailure, UserFailure
from crontopus.cli.invocation import Invocation
from crontopus.cli.output import Column, column, short_time

COLUMNS = [
    column("ID", "id"),
    column("NAME", "name"),
    column("KIND", "kind"),
    Column("DEFAULT", lambda c: "yes" if c["isDefault"] else "no"),
    Column("CONFIG", lambda c: json.dumps(c["config"], sort_keys=True)),
    Column("UPDATED", lambda c: short_time(c["updatedAt"])),
]


async def list_channels(inv: Invocation) -> int:
    """List the tenant's notification channels (secrets show as "(set)")."""
    data = await inv.api().execute(ops.CHANNELS)
    output.listing(inv, COLUMNS, data["channels"])
    return 0


def _config(inv: Invocation) -> dict[str, Any]:
    config: dict[str, Any] = dict(manifests.parse_pairs(inv.value("config"), "--config"))
    text = inv.value("config_json")
    if text:
        try:
            given = json.loads(text)
        except json.JSONDecodeError as error:
            raise UsageFailure(f"--config-json: not JSON ({error.msg}, at {error.pos})") from None
        if not isinstance(given, dict):
            raise UsageFailure('--config-json: give a JSON object, e.g. {"to": ["a@b.example"]}')
        config.update(given)
    if not config:
        raise UsageFailure(
            "--config: give the channel's settings as K=V (e.g. --config url=https://…) "
            "or --config-json OBJECT"
        )
    return config


async def create_channel(inv: Invocation) -> int:
    """Add a notification channel; the server checks its settings."""
    variables = {
        "input": {
            "name": inv.value("name"),
            "kind": inv.value("kind"),
            "config": _config(inv),
            "isDefault": not inv.value("not_default"),
        }
    }
    created = await inv.api().mutate(ops.CREATE_CHANNEL, variables, "createChannel", "Channel")
    if inv.json:
        output.dump_json(inv, created)
    else:
        print(created["id"], file=inv.out)
        output.note(inv, f"Created {created['kind'].lower()} channel {created['name']}.")
    return 0


async def test_channel(inv: Invocation) -> int:
    """Send a test notification now; exit 1 when it was not delivered."""
    api = inv.api()
    wanted = inv.value("channel")
    channels = (await api.execute(ops.CHANNELS))["channels"]
    found = [c for c in channels if wanted in (c["name"], c["id"])]
    if not found:
        raise UserFailure(f"no channel named {wanted!r} (`crontopus channels list` shows them)")
    delivery = await api.mutate(
        ops.TEST_CHANNEL, {"id": found[0]["id"]}, "testChannel", "NotificationDelivery"
    )
    if inv.json:
        output.dump_json(inv, delivery)
    if delivery["status"] != "DELIVERED":
        raise UserFailure(
            f"channel {delivery['channelName']}: the test was not delivered "
            f"({delivery['status']} after {delivery['attempts']} attempt(s)): "
            f"{delivery['lastError'] or 'no reason given'}"
        )
    if not inv.json:
        output.note(inv, f"Delivered a test notification to channel {delivery['channelName']}.")
    return 0
