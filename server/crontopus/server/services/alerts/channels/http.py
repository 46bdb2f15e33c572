"""POSTing to a channel's HTTP peer, with the answer classified as retryable or permanent."""

from __future__ import annotations

import httpx

from crontopus.server.services.alerts.channels.errors import PermanentDelivery, RetryableDelivery

TIMEOUT = httpx.Timeout(10.0, connect=5.0)
_RETRYABLE_STATUS = frozenset({408, 425, 429})


async def post(
    client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str]
) -> httpx.Response:
    """POST `body`; raise RetryableDelivery or PermanentDelivery unless the peer says 2xx."""
    try:
        response = await client.post(url, content=body, headers=headers, timeout=TIMEOUT)
    except httpx.TimeoutException:
        raise RetryableDelivery(f"{_where(url)} did not answer within 10 s") from None
    except httpx.TransportError as error:
        raise RetryableDelivery(
            f"{_where(url)} is unreachable: {error or type(error).__name__}"
        ) from None
    if response.is_success:
        return response
    text = response.text[:200].strip()
    problem = f"{_where(url)} answered {response.status_code}" + (f": {text}" if text else "")
    if response.status_code in _RETRYABLE_STATUS or response.status_code >= 500:
        raise RetryableDelivery(problem)
    raise PermanentDelivery(problem + " (fix the channel's settings; retrying cannot help)")


def _where(url: str) -> str:
    # Webhook paths often carry secrets (Slack's do): name the host only.
    parsed = httpx.URL(url)
    return f"{parsed.scheme}://{parsed.host}" + (f":{parsed.port}" if parsed.port else "")
