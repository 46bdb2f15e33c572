"""Rate limits: token buckets per (limit, key), in this process or shared through PostgreSQL.

One mechanism serves every limit (sign-ups, enrollments, logins, check-ins, mutations).
A bucket holds up to `Rate.count` tokens and refills evenly over `Rate.seconds`; each
attempt takes a token, and an empty bucket answers how long until the next one.

With several server processes the buckets live in PostgreSQL (`PostgresBuckets`): one
atomic upsert takes tokens, so a limit holds across processes. Busy buckets (check-ins of
a tenant, mutations of an agent) take a small lease of tokens per round trip and spend
it locally; a process holds at most a fiftieth of a bucket, which bounds how far the
processes together can overshoot.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import hashlib
import itertools
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from crontopus.server.availability import unavailability
from crontopus.server.errors import RateLimited
from crontopus.server.settings import Rate, RateLimits, RateLimitStore, Settings

MAX_TRACKED_BUCKETS = 100_000
PRUNE_EVERY = 60.0
LEASE_FRACTION = 50
#: Keys up to this long (a UUID, an IP address) name their bucket as they are.
MAX_PLAIN_KEY = 60


class Limit(enum.Enum):
    """What is limited, and per what."""

    REGISTER = "register"  # sign-ups per client address
    ENROLL = "enroll"  # endpoint enrollments per client address
    LOGIN = "login"  # login attempts per (account, client address)
    LOGIN_ADDRESS = "login-address"  # login attempts per client address
    CHECKIN = "checkin"  # check-ins per tenant
    MUTATION = "mutation"  # GraphQL mutations per principal (or address when anonymous)
    PASSWORD_RESET = "password-reset"  # password-reset requests per client address

    @property
    def setting(self) -> str:
        return (
            "CRONTOPUS_RATE_LIMIT_"
            + {
                Limit.REGISTER: "REGISTER",
                Limit.ENROLL: "ENROLL",
                Limit.LOGIN: "LOGIN",
                Limit.LOGIN_ADDRESS: "LOGIN_ADDRESS",
                Limit.CHECKIN: "CHECKINS",
                Limit.MUTATION: "MUTATIONS",
                Limit.PASSWORD_RESET: "PASSWORD_RESET",
            }[self]
        )

    @property
    def what(self) -> str:
        return {
            Limit.REGISTER: "sign-ups from your address",
            Limit.ENROLL: "enrollments from your address",
            Limit.LOGIN: "login attempts for this account from your address",
            Limit.LOGIN_ADDRESS: "login attempts from your address",
            Limit.CHECKIN: "check-ins for this tenant",
            Limit.MUTATION: "changes (mutations) by you",
            Limit.PASSWORD_RESET: "password-reset requests from your address",
        }[self]

    def rate(self, rates: RateLimits) -> Rate | None:
        return {
            Limit.REGISTER: rates.register,
            Limit.ENROLL: rates.enroll,
            Limit.LOGIN: rates.login,
            Limit.LOGIN_ADDRESS: rates.login_address,
            Limit.CHECKIN: rates.checkins,
            Limit.MUTATION: rates.mutations,
            Limit.PASSWORD_RESET: rates.password_reset,
        }[self]


@dataclass(frozen=True)
class Grant:
    """What one take from a bucket got."""

    tokens: int  # how many tokens were granted (0: the bucket is empty)
    wait: float  # seconds until the next token, when none was granted


class Buckets(Protocol):
    """Where the buckets live."""

    #: Whether takes should lease several tokens at once (a round trip costs).
    leases: bool

    async def take(self, bucket: str, rate: Rate, want: int) -> Grant:
        """Take up to `want` tokens (at least one, or none and say how long to wait)."""

    async def forget(self, bucket: str) -> None:
        """Refill a bucket completely (a successful login forgives earlier failures)."""


class MemoryBuckets:
    """Buckets in this process's memory."""

    leases = False

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        # bucket -> (tokens, refilled at, full at)
        self._buckets: dict[str, tuple[float, float, float]] = {}

    async def take(self, bucket: str, rate: Rate, want: int) -> Grant:
        now = self._clock()
        tokens, refilled_at, _ = self._buckets.get(bucket, (rate.count, now, now))
        tokens = min(rate.count, tokens + (now - refilled_at) * rate.per_second)
        granted = min(want, math.floor(tokens))
        tokens -= granted
        if len(self._buckets) >= MAX_TRACKED_BUCKETS and bucket not in self._buckets:
            self._forget_full(now)
        self._buckets[bucket] = (tokens, now, now + (rate.count - tokens) / rate.per_second)
        return Grant(granted, 0.0 if granted else (1 - tokens) / rate.per_second)

    def _forget_full(self, now: float) -> None:
        # A flood of distinct keys must not grow memory without bound; a full bucket is
        # the same as no bucket. If too few are full, the oldest tenth goes too, so the
        # next sweep is thousands of new keys away (a sweep per request would be a DoS).
        for bucket in [b for b, (_, _, full_at) in self._buckets.items() if full_at <= now]:
            del self._buckets[bucket]
        excess = len(self._buckets) - MAX_TRACKED_BUCKETS * 9 // 10
        for bucket in list(itertools.islice(self._buckets, max(0, excess))):
            del self._buckets[bucket]

    async def forget(self, bucket: str) -> None:
        self._buckets.pop(bucket, None)


