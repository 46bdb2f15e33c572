"""A WebSocket's credential, checked again before every operation and while subscriptions run.

A socket is authenticated once, at `connection_init`; without more, a revoked token, a removed
member or an expired access token would go on running queries and receiving events for as long
as the socket lives. So the credential is resolved again through the identity cache (a dict
look-up while the entry is fresh, a database round trip once it is not, so a change is seen at
most `CRONTOPUS_AUTH_CACHE_SECONDS` late; at once in the process that made it). When it no longer
stands, every running operation ends with an error and the socket closes:

- 4401 when the credential is no longer valid (expired, revoked, membership ended): clients
  refresh or log in, then reconnect;
- 4403 when it is still valid but stands for something else (another role, other scopes):
  clients reconnect and go on with what the new role allows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from graphql import GraphQLFormattedError

from crontopus.server.errors import AuthenticationFailed
from crontopus.server.graphql.context import Context
from crontopus.server.security.identity_cache import Identity

logger = logging.getLogger("crontopus.server.graphql")

UNAUTHENTICATED_CLOSE = 4401
FORBIDDEN_CLOSE = 4403
#: How often a socket with running operations looks at its credential (a cache hit when fresh).
RECHECK_SECONDS = 1.0
#: A WebSocket close reason may carry at most 123 bytes.
MAX_REASON_BYTES = 123

Identify = Callable[[str], Awaitable[Identity]]


@dataclass(frozen=True)
class Lapse:
    """Why a socket's credential no longer stands, and how to close the socket."""

    close_code: int
    message: str

    @property
    def code(self) -> str:
        return "UNAUTHENTICATED" if self.close_code == UNAUTHENTICATED_CLOSE else "FORBIDDEN"

    @property
    def error(self) -> GraphQLFormattedError:
        """The GraphQL error each running operation ends with."""
        return {
            "message": self.message,
            "extensions": {"code": self.code, "closeCode": self.close_code},
        }

    @property
    def reason(self) -> str:
        return close_reason(self.message)


def close_reason(message: str) -> str:
    """Cut `message` to what a close frame can carry, on a character boundary."""
    encoded = message.encode()
    if len(encoded) <= MAX_REASON_BYTES:
        return message
    return encoded[: MAX_REASON_BYTES - 3].decode(errors="ignore") + "..."


async def lapse_of(context: Context, identify: Identify) -> Lapse | None:
    """Return why the socket's credential no longer stands, or None while it does."""
    token = context.credential
    if token is None or context.principal is None:
        return None  # an anonymous socket: every operation checks for itself
    try:
        identity = await identify(token)
    except AuthenticationFailed as error:
        return Lapse(UNAUTHENTICATED_CLOSE, f"{error.message} (the connection was closed)")
    except Exception:
        # The database is away: that is no lapse. Keep the socket; the next check decides.
        logger.warning("re-checking a WebSocket's credential failed", exc_info=True)
        return None
    if identity.principal != context.principal:
        before, after = context.principal, identity.principal
        change = (
            f"your role changed from {before.role.value} to {after.role.value}"
            if before.role is not after.role
            else "the token's scopes changed"
        )
        return Lapse(FORBIDDEN_CLOSE, f"{change}; reconnect to go on with what it allows")
    return None


class CredentialWatch:
    """Looks at one socket's credential every `interval` seconds; reports a lapse once."""

    def __init__(
        self,
        context: Context,
        identify: Identify,
        on_lapse: Callable[[Lapse], Awaitable[None]],
        interval: float = RECHECK_SECONDS,
    ) -> None:
        self._context = context
        self._identify = identify
        self._on_lapse = on_lapse
        self._interval = interval
        self._task: asyncio.Task[None] | None = None
        self.lapsed = False

    def start(self) -> None:
        """Begin the periodic checks (a no-op for anonymous sockets)."""
        if self._task is None and self._context.credential is not None:
            self._task = asyncio.create_task(self._run())

    async def check(self) -> bool:
        """Check now; return False (after ending the socket) when the credential lapsed."""
        if self.lapsed:
            return False
        lapse = await lapse_of(self._context, self._identify)
        if lapse is None:
            return True
        self.lapsed = True
        await self._on_lapse(lapse)
        return False

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while not self.lapsed:
            await asyncio.sleep(self._interval)
            await self.check()
