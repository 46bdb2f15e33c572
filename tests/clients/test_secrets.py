"""`secrets list|set|delete`: values from standard input or a file, never from the command line."""

from __future__ import annotations

from pathlib import Path

from tests.clients.conftest import Cli

SECRET_KEYS = {"name", "createdAt", "updatedAt", "updatedBy"}
MANIFEST = """\
apiVersion: crontopus.io/v1
kind: Job
metadata: {{id: 550e8400-e29b-41d4-a716-44665544000{n}, name: dump{n}, namespace: default}}
spec:
  schedule: "@daily"
  command: /opt/dump.sh
  env:
    - {{name: DB_PASSWORD, secretRef: db-password}}
    - {{name: API_TOKEN, value: plain-text-token}}
"""


def test_a_secret_is_set_from_stdin_listed_by_name_and_deleted(logged_in: Cli) -> None:
    created = logged_in("secrets", "set", "db-password", "--json", stdin="hunter2\n")
    assert created.code == 0, created.err
    assert set(created.json()) == SECRET_KEYS
    assert created.json()["name"] == "db-password"
    listed = logged_in("secrets", "list")
    assert listed.code == 0
    assert listed.out.splitlines()[0].split() == ["NAME", "UPDATED", "BY", "CREATED"]
    assert "db-password" in listed.out
    assert "hunter2" not in listed.out + listed.err
    assert [s["name"] for s in logged_in("secrets", "list", "--json").json()] == ["db-password"]
    deleted = logged_in("secrets", "delete", "db-password")
    assert deleted.code == 0, deleted.err
    assert "Deleted secret db-password." in deleted.err
    assert logged_in("secrets", "list", "--json").json() == []


def test_a_value_comes_from_a_file_exactly_as_it_is(logged_in: Cli, tmp_path: Path) -> None:
    key = tmp_path / "id_ed25519"
    key.write_text("-----BEGIN KEY-----\nabc\n-----END KEY-----\n")
    result = logged_in("secrets", "set", "deploy-key", "--from-file", str(key))
    assert result.code == 0, result.err
    assert "Set secret deploy-key" in result.err
    missing = logged_in("secrets", "set", "deploy-key", "--from-file", str(tmp_path / "nope"))
    assert missing.code == 2
    assert "--from-file: cannot read" in missing.err


def test_a_value_is_never_taken_from_a_terminal_or_the_command_line(logged_in: Cli) -> None:
    typed = logged_in("secrets", "set", "db-password", terminal=True)
    assert typed.code == 2
    assert "pipe the value in on standard input" in typed.err
    extra = logged_in("secrets", "set", "db-password", "hunter2")
    assert extra.code == 2
    empty = logged_in("secrets", "set", "db-password", stdin="")
    assert empty.code == 2
    assert "the value is empty" in empty.err


def test_a_bad_name_is_refused_with_the_rule(logged_in: Cli) -> None:
    result = logged_in("secrets", "set", "no spaces", stdin="x")
    assert result.code == 1
    assert "is not a secret name: use 1-63 letters" in result.err


def test_validate_warns_of_a_literal_token_without_failing(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "dump.yaml"
    path.write_text(MANIFEST.format(n=1))
    result = cli("jobs", "validate", str(path))
    assert result.code == 0, result.err
    assert f"warning: {path}: spec.env.API_TOKEN: looks like a secret" in result.err
    report = cli("jobs", "validate", str(path), "--json")
    assert report.json()["valid"] is True
    assert [w["path"] for w in report.json()["warnings"]] == ["spec.env.API_TOKEN"]


def test_a_manifest_with_secret_refs_is_created_with_them(logged_in: Cli, tmp_path: Path) -> None:
    path = tmp_path / "dump2.yaml"
    path.write_text(MANIFEST.format(n=2))
    created = logged_in("jobs", "create", "-f", str(path), "--json")
    assert created.code == 0, created.err
    assert created.json()["secretEnv"] == [{"key": "DB_PASSWORD", "value": "db-password"}]
