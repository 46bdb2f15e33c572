"""Requests/s of an authenticated GraphQL `me` against a bare Starlette JSON endpoint.

Both are served by one uvicorn process built the same way as `crontopus-server serve`
(one event loop, the same HTTP implementation), on SQLite, and loaded with `wrk` from a
second process over loopback (a Python load generator would saturate first on 2 cores).

    .venv/bin/python benchmarks/graphql_overhead.py [--seconds 10] [--connections 32]

Target: GraphQL `me` at least 0.20 of the bare endpoint's rate.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping

import httpx

PASSWORD = "load-test-secret-42"
ME_QUERY = "query Me { me { user { username } tenant { slug } role } }"


def serve(data_dir: str, port: int) -> None:
    """Child process: the Crontopus app plus a bare JSON route, under uvicorn."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Mount, Route

    from crontopus.server.app import create_app
    from crontopus.server.db.migrate import upgrade
    from crontopus.server.settings import Settings

    settings = Settings.from_env({"CRONTOPUS_DATA_DIR": data_dir})
    asyncio.run(upgrade(settings.database_url))

    async def bare(request: Request) -> JSONResponse:
        payload = await request.json()
        return JSONResponse({"data": {"echo": payload.get("query", "")[:10]}})

    crontopus = create_app(settings)
    app = Starlette(
        routes=[Route("/bare", bare, methods=["POST"]), Mount("/", crontopus)],
        lifespan=crontopus.router.lifespan_context,
    )
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_healthy(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise SystemExit("server did not start")


def wrk(
    url: str, body: Mapping[str, object], headers: Mapping[str, str], seconds: int, connections: int
) -> float:
    lua = ["wrk.method = 'POST'", f"wrk.body = {json.dumps(json.dumps(body))}"]
    lua += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write("\n".join(lua) + "\n")
    try:
        output = subprocess.run(
            ["wrk", "-t", "1", "-c", str(connections), "-d", f"{seconds}s", "-s", script.name, url],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    finally:
        os.unlink(script.name)
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if match is None or errors is not None:
        raise SystemExit(f"wrk failed or saw errors:\n{output}")
    return float(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--serve", nargs=2, metavar=("DATA_DIR", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], int(args.serve[1]))
        return
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")

    data_dir = tempfile.mkdtemp(prefix="crontopus-bench-")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    child = subprocess.Popen([sys.executable, __file__, "--serve", data_dir, str(port)])
    try:
        wait_healthy(url)
        registered = httpx.post(
            f"{url}/graphql",
            json={
                "query": 'mutation($p: String!) { register(username: "bench", '
                'email: "bench@example.com", password: $p) '
                "{ ... on AuthPayload { accessToken } } }",
                "variables": {"p": PASSWORD},
            },
        ).json()
        token = registered["data"]["register"]["accessToken"]
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        check = httpx.post(f"{url}/graphql", json={"query": ME_QUERY}, headers=headers).json()
        assert check["data"]["me"]["user"]["username"] == "bench", check

        body = {"query": ME_QUERY}
        wrk(f"{url}/bare", body, headers, 2, args.connections)  # warm-up
        bare = wrk(f"{url}/bare", body, headers, args.seconds, args.connections)
        wrk(f"{url}/graphql", body, headers, 2, args.connections)  # warm-up
        graphql = wrk(f"{url}/graphql", body, headers, args.seconds, args.connections)
    finally:
        child.terminate()
        child.wait()
        shutil.rmtree(data_dir, ignore_errors=True)

    ratio = graphql / bare
    print(f"bare Starlette POST+JSON : {bare:10.0f} requests/s")
    print(f"GraphQL me (JWT, SQLite) : {graphql:10.0f} requests/s")
    verdict = "met" if ratio >= 0.2 else "MISSED"
    print(f"ratio                    : {ratio:10.3f}  (target >= 0.20: {verdict})")


if __name__ == "__main__":
    main()
