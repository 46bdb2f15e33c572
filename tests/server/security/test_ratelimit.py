"""Token-bucket rate limits, in memory and shared by server processes through PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select, text

from crontopus.server.db.engine import create_engine
from crontopus.server.db.models import RateLimitBucket
from crontopus.server.errors import RateLimited
from crontopus.server.security.ratelimit import (
    Limit,
    MemoryBuckets,
    PostgresBuckets,
    RateLimiter,
    bucket_name,
)
from crontopus.server.settings import Rate, RateLimits
from tests.server.conftest import _truncate


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def takes(limiter: RateLimiter, limit: Limit, key: str, attempts: int) -> int:
    """Try `attempts` times; return how many were allowed."""
    allowed = 0
    for _ in range(attempts):
        try:
            await limiter.take(limit, key)
        except RateLimited:
            continue
        allowed += 1
    return allowed


async def test_a_bucket_allows_its_burst_then_says_when_to_retry() -> None:
    clock = Clock()
    limiter = RateLimiter(RateLimits(register=Rate(10, 3600)), MemoryBuckets(clock))
    assert await takes(limiter, Limit.REGISTER, "192.0.2.1", 60) == 10
    with pytest.raises(RateLimited) as refused:
        await limiter.take(Limit.REGISTER, "192.0.2.1")
    assert refused.value.retry_after == 360
    assert "CRONTOPUS_RATE_LIMIT_REGISTER" in refused.value.message
    assert "at most 10 per hour" in refused.value.message
    await limiter.take(Limit.REGISTER, "192.0.2.2")  # another address has its own bucket
    clock.now += 360
    await limiter.take(Limit.REGISTER, "192.0.2.1")
    with pytest.raises(RateLimited):
        await limiter.take(Limit.REGISTER, "192.0.2.1")


async def test_a_limit_set_to_off_never_refuses() -> None:
    limiter = RateLimiter(RateLimits(register=None), MemoryBuckets(Clock()))
    assert await takes(limiter, Limit.REGISTER, "192.0.2.1", 100) == 100


async def test_forgetting_a_bucket_refills_it_and_a_given_back_token_is_spent_next() -> None:
    limiter = RateLimiter(RateLimits(login=Rate(2, 900)), MemoryBuckets(Clock()))
    assert await takes(limiter, Limit.LOGIN, "alice", 3) == 2
    await limiter.forget(Limit.LOGIN, "alice")
    assert await takes(limiter, Limit.LOGIN, "alice", 3) == 2
    limiter.give_back(Limit.LOGIN, "alice")
    assert await takes(limiter, Limit.LOGIN, "alice", 3) == 1


async def test_memory_stays_bounded_under_a_flood_of_distinct_keys(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import crontopus.server.security.ratelimit as module

    monkeypatch.setattr(module, "MAX_TRACKED_BUCKETS", 100)
    clock = Clock()
    buckets = MemoryBuckets(clock)
    limiter = RateLimiter(RateLimits(register=Rate(10, 60)), buckets)
    for index in range(1000):
        await limiter.take(Limit.REGISTER, f"10.0.{index // 256}.{index % 256}")
        clock.now += 1  # each bucket is full again 6 s after its one take
    assert len(buckets._buckets) <= 101

    for index in range(1000):  # none full again: the oldest go, a tenth at a time
        await limiter.take(Limit.REGISTER, f"10.1.{index // 256}.{index % 256}")
    assert len(buckets._buckets) <= 100


@pytest.fixture
async def postgres_engines(postgres_template: str) -> AsyncIterator[tuple[object, object]]:
    """Two engines on one database: what two server processes hold."""
    await _truncate(postgres_template)
    first, second = create_engine(postgres_template), create_engine(postgres_template)
    yield first, second
    await first.dispose()
    await second.dispose()


async def test_a_limit_holds_across_two_processes_on_postgresql(
    postgres_engines: tuple[object, object],
) -> None:
    rates = RateLimits(register=Rate(10, 3600))
    one, two = (RateLimiter(rates, PostgresBuckets(engine)) for engine in postgres_engines)  # type: ignore[arg-type]
    allowed = await asyncio.gather(
        *(takes(limiter, Limit.REGISTER, "192.0.2.1", 1) for limiter in (one, two) * 30)
    )
    assert sum(allowed) == 10
    with pytest.raises(RateLimited) as refused:
        await two.take(Limit.REGISTER, "192.0.2.1")
    assert 1 <= refused.value.retry_after <= 360
    await one.take(Limit.REGISTER, "192.0.2.2")


async def test_busy_buckets_lease_tokens_and_still_hold_the_limit_on_postgresql(
    postgres_engines: tuple[object, object],
) -> None:
    rates = RateLimits(checkins=Rate(1000, 86400))
    one, two = (RateLimiter(rates, PostgresBuckets(engine)) for engine in postgres_engines)  # type: ignore[arg-type]
    allowed = await asyncio.gather(
        takes(one, Limit.CHECKIN, "tenant", 700), takes(two, Limit.CHECKIN, "tenant", 700)
    )
    assert sum(allowed) == 1000
    await one.take(Limit.CHECKIN, "another tenant")
    engine = postgres_engines[0]
    async with engine.connect() as connection:  # type: ignore[attr-defined]
        stored = await connection.scalar(
            select(RateLimitBucket.tokens).where(
                RateLimitBucket.bucket == bucket_name(Limit.CHECKIN, "another tenant")
            )
        )
    # One take leased a fiftieth of the bucket: the next 19 cost no round trip.
    assert stored == pytest.approx(980, abs=0.1)


async def test_a_burst_of_concurrent_takes_leases_once_instead_of_draining_the_bucket(
    postgres_engines: tuple[object, object],
) -> None:
    # 200 check-ins at once are well inside 6,000 a minute; if each leased its own fiftieth
    # (120 tokens), the first 50 would drain the bucket and the rest would be refused.
    rates = RateLimits(checkins=Rate(6000, 60))
    limiter = RateLimiter(rates, PostgresBuckets(postgres_engines[0]))  # type: ignore[arg-type]
    outcomes = await asyncio.gather(
        *(limiter.take(Limit.CHECKIN, "tenant") for _ in range(200)), return_exceptions=True
    )
    assert [outcome for outcome in outcomes if outcome is not None] == []


async def test_forgetting_and_pruning_remove_rows_on_postgresql(
    postgres_engines: tuple[object, object],
) -> None:
    engine = postgres_engines[0]
    clock = Clock()
    buckets = PostgresBuckets(engine, clock)  # type: ignore[arg-type]
    limiter = RateLimiter(RateLimits(login=Rate(3, 1), register=Rate(3, 3600)), buckets)
    await limiter.take(Limit.LOGIN, "alice")
    await limiter.take(Limit.REGISTER, "192.0.2.1")
    await limiter.take(Limit.REGISTER, "192.0.2.2")
    await limiter.forget(Limit.REGISTER, "192.0.2.2")

    async def rows() -> int:
        async with engine.connect() as connection:  # type: ignore[attr-defined]
            count: int = await connection.scalar(select(func.count()).select_from(RateLimitBucket))
            return count

    assert await rows() == 2
    await asyncio.sleep(0.5)  # the login bucket is full again after a third of a second
    clock.now += 61
    await limiter.take(Limit.REGISTER, "192.0.2.1")
    assert await rows() == 1
    async with engine.connect() as connection:  # type: ignore[attr-defined]
        left = await connection.scalar(text("SELECT bucket FROM rate_limit_buckets"))
    assert left == bucket_name(Limit.REGISTER, "192.0.2.1")
