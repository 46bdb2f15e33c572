"""docs/cli.md is generated from the command tree and must not drift from it."""

from __future__ import annotations

from pathlib import Path

from crontopus.cli.parser import build_parser, walk
from crontopus.cli.reference import reference
from tests.clients.conftest import Cli

CLI_MD = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def test_the_committed_reference_matches_the_commands() -> None:
    assert CLI_MD.read_text() == reference(), (
        "docs/cli.md is stale: run `crontopus docs > docs/cli.md`"
    )


def test_the_hidden_docs_command_prints_the_reference(cli: Cli) -> None:
    result = cli("docs")
    assert (result.code, result.out) == (0, reference())


def test_every_command_of_the_contract_has_a_section() -> None:
    text = reference()
    commands = [
        " ".join(path)
        for path, parser, hidden in walk(build_parser())
        if not hidden and parser.get_default("handler")
    ]
    for command in commands:
        assert f"### `crontopus {command}`" in text
    for contract in ("login", "logout", "whoami", "jobs list", "jobs show", "jobs create",
                     "jobs edit", "jobs delete", "jobs adopt", "jobs history", "jobs validate",
                     "runs list", "runs show", "runs watch", "endpoints list", "endpoints show",
                     "endpoints revoke", "namespaces list", "namespaces create",
                     "namespaces delete", "tokens list", "tokens create", "tokens revoke",
                     "enrollment-tokens list", "enrollment-tokens create",
                     "enrollment-tokens revoke", "health jobs", "health endpoints", "audit",
                     "schedule next", "completion"):  # fmt: skip
        assert contract in commands, contract
