"""Structured logs: one JSON object per line (or a readable line on a terminal).

Every record carries the request id, tenant and GraphQL operation of the request it was
written in, taken from context variables the middleware and the GraphQL layer set, so a
line can be traced back to the request (and the id a user saw in a masked error).
"""

from __future__ import annotations

import contextvars
import itertools
import json
import logging
import re
import secrets
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any, TextIO

from crontopus.server.services.telemetry import request_id_var
from crontopus.server.settings import LogFormat

tenant_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "crontopus_tenant", default=None
)
operation_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "crontopus_operation", default=None
)

REQUEST_ID_HEADER = "x-request-id"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")
# LogRecord attributes that are not extra fields given with `extra=`.
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


# New request ids: a random prefix per process and a counter. Ids only need to be unique for
# log correlation, and a uuid4 per request (a urandom system call) showed in profiles.
_ID_PREFIX = secrets.token_hex(8)
_ids = itertools.count()


def request_id_of(value: str | None) -> str:
    """Accept a caller's X-Request-ID when it is sane, else make one."""
    if value and _REQUEST_ID.match(value):
        return value
    return f"{_ID_PREFIX}{next(_ids):016x}"


def _context() -> dict[str, str]:
    fields = {}
    for name, var in (
        ("request_id", request_id_var),
        ("tenant", tenant_var),
        ("operation", operation_var),
    ):
        value = var.get()
        if value is not None:
            fields[name] = value
    return fields


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, event, context and extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        entry.update(_context())
        entry.update(_extras(record))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """A line a person reads: time, level, logger, message, then key=value context."""

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        fields = {**_context(), **_extras(record)}
        tail = " ".join(f"{k}={v}" for k, v in fields.items())
        line = f"{moment} {record.levelname:<7} {record.name}: {record.getMessage()}"
        if tail:
            line += f"  [{tail}]"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure_logging(level: str, fmt: LogFormat, stream: TextIO | None = None) -> None:
    """Send every log record to `stream` (stderr) in the chosen format."""
    stream = stream or sys.stderr
    use_json = fmt is LogFormat.JSON or (fmt is LogFormat.AUTO and not stream.isatty())
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if use_json else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Uvicorn's own handlers would write a second, unstructured copy.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers = []
        logger.propagate = True


access_logger = logging.getLogger("crontopus.server.access")


def log_access(scope: Scope, status: int, started: float) -> None:
    """One debug line per HTTP request (off unless the access logger is at debug)."""
    if access_logger.isEnabledFor(logging.DEBUG):
        access_logger.debug(
            "%s %s %s",
            scope.get("method"),
            scope.get("path"),
            status,
            extra={"duration_ms": round((time.perf_counter() - started) * 1000, 2)},
        )


class RequestIdMiddleware:
    """Give every HTTP and WebSocket request an id: the caller's X-Request-ID, or a new one.

    The id is echoed in the response, put in the request's state for the GraphQL context,
    and set in the logging context for everything the request logs.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        header = None
        for name, value in scope.get("headers", []):
            if name == b"x-request-id":
                header = value.decode("latin-1")
                break
        request_id = request_id_of(header)
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"
                ]
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if scope["type"] == "http":
                log_access(scope, status, started)
            request_id_var.reset(token)
