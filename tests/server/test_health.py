"""Liveness and readiness probes answer JSON a load balancer can act on."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from crontopus.server.app import create_app, create_state
from crontopus.server.settings import Settings
from tests.server.conftest import Api


async def test_health_answers_while_the_process_is_up(api: Api) -> None:
    response = await api.client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_checks_the_database_and_the_data_directory(api: Api) -> None:
    response = await api.client.get("/ready")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "gitStore": "ok", "dataDir": "ok"},
        "dependencies": {"database": {"status": "up"}, "gitStore": {"status": "up"}},
    }


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to a read-only directory")
async def test_ready_fails_when_the_data_directory_is_not_writable(
    api: Api, settings: Settings
) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.data_dir.chmod(0o500)
    try:
        response = await api.client.get("/ready")
    finally:
        settings.data_dir.chmod(0o700)
    assert response.status_code == 503
    assert response.json()["checks"]["dataDir"].startswith("error")


async def test_ready_fails_when_the_data_directory_is_a_file(
    api: Api, settings: Settings, tmp_path: Path
) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    moved = tmp_path / "moved-data"
    settings.data_dir.rename(moved)
    settings.data_dir.write_text("not a directory")
    try:
        response = await api.client.get("/ready")
    finally:
        settings.data_dir.unlink()
        moved.rename(settings.data_dir)
    assert response.status_code == 503
    assert response.json()["status"] == "not ready"


async def test_ready_tells_others_which_check_failed_but_not_why(
    api: Api, settings: Settings, tmp_path: Path
) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    moved = tmp_path / "moved-data"
    settings.data_dir.rename(moved)
    settings.data_dir.write_text("not a directory")
    try:
        remote = (await api.client.get("/ready")).json()
        async with api.client_from("127.0.0.1") as local:
            here = (await local.get("/ready")).json()
    finally:
        settings.data_dir.unlink()
        moved.rename(settings.data_dir)
    assert remote["checks"]["dataDir"] == "error"
    assert set(remote["checks"].values()) <= {"ok", "error"}
    assert here["checks"]["dataDir"].startswith("error: ")
    assert str(settings.data_dir.name) in here["checks"]["dataDir"]


async def test_ready_shows_its_reasons_to_the_metrics_token(
    settings: Settings, tmp_path: Path
) -> None:
    guarded = replace(settings, metrics_token="scrape-me-please")
    state = create_state(guarded)
    await state.start()
    app = create_app(guarded, state)
    guarded.data_dir.mkdir(parents=True, exist_ok=True)
    moved = tmp_path / "moved-data"
    guarded.data_dir.rename(moved)
    guarded.data_dir.write_text("not a directory")
    try:
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            anonymous = (await client.get("/ready")).json()
            operator = (
                await client.get("/ready", headers={"Authorization": "Bearer scrape-me-please"})
            ).json()
    finally:
        guarded.data_dir.unlink()
        moved.rename(guarded.data_dir)
        await state.stop()
    assert anonymous["checks"]["dataDir"] == "error"
    assert operator["checks"]["dataDir"].startswith("error: ")
