"""Shared pieces of the benchmarks: a free loopback port, a health wait, `wrk` runs, and the
bare Starlette baseline served by a process of its own.

    .venv/bin/python benchmarks/loopback.py --bare DATA_DIR PORT   (what bare_process runs)
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_healthy(url: str, seconds: float = 90) -> None:
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


def cpu_seconds(pid: int) -> float:
    """Return the CPU time (user + system) a process has used so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Served:
    """A server process under test: where it listens and its process id (for its CPU time)."""

    url: str
    pid: int


def bare_app() -> Any:
    """Return the baseline: a bare Starlette app that parses a JSON body and answers JSON."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, PlainTextResponse
    from starlette.routing import Route

    async def echo(request: Request) -> JSONResponse:
        payload = await request.json()
        return JSONResponse({"ok": True, "rid": request.query_params.get("rid"), "n": len(payload)})

    async def health(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    return Starlette(
        routes=[Route("/health", health), Route("/{path:path}", echo, methods=["POST"])]
    )


def serve_bare(data_dir: str, port: int) -> None:
    """Child process: the bare app with the uvicorn options `crontopus-server serve` uses."""
    from crontopus.server.settings import Settings

    run_server(bare_app(), Settings.from_env({"CRONTOPUS_DATA_DIR": data_dir}), port)


@contextmanager
def bare_process() -> Iterator[Served]:
    """Serve the bare baseline from a process of its own; yield its URL and process id."""
    data_dir = tempfile.mkdtemp(prefix="crontopus-bare-")
    port = free_port()
    child = subprocess.Popen([sys.executable, __file__, "--bare", data_dir, str(port)])
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url)
        yield Served(url, child.pid)
    finally:
        child.terminate()
        child.wait()
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--bare"] and len(sys.argv) == 4:
        serve_bare(sys.argv[2], int(sys.argv[3]))
    else:
        raise SystemExit(__doc__)
