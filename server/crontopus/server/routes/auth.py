"""`POST /auth/refresh`: the console trades its refresh cookie for a new access token.

The cookie is sent to this path alone; a request must also carry an `Origin` of this server,
so another site can neither read the answer nor make the browser spend the cookie.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from crontopus.server.errors import AuthenticationFailed, TenantSuspended
from crontopus.server.security.addresses import client_address
from crontopus.server.security.cookies import (
    REFRESH_COOKIE,
    clear_refresh_cookie,
    origin_allowed,
    set_refresh_cookie,
)
from crontopus.server.services import accounts
from crontopus.server.services.sessions import Device
from crontopus.server.state import app_state

NO_STORE = {"Cache-Control": "no-store"}


def _refused(request: Request, status: int, message: str) -> Response:
    response = JSONResponse({"error": message}, status_code=status, headers=NO_STORE)
    if status == 401:
        clear_refresh_cookie(response, request)
    return response


async def refresh(request: Request) -> Response:
    """Rotate the refresh cookie; answer the new access token and who it is for."""
    state = app_state(request)
    if not origin_allowed(request, state.settings):
        return _refused(
            request,
            403,
            "this request does not come from this server's own pages (the Origin header is "
            "missing or foreign); refresh tokens for scripts go through the refreshToken mutation",
        )
    token = request.cookies.get(REFRESH_COOKIE)
    if not token:
        return _refused(request, 401, "no session cookie; log in")
    device = Device(client_address(request), request.headers.get("user-agent", ""))
    try:
        async with state.session() as session:
            result = await accounts.refresh(
                session, state.settings, token, device, state.identities
            )
    except TenantSuspended as error:
        # The session is kept (403, the cookie stays): it goes on once the tenant is resumed.
        return JSONResponse(
            {"error": error.message, "suspended": True}, status_code=403, headers=NO_STORE
        )
    except AuthenticationFailed as error:
        return _refused(request, 401, error.message)
    response = JSONResponse(
        {
            "accessToken": result.access_token,
            "accessTokenExpiresAt": result.access_expires_at.isoformat(),
            "role": result.role.value,
            "user": {"username": result.user.username},
            "tenant": {"slug": result.tenant.slug, "name": result.tenant.name},
        },
        headers=NO_STORE,
    )
    set_refresh_cookie(response, request, state.settings, result.refresh_token)
    return response
