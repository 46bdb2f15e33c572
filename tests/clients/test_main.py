"""The installed `crontopus` command: version, help, usage errors and exit codes."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

from crontopus.core.manifest import manifest_problems
from tests.clients.conftest import Cli

COMMAND = Path(sys.executable).parent / "crontopus"
FAMILIES = (
    "login", "logout", "whoami", "jobs", "runs", "endpoints", "namespaces", "tokens",
    "enrollment-tokens", "health", "audit", "schedule", "completion",
)  # fmt: skip


def test_the_cli_reports_its_version() -> None:
    result = subprocess.run([COMMAND, "--version"], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "crontopus 0.1.0"


def test_help_lists_every_command_family_but_not_the_hidden_docs(cli: Cli) -> None:
    result = cli("--help")
    assert result.code == 0
    for family in FAMILIES:
        assert f"\n    {family}" in result.out, family
    assert "\n    docs" not in result.out


def test_a_group_without_a_command_prints_its_help_and_exits_2(cli: Cli) -> None:
    result = cli("jobs")
    assert result.code == 2
    assert "validate" in result.err


def test_an_unknown_flag_is_a_usage_error(cli: Cli) -> None:
    result = cli("jobs", "list", "--frobnicate")
    assert result.code == 2
    assert "unrecognized arguments: --frobnicate" in result.err


def test_common_options_stand_before_or_after_the_command(cli: Cli) -> None:
    before = cli("--json", "schedule", "next", "@daily", "--count", "1")
    after = cli("schedule", "next", "@daily", "--count", "1", "--json")
    assert before.code == after.code == 0
    assert before.json()["expression"] == after.json()["expression"] == "0 0 * * *"


def test_a_server_url_must_be_http(cli: Cli) -> None:
    result = cli("jobs", "list", "--server", "ftp://example.com")
    assert result.code == 2
    assert "--server: 'ftp://example.com' is not an http:// or https:// URL" in result.err


def test_help_imports_none_of_the_heavy_modules() -> None:
    probe = (
        "import sys, io\n"
        "from crontopus.cli.main import main\n"
        "main(['jobs', 'list', '--help'], stdout=io.StringIO())\n"
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'gql', 'httpx', 'websockets', 'graphql', 'yaml', 'cronsim'} "
        "or m.startswith('crontopus.core'))))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_a_value_starting_with_a_dash_gets_a_hint_to_attach_it(cli: Cli) -> None:
    result = cli("jobs", "create", "--name", "x", "--schedule", "0 2 * * *",
                 "--command", "/bin/true", "--arg", "--full")  # fmt: skip
    assert result.code == 2
    assert result.err.splitlines()[-2:] == [
        "crontopus jobs create: error: argument --arg: expected one argument",
        "crontopus: hint: a value starting with '-' must be attached to its flag: "
        "write --arg=--full",
    ]


def test_every_bad_flag_value_is_a_usage_error(cli: Cli) -> None:
    label = cli("jobs", "list", "--label", "team", "--server", "http://127.0.0.1:9")
    assert (label.code, label.err) == (
        2,
        "crontopus: error: --label: 'team' is not KEY=VALUE (e.g. --label team=platform)\n",
    )
    env = cli("jobs", "create", "--name", "x", "--schedule", "0 2 * * *", "--command", "/bin/true",
              "--env", "PGHOST", "--server", "http://127.0.0.1:9")  # fmt: skip
    assert env.code == 2
    count = cli("schedule", "next", "@daily", "--count", "zero")
    assert count.code == 2


def test_new_id_prints_a_fresh_uuid_the_validator_accepts(cli: Cli) -> None:
    first, second = cli("jobs", "new-id"), cli("jobs", "new-id")
    assert first.code == second.code == 0
    assert first.out != second.out
    job_id = uuid.UUID(first.out.strip())
    assert job_id.version == 4
    text = (
        f"apiVersion: crontopus.io/v1\nkind: Job\nmetadata:\n  id: {job_id}\n  name: a\n"
        '  namespace: default\nspec:\n  schedule: "0 2 * * *"\n  command: /bin/true\n'
    )
    assert manifest_problems(text) == []
    (missing,) = manifest_problems(text.replace(f"  id: {job_id}\n", ""))
    assert 'e.g. the output of "crontopus jobs new-id"' in missing.message
