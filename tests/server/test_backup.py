"""`crontopus-server backup` and `restore`, run as an operator would, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tarfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pygit2
import pytest

from crontopus.server.settings import load_or_create_secrets_key
from tests.server.conftest import (
    PASSWORD,
    create_postgres_database,
    drop_postgres_database,
    require_postgres,
)

SERVER = str(Path(sys.executable).parent / "crontopus-server")


def server(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SERVER, "--log-level", "warning", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def machine(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[str], dict[str, str]]]:
    """Make the environment of a server "machine": its own data directory and database."""
    admin = require_postgres() if request.param == "postgresql" else None
    made: list[str] = []

    def make(name: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CRONTOPUS_")}
        env["CRONTOPUS_DATA_DIR"] = str(tmp_path / name)
        if admin is not None:
            database = f"crontopus_backup_{uuid.uuid4().hex[:10]}"
            made.append(database)
            url = asyncio.run(create_postgres_database(admin, database))
            env["CRONTOPUS_DATABASE_URL"] = url
        return env

    yield make
    for database in made:
        assert admin is not None
        asyncio.run(drop_postgres_database(admin, database))


def head_of(data_dir: Path) -> str:
    repository = pygit2.Repository(str(data_dir / "git" / "alice.git"))
    return str(repository.head.target)


def test_a_backup_brings_users_repositories_and_the_key_to_a_new_machine(
    machine: Callable[[str], dict[str, str]], tmp_path: Path
) -> None:
    old = machine("old")
    assert server(old, "migrate").returncode == 0
    created = server(
        old, "create-user", "alice", "--email", "a@example.com", "--password-stdin",
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    archive = tmp_path / "backups" / "crontopus.tar.gz"
    secrets_key = load_or_create_secrets_key(Path(old["CRONTOPUS_DATA_DIR"]))

    backed_up = server(old, "backup", str(archive))

    assert backed_up.returncode == 0, backed_up.stderr
    assert "1 Git repositories and the secret key" in backed_up.stderr
    assert archive.stat().st_mode & 0o777 == 0o600
    with tarfile.open(archive) as members:
        names = members.getnames()
    assert names[-1] == "manifest.json"
    assert names.index("git/alice.git/refs/heads/main") < names.index("git/alice.git/objects")

    new = machine("new")
    restored = server(new, "restore", str(archive))

    assert restored.returncode == 0, restored.stderr
    new_dir, old_dir = Path(new["CRONTOPUS_DATA_DIR"]), Path(old["CRONTOPUS_DATA_DIR"])
    assert head_of(new_dir) == head_of(old_dir)
    assert (new_dir / "secret_key").read_text() == (old_dir / "secret_key").read_text()
    assert (new_dir / "secret_key").stat().st_mode & 0o777 == 0o600
    assert (new_dir / "secrets_key").read_text().strip() == secrets_key
    assert (new_dir / "secrets_key").stat().st_mode & 0o777 == 0o600
    again = server(
        new, "create-user", "alice", "--email", "a@example.com", "--password-stdin",
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert again.returncode != 0  # alice came back with the database
    assert "is already registered" in again.stderr
    refused = server(new, "restore", str(archive))
    assert refused.returncode == 1
    assert "holds repositories already: stop the server and pass --force" in refused.stderr
    assert server(new, "restore", "--force", str(archive)).returncode == 0


def test_restoring_something_that_is_not_a_backup_says_so(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRONTOPUS_")}
    env["CRONTOPUS_DATA_DIR"] = str(tmp_path / "data")
    bogus = tmp_path / "notes.tar.gz"
    with tarfile.open(bogus, "w:gz") as archive:
        archive.add(__file__, "notes.py")

    result = server(env, "restore", str(bogus))

    assert result.returncode == 1
    assert f"{bogus}: not a Crontopus backup (no manifest.json)" in result.stderr


def test_a_sqlite_backup_is_not_restored_into_postgresql(tmp_path: Path) -> None:
    admin = require_postgres()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRONTOPUS_")}
    env["CRONTOPUS_DATA_DIR"] = str(tmp_path / "lite")
    assert server(env, "migrate").returncode == 0
    assert server(env, "backup", str(tmp_path / "lite.tar.gz")).returncode == 0
    name = f"crontopus_backup_{uuid.uuid4().hex[:10]}"
    env["CRONTOPUS_DATABASE_URL"] = asyncio.run(create_postgres_database(admin, name))
    env["CRONTOPUS_DATA_DIR"] = str(tmp_path / "pg")
    try:
        result = server(env, "restore", str(tmp_path / "lite.tar.gz"))
    finally:
        asyncio.run(drop_postgres_database(admin, name))

    assert result.returncode == 1
    assert "holds a sqlite database but CRONTOPUS_DATABASE_URL is postgresql" in result.stderr
