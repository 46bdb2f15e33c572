"""Liveness and readiness probes, and the probes that notice a dependency's return."""

from __future__ import annotations

import errno
import logging
import os
import shutil
import tempfile
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import JSONResponse

from crontopus.server.availability import RETRY_AFTER_SECONDS, Probe, unavailability
from crontopus.server.observability.operator import is_operator
from crontopus.server.state import app_state

logger = logging.getLogger("crontopus.server")

#: SQLite cannot commit on a disk with less room than this; its return waits for it.
MIN_FREE_BYTES = 1024 * 1024


async def health(request: Request) -> JSONResponse:
    """Answer while the process is up; load balancers restart it otherwise.

    The public URL is named so an agent configured with plain http can learn, before sending
    its token, that the server is meant to be reached over https.
    """
    public_url = app_state(request).settings.public_url
    return JSONResponse({"status": "ok", **({"publicUrl": public_url} if public_url else {})})


async def ready(request: Request) -> JSONResponse:
    """Answer 200 only when the database, the Git store and the data directory all work.

    Everyone learns which check failed; only an operator (`observability/operator.py`) reads
    why, since error texts name paths, hosts and drivers. The server log always has them.
    """
    state = app_state(request)
    tracker = state.dependencies
    checks: dict[str, str] = {}
    try:
        async with state.session() as session:
            await session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as error:  # any failure means "not ready"; the message says which
        checks["database"] = f"error: {type(error).__name__}: {error}"
        if (problem := unavailability(error)) is not None:
            tracker.failed(problem)
    try:
        await state.gitstore.check()
        checks["gitStore"] = "ok"
    except Exception as error:  # the Git store's own message says what is wrong
        checks["gitStore"] = f"error: {type(error).__name__}: {error}"
    try:
        _write_probe(state.settings.data_dir)
        checks["dataDir"] = "ok"
    except OSError as error:
        checks["dataDir"] = f"error: {error}"
    dependencies = tracker.report()
    ok = all(value == "ok" for value in checks.values()) and all(
        entry["status"] == "up" for entry in dependencies.values()
    )
    if not ok:
        failed = {name: value for name, value in checks.items() if value != "ok"}
        logger.warning("not ready: %s", failed)
    if not is_operator(request, state.settings.metrics_token):
        checks = {name: "ok" if value == "ok" else "error" for name, value in checks.items()}
        dependencies = {
            name: {key: value for key, value in entry.items() if key != "reason"}
            for name, entry in dependencies.items()
        }
    return JSONResponse(
        {"status": "ready" if ok else "not ready", "checks": checks, "dependencies": dependencies},
        status_code=200 if ok else 503,
        headers=None if ok else {"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def database_probe(engine: AsyncEngine) -> Probe:
    """Return a probe that passes once the database can take a write again."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    folder = Path(database).resolve().parent if database and database != ":memory:" else None

    async def probe() -> None:
        if folder is not None:
            free = shutil.disk_usage(folder).free
            if free < MIN_FREE_BYTES:
                raise OSError(errno.ENOSPC, f"{free} bytes free next to {database}")
        # The lock the ingest writer needs, taken and given back: a SELECT passes while
        # another process holds it, and would announce a return too early (then fail again).
        if database:
            async with engine.connect() as connection:
                await connection.exec_driver_sql("BEGIN IMMEDIATE")
                await connection.exec_driver_sql("ROLLBACK")
        else:
            async with engine.begin() as connection:
                await connection.execute(text("LOCK TABLE runs IN ROW EXCLUSIVE MODE NOWAIT"))

    return probe


def directory_probe(directory: Path) -> Probe:
    """Return a probe that passes once `directory` takes a small durable write again."""

    async def probe() -> None:
        _write_probe(directory)

    return probe


def _write_probe(directory: Path) -> None:
    # A byte, written and synced: creating an empty file succeeds on a full disk.
    directory.mkdir(parents=True, exist_ok=True)
    fd, path = tempfile.mkstemp(prefix=".ready-", dir=directory)
    try:
        os.write(fd, b"ok")
        os.fsync(fd)
    finally:
        os.close(fd)
        os.unlink(path)
