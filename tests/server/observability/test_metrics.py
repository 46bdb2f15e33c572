"""`/metrics`: Prometheus text with ingest, GraphQL, endpoint and alerting figures."""

from __future__ import annotations

import uuid
from dataclasses import replace

import httpx
from prometheus_client.parser import text_string_to_metric_families

from crontopus.core.enums import RunStatus
from crontopus.server.app import AppState, create_app, create_state
from crontopus.server.observability.graphql import operation_label
from crontopus.server.services.checkins import CheckIn, CheckInKind
from crontopus.server.settings import Settings
from tests.server.conftest import Api, Persona


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def scrape(
    api: Api, token: str | None = None
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    # Without a metrics token, only this machine may scrape.
    async with api.client_from("127.0.0.1") as local:
        response = await local.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return samples(response.text)


async def test_metrics_count_check_ins_batches_and_graphql_operations(
    api: Api, state: AppState, alice: Persona
) -> None:
    for status in (RunStatus.SUCCESS, RunStatus.FAILURE):
        await state.ingest.submit(
            CheckIn(
                tenant_id=uuid.UUID(alice.tenant_id),
                run_id=uuid.uuid4(),
                job_id=uuid.uuid4(),
                kind=CheckInKind.FINISH,
                at=state.alerts.now(),
                status=status,
                exit_code=0,
            )
        )
    await api.execute("query Me { me { user { username } } }", token=alice.access_token)
    await state.alerts.runs.drain()
    found = await scrape(api)
    assert found[("crontopus_checkins_received_total", (("kind", "finish"),))] == 2
    assert found[("crontopus_checkins_stored_total", ())] == 2
    assert found[("crontopus_ingest_batch_size_count", ())] >= 1
    assert found[("crontopus_ingest_commit_seconds_count", ())] >= 1
    assert found[("crontopus_ingest_queue_depth", ())] == 0
    assert (
        found[("crontopus_graphql_operations_total", (("operation", "Me"), ("type", "query")))] == 1
    )
    assert found[("crontopus_graphql_operation_seconds_count", (("operation", "Me"),))] == 1
    assert found[("crontopus_endpoints", (("status", "online"),))] == 0
    assert found[("crontopus_subscriptions_active", ())] == 0
    # The failure opened an incident (tenant defaults alert on every failure).
    assert found[("crontopus_incidents_opened_total", (("rule", "FAILURE"),))] == 1


async def test_metrics_need_the_token_when_one_is_set(settings: Settings) -> None:
    guarded = replace(settings, metrics_token="scrape-me-please")
    state = create_state(guarded)
    await state.start()
    try:
        transport = httpx.ASGITransport(app=create_app(guarded, state))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            refused = await client.get("/metrics")
            assert refused.status_code == 401
            assert "CRONTOPUS_METRICS_TOKEN" in refused.text
            wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 401
            allowed = await client.get(
                "/metrics", headers={"Authorization": "Bearer scrape-me-please"}
            )
            assert allowed.status_code == 200
            assert "crontopus_checkins_stored_total" in allowed.text
    finally:
        await state.stop()


def test_operation_labels_are_bounded_in_form() -> None:
    assert operation_label(None) == "anonymous"
    assert operation_label("Jobs") == "Jobs"
    assert operation_label("drop table; --") == "invalid"
    assert operation_label("x" * 100) == "invalid"


async def test_metrics_without_a_token_are_served_to_this_machine_only(api: Api) -> None:
    refused = await api.client.get("/metrics")  # from 203.0.113.7
    assert refused.status_code == 403
    assert "CRONTOPUS_METRICS_TOKEN" in refused.text
    async with api.client_from("127.0.0.1") as local:
        assert (await local.get("/metrics")).status_code == 200
        forwarded = await local.get("/metrics", headers={"X-Forwarded-For": "198.51.100.9"})
        assert forwarded.status_code == 403, "a proxy on this machine forwards other people"
    async with api.client_from("::1") as local:
        assert (await local.get("/metrics")).status_code == 200
