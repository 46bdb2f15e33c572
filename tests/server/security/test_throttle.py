"""Failed logins are limited per account (15 minutes) and per address (1 minute)."""

from __future__ import annotations

from crontopus.server.security.throttle import MemoryLoginThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_an_account_is_locked_after_ten_failures_for_the_rest_of_the_window() -> None:
    clock = Clock()
    throttle = MemoryLoginThrottle(clock=clock)
    for index in range(10):
        assert await throttle.retry_after("alice", f"10.0.0.{index}") is None
        await throttle.record_failure("alice", f"10.0.0.{index}")
    assert await throttle.retry_after("alice", "10.0.0.99") == 900
    clock.now += 899
    assert await throttle.retry_after("alice", "10.0.0.99") == 1
    clock.now += 1
    assert await throttle.retry_after("alice", "10.0.0.99") is None


async def test_an_address_is_limited_per_minute_across_accounts() -> None:
    clock = Clock()
    throttle = MemoryLoginThrottle(clock=clock)
    for index in range(10):
        await throttle.record_failure(f"user{index}", "192.0.2.1")
    assert await throttle.retry_after("someone-else", "192.0.2.1") == 60
    assert await throttle.retry_after("someone-else", "192.0.2.2") is None
    clock.now += 60
    assert await throttle.retry_after("someone-else", "192.0.2.1") is None


async def test_a_successful_login_clears_the_account_counter() -> None:
    throttle = MemoryLoginThrottle(clock=Clock())
    for _ in range(9):
        await throttle.record_failure("alice", "a")
    await throttle.record_success("alice")
    await throttle.record_failure("alice", "b")
    assert await throttle.retry_after("alice", "c") is None
