"""SingleFlight: concurrent callers of one key share one load, its result and its error."""

from __future__ import annotations

import asyncio

import pytest

from crontopus.server.singleflight import SingleFlight


class Load:
    """A load that finishes when the test releases it, counting its calls."""

    def __init__(self, value: str = "value", error: Exception | None = None) -> None:
        self.value, self.error = value, error
        self.calls = 0
        self.release = asyncio.Event()

    async def __call__(self) -> str:
        self.calls += 1
        await self.release.wait()
        if self.error is not None:
            raise self.error
        return self.value


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_callers_of_one_key_share_one_load() -> None:
    flights: SingleFlight[str, str] = SingleFlight()
    load = Load()
    callers = [asyncio.create_task(flights.run("k", load)) for _ in range(64)]
    await settle()
    load.release.set()
    assert await asyncio.gather(*callers) == ["value"] * 64
    assert load.calls == 1


async def test_different_keys_load_separately() -> None:
    flights: SingleFlight[str, str] = SingleFlight()
    first, second = Load("a"), Load("b")
    callers = [
        asyncio.create_task(flights.run("a", first)),
        asyncio.create_task(flights.run("b", second)),
    ]
    await settle()
    first.release.set()
    second.release.set()
    assert await asyncio.gather(*callers) == ["a", "b"]


async def test_a_failed_load_reaches_every_waiting_caller_and_the_next_call_loads_again() -> None:
    flights: SingleFlight[str, str] = SingleFlight()
    load = Load(error=LookupError("gone"))
    callers = [asyncio.create_task(flights.run("k", load)) for _ in range(3)]
    await settle()
    load.release.set()
    results = await asyncio.gather(*callers, return_exceptions=True)
    assert all(isinstance(result, LookupError) for result in results)
    assert load.calls == 1
    again = Load("fresh")
    again.release.set()
    assert await flights.run("k", again) == "fresh"


async def test_callers_waiting_on_a_cancelled_load_load_again_themselves() -> None:
    flights: SingleFlight[str, str] = SingleFlight()
    first, second = Load(), Load("second")
    loader = asyncio.create_task(flights.run("k", first))
    await settle()
    waiter = asyncio.create_task(flights.run("k", second))
    await settle()
    loader.cancel()
    await settle()
    second.release.set()
    assert await waiter == "second"
    assert (first.calls, second.calls) == (1, 1)
    with pytest.raises(asyncio.CancelledError):
        await loader


async def test_a_cancelled_waiter_leaves_the_load_running_for_the_others() -> None:
    flights: SingleFlight[str, str] = SingleFlight()
    load = Load()
    loader = asyncio.create_task(flights.run("k", load))
    await settle()
    waiter = asyncio.create_task(flights.run("k", load))
    await settle()
    waiter.cancel()
    load.release.set()
    assert await loader == "value"
    assert load.calls == 1
    with pytest.raises(asyncio.CancelledError):
        await waiter
