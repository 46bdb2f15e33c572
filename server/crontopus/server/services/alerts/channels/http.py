"""POSTing to a channel's HTTP peer, with the answer classified as retryable or permanent.

The peer's answer is read (up to `MAX_ANSWER` bytes, undecoded) only so the connection can be
reused; what it says is never repeated: a delivery log that quoted answers would let a tenant
read whatever a reachable address serves.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Final

import httpx

from crontopus.server.security.outbound import OutboundRefused, OutboundUnresolved
from crontopus.server.services.alerts.channels.errors import PermanentDelivery, RetryableDelivery
from crontopus.server.services.alerts.channels.network import Network

TIMEOUT = httpx.Timeout(10.0, connect=5.0)
#: How much of an answer is read before the connection is dropped.
MAX_ANSWER: Final = 64 * 1024
_RETRYABLE_STATUS = frozenset({408, 425, 429})


async def post(network: Network, url: str, body: bytes, headers: dict[str, str]) -> None:
    """POST `body`; raise RetryableDelivery or PermanentDelivery unless the peer says 2xx."""
    where = _where(url)
    request = network.http.build_request(
        "POST", url, content=body, headers={**headers, "Accept-Encoding": "identity"}
    )
    try:
        response = await network.http.send(request, stream=True)
        try:
            await _drain(response)
        finally:
            await response.aclose()
    except OutboundRefused as refused:
        raise PermanentDelivery(f"{where}: {refused.message}") from None
    except OutboundUnresolved as unresolved:
        raise RetryableDelivery(f"{where}: {unresolved.message}") from None
    except httpx.TimeoutException:
        raise RetryableDelivery(f"{where} did not answer within 10 s") from None
    except httpx.TransportError as error:
        reason = str(error) or type(error).__name__
        raise RetryableDelivery(f"{where} is unreachable: {reason}") from None
    if response.is_success:
        return
    status = response.status_code
    try:
        phrase = f" ({HTTPStatus(status).phrase})"
    except ValueError:
        phrase = ""
    problem = f"{where} answered {status}{phrase}"
    if status in _RETRYABLE_STATUS or status >= 500:
        raise RetryableDelivery(problem)
    raise PermanentDelivery(problem + ": fix the channel's settings; retrying cannot help")


async def _drain(response: httpx.Response) -> None:
    read = 0
    async for chunk in response.aiter_raw():
        read += len(chunk)
        if read >= MAX_ANSWER:
            return


def _where(url: str) -> str:
    # Webhook paths often carry secrets (Slack's do): name the host only.
    parsed = httpx.URL(url)
    return f"{parsed.scheme}://{parsed.host}" + (f":{parsed.port}" if parsed.port else "")
