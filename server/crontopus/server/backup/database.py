"""Copying the database out and back: SQLite's online backup API, or pg_dump and pg_restore."""

from __future__ import annotations

import glob
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from crontopus.server.errors import ServiceError

SQLITE_MEMBER = "database.sqlite3"
POSTGRES_MEMBER = "database.pgdump"
POSTGRES_BIN_GLOB = "/usr/lib/postgresql/*/bin"


def kind_of(database_url: str) -> str:
    """Return "sqlite" or "postgresql" for a normalised database URL."""
    return "sqlite" if database_url.startswith("sqlite") else "postgresql"


def sqlite_path(database_url: str) -> Path:
    """Return the file of an SQLite URL."""
    database = make_url(database_url).database
    if not database or database == ":memory:":
        raise ServiceError(f"{database_url}: an in-memory SQLite database cannot be backed up")
    return Path(database)


def backup_sqlite(database_url: str, target: Path) -> None:
    """Copy a live SQLite database with its online backup API (a consistent snapshot)."""
    source_path = sqlite_path(database_url)
    if not source_path.is_file():
        raise ServiceError(f"{source_path}: no such database: check CRONTOPUS_DATABASE_URL")
    # The URI's mode=ro keeps the backup from creating or changing anything in the source.
    source = sqlite3.connect(f"{source_path.as_uri()}?mode=ro", uri=True)
    destination = sqlite3.connect(target)
    try:
        source.backup(destination)
    finally:
        destination.close()
        source.close()


def restore_sqlite(database_url: str, dump: Path) -> None:
    """Replace the SQLite database with a backed-up copy (its WAL and shared memory go too)."""
    path = sqlite_path(database_url)
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    staged = path.with_name(f".{path.name}.restoring")
    shutil.copyfile(dump, staged)
    os.replace(staged, path)


def postgres_program(name: str, explicit: str | None = None) -> str:
    """Find pg_dump or pg_restore: the option, else PATH, else the newest PostgreSQL install."""
    if explicit:
        return explicit
    found = shutil.which(name)
    if found:
        return found
    # Debian keeps the client programs of each major version under its own directory.
    candidates = sorted(
        glob.glob(f"{POSTGRES_BIN_GLOB}/{name}"),
        key=lambda path: int(Path(path).parts[-3]) if Path(path).parts[-3].isdigit() else 0,
    )
    if candidates:
        return candidates[-1]
    raise ServiceError(
        f"{name} was not found on PATH nor in {POSTGRES_BIN_GLOB}: install the PostgreSQL client"
        f" programs (postgresql-client) of the server's version or newer, or pass --{name} PATH"
    )


def _libpq(database_url: str) -> tuple[str, dict[str, str]]:
    """Return a libpq URL without its password and the environment that carries it."""
    url: URL = make_url(database_url).set(drivername="postgresql")
    env = dict(os.environ)
    if url.password is not None:
        # Not on the command line, where every user of the machine could read it in ps.
        env["PGPASSWORD"] = str(url.password)
    return url.set(password=None).render_as_string(hide_password=False), env


def _run(command: list[str], env: dict[str, str], what: str) -> None:
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise ServiceError(f"{what} failed (exit {result.returncode}): {result.stderr.strip()}")


def backup_postgres(database_url: str, target: Path, pg_dump: str | None = None) -> None:
    """Dump a PostgreSQL database in pg_dump's custom format (consistent, one transaction)."""
    url, env = _libpq(database_url)
    program = postgres_program("pg_dump", pg_dump)
    _run([program, "--format=custom", "--no-owner", f"--file={target}", url], env, "pg_dump")


def restore_postgres(database_url: str, dump: Path, pg_restore: str | None = None) -> None:
    """Restore a pg_dump archive over the database, replacing every object it holds."""
    url, env = _libpq(database_url)
    program = postgres_program("pg_restore", pg_restore)
    command = [program, "--clean", "--if-exists", "--no-owner", "--single-transaction"]
    _run([*command, f"--dbname={url}", str(dump)], env, "pg_restore")