# One statement takes tokens atomically: a new bucket starts full; an existing one is
# refilled for the time since its last take, then gives what it has up to `want`. The SET
# expressions all read the row as it was, so each computes the same refill.
_CAPACITY = "CAST(:capacity AS float8)"
_PER_SECOND = "CAST(:per_second AS float8)"
_WANT = "CAST(:want AS float8)"
_FIRST = "CAST(:first AS float8)"
_NOW = "extract(epoch FROM clock_timestamp())"
_AVAILABLE = (
    f"LEAST({_CAPACITY}, b.tokens"
    f" + GREATEST(0, EXCLUDED.refilled_at - b.refilled_at) * {_PER_SECOND})"
)
_GRANTED = f"LEAST({_WANT}, FLOOR({_AVAILABLE}))"
_LATEST = "GREATEST(EXCLUDED.refilled_at, b.refilled_at)"
# Built from the constant fragments above only, never from input.
_TAKE = text(
    f"""
    INSERT INTO rate_limit_buckets AS b (bucket, tokens, granted, refilled_at, full_at)
    VALUES (
        :bucket, {_CAPACITY} - {_FIRST}, CAST(:first_count AS integer), {_NOW},
        {_NOW} + {_FIRST} / {_PER_SECOND}
    )
    ON CONFLICT (bucket) DO UPDATE SET
        granted = {_GRANTED},
        tokens = {_AVAILABLE} - {_GRANTED},
        refilled_at = {_LATEST},
        full_at = {_LATEST} + ({_CAPACITY} - ({_AVAILABLE} - {_GRANTED})) / {_PER_SECOND}
    RETURNING granted, tokens
    """  # noqa: S608
)
_FORGET = text("DELETE FROM rate_limit_buckets WHERE bucket = :bucket")
_PRUNE = text(
    "DELETE FROM rate_limit_buckets WHERE full_at < extract(epoch FROM clock_timestamp())"
)


class PostgresBuckets:
    """Buckets in the `rate_limit_buckets` table, shared by every server process."""

    leases = True

    def __init__(self, engine: AsyncEngine, clock: Callable[[], float] = time.monotonic) -> None:
        self._engine = engine
        self._clock = clock
        self._pruned_at = clock()

    async def take(self, bucket: str, rate: Rate, want: int) -> Grant:
        with _database_away_is_unavailable():
            return await self._take(bucket, rate, want)

    async def _take(self, bucket: str, rate: Rate, want: int) -> Grant:
        params = {
            "bucket": bucket,
            "capacity": float(rate.count),
            "first": float(min(want, rate.count)),
            "first_count": min(want, rate.count),
            "want": float(want),
            "per_second": rate.per_second,
        }
        async with self._engine.begin() as connection:
            granted, tokens = (await connection.execute(_TAKE, params)).one()
            if self._clock() - self._pruned_at > PRUNE_EVERY:
                # Full buckets carry no information: drop them so the table stays small.
                self._pruned_at = self._clock()
                await connection.execute(_PRUNE)
        granted = int(granted)
        return Grant(granted, 0.0 if granted else (1 - tokens) / rate.per_second)

    async def forget(self, bucket: str) -> None:
        with _database_away_is_unavailable():
            async with self._engine.begin() as connection:
                await connection.execute(_FORGET, {"bucket": bucket})


