"""Wall time the run wrapper adds: `crontopus-agent run-job UUID` around `true` against `true`.

Three cases: check-ins answered at once by a local HTTP stub (the wrapper's own cost plus two
loopback requests), the server unreachable (connection refused: both check-ins are spooled,
fsync included), and a real server: `--real-server` starts crontopus-server on SQLite in a temp
directory, or `--server URL --token TOKEN` names a running one.

    .venv/bin/python benchmarks/wrapper_overhead.py [--runs 30] [--real-server]

Target: at most 120 ms added (median) in every case.
"""

from __future__ import annotations

import argparse
import http.server
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from results import record

from crontopus.agent.jobfiles import JobConfig, write_job_config
from crontopus.agent.statedir import StateDir

TARGET_MS = 120.0
AGENT = str(Path(sys.executable).parent / "crontopus-agent")


class _Stub(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def timed(argv: list[str], runs: int) -> list[float]:
    """Return the wall time of each run of `argv`, in milliseconds."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
        times.append((time.perf_counter() - started) * 1000)
    return times


def wrapper_times(base: Path, server: str, token: str, runs: int) -> list[float]:
    state = StateDir(base)
    state.create()
    state.write_token(token)
    job_id = uuid.uuid4()
    write_job_config(state, JobConfig(str(job_id), "bench", "default", "true", server=server))
    argv = [AGENT, "run-job", str(job_id), "--state-dir", str(state.root)]
    timed(argv, 3)  # warm the page cache
    return timed(argv, runs)


def start_real_server(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start crontopus-server on SQLite in `data_dir`; return the process and its URL."""
    import httpx

    port = closed_port()
    url = f"http://127.0.0.1:{port}"
    command = [str(Path(sys.executable).parent / "crontopus-server"), "--log-level", "warning"]
    command += ["serve", "--migrate", "--host", "127.0.0.1", "--port", str(port)]
    env = {**os.environ, "CRONTOPUS_DATA_DIR": str(data_dir)}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                process.wait()
                raise RuntimeError("crontopus-server did not start") from None
            time.sleep(0.2)


def checkin_token(url: str) -> str:
    """Register a user on a fresh server and return a CHECKIN-scoped API token."""
    import httpx

    def graphql(query: str, variables: dict[str, object], token: str = "") -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        body = {"query": query, "variables": variables}
        answer: dict[str, Any] = httpx.post(f"{url}/graphql", json=body, headers=headers).json()
        data = answer.get("data") or {}
        result: dict[str, Any] = next(iter(data.values()), {}) or {}
        if "errors" in answer or len(result) != 1:
            raise RuntimeError(f"crontopus-server refused the benchmark's setup: {answer}")
        return result

    access = graphql(
        "mutation($u: String!, $e: String!, $p: String!) { register(username: $u, email: $e,"
        " password: $p) { ... on AuthPayload { accessToken } ... on UserError { message } } }",
        {"u": "bench", "e": "bench@example.com", "p": "correct horse battery staple"},
    )["accessToken"]
    token: str = graphql(
        'mutation { createApiToken(name: "bench", scopes: [CHECKIN]) {'
        " ... on CreatedApiToken { plaintext } ... on UserError { message } } }",
        {},
        access,
    )["plaintext"]
    return token


def measure(
    cases: dict[str, tuple[str, str]], base: Path, runs: int, baseline: float
) -> tuple[bool, list[str]]:
    """Print each case's added time; return whether all are within the target, and figures."""
    ok = True
    figures = []
    for n, (label, (server, token)) in enumerate(cases.items()):
        times = wrapper_times(base / str(n), server, token, runs)
        added = statistics.median(times) - baseline
        worst = max(times) - baseline
        ok = ok and added <= TARGET_MS
        figures.append(f"{added:.1f} ms ({label})")
        print(
            f"{label}: median {statistics.median(times):.1f} ms, added {added:.1f} ms"
            f" (worst {worst:.1f} ms; target <= {TARGET_MS:.0f} ms)"
        )
    return ok, figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--server", help="a running crontopus-server to report to")
    parser.add_argument("--token", help="an endpoint or CHECKIN-scoped API token for --server")
    parser.add_argument(
        "--real-server", action="store_true", help="start a crontopus-server to report to"
    )
    args = parser.parse_args()

    true = "/bin/true"
    timed([true], 3)
    baseline = statistics.median(timed([true], args.runs))
    stub = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    threading.Thread(target=stub.serve_forever, daemon=True).start()
    cases = {
        "server answering (stub)": (f"http://127.0.0.1:{stub.server_address[1]}", "cte_bench"),
        "server unreachable (spooled)": (f"http://127.0.0.1:{closed_port()}", "cte_bench"),
    }
    print(f"`true` alone: median {baseline:.1f} ms over {args.runs} runs")
    ok, figures = True, list[str]()
    with tempfile.TemporaryDirectory(prefix="crontopus-wrapper-") as temp:
        server_process = None
        if args.real_server:
            server_process, url = start_real_server(Path(temp) / "server")
        try:
            if server_process is not None:
                cases["real server (SQLite)"] = (url, checkin_token(url))
            elif args.server and args.token:
                cases["real server"] = (args.server, args.token)
            ok, figures = measure(cases, Path(temp), args.runs, baseline)
        finally:
            if server_process is not None:
                server_process.terminate()
                server_process.wait(timeout=15)
    stub.shutdown()
    print("PASS" if ok else "FAIL")
    record(
        "wrapper_overhead.py",
        "time the run wrapper adds to `true`",
        f"<= {TARGET_MS:.0f} ms",
        ", ".join(figures),
        ok,
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
