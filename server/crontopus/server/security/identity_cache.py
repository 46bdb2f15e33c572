"""A short-lived, in-process cache of authenticated identities.

Resolving a credential costs a signature check and a database round trip; on a busy
server the same token arrives many times a second. Entries live at most `ttl` seconds
(and never past the token's own expiry) and are dropped at once in this process when a
membership is removed, a token revoked or a session ended. Other server processes notice
within `ttl`.

When an entry expires on a busy server, every request carrying that token misses at once;
`resolve` lets one of them ask the database while the others wait for its answer, so a
popular token costs one lookup per `ttl` instead of one per request in flight.

An agent's endpoint token is seen rarely over HTTP (a check-in every few minutes, a heartbeat
an hour) but it holds a channel open all along, whose credential this process re-checks on its
own (graphql/credentials.py: revocations, replaced tokens and label changes close or relabel the
socket within `ttl`). So a miss for a token that holds a channel here is answered from that
channel (`stand`), with its tenant as this process last read it within `ttl` (suspensions and
quotas are as fresh as for any cached credential); the database is asked only when no channel
stands for the token or no fresh view of its tenant is at hand. Ten thousand agents' check-ins
then cost a database look-up per tenant and `ttl`, not one per check-in.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime

from crontopus.server.security.principal import Principal
from crontopus.server.security.tokens import digest as token_digest_of
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
        #: The current identity of each endpoint token that holds a channel here, by digest.
        self._standing: dict[str, Callable[[], Identity | None]] = {}
        #: Each tenant as last read with a credential, and until when that reading is fresh.
        self._tenants: dict[uuid.UUID, tuple[float, TenantView]] = {}

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
        if (standing := self._from_channel(token)) is not None:
            return standing

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
        self._keep(token, expires, identity)
        self._tenants[identity.tenant.id] = (self._clock() + self._ttl, identity.tenant)

    def _keep(self, token: str, expires: float, identity: Identity) -> None:
        self._entries[token] = (expires, identity)
        if len(self._entries) > self._maxsize:
            self._entries.popitem(last=False)

    def stand(self, token_digest: str, current: Callable[[], Identity | None]) -> None:
        """Answer misses for the token with this digest from its channel: `current()` returns
        the channel's identity while its credential stands, None once it lapsed."""
        self._standing[token_digest] = current

    def sit(self, token_digest: str, current: Callable[[], Identity | None]) -> None:
        """The channel that `stand` registered closed (another may stand for the token now)."""
        if self._standing.get(token_digest) == current:
            del self._standing[token_digest]

    def _from_channel(self, token: str) -> Identity | None:
        if not self._standing:
            return None
        current = self._standing.get(token_digest_of(token))
        identity = current() if current is not None else None
        if identity is None:
            return None
        entry = self._tenants.get(identity.tenant.id)
        if entry is None or entry[0] <= self._clock():
            return None  # the tenant is read again with the credential, from the database
        identity = replace(identity, tenant=entry[1])
        # Cached no longer than the tenant's reading is fresh (and without refreshing it).
        self._keep(token, min(entry[0], self._clock() + self._ttl), identity)
        return identity

    def forget_member(self, user_id: uuid.UUID, tenant_id: uuid.UUID) -> None:
        """Drop every cached credential of a user in a tenant (membership changed)."""
        self._drop(lambda i: i.principal.user_id == user_id and i.principal.tenant_id == tenant_id)

    def forget_tenant(self, tenant_id: uuid.UUID) -> None:
        """Drop every cached credential of a tenant (suspended, resumed, quotas changed)."""
        self._tenants.pop(tenant_id, None)
        self._drop(lambda i: i.tenant.id == tenant_id)

    def forget_user(self, user_id: uuid.UUID) -> None:
        """Drop every cached credential of a user in every tenant (operator rights changed)."""
        self._drop(lambda i: i.principal.user_id == user_id)

    def forget_token(self, digest: str) -> None:
        """Drop a revoked opaque token (its channel, if any, no longer answers for it)."""
        self._standing.pop(digest, None)
        self._drop(lambda i: i.token_digest == digest)

    def forget_session(self, session_id: uuid.UUID) -> None:
        """Drop the access tokens of an ended login session."""
        self._drop(lambda i: i.session_id == session_id)

    def _drop(self, matches: Callable[[Identity], bool]) -> None:
        self._generation += 1
        for token in [t for t, (_, i) in self._entries.items() if matches(i)]:
            del self._entries[token]