@contextlib.contextmanager
def _database_away_is_unavailable() -> Iterator[None]:
    # A database that is away answers like everywhere else (503 / UNAVAILABLE), not a 500.
    try:
        yield
    except Exception as error:
        problem = unavailability(error)
        if problem is None:
            raise
        raise problem from error


class RateLimiter:
    """Checks every rate limit of one server process against its buckets."""

    def __init__(self, rates: RateLimits, buckets: Buckets) -> None:
        self.rates = rates
        self._buckets = buckets
        # Looked up on every check-in: resolved once here.
        self._rate = {limit: limit.rate(rates) for limit in Limit}
        # Tokens this process took from shared buckets but has not spent yet.
        self._leased: dict[str, int] = {}
        # One lease request per bucket at a time: a burst of concurrent takes would otherwise
        # each lease a fiftieth of the bucket at once and drain it far below its rate.
        self._leasing: dict[str, asyncio.Lock] = {}

    async def take(self, limit: Limit, key: str) -> None:
        """Spend one token of `limit` for `key`; raise RateLimited when there is none."""
        rate = self._rate[limit]
        if rate is None:
            return
        bucket = bucket_name(limit, key)
        if self._leased.get(bucket, 0) > 0:
            self._leased[bucket] -= 1
            return
        if not self._buckets.leases:
            self._spend(limit, rate, bucket, await self._buckets.take(bucket, rate, 1))
            return
        if len(self._leasing) >= MAX_TRACKED_BUCKETS:
            for name in [name for name, lock in self._leasing.items() if not lock.locked()]:
                del self._leasing[name]
        async with self._leasing.setdefault(bucket, asyncio.Lock()):
            if self._leased.get(bucket, 0) > 0:  # the take this one waited for leased enough
                self._leased[bucket] -= 1
                return
            want = max(1, rate.count // LEASE_FRACTION)
            self._spend(limit, rate, bucket, await self._buckets.take(bucket, rate, want))

    def _spend(self, limit: Limit, rate: Rate, bucket: str, grant: Grant) -> None:
        """Spend one token of `grant` and keep the rest leased; raise RateLimited on none."""
        if grant.tokens == 0:
            wait = max(1, math.ceil(grant.wait))
            raise RateLimited(
                f"too many {limit.what} (at most {rate}, set by {limit.setting}); "
                f"try again in {wait} seconds",
                retry_after=wait,
            )
        if grant.tokens > 1:
            if len(self._leased) >= MAX_TRACKED_BUCKETS:
                self._leased.clear()
            self._leased[bucket] = self._leased.get(bucket, 0) + grant.tokens - 1

    def give_back(self, limit: Limit, key: str) -> None:
        """Return a token `take` spent on an attempt that should not count (a good login)."""
        if self._rate[limit] is None:
            return
        bucket = bucket_name(limit, key)
        # Kept by this process: it is spent by its next take for this key.
        self._leased[bucket] = self._leased.get(bucket, 0) + 1

    async def forget(self, limit: Limit, key: str) -> None:
        """Refill the bucket of `limit` for `key`."""
        bucket = bucket_name(limit, key)
        self._leased.pop(bucket, None)
        await self._buckets.forget(bucket)


def bucket_name(limit: Limit, key: str) -> str:
    """The stored name of a bucket; long keys (user input, like a login name) are hashed."""
    if len(key) > MAX_PLAIN_KEY:
        key = "#" + hashlib.blake2b(key.encode(), digest_size=20).hexdigest()
    return f"{limit.value}:{key}"


def create_rate_limiter(settings: Settings, engine: AsyncEngine) -> RateLimiter:
    """The limiter for this process: shared through PostgreSQL when the database is it."""
    store = settings.rate_limits.store
    if store is None:
        postgres = engine.dialect.name == "postgresql"
        store = RateLimitStore.POSTGRES if postgres else RateLimitStore.MEMORY
    buckets: Buckets = (
        PostgresBuckets(engine) if store is RateLimitStore.POSTGRES else MemoryBuckets()
    )
    return RateLimiter(settings.rate_limits, buckets)
