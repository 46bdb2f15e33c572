"""Durable HTTP check-ins per second, against a bare Starlette app in a process of its own.

The baseline is a bare Starlette app that parses a JSON body and answers, served alone by a
uvicorn process with the options `crontopus-server serve` uses (`loopback.bare_process`).
Then one uvicorn process serves Crontopus (SQLite, the default) plus the same bare route
behind Crontopus' mount and middleware (the second, in-process line). `wrk` drives each from
its own process over loopback with the same settings, each request carrying a fresh run UUID
(a Lua script), so every check-in stores a new run. Every 2xx answer means the run was
committed (group commit), and the script checks the stored count against wrk's request count.

Both servers stay up for the whole run, and the three measurements (bare process, in-process
route, check-ins) alternate for `--rounds` rounds, so that a load that comes and goes weighs on
the baseline and on Crontopus alike. Each ratio reported is the median of its rounds; the rates
and CPU times are those of the median round by the ratio to the bare process; every round is
printed.

    .venv/bin/python benchmarks/checkin_ingest.py [--seconds 10] [--connections 64]
        [--rounds 3] [--database-url postgresql://…]

Targets: at least 10,000 check-ins/s on SQLite and at least 0.35 of the bare process.
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
from dataclasses import dataclass
from typing import Any

import httpx
import sqlalchemy
from loopback import bare_process, cpu_seconds, free_port, run_server, wait_healthy, wrk
from results import record

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
    """Child process: Crontopus (with a bare JSON route in its router), under uvicorn."""
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from crontopus.server.app import create_app
    from crontopus.server.db.migrate import upgrade
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

    app = create_app(settings)
    # The second, in-process line: the bare route inside Crontopus' own router, behind its
    # middleware. The app is otherwise served exactly as `crontopus-server serve` serves it
    # (no wrapper around it), so check-ins take the production path.
    app.router.routes.insert(0, Route("/bare/", bare, methods=["POST"]))
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


@dataclass
class Round:
    """One round's figures: each rate measured right after the others, so they share a load."""

    bare: float
    bare_cpu: float
    inside: float
    rate: float
    checkin_cpu: float
    sent: int

    @property
    def ratio(self) -> float:
        return self.rate / self.bare


def measure(
    bare_url: str, bare_pid: int, url: str, pid: int, path: str, token: str, args: Any
) -> Round:
    used = cpu_seconds(bare_pid)
    bare, answered = checkins(bare_url, "/", '{"output": "ok"}', "unused", args.seconds,
                              args.connections)  # fmt: skip
    bare_cpu = (cpu_seconds(bare_pid) - used) / answered
    inside, _ = checkins(url, "/bare/", '{"output": "ok"}', token, args.seconds, args.connections)
    used = cpu_seconds(pid)
    rate, sent = checkins(url, path, "ok", token, args.seconds, args.connections)
    return Round(bare, bare_cpu, inside, rate, (cpu_seconds(pid) - used) / sent, sent)


def provision(url: str) -> tuple[str, str]:
    """Register, make a CHECKIN token and a job; return the token and the job's id."""
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
    return str(token), str(job_id)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds of bare, in-process and check-in runs"
    )
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
    rounds: list[Round] = []
    with bare_process() as served:
        child = subprocess.Popen(command)
        try:
            wait_healthy(url)
            token, job_id = provision(url)
            path = f"/checkin/{job_id}/0"

            # Warm every path once, then alternate: a load that comes and goes during the run
            # then weighs on the baseline and on Crontopus alike, round after round.
            checkins(served.url, "/", '{"output": "ok"}', "unused", 2, args.connections)
            checkins(url, "/bare/", '{"output": "ok"}', token, 2, args.connections)
            checkins(url, path, "ok", token, 2, args.connections)
            before = stored_runs(database_url)
            for _ in range(args.rounds):
                rounds.append(measure(served.url, served.pid, url, child.pid, path, token, args))
            time.sleep(0.5)
            after = stored_runs(database_url)
            gql = graphql_rate(url, token, job_id, args.seconds, args.connections)
        finally:
            child.terminate()
            child.wait()
            shutil.rmtree(data_dir, ignore_errors=True)

    # The median round by the ratio to the bare process gives the rates and CPU times shown;
    # each ratio is the median of its own per-round values (the lower middle of an even count).
    def median(values: list[float]) -> float:
        return sorted(values)[(len(values) - 1) // 2]

    middle = sorted(rounds, key=lambda r: r.ratio)[(len(rounds) - 1) // 2]
    bare, inside, rate = middle.bare, middle.inside, middle.rate
    bare_cpu, checkin_cpu = middle.bare_cpu, middle.checkin_cpu
    to_bare = median([r.ratio for r in rounds])
    to_inside = median([r.rate / r.inside for r in rounds])
    sent = sum(r.sent for r in rounds)
    stored = after - before
    for number, r in enumerate(rounds, 1):
        print(f"round {number}: bare {r.bare:7.0f}/s, in-process route {r.inside:7.0f}/s, "
              f"check-ins {r.rate:7.0f}/s, ratio {r.ratio:.3f} to bare, "
              f"{r.rate / r.inside:.3f} to the in-process route")  # fmt: skip
    print(f"the median round (of {len(rounds)}, by the ratio to the bare process):")
    print(f"bare Starlette, own process     : {bare:9.0f} requests/s   (the baseline)")
    print(f"bare route inside Crontopus     : {inside:9.0f} requests/s   (same process, mount and "
          "middleware)")  # fmt: skip
    database = "SQLite" if args.database_url is None else "PostgreSQL"
    sqlite = args.database_url is None

    def verdict(met: bool) -> str:
        return ("met" if met else "MISSED") if sqlite else "n/a (the targets are for SQLite)"

    print(f"HTTP check-ins (durable, {database}): {rate:9.0f} check-ins/s   target >= 10000: "
          f"{verdict(rate >= 10_000)}")  # fmt: skip
    print(f"ratio to the bare process       : {to_bare:9.3f}     target >= 0.35: "
          f"{verdict(to_bare >= 0.35)}   (median of the rounds)")  # fmt: skip
    print(f"ratio to the in-process route   : {to_inside:9.3f}     (median of the rounds)")
    # CPU time per answer depends far less on what else runs on the machine than rates do.
    print(f"server CPU per request          : bare {bare_cpu * 1e6:.0f} µs, check-in "
          f"{checkin_cpu * 1e6:.0f} µs (ratio {bare_cpu / checkin_cpu:.3f})")  # fmt: skip
    print(f"GraphQL checkIn                 : {gql:9.0f} check-ins/s")
    print(f"runs stored / answered requests : {stored} / {sent} (stored >= answered: in-flight"
          f" requests at wrk's deadline are stored too)")  # fmt: skip
    name = "checkin_ingest.py" + ("" if sqlite else " --database-url postgresql://…")
    record(
        name,
        f"durable HTTP check-ins on {database} ({args.connections} connections)",
        ">= 10,000/s and >= 0.35 of bare" if sqlite else "(the targets are SQLite's)",
        f"{rate:,.0f}/s, {to_bare:.3f} of bare ({bare:,.0f}/s; in-process route "
        f"{inside:,.0f}/s, {to_inside:.3f}); CPU a request {checkin_cpu * 1e6:.0f} µs vs bare "
        f"{bare_cpu * 1e6:.0f} µs ({bare_cpu / checkin_cpu:.3f}); median of {len(rounds)} "
        f"rounds; GraphQL checkIn {gql:,.0f}/s",
        (rate >= 10_000 and to_bare >= 0.35) if sqlite else None,
    )


if __name__ == "__main__":
    main()
