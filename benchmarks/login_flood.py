"""Event-loop lag of a server under a login flood, with argon2 in its threads and on the loop.

Crontopus is served by uvicorn on a loopback port, in a thread whose event loop a probe
task measures (how late a 10 ms sleep wakes). A separate process sends a burst of logins
with wrong passwords (rate limits off, so each one is an argon2 verification). The baseline
is the same server with argon2 run on the event loop, as a server without the hashing pool
would; both run in this process, one after the other.

    .venv/bin/python benchmarks/login_flood.py [--logins 80]

Target: at most 50 ms of event-loop lag at the 99th percentile during the flood.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import uvicorn
from loopback import free_port
from results import record

TICK = 0.01
PASSWORD = "correct horse battery staple"
FLOOD = """
import asyncio, sys
import httpx

LOGIN = "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { __typename }}"

async def main(url: str, count: int) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=600) as client:
        async def one(n: int) -> None:
            body = {"query": LOGIN, "variables": {"u": "bench", "p": f"wrong-{n}-password"}}
            (await client.post("/graphql", json=body)).raise_for_status()
        await asyncio.gather(*(one(n) for n in range(count)))

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


class ProbedServer(threading.Thread):
    """uvicorn serving Crontopus in this thread's event loop, which a probe task times."""

    def __init__(self, app: Any, settings: Any) -> None:
        from crontopus.server.serving import uvicorn_options

        super().__init__(daemon=True)
        self.port = free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", **uvicorn_options(settings)
        )
        self.server = uvicorn.Server(config)
        self.lags: list[float] = []
        self.probing = False

    def run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        probe = asyncio.create_task(self._probe())
        await self.server.serve()
        probe.cancel()

    async def _probe(self) -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(TICK)
            if self.probing:
                self.lags.append(time.perf_counter() - started - TICK)


def flood(logins: int, data_dir: str) -> tuple[list[float], float]:
    """Serve a fresh Crontopus and flood it with logins; return the loop's lags, the time."""
    from crontopus.server.app import create_app
    from crontopus.server.db.migrate import upgrade
    from crontopus.server.settings import Settings

    settings = Settings.from_env(
        {
            "CRONTOPUS_DATA_DIR": data_dir,
            "CRONTOPUS_RATE_LIMIT_LOGIN": "off",
            "CRONTOPUS_RATE_LIMIT_LOGIN_ADDRESS": "off",
            "CRONTOPUS_RATE_LIMIT_MUTATIONS": "off",
        }
    )
    asyncio.run(upgrade(settings.database_url))
    server = ProbedServer(create_app(settings), settings)
    server.start()
    url = f"http://127.0.0.1:{server.port}"
    try:
        while not server.server.started:
            time.sleep(0.05)
        register = (
            'mutation($p: String!) { register(username: "bench", email: "bench@example.com", '
            "password: $p) { __typename } }"
        )
        httpx.post(f"{url}/graphql", json={"query": register, "variables": {"p": PASSWORD}})
        server.probing = True
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", FLOOD, url, str(logins)], check=True)
        took = time.perf_counter() - started
        server.probing = False
    finally:
        server.server.should_exit = True
        server.join(timeout=60)
    return sorted(server.lags), took


def report(label: str, lags: list[float], took: float, logins: int) -> float:
    p99 = lags[int(len(lags) * 0.99)]
    print(
        f"{label}: lag median {statistics.median(lags) * 1000:6.1f} ms, "
        f"p99 {p99 * 1000:6.1f} ms, max {lags[-1] * 1000:6.1f} ms; "
        f"{logins / took:5.1f} logins/s"
    )
    return p99


def main(logins: int) -> None:
    from crontopus.server.security import passwords

    threaded: Callable[..., Any] = passwords._off_the_loop

    async def on_the_loop(work: Callable[..., Any], *args: str) -> Any:
        return work(*args)

    with tempfile.TemporaryDirectory() as first, tempfile.TemporaryDirectory() as second:
        passwords._off_the_loop = on_the_loop
        try:
            baseline = report("argon2 on the event loop (baseline)", *flood(logins, first), logins)
        finally:
            passwords._off_the_loop = threaded
        pooled = report(
            f"argon2 in {passwords.HASHING_THREADS} hashing threads", *flood(logins, second), logins
        )
    print(f"p99 lag with the hashing threads / on the loop: {pooled / baseline:.3f}")
    record(
        "login_flood.py",
        f"event-loop lag during a flood of {logins} logins",
        "<= 50 ms p99",
        f"p99 {pooled * 1000:.1f} ms (argon2 on the loop: {baseline * 1000:.1f} ms)",
        pooled <= 0.050,
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logins", type=int, default=80)
    main(parser.parse_args().logins)
