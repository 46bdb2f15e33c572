"""Requests/s of an authenticated GraphQL `me` against a bare Starlette app of its own.

The baseline is a bare Starlette JSON endpoint served alone by a uvicorn process with the
options `crontopus-server serve` uses (`loopback.bare_process`); Crontopus (SQLite) is served
by another such process, which also carries the same bare route behind its mount and
middleware (the second, in-process line). Each is loaded with `wrk` from a second process over
loopback with the same settings (a Python load generator would saturate first on 2 cores).

    .venv/bin/python benchmarks/graphql_overhead.py [--seconds 10] [--connections 32]

Target: GraphQL `me` at least 0.20 of the bare process's rate.
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
from loopback import bare_process, free_port, run_server, wait_healthy, wrk
from results import record

PASSWORD = "load-test-secret-42"
ME_QUERY = "query Me { me { user { username } tenant { slug } role } }"


def serve(data_dir: str, port: int) -> None:
    """Child process: Crontopus (with a bare JSON route in its router), under uvicorn."""
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from crontopus.server.app import create_app
    from crontopus.server.db.migrate import upgrade
    from crontopus.server.settings import Settings

    settings = Settings.from_env({"CRONTOPUS_DATA_DIR": data_dir})
    asyncio.run(upgrade(settings.database_url))

    async def bare(request: Request) -> JSONResponse:
        payload = await request.json()
        return JSONResponse({"data": {"echo": payload.get("query", "")[:10]}})

    app = create_app(settings)
    # The second, in-process line: the bare route inside Crontopus' own router, behind its
    # middleware. The app is otherwise served exactly as `crontopus-server serve` serves it
    # (no wrapper around it), so GraphQL requests take the production path.
    app.router.routes.insert(0, Route("/bare/", bare, methods=["POST"]))
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

    body = {"query": ME_QUERY}
    plain = {"Content-Type": "application/json", "Authorization": "Bearer unused"}
    with bare_process() as served:
        post_json(f"{served.url}/", body, plain, 2, args.connections)  # warm-up
        bare = post_json(f"{served.url}/", body, plain, args.seconds, args.connections)

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

        post_json(f"{url}/bare/", body, headers, 2, args.connections)  # warm-up
        inside = post_json(f"{url}/bare/", body, headers, args.seconds, args.connections)
        post_json(f"{url}/graphql", body, headers, 2, args.connections)  # warm-up
        graphql = post_json(f"{url}/graphql", body, headers, args.seconds, args.connections)
    finally:
        child.terminate()
        child.wait()
        shutil.rmtree(data_dir, ignore_errors=True)

    ratio = graphql / bare
    print(f"bare Starlette, own process : {bare:10.0f} requests/s  (the baseline)")
    print(f"bare route inside Crontopus : {inside:10.0f} requests/s  (same process and middleware)")
    print(f"GraphQL me (JWT, SQLite)    : {graphql:10.0f} requests/s")
    verdict = "met" if ratio >= 0.2 else "MISSED"
    print(f"ratio to the bare process   : {ratio:10.3f}  (target >= 0.20: {verdict})")
    print(f"ratio to the in-process route: {graphql / inside:9.3f}")
    record(
        "graphql_overhead.py",
        f"authenticated `me` over HTTP ({args.connections} connections)",
        ">= 0.20 of bare",
        f"{graphql:,.0f}/s, {ratio:.3f} of bare ({bare:,.0f}/s; in-process route {inside:,.0f}/s)",
        ratio >= 0.2,
    )


if __name__ == "__main__":
    main()
