"""Every GraphQL document the CLI sends is valid against the committed docs/schema.graphql, so
a schema change that would break the CLI fails the build here first."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import build_schema, parse, validate

from crontopus.cli import operations

SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "schema.graphql"
DOCUMENTS = {
    name: value
    for name, value in vars(operations).items()
    if name.isupper()
    and isinstance(value, str)
    and value.lstrip().startswith(("query", "mutation", "subscription"))
}


def test_the_cli_sends_a_document_for_every_command_family() -> None:
    assert len(DOCUMENTS) >= 30
    assert {"LOGIN", "REFRESH", "JOBS", "RUNS", "RUN_EVENTS", "ENDPOINTS"} <= set(DOCUMENTS)


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_the_operation_is_valid_against_the_committed_schema(name: str) -> None:
    schema = build_schema(SCHEMA.read_text())
    errors = validate(schema, parse(DOCUMENTS[name]))
    assert not errors, f"operations.{name}: " + "; ".join(e.message for e in errors)
