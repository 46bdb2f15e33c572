"""The `crontopus-server` command: migrate, create-user, export-schema, serve."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from crontopus.server.graphql.schema import schema_sdl
from tests.server.conftest import PASSWORD, start_server, stop_server

COMMAND = str(Path(sys.executable).parent / "crontopus-server")
REPOSITORY = Path(__file__).resolve().parents[2]


def run(*args: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [COMMAND, *args], input=stdin, capture_output=True, text=True, env={**os.environ, **env}
    )


def test_the_committed_schema_matches_the_code() -> None:
    committed = (REPOSITORY / "docs" / "schema.graphql").read_text()
    assert committed == schema_sdl(), "docs/schema.graphql is stale: run `make schema`"


def test_export_schema_writes_the_sorted_sdl(tmp_path: Path) -> None:
    out = tmp_path / "schema.graphql"
    result = run("export-schema", "--output", str(out), env={})
    assert result.returncode == 0, result.stderr
    assert out.read_text() == schema_sdl()


def test_migrate_then_create_user_lets_that_user_log_in(tmp_path: Path) -> None:
    env = {"CRONTOPUS_DATA_DIR": str(tmp_path), "CRONTOPUS_ALLOW_SIGNUP": "false"}
    migrated = run("migrate", env=env)
    assert migrated.returncode == 0, migrated.stderr
    created = run("create-user", "root", "--email", "root@example.com", "--password-stdin",
                  env=env, stdin=PASSWORD + "\n")  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert "owning tenant root" in created.stderr
    server = start_server(env)
    try:
        response = httpx.post(
            f"{server.url}/graphql",
            json={
                "query": 'mutation($p: String!) { login(username: "root", password: $p) '
                "{ __typename ... on AuthPayload { role } } }",
                "variables": {"p": PASSWORD},
            },
        )
    finally:
        stop_server(server)
    assert response.json()["data"]["login"] == {"__typename": "AuthPayload", "role": "OWNER"}


def test_version_prints_the_one_version_of_every_distribution() -> None:
    result = run("--version", env={})
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"crontopus-server {(REPOSITORY / 'VERSION').read_text().strip()}\n"


def test_a_missing_agent_wheels_directory_is_named_with_the_fix(tmp_path: Path) -> None:
    missing = tmp_path / "wheels"
    result = run("migrate", env={"CRONTOPUS_DATA_DIR": str(tmp_path),
                                 "CRONTOPUS_AGENT_WHEELS": str(missing)})  # fmt: skip
    assert result.returncode == 2
    assert f"CRONTOPUS_AGENT_WHEELS: '{missing}' is not a directory" in result.stderr


def test_create_user_explains_a_weak_password(tmp_path: Path) -> None:
    env = {"CRONTOPUS_DATA_DIR": str(tmp_path)}
    assert run("migrate", env=env).returncode == 0
    result = run("create-user", "root", "--email", "root@example.com", "--password-stdin",
                 env=env, stdin="short\n")  # fmt: skip
    assert result.returncode == 1
    assert "password: is too short: passwords need at least 15 characters" in result.stderr


def test_a_bad_setting_stops_the_server_with_the_variable_named(tmp_path: Path) -> None:
    result = run(
        "migrate", env={"CRONTOPUS_DATA_DIR": str(tmp_path), "CRONTOPUS_ALLOW_SIGNUP": "perhaps"}
    )
    assert result.returncode == 2
    assert "CRONTOPUS_ALLOW_SIGNUP" in result.stderr


def test_serve_migrate_starts_on_embedded_defaults_with_the_playground(tmp_path: Path) -> None:
    server = start_server({"CRONTOPUS_DATA_DIR": str(tmp_path / "data")}, migrate=True)
    try:
        page = httpx.get(f"{server.url}/graphql", headers={"Accept": "text/html"})
        ready = httpx.get(f"{server.url}/ready")
    finally:
        stop_server(server)
    # A browser is sent to the bundled offline playground, never to a CDN-loaded GraphiQL.
    assert page.status_code == 302
    assert page.headers["location"] == "/playground"
    assert ready.json()["status"] == "ready"
    assert (tmp_path / "data" / "crontopus.db").exists()


def test_create_user_operator_and_operator_promote_demote_set_the_operator_flag(
    tmp_path: Path,
) -> None:
    env = {"CRONTOPUS_DATA_DIR": str(tmp_path)}
    assert run("migrate", env=env).returncode == 0
    created = run("create-user", "root", "--email", "root@example.com", "--password-stdin",
                  "--operator", env=env, stdin=PASSWORD + "\n")  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert "created user root (a platform operator) owning tenant root" in created.stderr
    run("create-user", "ops", "--email", "ops@example.com", "--password-stdin", env=env,
        stdin=PASSWORD + "\n")  # fmt: skip
    promoted = run("operator", "promote", "OPS", env=env)
    assert (promoted.returncode, promoted.stderr) == (0, "ops is now a platform operator\n")
    again = run("operator", "promote", "ops", env=env)
    assert again.stderr == "ops was already a platform operator\n"
    demoted = run("operator", "demote", "root", env=env)
    assert demoted.stderr == "root is no longer a platform operator\n"
    unknown = run("operator", "demote", "nobody", env=env)
    assert unknown.returncode == 1
    assert "no user named 'nobody'" in unknown.stderr

    server = start_server(env)
    try:
        operators = {}
        for name in ("root", "ops"):
            login = httpx.post(f"{server.url}/graphql", json={
                "query": 'mutation($u: String!, $p: String!) { login(username: $u, password: $p)'
                " { ... on AuthPayload { accessToken } } }",
                "variables": {"u": name, "p": PASSWORD}}).json()  # fmt: skip
            token = login["data"]["login"]["accessToken"]
            me = httpx.post(f"{server.url}/graphql", json={"query": "{ me { operator } }"},
                            headers={"Authorization": f"Bearer {token}"}).json()  # fmt: skip
            operators[name] = me["data"]["me"]["operator"]
        audit = httpx.post(f"{server.url}/graphql", json={
            "query": "{ operatorAuditEvents { nodes { actor action details } } }"},
            headers={"Authorization": f"Bearer {token}"}).json()  # fmt: skip
    finally:
        stop_server(server)
    assert operators == {"root": False, "ops": True}
    events = audit["data"]["operatorAuditEvents"]["nodes"]
    assert [(e["action"], e["details"]["user"]) for e in events] == [
        ("operator.demote", "root"), ("operator.promote", "ops"), ("operator.promote", "root"),
    ]  # fmt: skip
    assert {e["actor"] for e in events} == {"crontopus-server (command line)"}


def test_reset_password_sets_a_new_password_when_no_mail_can_reach_the_owner(
    tmp_path: Path,
) -> None:
    import asyncio

    from sqlalchemy import select

    from crontopus.server.db.engine import create_engine, create_session_factory
    from crontopus.server.db.models import User
    from crontopus.server.security.passwords import verify_password_off_loop

    env = {"CRONTOPUS_DATA_DIR": str(tmp_path)}
    assert run("migrate", env=env).returncode == 0
    run("create-user", "root", "--email", "root@example.com", "--password-stdin", env=env,
        stdin=PASSWORD + "\n")  # fmt: skip
    weak = run("reset-password", "root", "--password-stdin", env=env, stdin="short\n")
    assert weak.returncode != 0
    assert "password" in weak.stderr
    unknown = run("reset-password", "nobody", "--password-stdin", env=env, stdin=PASSWORD + "\n")
    assert unknown.returncode != 0
    assert "no user named 'nobody'" in unknown.stderr
    done = run("reset-password", "Root", "--password-stdin", env=env, stdin="a new passphrase\n")
    assert done.returncode == 0, done.stderr
    assert "set a new password for root; ended 0 session(s)" in done.stderr

    async def stored_hash() -> str:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'crontopus.db'}")
        try:
            async with create_session_factory(engine)() as session:
                return str(await session.scalar(select(User.password_hash)))
        finally:
            await engine.dispose()

    assert asyncio.run(verify_password_off_loop(asyncio.run(stored_hash()), "a new passphrase"))
