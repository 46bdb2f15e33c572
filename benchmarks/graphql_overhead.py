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
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping

import httpx
from loopback import free_port, run_server, wait_healthy, wrk

PASSWORD = "load-test-secret-42"
ME_QUERY = "query Me { me { user { username } tenant { slug } role } }"


def serve(data_dir: str, port: int) -> None:
    """Child process: the Crontopus app plus a bare JSON route, under uvicorn."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Mount, Route

    from crontopus.server.app import create_app
    from crontopus.server.db.migrate import upgrade
    from crontopus.server.observability.logging import RequestIdMiddleware
    from crontopus.server.settings import Settings

    settings = Settings.from_env({"CRONTOPUS_DATA_DIR": data_dir})
    asyncio.run(upgrade(settings.database_url))

    async def bare(request: Request) -> JSONResponse:
        payload = await request.json()
        return JSONResponse({"data": {"echo": payload.get("query", "")[:10]}})

    crontopus = create_app(settings)
    app = Starlette(
        # The bare endpoint sits behind the same mount and middleware as the Crontopus app,
        # so the ratio measures GraphQL and ingest, not routing layers.
        routes=[
            Mount(
                "/bare",
                app=Starlette(
                    routes=[Route("/", bare, methods=["POST"])],
                    middleware=[Middleware(RequestIdMiddleware)],
                ),
            ),
            Mount("/", crontopus),
        ],
        lifespan=crontopus.router.lifespan_context,
    )
    # The process runs as `crontopus-server serve` runs it; the bare route shares it.
    run_server(app, settings, port)


def post_json(
    url: str, body: Mapping[str, object], headers: Mapping[str, str], seconds: int, connections: int
) -> float:
    lua = ["wrk.method = 'POST'", f"wrk.body = {json.dumps(json.dumps(body))}"]
    lua += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()]
    rate, _ = wrk(url, "\n".join(lua) + "\n", seconds, connections)
    return rate


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
        post_json(f"{url}/bare/", body, headers, 2, args.connections)  # warm-up
        bare = post_json(f"{url}/bare/", body, headers, args.seconds, args.connections)
        post_json(f"{url}/graphql", body, headers, 2, args.connections)  # warm-up
        graphql = post_json(f"{url}/graphql", body, headers, args.seconds, args.connections)
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
