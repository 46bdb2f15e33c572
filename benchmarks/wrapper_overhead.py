"""Wall time the run wrapper adds: `crontopus-agent run-job UUID` around `true` against `true`.

Three cases: check-ins answered at once by a local HTTP stub (the wrapper's own cost plus two
loopback requests), the server unreachable (connection refused: both check-ins are spooled,
fsync included), and optionally a real server (`--server URL --token TOKEN`).

    .venv/bin/python benchmarks/wrapper_overhead.py [--runs 30] [--server URL --token TOKEN]

Target: at most 120 ms added (median) in every case.
"""

from __future__ import annotations

import argparse
import http.server
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--server", help="a running crontopus-server to report to")
    parser.add_argument("--token", help="an endpoint or CHECKIN-scoped API token for --server")
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
    if args.server and args.token:
        cases["real server"] = (args.server, args.token)
    print(f"`true` alone: median {baseline:.1f} ms over {args.runs} runs")
    ok = True
    with tempfile.TemporaryDirectory(prefix="crontopus-wrapper-") as temp:
        for n, (label, (server, token)) in enumerate(cases.items()):
            times = wrapper_times(Path(temp) / str(n), server, token, args.runs)
            added = statistics.median(times) - baseline
            worst = max(times) - baseline
            ok = ok and added <= TARGET_MS
            print(
                f"{label}: median {statistics.median(times):.1f} ms, added {added:.1f} ms"
                f" (worst {worst:.1f} ms; target <= {TARGET_MS:.0f} ms)"
            )
    stub.shutdown()
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
