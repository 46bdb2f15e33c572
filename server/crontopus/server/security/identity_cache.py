"""A short-lived, in-process cache of authenticated identities.

Resolving a credential costs a signature check and a database round trip; on a busy
server the same token arrives many times a second. Entries live at most `ttl` seconds
(and never past the token's own expiry) and are dropped at once in this process when a
membership is removed, a token revoked or a session ended. Other server processes notice
within `ttl`.

When an entry expires on a busy server, every request carrying that token misses at once;
`resolve` lets one of them ask the database while the others wait for its answer, so a
popular token costs one lookup per `ttl` instead of one per request in flight.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from crontopus.server.security.principal import Principal
from crontopus.server.singleflight import SingleFlight


@dataclass(frozen=True)
class UserView:
    id: uuid.UUID
    username: str
    email: str
    created_at: datetime
    email_verified: bool = True


@dataclass(frozen=True)
class TenantView:
    id: uuid.UUID
    slug: str
    name: str
    #: Set while a platform operator has the tenant suspended.
    suspended_at: datetime | None = None
    suspension_reason: str | None = None
    #: (quota, limit) pairs a platform operator set for this tenant over the defaults.
    quota_overrides: tuple[tuple[str, int], ...] = ()
    #: The provider an SSO-only tenant's members must log in with (None: passwords work too).
    sso_provider: str | None = None


@dataclass(frozen=True)
class Identity:
    """An authenticated principal with the user and tenant it stands for."""

    principal: Principal
    user: UserView | None
    tenant: TenantView
    token_digest: str | None = None
    session_id: uuid.UUID | None = None


class IdentityCache:
    def __init__(
        self, ttl: float, maxsize: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl = ttl
        self._maxsize = maxsize
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, Identity]] = OrderedDict()
        # Lookups in flight, by token; and a count of drops, so that a lookup which started
        # before a token was revoked (or a member removed) does not cache what it read.
        self._loads: SingleFlight[str, Identity] = SingleFlight()
        self._generation = 0

    def get(self, token: str) -> Identity | None:
        """Return the identity cached for `token`, if still fresh."""
        entry = self._entries.get(token)
        if entry is None:
            return None
        expires, identity = entry
        if expires <= self._clock():
            del self._entries[token]
            return None
        return identity

    async def resolve(
        self, token: str, load: Callable[[], Awaitable[tuple[Identity, float | None]]]
    ) -> Identity:
        """The cached identity of `token`, or `load()`'s, shared with concurrent callers.

        `load` returns the identity and the monotonic time it must not be cached past.
        """
        if self._ttl <= 0:  # caching is off: every request asks the database itself
            loaded, _ = await load()
            return loaded
        if (cached := self.get(token)) is not None:
            return cached

        async def load_and_keep() -> Identity:
            generation = self._generation
            identity, not_after = await load()
            if generation == self._generation:
                self.put(token, identity, not_after)
            return identity

        return await self._loads.run(token, load_and_keep)

    def put(self, token: str, identity: Identity, not_after: float | None = None) -> None:
        """Cache an identity for at most ttl seconds (or until `not_after`, a monotonic time)."""
        if self._ttl <= 0:
            return
        expires = self._clock() + self._ttl
        if not_after is not None:
            expires = min(expires, not_after)
        self._entries[token] = (expires, identity)
        if len(self._entries) > self._maxsize:
            self._entries.popitem(last=False)

    def forget_member(self, user_id: uuid.UUID, tenant_id: uuid.UUID) -> None:
        """Drop every cached credential of a user in a tenant (membership changed)."""
        self._drop(lambda i: i.principal.user_id == user_id and i.principal.tenant_id == tenant_id)

    def forget_tenant(self, tenant_id: uuid.UUID) -> None:
        """Drop every cached credential of a tenant (suspended, resumed, quotas changed)."""
        self._drop(lambda i: i.tenant.id == tenant_id)

    def forget_user(self, user_id: uuid.UUID) -> None:
        """Drop every cached credential of a user in every tenant (operator rights changed)."""
        self._drop(lambda i: i.principal.user_id == user_id)

    def forget_token(self, digest: str) -> None:
        """Drop a revoked opaque token."""
        self._drop(lambda i: i.token_digest == digest)

    def forget_session(self, session_id: uuid.UUID) -> None:
        """Drop the access tokens of an ended login session."""
        self._drop(lambda i: i.session_id == session_id)

    def _drop(self, matches: Callable[[Identity], bool]) -> None:
        self._generation += 1
        for token in [t for t, (_, i) in self._entries.items() if matches(i)]:
            del self._entries[token]
