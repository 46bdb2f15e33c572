"""Where browsers reach the single sign-on routes of this server."""

from __future__ import annotations

from starlette.requests import HTTPConnection

from crontopus.server.security.cookies import own_origin
from crontopus.server.settings import Settings
from crontopus.server.sso.config import OidcProvider


def server_base(connection: HTTPConnection, settings: Settings) -> str:
    """This server's address as browsers reach it (CRONTOPUS_PUBLIC_URL, else the request's)."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    return own_origin(connection)


def redirect_uri(connection: HTTPConnection, settings: Settings, provider: OidcProvider) -> str:
    """The callback URL registered with the provider."""
    return server_base(connection, settings) + provider.callback_path
