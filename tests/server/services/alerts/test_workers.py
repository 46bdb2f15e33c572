"""Workers: pending notifications survive a restart; two worker processes on one PostgreSQL
deliver every notification exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from crontopus.core.enums import RunStatus
from crontopus.server.app import AppState, create_state
from crontopus.server.settings import Settings
from tests.server.conftest import Api, Persona
from tests.server.services.alerts.conftest import (
    LOCAL_RECEIVERS,
    Receiver,
    commit_job,
    create_channel,
    incidents,
    report,
)

WORKER = str(Path(sys.executable).parent / "crontopus-server")


async def test_a_restart_loses_no_pending_notification(
    api: Api, state: AppState, alice: Persona, receiver: Receiver, settings: Settings
) -> None:
    await create_channel(api, alice, "ops", "WEBHOOK", {"url": f"{receiver.url}/hook"})
    # A server whose worker runs elsewhere stores the notification but does not send it.
    quiet = create_state(replace(settings, in_process_worker=False))
    await quiet.start()
    job_id = await commit_job(quiet, alice, "before-restart")
    await report(quiet, alice, job_id, RunStatus.FAILURE)
    await quiet.stop()
    assert len(await incidents(api, alice)) == 1
    # `state` runs the dispatcher: the stored notification goes out.
    (sent,) = await receiver.wait_for(1)
    assert sent.json["incident"]["job"] == "default/before-restart"


def start_worker(settings: Settings) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "CRONTOPUS_DATA_DIR": str(settings.data_dir),
        "CRONTOPUS_DATABASE_URL": settings.database_url,
        "CRONTOPUS_ALERT_INTERVAL": "1",
        "CRONTOPUS_LOG_FORMAT": "json",
        "CRONTOPUS_OUTBOUND_ALLOW": LOCAL_RECEIVERS,
    }
    return subprocess.Popen([WORKER, "--log-level", "warning", "worker"], env=env)


async def test_two_workers_on_one_postgresql_deliver_each_notification_once(
    api: Api, state: AppState, alice: Persona, receiver: Receiver, settings: Settings
) -> None:
    if settings.is_sqlite:
        pytest.skip("several workers share work on PostgreSQL")
    # This process only ingests and judges runs, as `serve` with CRONTOPUS_IN_PROCESS_WORKER=false.
    await state.alerts.stop()
    await state.alerts.start(loops=False)
    serve = state
    workers = [start_worker(settings), start_worker(settings)]
    try:
        await create_channel(api, alice, "ops", "WEBHOOK", {"url": f"{receiver.url}/hook"})
        jobs = [await commit_job(serve, alice, f"job-{i}") for i in range(30)]
        await asyncio.gather(*(report(serve, alice, job, RunStatus.FAILURE) for job in jobs))
        requests = await receiver.wait_for(30, within=30)
        assert len(await receiver.quiet_for(2.5)) == 30
        ids = {r.headers["x-crontopus-delivery"] for r in requests}
        assert len(ids) == 30
        assert {r.json["incident"]["job"] for r in requests} == {
            f"default/job-{i}" for i in range(30)
        }
        assert all(worker.poll() is None for worker in workers)
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
    assert [worker.returncode for worker in workers] == [0, 0]
