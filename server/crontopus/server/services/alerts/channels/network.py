"""How channels reach their peers: through the outbound policy, to the address it judged.

HTTP goes through an httpx client whose connections are opened by `_JudgedBackend`: it resolves
the host once, judges every address and connects to a judged one, while TLS (SNI and the
certificate check) and the Host header keep the name from the URL. SMTP resolves the same way
and connects its socket to the judged address (`email.py`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

import httpcore
import httpx

from crontopus.server.security.outbound import OutboundPolicy, Service
from crontopus.server.settings import MailSettings

#: Connections kept open per process; a channel's peer rarely needs more than one.
MAX_CONNECTIONS: Final = 200


class _JudgedBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, policy: OutboundPolicy) -> None:
        self._policy = policy
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's signature)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._policy.resolve(host, port, Service.HTTP)
        failure: httpcore.ConnectError | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError as error:
                failure = error
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's signature)
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("channels do not connect to Unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _JudgedTransport(httpx.AsyncHTTPTransport):
    def __init__(self, policy: OutboundPolicy) -> None:
        limits = httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=20)
        # No proxy from the environment: the policy must judge where the bytes really go.
        super().__init__(trust_env=False, limits=limits)
        # httpx takes no network backend, so its pool is rebuilt with the same settings plus
        # ours; the pool keys connections by the URL's origin, so a kept-alive connection is
        # only ever reused for the name it was judged and verified for.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),  # SSL_CERT_FILE still applies
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_JudgedBackend(policy),
        )


class Network:
    """The outbound policy, and an HTTP client that obeys it (redirects are never followed);
    `mail` is the server's own SMTP server, for e-mail channels that name none."""

    def __init__(self, policy: OutboundPolicy, mail: MailSettings | None = None) -> None:
        self.policy = policy
        self.mail = mail
        self._http: httpx.AsyncClient | None = None

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(
                transport=_JudgedTransport(self.policy), follow_redirects=False
            )
        return self._http

    async def aclose(self) -> None:
        """Close the kept-alive connections (a later send opens new ones)."""
        if self._http is not None:
            await self._http.aclose()
            self._http = None
