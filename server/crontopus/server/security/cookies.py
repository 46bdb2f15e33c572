"""The console's refresh-token cookie, and the origin check that guards its path.

The console keeps its access token in memory only; the refresh token lives in an `HttpOnly`,
`SameSite=Strict` cookie that is sent to `/auth/refresh` alone, so no script on the page can read
it and no other path (GraphQL, Git, check-ins) ever receives it.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import HTTPConnection
from starlette.responses import Response

from crontopus.server.settings import Settings

REFRESH_COOKIE = "crontopus_refresh"
REFRESH_PATH = "/auth/refresh"


def set_refresh_cookie(
    response: Response, request: HTTPConnection, settings: Settings, token: str
) -> None:
    """Hand the browser its refresh token; `Secure` when the client reached us over https."""
    response.set_cookie(
        REFRESH_COOKIE,
        token,
        max_age=settings.refresh_token_ttl,
        path=REFRESH_PATH,
        secure=request.url.scheme in ("https", "wss"),
        httponly=True,
        samesite="strict",
    )


def clear_refresh_cookie(response: Response, request: HTTPConnection) -> None:
    """Make the browser drop its refresh token."""
    response.delete_cookie(
        REFRESH_COOKIE,
        path=REFRESH_PATH,
        secure=request.url.scheme in ("https", "wss"),
        httponly=True,
        samesite="strict",
    )


def own_origin(request: HTTPConnection) -> str:
    """The origin the client addressed (its scheme follows trusted forwarded headers)."""
    scheme = "https" if request.url.scheme in ("https", "wss") else "http"
    return f"{scheme}://{request.headers.get('host', '')}".lower()


def origin_allowed(request: HTTPConnection, settings: Settings) -> bool:
    """Whether a request carries an Origin of this server (or one it was told to trust)."""
    origin = request.headers.get("origin")
    if not origin:
        return False
    origin = origin.rstrip("/").lower()
    allowed = {own_origin(request), *(o.lower() for o in settings.cors_origins)}
    if settings.public_url:
        public = urlsplit(settings.public_url)
        allowed.add(f"{public.scheme}://{public.netloc}".lower())
    return origin in allowed
