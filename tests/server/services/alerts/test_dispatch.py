"""Dispatch under a slow peer: each send is cut off in time, and one tenant's slow peer never
delays another tenant's notifications."""

from __future__ import annotations

import asyncio
import time

from crontopus.core.enums import RunStatus
from crontopus.server.app import AppState
from tests.server.conftest import Api, Persona
from tests.server.services.alerts.conftest import (
    Receiver,
    commit_job,
    create_channel,
    report,
    serve_receiver,
)

TEST = """
mutation($id: UUID!) {
  testChannel(id: $id) { __typename ... on NotificationDelivery { status lastError } }
}
"""


async def test_one_tenants_slow_peer_does_not_delay_another_tenants_notifications(
    api: Api, state: AppState, alice: Persona, bob: Persona
) -> None:
    async with serve_receiver() as slow, serve_receiver() as fast:
        slow.gate = asyncio.Event()  # alice's peer takes her notification and never answers
        try:
            await create_channel(api, alice, "ops", "WEBHOOK", {"url": f"{slow.url}/hook"})
            await create_channel(api, bob, "ops", "WEBHOOK", {"url": f"{fast.url}/hook"})
            alice_job = await commit_job(state, alice, "slow-peer")
            bob_job = await commit_job(state, bob, "fast-peer")
            await report(state, alice, alice_job, RunStatus.FAILURE)
            await slow.wait_for(1)
            started = time.monotonic()
            await report(state, bob, bob_job, RunStatus.FAILURE)
            (got,) = await fast.wait_for(1, within=5)
            assert got.json["incident"]["job"] == "default/fast-peer"
            # The dispatcher polls every second; alice's send may hold her lane for 30 s.
            assert time.monotonic() - started < 3
        finally:
            slow.gate.set()


async def test_one_send_is_cut_off_after_the_notification_timeout(
    api: Api, state: AppState, alice: Persona, receiver: Receiver
) -> None:
    state.alerts.dispatcher.send_timeout = 1  # CRONTOPUS_NOTIFICATION_TIMEOUT=1
    receiver.gate = asyncio.Event()
    try:
        channel = await create_channel(api, alice, "ops", "WEBHOOK", {"url": f"{receiver.url}/h"})
        started = time.monotonic()
        data = await api.execute(TEST, {"id": channel["id"]}, alice.access_token)
        # HTTP's own read timeout alone would have waited 10 s.
        assert time.monotonic() - started < 5
        assert data["testChannel"]["lastError"] == (
            "the delivery took longer than 1 s and was cut off"
        )
    finally:
        receiver.gate.set()
