"""The identity cache: one database lookup per token and expiry, never a stale credential."""

from __future__ import annotations

import asyncio
import uuid

from crontopus.server.db.models import Role
from crontopus.server.db.types import utcnow
from crontopus.server.errors import AuthenticationFailed
from crontopus.server.security.identity_cache import Identity, IdentityCache, TenantView
from crontopus.server.security.principal import Principal, PrincipalKind
from crontopus.server.security.tokens import digest as token_digest_of


def _identity(digest: str = "d1") -> Identity:
    tenant = TenantView(uuid.uuid4(), "ops", "Ops")
    principal = Principal(PrincipalKind.API_TOKEN, tenant.id, tenant.slug, Role.MEMBER)
    return Identity(principal, None, tenant, token_digest=digest)


class Lookup:
    """A database lookup that answers when the test releases it, counting its calls."""

    def __init__(self, identity: Identity | None = None, error: Exception | None = None) -> None:
        self.identity = identity or _identity()
        self.error = error
        self.calls = 0
        self.release = asyncio.Event()

    async def __call__(self) -> tuple[Identity, float | None]:
        self.calls += 1
        await self.release.wait()
        if self.error is not None:
            raise self.error
        return self.identity, None


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_concurrent_requests_with_one_token_share_one_lookup() -> None:
    cache, lookup = IdentityCache(ttl=5), Lookup()
    callers = [asyncio.create_task(cache.resolve("tok", lookup)) for _ in range(64)]
    await _settle()
    lookup.release.set()
    identities = await asyncio.gather(*callers)
    assert lookup.calls == 1
    assert all(identity is lookup.identity for identity in identities)
    assert cache.get("tok") is lookup.identity


async def test_a_failed_lookup_reaches_every_waiting_caller_and_caches_nothing() -> None:
    cache = IdentityCache(ttl=5)
    lookup = Lookup(error=AuthenticationFailed("invalid or expired token"))
    callers = [asyncio.create_task(cache.resolve("tok", lookup)) for _ in range(3)]
    await _settle()
    lookup.release.set()
    results = await asyncio.gather(*callers, return_exceptions=True)
    assert lookup.calls == 1
    assert all(isinstance(result, AuthenticationFailed) for result in results)
    assert cache.get("tok") is None


async def test_a_token_revoked_during_its_lookup_is_not_cached() -> None:
    cache, lookup = IdentityCache(ttl=5), Lookup(_identity("revoked"))
    caller = asyncio.create_task(cache.resolve("tok", lookup))
    await _settle()
    cache.forget_token("revoked")  # the revocation commits while the lookup reads
    lookup.release.set()
    await caller
    assert cache.get("tok") is None


async def test_with_caching_off_every_request_looks_its_token_up() -> None:
    cache, lookup = IdentityCache(ttl=0), Lookup()
    lookup.release.set()
    for _ in range(3):
        await cache.resolve("tok", lookup)
    assert lookup.calls == 3
    assert cache.get("tok") is None


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _endpoint(tenant: TenantView, digest: str) -> Identity:
    principal = Principal(
        PrincipalKind.ENDPOINT, tenant.id, tenant.slug, Role.VIEWER, endpoint_id=uuid.uuid4()
    )
    return Identity(principal, None, tenant, token_digest=digest)


async def test_a_token_whose_channel_stands_is_answered_from_it_with_its_tenant_read_lately() -> (
    None
):
    clock, tenant = Clock(), TenantView(uuid.uuid4(), "ops", "Ops")
    cache = IdentityCache(ttl=5, clock=clock)
    agent = _endpoint(tenant, token_digest_of("agent-token"))
    cache.stand(agent.token_digest or "", lambda: agent)
    # No fresh reading of the tenant yet: the database answers (and the tenant is read).
    lookup = Lookup(_endpoint(tenant, "other"))
    lookup.release.set()
    await cache.resolve("other-token", lookup)
    assert lookup.calls == 1
    clock.now = 4.0
    suspended = TenantView(tenant.id, "ops", "Ops", suspended_at=utcnow())
    lookup = Lookup(_endpoint(suspended, "x"))
    found = await cache.resolve("agent-token", lookup)
    assert lookup.calls == 0
    assert found.principal == agent.principal
    assert found.tenant is tenant
    # Cached no longer than the tenant's reading stays fresh; then the database is asked.
    clock.now = 5.5
    lookup.release.set()
    assert (await cache.resolve("agent-token", lookup)).tenant == suspended
    assert lookup.calls == 1


async def test_a_channel_stops_answering_once_it_lapsed_closed_or_its_token_was_revoked() -> None:
    clock, tenant = Clock(), TenantView(uuid.uuid4(), "ops", "Ops")
    cache = IdentityCache(ttl=5, clock=clock)
    cache.put("someone", _endpoint(tenant, "someone"))  # the tenant was read just now
    agent = _endpoint(tenant, token_digest_of("agent-token"))
    digest = agent.token_digest or ""
    standing: list[Identity | None] = [agent]

    def current() -> Identity | None:
        return standing[0]

    async def resolve() -> int:
        cache._entries.pop("agent-token", None)  # every call a miss
        lookup = Lookup(agent)
        lookup.release.set()
        await cache.resolve("agent-token", lookup)
        return lookup.calls

    cache.stand(digest, current)
    assert await resolve() == 0
    standing[0] = None  # the socket's credential lapsed
    assert await resolve() == 1
    standing[0] = agent
    cache.sit(digest, lambda: agent)  # another channel's closing leaves this one standing
    assert await resolve() == 0
    cache.forget_token(digest)
    assert await resolve() == 1
    cache.stand(digest, current)
    cache.sit(digest, current)
    assert await resolve() == 1
    cache.stand(digest, current)
    cache.forget_tenant(tenant.id)  # suspended or resumed here: read it again
    assert await resolve() == 1


async def test_no_channel_answers_when_caching_is_off() -> None:
    tenant = TenantView(uuid.uuid4(), "ops", "Ops")
    cache = IdentityCache(ttl=0)
    agent = _endpoint(tenant, token_digest_of("agent-token"))
    cache.stand(agent.token_digest or "", lambda: agent)
    cache.put("someone", _endpoint(tenant, "someone"))
    lookup = Lookup(agent)
    lookup.release.set()
    await cache.resolve("agent-token", lookup)
    assert lookup.calls == 1
