"""The address a request comes from, as rate limits and audit see it."""

from __future__ import annotations

from starlette.requests import HTTPConnection


def client_address(connection: HTTPConnection) -> str:
    """Return the client's IP address: every per-address limit keys on this one function.

    This is the peer of the TCP connection, or, when that peer is a trusted reverse proxy
    (CRONTOPUS_TRUSTED_PROXIES), the client it forwarded for (see `security/proxies.py`).
    """
    client = connection.client
    return client.host if client else "unknown"
