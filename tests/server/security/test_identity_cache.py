"""The identity cache: one database lookup per token and expiry, never a stale credential."""

from __future__ import annotations

import asyncio
import uuid

from crontopus.server.db.models import Role
from crontopus.server.errors import AuthenticationFailed
from crontopus.server.security.identity_cache import Identity, IdentityCache, TenantView
from crontopus.server.security.principal import Principal, PrincipalKind


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
