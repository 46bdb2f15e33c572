"""Startup time of `crontopus --help`, against a bare `python -c pass`.

Both run as fresh processes of the virtualenv's interpreter, alternating so disk caches and CPU
frequency treat them alike; the figure is the difference of the medians. The CLI keeps gql,
httpx, websockets and crontopus.core out of the parser's import path (handlers are imported by
name when their command runs), and the script also reports which of them `--help` imported.

    .venv/bin/python benchmarks/cli_startup.py [--runs 30] [--budget 0.35]

Target: at most 0.35 s added by `crontopus --help` (exit 1 when over budget).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from results import record

COMMAND = Path(sys.executable).parent / "crontopus"
HEAVY = ("gql", "httpx", "websockets", "graphql", "yaml", "cronsim", "crontopus.core")
# Print the heavy modules `--help` imported, from inside a real run of the entry point.
PROBE = """
import sys
from crontopus.cli.main import main
code = main(["--help"], stdout=open("/dev/null", "w"))
heavy = {heavy}
found = [m for m in sys.modules if m.split(".")[0] in heavy or m.startswith("crontopus.core")]
print(",".join(sorted(found)))
"""


def elapsed(command: list[str]) -> float:
    """Return the wall time of one run of `command`."""
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def measure(runs: int) -> tuple[float, float]:
    """Return the median seconds of `python -c pass` and of `crontopus --help`."""
    bare: list[float] = []
    cli: list[float] = []
    for _ in range(2):  # warm the file cache first
        elapsed([sys.executable, "-c", "pass"])
        elapsed([str(COMMAND), "--help"])
    for _ in range(runs):
        bare.append(elapsed([sys.executable, "-c", "pass"]))
        cli.append(elapsed([str(COMMAND), "--help"]))
    return statistics.median(bare), statistics.median(cli)


def heavy_imports() -> list[str]:
    """Return the heavy modules that `crontopus --help` imports (should be none)."""
    names = {name.split(".")[0] for name in HEAVY if "." not in name}
    probe = PROBE.replace("{heavy}", repr(names))
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return [name for name in done.stdout.strip().split(",") if name]


def main() -> int:
    """Measure, print a summary and exit 1 when over budget."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--budget", type=float, default=0.35, help="seconds added at most")
    options = parser.parse_args()
    bare, cli = measure(options.runs)
    added = cli - bare
    heavy = heavy_imports()
    print(f"python -c pass   median {bare * 1000:7.1f} ms ({options.runs} runs)")
    print(f"crontopus --help median {cli * 1000:7.1f} ms")
    print(f"added            {added * 1000:7.1f} ms (budget {options.budget * 1000:.0f} ms)")
    print(f"heavy modules imported by --help: {', '.join(heavy) or 'none'}")
    record(
        "cli_startup.py",
        "`crontopus --help` start-up over `python -c pass`",
        f"<= {options.budget * 1000:.0f} ms added",
        f"{added * 1000:.0f} ms added; heavy imports: {', '.join(heavy) or 'none'}",
        added <= options.budget and not heavy,
    )
    return 0 if added <= options.budget and not heavy else 1


if __name__ == "__main__":
    sys.exit(main())
