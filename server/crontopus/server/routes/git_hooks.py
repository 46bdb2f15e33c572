"""`POST /git-hooks/<tenant>`: a forge's push webhook asks for a fetch of the tenant's remote.

Only with `CRONTOPUS_GIT_STORE=external` (404 otherwise). The body must be signed with
`CRONTOPUS_GIT_WEBHOOK_SECRET` the way the forge signs it (services/mirror.py); a request
without a valid signature is answered 401 before anything about the tenant is looked at, so
only the secret's holders learn whether a tenant exists (404). A good request is answered
202 at once and the fetch runs in the background: forges wait seconds, not a fetch, and
each webhook reaches one server process (the others catch up by their periodic fetch).
"""

from __future__ import annotations

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from crontopus.server.db.models import Tenant
from crontopus.server.services.mirror import webhook_signed
from crontopus.server.state import app_state


def _answer(status: int, message: str) -> Response:
    return PlainTextResponse(message + "\n", status_code=status)


async def git_hook(request: Request) -> Response:
    state = app_state(request)
    mirror = state.mirror
    if mirror is None:
        return _answer(404, "Not Found")
    secret = state.settings.git.webhook_secret
    if secret is None:
        return _answer(
            403,
            "Push webhooks are off on this server: its operator sets "
            "CRONTOPUS_GIT_WEBHOOK_SECRET (changes still arrive by the periodic fetch)",
        )
    # The body limit middleware bounds what this reads (CRONTOPUS_MAX_GIT_HOOK_BODY).
    body = await request.body()
    if not webhook_signed(request.headers, body, secret):
        return _answer(
            401,
            "The webhook is not signed with this server's secret: give the forge's webhook "
            "the value of CRONTOPUS_GIT_WEBHOOK_SECRET",
        )
    slug = request.path_params["tenant"]
    async with state.session() as session:
        found = await session.scalar(
            select(Tenant.id).where(Tenant.slug == slug, Tenant.suspended_at.is_(None))
        )
    if found is None:
        return _answer(404, "Not Found")
    mirror.request(slug)
    return _answer(202, "Fetching")
