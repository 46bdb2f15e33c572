"""`POST /checkin/<job-id>/<start|success|fail|timeout|exit-code>?rid=<run-uuid>`: runs by curl.

The body is the run's output (its tail is kept). The answer is 200 only once the run is
durably stored; 4xx says what to fix and must not be retried (422: the database refused
this one check-in); 429 (the tenant's check-in rate, with `Retry-After`) and 503 mean
"retry later". A suspended tenant's check-in is stored, then answered 403 with
`"suspended": true, "kept": true`: refused, but not lost (nothing needs to send it again).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from crontopus.core.enums import RunTrigger
from crontopus.server.availability import (
    RETRY_AFTER_SECONDS,
    Dependency,
    Unavailable,
    unavailability,
    unavailable_body,
)
from crontopus.server.errors import (
    AuthenticationFailed,
    PermissionDenied,
    RateLimited,
    ServiceError,
    TenantSuspended,
    ValidationFailed,
)
from crontopus.server.security.identity_cache import Identity
from crontopus.server.security.ratelimit import Limit
from crontopus.server.services.authentication import authenticate, bearer_token
from crontopus.server.services.checkin_validation import (
    HTTP_FIELDS,
    Report,
    parse_seconds,
    parse_time,
    parse_uuid,
)
from crontopus.server.services.checkins import CheckInKind
from crontopus.server.services.ingest import CheckInRefused, IngestUnavailable
from crontopus.server.services.runs import Finish, check_in, finish_status
from crontopus.server.services.telemetry import request_id_var
from crontopus.server.state import app_state

# Read at most this much of a body; only the last 64 KiB of it is kept anyway.
MAX_BODY = 1024 * 1024

# Starlette's JSONResponse builds a JSON encoder per answer (its separators are not json's
# defaults); one encoder made once answers the same bytes without that cost on every check-in.
_encode = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode


class _Answer(JSONResponse):
    def render(self, content: Any) -> bytes:
        return _encode(content).encode()


def _error(status: int, message: str, **extra: object) -> JSONResponse:
    return _Answer({"ok": False, "error": message, **extra}, status_code=status)


def _unavailable(problem: Unavailable) -> JSONResponse:
    return _Answer(
        {**unavailable_body(problem, graphql=False), "requestId": request_id_var.get()},
        status_code=503,
        headers={"Retry-After": str(problem.retry_after or RETRY_AFTER_SECONDS)},
    )


async def _identity(state: Any, token: str) -> Identity:
    """Look the credential up; a database that is away raises `Unavailable`, not a 500."""
    try:
        async with state.session() as session:
            return await authenticate(
                session, state.settings, token, state.identities, allow_suspended=True
            )
    except Exception as error:
        problem = unavailability(error)
        if problem is None:
            raise
        raise problem from error


def _report(request: Request, event: Finish, output: str) -> Report:
    job_id = parse_uuid(request.path_params["job_id"], "job-id")
    kind, status, exit_code = event
    # The query string parsed straight into a dict (the last of repeated names wins, as with
    # Starlette's `query_params`), without building a multi-dict on every check-in.
    query = dict(parse_qsl(request.scope["query_string"].decode("latin-1"), keep_blank_values=True))
    if "rid" not in query:
        raise ValidationFailed.single(
            "rid", "is required: pass the run's UUID as ?rid= so retries are not counted twice"
        )
    run_id = parse_uuid(query.get("rid"), "rid")
    duration = query.get("duration")
    started = query.get("started")
    return Report(
        job_id=job_id,
        run_id=run_id,
        kind=kind,
        status=status,
        exit_code=exit_code,
        duration_ms=None if duration is None else parse_seconds(duration, "duration"),
        started_at=None if started is None else parse_time(started, "started"),
        output=output,
        commit_id=query.get("commit"),
        fields=HTTP_FIELDS,
        trigger=_trigger(query.get("trigger")),
    )


def _trigger(value: str | None) -> RunTrigger:
    """`trigger=manual` marks a run someone asked for (run now); the default is the schedule."""
    if value is None:
        return RunTrigger.SCHEDULE
    try:
        return RunTrigger(value.upper())
    except ValueError:
        raise ValidationFailed.single(
            "trigger", f"{value[:40]!r} is not a trigger: use manual or schedule (the default)"
        ) from None


async def _output(request: Request) -> str:
    """The body's last MAX_BODY bytes as text, read without holding more than twice that."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > 2 * MAX_BODY:
            del body[:-MAX_BODY]
    return bytes(body[-MAX_BODY:]).decode("utf-8", "replace")


async def checkin(request: Request) -> JSONResponse:
    """Store a start or finish check-in from a script or the agent's wrapper."""
    state = app_state(request)
    try:
        token = bearer_token(request.headers.get("authorization"))
        if token is None:
            raise AuthenticationFailed(
                "send `Authorization: Bearer <endpoint or API token>` to report runs"
            )
        identity = state.identities.get(token)
        if identity is None:
            identity = await _identity(state, token)
        # Before the body is read: a tenant over its rate costs the server next to nothing.
        await state.limiter.take(Limit.CHECKIN, str(identity.principal.tenant_id))
        event = finish_status(request.path_params["event"])
        output = await _output(request) if event[0] is CheckInKind.FINISH else ""
        report = _report(request, event, output)
        run = await check_in(
            identity.principal,
            state.ingest,
            state.job_directory,
            report,
            state.settings.checkin_limits,
        )
    except AuthenticationFailed as error:
        return _error(401, error.message)
    except RateLimited as error:
        response = _error(429, error.message, retryAfterSeconds=error.retry_after)
        response.headers["Retry-After"] = str(error.retry_after)
        return response
    except PermissionDenied as error:
        return _error(403, error.message)
    except ValidationFailed as error:
        field = ".".join(error.problems[0].path) if error.problems else None
        return _error(400, error.message, field=field)
    except ServiceError as error:
        return _error(400, error.message)
    except CheckInRefused as error:
        # Permanent: the wrapper drops a check-in answered 4xx instead of spooling it forever.
        return _error(422, str(error))
    except IngestUnavailable as error:
        # The ingest writer has told the dependency tracker already (once per outage).
        return _unavailable(Unavailable(Dependency.DATABASE, str(error)))
    except Unavailable as problem:
        state.dependencies.failed(problem)
        return _unavailable(problem)
    except ClientDisconnect:
        # Nobody reads this answer; returning one keeps a dropped client out of the error log.
        return _error(400, "the client disconnected before sending the whole body")
    except Exception as error:
        # Whatever else a dependency that is away raised (the shared rate limiter's table, say)
        # is answered here too: in the check-in lane no exception handler stands behind this.
        away = unavailability(error)
        if away is None:
            raise
        state.dependencies.failed(away)
        return _unavailable(away)
    if identity.tenant.suspended_at is not None:
        suspended = TenantSuspended(identity.tenant.slug, identity.tenant.suspension_reason)
        return _error(
            403,
            f"{suspended.message}; this check-in was kept",
            suspended=True,
            kept=True,
            runId=str(run.id),
        )
    return _Answer(
        {
            "ok": True,
            "runId": str(run.id),
            "status": run.status.value,
            "unknownJob": run.unknown_job,
        }
    )


class CheckInEndpoint:
    """The check-in route's ASGI app: `checkin` without a per-request exception wrapper.

    Starlette wraps function endpoints in closures that route exceptions to handlers; this
    route answers every error it can meet itself, and on a path taken thousands of times a
    second those closures showed in profiles. Anything unexpected still reaches the server
    error middleware.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await checkin(Request(scope, receive, send))
        await response(scope, receive, send)
