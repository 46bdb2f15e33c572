"""Which peers may say who the client is: reverse proxies named in CRONTOPUS_TRUSTED_PROXIES.

Forwarded headers are believed only from the peers listed in `CRONTOPUS_TRUSTED_PROXIES`;
from anyone else they are ignored, or any client could pick its own address and dodge the
throttles. Uvicorn's `ProxyHeadersMiddleware` does the parsing (the right-most untrusted
address of `X-Forwarded-For`, the scheme of `X-Forwarded-Proto`); it runs inside the app so
every server that hosts it, and every test, behaves the same. It rewrites the connection's
client and scheme, so `security.addresses.client_address` and `request.url` need not know.
"""

from __future__ import annotations

from starlette.middleware import Middleware
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware


def trusted_proxies_middleware(trusted: tuple[str, ...]) -> list[Middleware]:
    """The middleware that believes forwarded headers from `trusted` peers (none: nothing)."""
    if not trusted:
        return []
    return [Middleware(ProxyHeadersMiddleware, trusted_hosts=list(trusted))]
