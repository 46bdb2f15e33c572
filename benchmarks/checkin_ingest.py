"""Durable HTTP check-ins per second, against a bare Starlette POST+JSON endpoint.

One uvicorn process serves Crontopus (SQLite, the default) and a bare route that parses
a JSON body and answers; `wrk` drives both from a second process over loopback, each
request carrying a fresh run UUID (a Lua script), so every request stores a new run.
Every 2xx answer means the run was committed (group commit), and the script checks the
stored count against wrk's request count at the end.

    .venv/bin/python benchmarks/checkin_ingest.py [--seconds 10] [--connections 64]
        [--database-url postgresql://…]

Targets: at least 10,000 check-ins/s on SQLite and at least 0.35 of the bare endpoint.
`--database-url` measures another database (an empty one: the script migrates it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import httpx
import sqlalchemy
from loopback import free_port, run_server, wait_healthy, wrk

PASSWORD = "load-test-secret-42"

LUA = """
local counter = 0
local prefix = ""
setup = function(thread)
  thread:set("prefix", string.format("%08x", math.random(0, 0x7fffffff)))
end
init = function(args)
  prefix = string.format("%08x", math.random(0, 0x7fffffff))
end
request = function()
  counter = counter + 1
  local rid = string.format("%s-0000-4000-8000-%012x", prefix, counter)
  return wrk.format("POST", "{path}?rid=" .. rid, nil, {body})
end
"""


def serve(data_dir: str, port: int, database_url: str | None) -> None:
    """Child process: Crontopus plus a bare JSON route, under uvicorn."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Mount, Route

    from crontopus.server.app import create_app
    from crontopus.server.db.migrate import upgrade
    from crontopus.server.observability.logging import RequestIdMiddleware
    from crontopus.server.settings import Settings

    # One tenant sends thousands a second here: a rate far above that keeps the limiter's
    # bookkeeping in the measured path without refusing anything.
    env = {"CRONTOPUS_DATA_DIR": data_dir, "CRONTOPUS_RATE_LIMIT_CHECKINS": "10000000/minute"}
    if database_url:
        env["CRONTOPUS_DATABASE_URL"] = database_url
    settings = Settings.from_env(env)
    asyncio.run(upgrade(settings.database_url))

    async def bare(request: Request) -> JSONResponse:
        payload = await request.json()
        return JSONResponse(
            {"ok": True, "runId": request.query_params.get("rid"), "n": len(payload)}
        )

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


def checkins(
    url: str, path: str, body: str | None, token: str, seconds: int, connections: int
) -> tuple[float, int]:
    script = LUA.replace("{path}", path).replace("{body}", json.dumps(body) if body else "nil")
    headers = [f"wrk.headers['Authorization'] = 'Bearer {token}'"]
    if body:
        headers.append("wrk.headers['Content-Type'] = 'application/json'")
    return wrk(url + path, "\n".join(headers) + "\n" + script, seconds, connections)


def graphql_rate(url: str, token: str, job_id: str, seconds: int, connections: int) -> float:
    query = (
        "mutation($r: UUID!, $j: UUID!) { checkIn(input: {runId: $r, jobId: $j, "
        "event: SUCCESS}) { __typename } }"
    )
    lua = f"""
local counter = 0
local prefix = ""
init = function(args) prefix = string.format("%08x", math.random(0, 0x7fffffff)) end
request = function()
  counter = counter + 1
  local rid = string.format("%s-0000-4000-9000-%012x", prefix, counter)
  local body = '{{"query": {json.dumps(query)}, "variables": {{"r": "' .. rid ..
    '", "j": "{job_id}"}}}}'
  return wrk.format("POST", "/graphql", nil, body)
end
"""
    headers = (
        f"wrk.headers['Authorization'] = 'Bearer {token}'\n"
        "wrk.headers['Content-Type'] = 'application/json'\n"
    )
    rate, _ = wrk(url + "/graphql", headers + lua, seconds, connections)
    return rate


