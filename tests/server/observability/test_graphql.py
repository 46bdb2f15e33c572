"""Each GraphQL operation is counted and timed, and what it logs names its tenant and itself."""

from __future__ import annotations

import pytest

from crontopus.server.app import AppState
from crontopus.server.graphql.identity import queries as identity_queries
from crontopus.server.observability.logging import operation_var, tenant_var
from tests.server.conftest import Api, Persona
from tests.server.observability.test_metrics import samples


async def test_a_resolver_runs_with_the_tenant_and_operation_in_the_logging_context(
    api: Api, alice: Persona, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[str | None, str | None]] = []

    async def spy(*_args: object) -> list[object]:
        seen.append((tenant_var.get(), operation_var.get()))
        return []

    # The service function the members resolver calls sees the resolver's logging context.
    monkeypatch.setattr(identity_queries, "list_members", spy)
    await api.execute("query WhoIsHere { members { role } }", token=alice.access_token)
    await api.execute("{ members { role } }", token=alice.access_token)
    assert seen == [("alice", "WhoIsHere"), ("alice", "anonymous")]
    # Once the operation is over, the request's logging context is as it was.
    assert (tenant_var.get(), operation_var.get()) == (None, None)


async def test_failed_and_unparsable_operations_are_counted_as_such(
    api: Api, state: AppState, alice: Persona
) -> None:
    await api.error_of("query Broken { nothingHere }", token=alice.access_token)
    await api.error_of("query Cut { me { ")
    found = samples(state.metrics.exposition().decode())
    assert found[("crontopus_graphql_errors_total", (("operation", "Broken"),))] == 1
    assert (
        found[("crontopus_graphql_operations_total", (("operation", "Broken"), ("type", "query")))]
        == 1
    )
    # A document that does not parse has no operation name or type to report.
    assert (
        found[
            (
                "crontopus_graphql_operations_total",
                (("operation", "anonymous"), ("type", "invalid")),
            )
        ]
        == 1
    )
