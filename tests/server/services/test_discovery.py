"""Discovery: foreign scheduler entries become manifests in discovered/, once per fingerprint."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from crontopus.core.manifest import parse_manifest
from crontopus.server.app import AppState
from crontopus.server.db.models import AuditEvent, DiscoveredJob
from crontopus.server.db.types import utcnow
from crontopus.server.events.broadcaster import Event
from crontopus.server.security.identity_cache import Identity
from crontopus.server.services import jobs
from crontopus.server.services.authentication import authenticate
from crontopus.server.services.discovery import (
    CLAIM_TIMEOUT,
    DiscoveryOutcome,
    DiscoveryReport,
    ForeignJob,
    job_name_for,
    report_discovered_jobs,
)
from crontopus.server.services.jobs import JOB_EVENTS
from tests.server.conftest import Api, Persona
from tests.server.graphql.test_enrollment import enrolled_endpoint

REPORT = """
mutation Report($items: [DiscoveredJobInput!]!) {
  reportDiscoveredJobs(items: $items) {
    __typename
    ... on DiscoveredJobsReport { commitId results { fingerprint outcome jobId path message } }
    ... on UserError { message }
  }
}
"""


def foreign(command: str, schedule: str = "*/5 * * * *", user: str = "root") -> ForeignJob:
    fingerprint = hashlib.sha256(f"{schedule}\x1f{command}\x1f{user}".encode()).hexdigest()
    return ForeignJob(schedule, command, user, "cron", fingerprint)


async def agent(api: Api, state: AppState, persona: Persona, machine: str) -> Identity:
    """Enroll a machine and return the identity its endpoint token stands for."""
    _, token = await enrolled_endpoint(api, persona, machine)
    async with state.session() as session:
        return await authenticate(session, state.settings, token)


async def report(state: AppState, identity: Identity, items: list[ForeignJob]) -> DiscoveryReport:
    async with state.session() as session:
        return await report_discovered_jobs(
            session,
            state.gitstore,
            state.broadcaster,
            identity.principal,
            jobs.author_of(identity),
            items,
            quotas=state.settings.quotas,
        )


async def discovered_files(state: AppState, persona: Persona) -> dict[str, str]:
    view = await state.gitstore.snapshot(persona.tenant_slug)
    return {e.path: e.text for e in view.jobs_in("discovered")}


@pytest.mark.parametrize(
    ("command", "name"),
    [
        ("/opt/scripts/backup.sh --full > /dev/null 2>&1", "backup"),
        ("cd /srv/app && ./manage.py clearsessions", "manage"),
        ("PATH=/usr/bin flock -n /tmp/x.lock /usr/local/bin/rotate-logs", "rotate-logs"),
        ("/usr/bin/python3 /opt/report/Daily_Report.py", "daily-report"),
        ("sudo -u postgres vacuumdb --all", "vacuumdb"),
        ("'unterminated", "unterminated"),
        ("### ???", "discovered-job"),
    ],
)
def test_a_job_name_is_taken_from_what_the_command_runs(command: str, name: str) -> None:
    assert job_name_for(command) == name


async def test_a_new_entry_is_committed_to_discovered_with_a_fresh_id(
    api: Api, alice: Persona, state: AppState
) -> None:
    identity = await agent(api, state, alice, "m1")
    result = await report(state, identity, [foreign("/opt/scripts/backup.sh")])
    (outcome,) = result.results
    assert outcome.outcome is DiscoveryOutcome.CREATED
    assert outcome.path == "discovered/backup.yaml"
    assert result.commit_id is not None
    files = await discovered_files(state, alice)
    manifest = parse_manifest(files["discovered/backup.yaml"])
    assert manifest.id == outcome.job_id
    assert manifest.labels == {"source": "discovered"}
    assert (manifest.schedule, manifest.command) == ("*/5 * * * *", "/opt/scripts/backup.sh")
    (revision,) = await state.gitstore.history(alice.tenant_slug, manifest.id)
    assert revision.message.startswith("discovered: 1 job(s) found by endpoint:")
    assert "root's cron entry" in revision.message
    async with state.session() as session:
        actions = (await session.scalars(select(AuditEvent.action))).all()
    assert "discovered_jobs.import" in actions


async def test_the_same_entry_from_two_endpoints_at_once_makes_one_file(
    api: Api, alice: Persona, state: AppState
) -> None:
    first = await agent(api, state, alice, "m1")
    second = await agent(api, state, alice, "m2")
    entries = [foreign("/opt/scripts/backup.sh"), foreign("/usr/bin/certbot renew", "0 3 * * *")]
    results = await asyncio.gather(
        report(state, first, entries), report(state, second, list(reversed(entries)))
    )
    outcomes = sorted(r.outcome for result in results for r in result.results)
    assert outcomes.count(DiscoveryOutcome.CREATED) == 2
    files = await discovered_files(state, alice)
    assert sorted(files) == ["discovered/backup.yaml", "discovered/certbot.yaml"]
    again = await report(state, second, entries)
    assert [r.outcome for r in again.results] == [DiscoveryOutcome.KNOWN] * 2
    assert {r.path for r in again.results} == set(files)
    assert again.commit_id is None


async def test_an_entry_cron_would_reject_is_skipped_with_the_reason(
    api: Api, alice: Persona, state: AppState
) -> None:
    identity = await agent(api, state, alice, "m1")
    items = [
        foreign("/bin/a", schedule="5/15 * * * *"),
        foreign("/bin/b", schedule="0 0 * * * *"),
        foreign("/bin/c", schedule="0 0 30 2 *"),
        ForeignJob("* * * * *", "/bin/d", "root", "cron", "short"),
        foreign("/bin/ok"),
    ]
    result = await report(state, identity, items)
    outcomes = [(r.outcome, r.message) for r in result.results]
    assert [o for o, _ in outcomes] == [DiscoveryOutcome.SKIPPED] * 4 + [DiscoveryOutcome.CREATED]
    assert "spec.schedule" in str(outcomes[0][1])
    assert "a step needs a range" in str(outcomes[0][1])
    assert "fingerprint" in str(outcomes[3][1])
    assert list(await discovered_files(state, alice)) == ["discovered/ok.yaml"]


async def test_names_stay_unique_in_discovered(api: Api, alice: Persona, state: AppState) -> None:
    identity = await agent(api, state, alice, "m1")
    await report(state, identity, [foreign("/opt/backup.sh", user="root")])
    result = await report(
        state,
        identity,
        [foreign("/opt/backup.sh", user="postgres"), foreign("/srv/backup.py", user="www")],
    )
    assert [r.path for r in result.results] == [
        "discovered/backup-2.yaml",
        "discovered/backup-3.yaml",
    ]


async def test_an_orphaned_claim_is_committed_by_the_next_report(
    api: Api, alice: Persona, state: AppState
) -> None:
    identity = await agent(api, state, alice, "m1")
    entry = foreign("/opt/scripts/backup.sh")
    job_id = uuid.uuid4()
    async with state.session() as session:
        # A claim left behind by a process that died before its Git commit.
        session.add(
            DiscoveredJob(
                tenant_id=identity.principal.tenant_id,
                fingerprint=entry.fingerprint,
                job_id=job_id,
                created_at=utcnow() - CLAIM_TIMEOUT - timedelta(seconds=1),
            )
        )
        await session.commit()
    (outcome,) = (await report(state, identity, [entry])).results
    assert (outcome.outcome, outcome.job_id) == (DiscoveryOutcome.CREATED, job_id)
    assert "discovered/backup.yaml" in await discovered_files(state, alice)


async def test_a_claim_being_committed_elsewhere_is_not_duplicated(
    api: Api, alice: Persona, state: AppState
) -> None:
    identity = await agent(api, state, alice, "m1")
    entry = foreign("/opt/scripts/backup.sh")
    async with state.session() as session:
        session.add(
            DiscoveredJob(
                tenant_id=identity.principal.tenant_id,
                fingerprint=entry.fingerprint,
                job_id=uuid.uuid4(),
                created_at=utcnow(),
            )
        )
        await session.commit()
    (outcome,) = (await report(state, identity, [entry])).results
    assert outcome.outcome is DiscoveryOutcome.KNOWN
    assert outcome.path is None
    assert await discovered_files(state, alice) == {}


async def test_an_adopted_job_is_not_discovered_again(
    api: Api, alice: Persona, state: AppState
) -> None:
    identity = await agent(api, state, alice, "m1")
    entry = foreign("/opt/scripts/backup.sh")
    (created,) = (await report(state, identity, [entry])).results
    adopted = await api.execute(
        """mutation($id: UUID!) { adoptJob(id: $id, targetNamespace: "default") {
             ... on Job { path } } }""",
        {"id": str(created.job_id)},
        alice.access_token,
    )
    assert adopted["adoptJob"]["path"] == "default/backup.yaml"
    (again,) = (await report(state, identity, [entry])).results
    assert (again.outcome, again.path) == (DiscoveryOutcome.KNOWN, "default/backup.yaml")
    assert await discovered_files(state, alice) == {}


async def test_discovered_jobs_are_announced_as_job_events(
    api: Api, alice: Persona, state: AppState
) -> None:
    identity = await agent(api, state, alice, "m1")
    events: list[Event] = []

    async def collect() -> None:
        async for event in state.broadcaster.subscribe(identity.principal.tenant_id, JOB_EVENTS):
            events.append(event)

    listener = asyncio.create_task(collect())
    await asyncio.sleep(0.1)
    result = await report(state, identity, [foreign("/opt/a.sh"), foreign("/opt/b.sh")])
    async with asyncio.timeout(5):
        while len(events) < 2:  # noqa: ASYNC110 - the listener task appends
            await asyncio.sleep(0.01)
    listener.cancel()
    assert {e.data["kind"] for e in events} == {"created"}
    assert {str(e.data["job_id"]) for e in events} == {str(r.job_id) for r in result.results}


async def test_reports_go_through_graphql_with_an_endpoint_token_only(
    api: Api, alice: Persona, bob: Persona, state: AppState
) -> None:
    _, token = await enrolled_endpoint(api, alice)
    entry = foreign("/opt/scripts/backup.sh")
    items: list[dict[str, Any]] = [
        {
            "schedule": entry.schedule,
            "command": entry.command,
            "user": entry.user,
            "driver": entry.driver,
            "fingerprint": entry.fingerprint,
            "timezone": "Europe/Berlin",
        }
    ]
    data = await api.execute(REPORT, {"items": items}, token)
    (result,) = data["reportDiscoveredJobs"]["results"]
    assert (result["outcome"], result["path"]) == ("CREATED", "discovered/backup.yaml")
    files = await discovered_files(state, alice)
    assert parse_manifest(files["discovered/backup.yaml"]).timezone == "Europe/Berlin"
    denied = await api.execute(REPORT, {"items": items}, alice.access_token)
    assert denied["reportDiscoveredJobs"]["__typename"] == "PermissionError"
    # The same fingerprint in another tenant is that tenant's own discovery.
    _, bob_token = await enrolled_endpoint(api, bob)
    data = await api.execute(REPORT, {"items": items}, bob_token)
    assert data["reportDiscoveredJobs"]["results"][0]["outcome"] == "CREATED"
    assert await discovered_files(state, bob) != {}