def stored_runs(database_url: str) -> int:
    """Finished runs counted in the hourly job counters (each stored run once)."""
    from crontopus.server.db.engine import create_engine
    from crontopus.server.settings import normalise_database_url

    async def count() -> int:
        engine = create_engine(normalise_database_url(database_url))
        try:
            async with engine.connect() as connection:
                query = sqlalchemy.text("select coalesce(sum(runs), 0) from job_health_hourly")
                return int((await connection.execute(query)).scalar_one())
        finally:
            await engine.dispose()

    return asyncio.run(count())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--database-url", help="default: SQLite in a temporary data directory")
    parser.add_argument("--serve", nargs=2, metavar=("DATA_DIR", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], int(args.serve[1]), args.database_url)
        return
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")

    data_dir = tempfile.mkdtemp(prefix="crontopus-bench-")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    database_url = args.database_url or f"sqlite:///{os.path.join(data_dir, 'crontopus.db')}"
    command = [sys.executable, __file__, "--serve", data_dir, str(port)]
    if args.database_url:
        command += ["--database-url", args.database_url]
    child = subprocess.Popen(command)
    try:
        wait_healthy(url)
        client = httpx.Client(base_url=url)
        access = client.post("/graphql", json={
            "query": "mutation($p: String!) { register(username: \"bench\", "
                     "email: \"bench@example.com\", password: $p) "
                     "{ ... on AuthPayload { accessToken } } }",
            "variables": {"p": PASSWORD}}).json()["data"]["register"]["accessToken"]  # fmt: skip
        auth = {"Authorization": f"Bearer {access}"}
        token = client.post("/graphql", headers=auth, json={
            "query": 'mutation { createApiToken(name: "bench", scopes: [CHECKIN]) '
                     "{ ... on CreatedApiToken { plaintext } } }"}).json()["data"][
            "createApiToken"]["plaintext"]  # fmt: skip
        job_id = client.post("/graphql", headers=auth, json={
            "query": 'mutation { createJob(input: {name: "bench", schedule: "* * * * *", '
                     'command: "true"}) { ... on Job { id } } }'}).json()[
            "data"]["createJob"]["id"]  # fmt: skip

        checkins(url, "/bare/", '{"output": "ok"}', token, 2, args.connections)
        bare, _ = checkins(url, "/bare/", '{"output": "ok"}', token, args.seconds, args.connections)
        checkins(url, f"/checkin/{job_id}/0", "ok", token, 2, args.connections)
        before = stored_runs(database_url)
        rate, sent = checkins(
            url, f"/checkin/{job_id}/0", "ok", token, args.seconds, args.connections
        )
        time.sleep(0.5)
        after = stored_runs(database_url)
        gql = graphql_rate(url, token, job_id, args.seconds, args.connections)
    finally:
        child.terminate()
        child.wait()
        shutil.rmtree(data_dir, ignore_errors=True)

    stored = after - before
    print(f"bare Starlette POST+JSON        : {bare:9.0f} requests/s")
    database = "SQLite" if args.database_url is None else "PostgreSQL"
    sqlite = args.database_url is None

    def verdict(met: bool) -> str:
        return ("met" if met else "MISSED") if sqlite else "n/a (the targets are for SQLite)"

    print(f"HTTP check-ins (durable, {database}): {rate:9.0f} check-ins/s   target >= 10000: "
          f"{verdict(rate >= 10_000)}")  # fmt: skip
    print(f"ratio to bare                   : {rate / bare:9.3f}     target >= 0.35: "
          f"{verdict(rate / bare >= 0.35)}")  # fmt: skip
    print(f"GraphQL checkIn                 : {gql:9.0f} check-ins/s")
    print(f"runs stored / answered requests : {stored} / {sent} (stored >= answered: in-flight"
          f" requests at wrk's deadline are stored too)")  # fmt: skip


if __name__ == "__main__":
    main()
