"""The check-in fast lane: `POST /checkin/<job>/<event>` straight to its route.

Check-ins are the one path taken thousands of times a second. Through the general stack each
crosses the request-id, security-header and body-limit middleware, Starlette's exception
middleware and the router: five layers, each with its own closure around `send`. The lane sits
outside them and answers a check-in with the same result in one step: it gives the request its
id, calls the route, and sends the answer with the route's headers, the security headers and
the id in one message.

Only the plain case takes the lane: a POST to `/checkin/<job>/<event>` whose body has a
declared `Content-Length` within the check-in limit. Everything else (a chunked body, a body
over the limit, other methods and paths) goes down the general stack, which answers it exactly
as before; so does every check-in when CORS is configured, because the CORS middleware must see
browsers' requests. An exception the route does not answer still reaches Starlette's server
error middleware, which wraps the lane.
"""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from crontopus.server.observability.logging import log_access, request_id_of
from crontopus.server.routes.checkin import checkin
from crontopus.server.security.headers import security_headers
from crontopus.server.services.telemetry import request_id_var

PREFIX = "/checkin/"


class CheckInLane:
    """ASGI middleware: check-ins that need nothing else go straight to the check-in route."""

    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not scope["path"].startswith(PREFIX)
        ):
            await self.app(scope, receive, send)
            return
        params = _path_params(scope["path"])
        header: str | None = None
        length: int | None = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = int(value) if value.isdigit() else None
            elif name == b"x-request-id":
                header = value.decode("latin-1")
        if params is None or length is None or length > self.max_body:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_of(header)
        scope.setdefault("state", {})["request_id"] = request_id
        scope["path_params"] = params
        token = request_id_var.set(request_id)
        status = 0
        try:
            response = await checkin(Request(scope, receive, send))
            status = response.status_code
            headers = response.raw_headers
            headers += security_headers(scope)
            headers.append((b"x-request-id", request_id.encode()))
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": response.body})
        finally:
            log_access(scope, status, started)
            request_id_var.reset(token)


def _path_params(path: str) -> dict[str, str] | None:
    """`/checkin/<job_id>/<event>` split as the router's route would; None if it is not that."""
    parts = path[len(PREFIX) :].split("/")
    if len(parts) != 2 or not parts[0] or not parts[1]:
        return None
    return {"job_id": parts[0], "event": parts[1]}
