"""The cost limit refuses, before running it, an operation whose result would be too large."""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator
from pathlib import Path

import pytest
from graphql import parse

from crontopus.server.graphql.cost import LIST_SIZE, DocumentCost, expanded_selections
from crontopus.server.graphql.schema import create_schema
from crontopus.server.settings import Limits
from tests.server.conftest import Api, Persona

CYCLE = """
query Cycle($first: Int!) {
  jobs(first: $first) {
    nodes {
      name
      endpoints(first: $first) {
        endpoint { jobs(first: $first) { job { endpoints(first: $first) { drift } } } }
      }
    }
  }
}
"""
WEB = Path(__file__).parents[3] / "web" / "src"


async def test_it_refuses_the_job_endpoint_cycle_and_names_the_costliest_path(
    api: Api, alice: Persona
) -> None:
    body = await api.post(CYCLE, {"first": 100}, token=alice.access_token)
    assert body["data"] is None
    error = body["errors"][0]
    assert error["extensions"]["code"] == "QUERY_TOO_COSTLY"
    assert error["extensions"]["limit"] == Limits().max_cost
    path = "jobs.nodes.endpoints.endpoint.jobs.job.endpoints.drift"
    assert error["extensions"]["path"] == path
    assert f"the costliest path is {path} (about 100,000,000 values)" in error["message"]
    assert "ask for fewer items with `first` or `count`" in error["message"]


async def test_the_same_text_runs_when_its_variables_ask_for_little(
    api: Api, alice: Persona
) -> None:
    # One cached document, judged again for each combination of sizing variables.
    assert "errors" in await api.post(CYCLE, {"first": 100}, token=alice.access_token)
    data = await api.execute(CYCLE, {"first": 5}, token=alice.access_token)
    assert data == {"jobs": {"nodes": []}}
    assert "errors" in await api.post(CYCLE, {"first": 100}, token=alice.access_token)


async def test_an_omitted_size_counts_as_its_default(api: Api, alice: Persona) -> None:
    query = "{ jobs { nodes { endpoints { endpoint { jobs { jobId } } } } } }"
    error = await api.error_of(query, token=alice.access_token)
    # jobs (first: 100) x endpoints (first: 100) x jobs (first: 100)
    assert "jobs.nodes.endpoints.endpoint.jobs.jobId (about 1,000,000 values)" in error["message"]


def test_only_the_costliest_fragment_of_a_union_counts() -> None:
    schema = create_schema()._schema
    document = parse(
        """mutation { register(username: "a", email: "b", password: "c") {
          ... on AuthPayload { accessToken refreshToken }
          ... on ValidationError { fields { path message } }
        } }"""
    )
    estimate = DocumentCost(schema, document, 10**9).estimate(None, None)
    # register + the ValidationError branch: fields (10) x (1 + path (10) + message)
    assert estimate.total == 1 + LIST_SIZE * (1 + LIST_SIZE + 1)
    assert estimate.path == ("register", "fields", "path")


def test_the_default_budget_lets_every_console_operation_through() -> None:
    texts = [
        text
        for source in WEB.rglob("*.ts*")
        for text in re.findall(r"graphql\(`(.*?)`\)", source.read_text(), re.S)
    ]
    fragments = "\n".join(t for t in texts if t.lstrip().startswith("fragment"))
    operations = [t for t in texts if not t.lstrip().startswith("fragment")]
    assert len(operations) > 20
    schema = create_schema()._schema
    budget = Limits().max_cost
    for text in operations:
        document = parse(text + fragments)
        assert expanded_selections(document) < 500, text
        cost = DocumentCost(schema, document, budget)
        assert cost.error(None, None) is None, text
        # Console pages stay far under the limit, leaving room for what users add.
        assert cost.estimate(None, None).total < budget / 5, text


async def test_a_subscription_over_budget_is_refused_before_it_starts() -> None:
    schema = create_schema(Limits(max_cost=20))
    stream = await schema.subscribe("subscription { runEvents { kind run { id jobName status } } }")
    assert isinstance(stream, AsyncGenerator)
    first = await anext(stream)
    await stream.aclose()
    errors = first.errors
    assert errors, first
    assert errors[0].extensions is not None
    assert errors[0].extensions["code"] == "QUERY_TOO_COSTLY"


def _doubling(levels: int) -> str:
    """A document whose fragments each spread the one before twice: 2^levels copies of `me`."""
    fragments = ["fragment F0 on Query { me { role } }"]
    for level in range(1, levels + 1):
        fragments.append(f"fragment F{level} on Query {{ ...F{level - 1} ...F{level - 1} }}")
    return f"query Doubling {{ ...F{levels} }}\n" + "\n".join(fragments)


@pytest.mark.timeout(30)
async def test_fragments_spreading_each_other_over_and_over_are_refused_before_validation() -> None:
    # The depth and alias limits follow every spread: this would keep them busy for days.
    result = await create_schema().execute(_doubling(40))
    assert result.errors is not None
    error = result.errors[0]
    assert error.extensions == {"code": "DOCUMENT_TOO_LARGE", "limit": 4000}
    assert "fragments expand to 2,199,023,255,552 selections" in error.message


@pytest.mark.timeout(30)
def test_the_cost_of_fragments_spread_over_and_over_is_estimated_without_expanding_them() -> None:
    document = parse(_doubling(40))
    estimate = DocumentCost(create_schema()._schema, document, 10**9).estimate(None, None)
    assert estimate.total == 2**41
