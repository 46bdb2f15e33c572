"""`crontopus-server worker`: the alert cycle, the dispatcher and the mail outbox, no API.

Run one or more next to `serve` processes started with `CRONTOPUS_IN_PROCESS_WORKER=false`.
They share the database (and, with the managed Git store, the data directory whose
repositories hold the jobs; with the external store, a worker mirrors the forge itself).
Several workers on one PostgreSQL split the outbox between them (SKIP LOCKED) and let
exactly one of them commit each cycle (the cursor's compare-and-set).
"""

from __future__ import annotations

import asyncio
import logging
import signal

from crontopus.server.app import create_state
from crontopus.server.settings import Settings

logger = logging.getLogger("crontopus.server.worker")


async def run_worker(settings: Settings, metrics_port: int | None = None) -> None:
    """Run alert cycles and dispatch notifications until SIGTERM or SIGINT."""
    state = create_state(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if metrics_port is not None:
        from prometheus_client import start_http_server

        start_http_server(metrics_port, addr="127.0.0.1", registry=state.metrics.registry)
    await state.broadcaster.start()
    await state.alerts.start(loops=True)
    state.mail.start()  # account mail, queued by the API processes
    logger.info(
        "worker started: alert cycle every %s s",
        settings.alert_interval,
        extra={"metrics_port": metrics_port},
    )
    try:
        await stop.wait()
    finally:
        logger.info("worker stopping")
        await state.alerts.stop()
        await state.mail.stop()
        await state.broadcaster.stop()
        await state.engine.dispose()
