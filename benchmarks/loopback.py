"""Shared pieces of the benchmarks: a free loopback port, a health wait, and `wrk` runs."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import tempfile
import time
from typing import Any

import httpx


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_healthy(url: str, seconds: float = 30) -> None:
    """Wait until a Crontopus server answers /health, or give up."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise SystemExit(f"the server at {url} did not start within {seconds:.0f} s")


def run_server(app: Any, settings: Any, port: int) -> None:
    """Serve `app` on 127.0.0.1:`port` the way `crontopus-server serve` runs (blocks)."""
    import uvicorn

    from crontopus.server.serving import prepare_process, uvicorn_options

    prepare_process()
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        **uvicorn_options(settings),
    )


def wrk(url: str, lua: str, seconds: int, connections: int) -> tuple[float, int]:
    """Load `url` with wrk (one thread) driven by a Lua script; return requests/s and count.

    Any non-2xx answer fails the benchmark: a figure that includes errors means nothing.
    """
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(lua)
    try:
        command = ["wrk", "-t", "1", "-c", str(connections), "-d", f"{seconds}s"]
        output = subprocess.run(
            [*command, "-s", script.name, url], capture_output=True, text=True, check=True
        ).stdout
    finally:
        os.unlink(script.name)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in", output)
    if rate is None or total is None or "Non-2xx" in output:
        raise SystemExit(f"wrk failed or saw errors:\n{output}")
    return float(rate.group(1)), int(total.group(1))
