"""Liveness and readiness probes."""

from __future__ import annotations

import os
import tempfile

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse


async def health(_request: Request) -> JSONResponse:
    """Answer while the process is up; load balancers restart it otherwise."""
    return JSONResponse({"status": "ok"})


async def ready(request: Request) -> JSONResponse:
    """Answer 200 only when the database, the Git store and the data directory all work."""
    state = request.app.state.crontopus
    checks: dict[str, str] = {}
    try:
        async with state.session() as session:
            await session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as error:  # any failure means "not ready"; the message says which
        checks["database"] = f"error: {type(error).__name__}: {error}"
    try:
        await state.gitstore.check()
        checks["gitStore"] = "ok"
    except Exception as error:  # the Git store's own message says what is wrong
        checks["gitStore"] = f"error: {type(error).__name__}: {error}"
    try:
        state.settings.data_dir.mkdir(parents=True, exist_ok=True)
        fd, path = tempfile.mkstemp(prefix=".ready-", dir=state.settings.data_dir)
        os.close(fd)
        os.unlink(path)
        checks["dataDir"] = "ok"
    except OSError as error:
        checks["dataDir"] = f"error: {error}"
    ok = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ready" if ok else "not ready", "checks": checks},
        status_code=200 if ok else 503,
    )
