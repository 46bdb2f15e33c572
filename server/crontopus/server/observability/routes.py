"""`GET /metrics`: the Prometheus text exposition, to the metrics token or this machine only."""

from __future__ import annotations

from sqlalchemy import case, func, select
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from crontopus.server.availability import unavailability
from crontopus.server.db.models import Endpoint
from crontopus.server.db.types import utcnow
from crontopus.server.observability.metrics import CONTENT_TYPE
from crontopus.server.observability.operator import from_this_machine, has_metrics_token
from crontopus.server.services.presence import online_condition
from crontopus.server.state import AppState, app_state


async def metrics(request: Request) -> Response:
    """Answer a scrape: with CRONTOPUS_METRICS_TOKEN, to its bearer; without, to loopback only."""
    state = app_state(request)
    token = state.settings.metrics_token
    if token is not None and not has_metrics_token(request, token):
        return PlainTextResponse(
            "metrics need `Authorization: Bearer <CRONTOPUS_METRICS_TOKEN>`\n",
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    if token is None and not from_this_machine(request):
        return PlainTextResponse(
            "metrics are served to this machine only: set CRONTOPUS_METRICS_TOKEN on the server "
            "and scrape with `Authorization: Bearer <token>`\n",
            status_code=403,
        )
    try:
        await _count_endpoints(state)
    except Exception as error:
        # The scrape that shows crontopus_dependency_up at 0 must not fail with the database:
        # the endpoint gauges keep their last counts meanwhile.
        problem = unavailability(error)
        if problem is None:
            raise
        state.dependencies.failed(problem)
    return Response(state.metrics.exposition(), media_type=CONTENT_TYPE)


async def _count_endpoints(state: AppState) -> None:
    settings = state.settings
    is_online = online_condition(utcnow(), settings.offline_after)
    async with state.session() as session:
        online, total = (
            await session.execute(
                select(
                    func.coalesce(func.sum(case((is_online, 1), else_=0)), 0),
                    func.count(),
                ).where(Endpoint.revoked_at.is_(None))
            )
        ).one()
    gauge = state.metrics.endpoints
    gauge.labels("online").set(online)
    gauge.labels("offline").set(total - online)
