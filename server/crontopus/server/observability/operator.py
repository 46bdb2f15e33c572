"""Who may see the server's insides: metrics, and why it is not ready.

With `CRONTOPUS_METRICS_TOKEN` set, whoever sends it as a bearer token. Without it, only this
machine: a request whose TCP peer is a loopback address and that no proxy forwarded. A server
listening beyond loopback therefore shows its metrics and error texts to nobody else until the
token is set.
"""

from __future__ import annotations

import hmac
import ipaddress

from starlette.requests import Request

#: Headers a reverse proxy adds: a request carrying one came from elsewhere.
FORWARDING_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")


def has_metrics_token(request: Request, token: str) -> bool:
    """Whether the request carries `Authorization: Bearer <token>`."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip(), token)


def from_this_machine(request: Request) -> bool:
    """Whether the request's peer is a loopback address and no proxy forwarded it."""
    client = request.client
    if client is None or any(request.headers.get(name) for name in FORWARDING_HEADERS):
        return False
    try:
        return ipaddress.ip_address(client.host).is_loopback
    except ValueError:
        return False


def is_operator(request: Request, token: str | None) -> bool:
    """Whether the request may see metrics and readiness details (see the module's rule)."""
    if token is not None:
        return has_metrics_token(request, token)
    return from_this_machine(request)
