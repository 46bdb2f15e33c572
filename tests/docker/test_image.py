"""The container image and compose.yaml, checked without a Docker engine: hadolint for the
Dockerfile, the Compose Specification's schema for compose.yaml, and the image's entrypoint run
as it is against PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import yaml

from tests.agent.conftest import free_port
from tests.server.conftest import create_postgres_database, drop_postgres_database, require_postgres

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"
SCHEMA = Path(__file__).parent / "fixtures" / "compose-spec" / "compose-spec.json"


def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return document


def compose_validator() -> jsonschema.protocols.Validator:
    # The schema names draft 2019-09 by a URI jsonschema does not know (http, with a "#").
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft201909Validator.check_schema(schema)
    return jsonschema.Draft201909Validator(schema)


def test_the_dockerfile_passes_hadolint() -> None:
    result = subprocess.run(
        [str(BIN / "hadolint"), "--no-color", str(ROOT / "Dockerfile")],
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


def test_the_image_builds_the_console_then_wheels_then_a_slim_unprivileged_runtime() -> None:
    text = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM \S+ AS (\w+)$", text, re.M)
    runtime = text.split("AS runtime", 1)[1]

    assert stages == ["console", "wheels", "runtime"]
    assert "COPY --from=console /src/web/dist web/dist" in text
    assert "pip install --no-index --find-links /wheels" in runtime
    assert "COPY core" not in runtime  # no source tree in the runtime
    (user,) = re.findall(r"^USER (\S+)$", runtime, re.M)
    assert user.split(":")[0] not in ("root", "0")
    assert "http://127.0.0.1:8080/health" in runtime.split("HEALTHCHECK", 1)[1]
    assert 'ENTRYPOINT ["crontopus-entrypoint"]' in runtime


def test_compose_yaml_follows_the_compose_specification() -> None:
    validator = compose_validator()

    problems = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(compose())]

    assert problems == []


def test_the_schema_check_would_catch_a_misspelt_key() -> None:
    validator = compose_validator()
    document = compose()
    document["services"]["server"]["restart_policy"] = "always"

    assert not validator.is_valid(document)


def test_compose_runs_server_worker_and_postgresql_with_secrets_only_in_files() -> None:
    document = compose()
    services = document["services"]

    assert set(services) == {"server", "worker", "postgres"}
    assert set(document["volumes"]) == {"data", "git", "postgres"}
    assert "git:/var/lib/crontopus/git" in services["server"]["volumes"]
    for name in ("server", "worker", "postgres"):
        environment = services[name]["environment"]
        for key, value in environment.items():
            if re.search(r"PASSWORD|SECRET|DATABASE_URL|TOKEN", key):
                assert key.endswith("_FILE"), f"{name}: {key} holds a secret in plain text"
                assert str(value).startswith("/run/secrets/")
    assert services["worker"]["depends_on"]["server"]["condition"] == "service_healthy"
    assert services["server"]["environment"]["CRONTOPUS_IN_PROCESS_WORKER"] == "false"
    assert {s["file"] for s in document["secrets"].values()} == {
        "./secrets/postgres_password", "./secrets/database_url", "./secrets/secret_key",
    }  # fmt: skip


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")
def test_the_entrypoint_passes_shellcheck() -> None:
    result = subprocess.run(
        ["shellcheck", "--shell=sh", str(ENTRYPOINT)], capture_output=True, text=True, check=False
    )

    assert result.returncode == 0, result.stdout


def entrypoint_env(tmp_path: Path, database_url: str, **extra: str) -> dict[str, str]:
    secrets = tmp_path / "secrets"
    secrets.mkdir(exist_ok=True)
    (secrets / "database_url").write_text(database_url + "\n")
    (secrets / "secret_key").write_text("k" * 48 + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRONTOPUS_")}
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        CRONTOPUS_DATA_DIR=str(tmp_path / "data"),
        CRONTOPUS_DATABASE_URL_FILE=str(secrets / "database_url"),
        CRONTOPUS_SECRET_KEY_FILE=str(secrets / "secret_key"),
        **extra,
    )
    return env


@pytest.fixture
def fresh_postgres() -> Iterator[str]:
    admin = require_postgres()
    name = f"crontopus_image_{uuid.uuid4().hex[:10]}"
    url = asyncio.run(create_postgres_database(admin, name))
    yield url.replace("postgresql+asyncpg://", "postgresql://")
    asyncio.run(drop_postgres_database(admin, name))


def test_the_entrypoint_migrates_postgresql_and_serves(tmp_path: Path, fresh_postgres: str) -> None:
    port = free_port()
    env = entrypoint_env(tmp_path, fresh_postgres)
    log = tmp_path / "server.log"
    with log.open("w") as output:  # a file, not a pipe nobody reads while the server runs
        process = subprocess.Popen(
            ["sh", str(ENTRYPOINT), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stderr=output,
        )
    try:
        deadline = time.monotonic() + 60
        ready = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert ready is not None, "the server never answered"
        assert ready.status_code == 200, ready.text
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200
        # The entrypoint's exec leaves the server as the process the container signals; uvicorn
        # shuts down and then re-raises the signal, as a process killed by it would end.
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) in (0, -signal.SIGTERM)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert "retrying" not in log.read_text()
    current = subprocess.run(
        ["sh", str(ENTRYPOINT), "migrate"], env=env, capture_output=True, text=True, check=False
    )
    assert current.returncode == 0, current.stderr


def test_the_entrypoint_gives_up_with_a_clear_message_when_the_database_never_answers(
    tmp_path: Path,
) -> None:
    env = entrypoint_env(
        tmp_path,
        f"postgresql://crontopus@127.0.0.1:{free_port()}/crontopus",
        CRONTOPUS_MIGRATE_WAIT="3",
    )

    result = subprocess.run(
        ["sh", str(ENTRYPOINT)], env=env, capture_output=True, text=True, timeout=120, check=False
    )

    assert result.returncode == 1
    assert "Connect call failed" in result.stderr  # the migration's own reason comes first
    assert "not migrated within 3 s: check CRONTOPUS_DATABASE_URL" in result.stderr


def test_the_entrypoint_refuses_a_wait_that_is_not_a_number(tmp_path: Path) -> None:
    env = entrypoint_env(tmp_path, "sqlite:///x.db", CRONTOPUS_MIGRATE_WAIT="soon")

    result = subprocess.run(["sh", str(ENTRYPOINT)], env=env, capture_output=True, text=True)

    assert result.returncode == 2
    assert "CRONTOPUS_MIGRATE_WAIT: 'soon' is not a number of seconds" in result.stderr


def test_other_server_commands_and_programs_run_without_a_migration(tmp_path: Path) -> None:
    env = entrypoint_env(tmp_path, f"sqlite:///{tmp_path / 'untouched.db'}")

    schema = subprocess.run(
        ["sh", str(ENTRYPOINT), "export-schema"], env=env, capture_output=True, text=True
    )
    shell = subprocess.run(
        ["sh", str(ENTRYPOINT), "echo", "hello"], env=env, capture_output=True, text=True
    )

    assert schema.returncode == 0, schema.stderr
    assert "type Query" in schema.stdout
    assert shell.stdout == "hello\n"
    assert not (tmp_path / "untouched.db").exists()
