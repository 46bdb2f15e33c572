"""Run every benchmark and print one table of their results (`make bench`).

    .venv/bin/python benchmarks/run.py [--only NAME…] [--write-readme]

Each script runs in a process of its own, one after another, prints its own figures, and ends
with one `RESULT` line (benchmarks/results.py); this script collects those lines into a
Markdown table, headed by the date and the machine's load average before and after the run,
since a busy machine lowers every figure. `--write-readme` also replaces the table in
benchmarks/README.md, so the figures there are always a table this command printed; with
`--only`, it replaces only those benchmarks' rows and adds a line saying when and under what
load they were measured again.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from results import PREFIX

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
README = HERE / "README.md"
BEGIN = "<!-- make bench: the table below is written by benchmarks/run.py --write-readme -->"
END = "<!-- end of the make bench table -->"


@dataclass(frozen=True)
class Benchmark:
    """One script and the arguments `make bench` runs it with."""

    name: str
    command: tuple[str, ...]
    needs: tuple[str, ...] = ()


PYTHON = sys.executable
# The live-runs target of subscriptions.py: 1,000 subscribers, 1,000 check-ins/s for 30 s.
LIVE_RUNS = (
    "--subscription", "runEvents", "--trigger", "checkin", "--driver", "wrk",
    "--subscribers", "1000", "--rate", "1000", "--seconds", "30", "--drain", "30",
)  # fmt: skip
BENCHMARKS = (
    Benchmark("graphql_overhead", (PYTHON, "graphql_overhead.py"), ("wrk",)),
    Benchmark("checkin_ingest", (PYTHON, "checkin_ingest.py"), ("wrk",)),
    Benchmark("subscriptions", (PYTHON, "subscriptions.py", *LIVE_RUNS), ("wrk",)),
    # Short by default; the 1,000 and 10,000-agent figures in README.md are separate runs.
    Benchmark("fleet", (PYTHON, "fleet.py", "--agents", "300", "--idle", "10", "--changes", "3")),
    Benchmark("health_rollups", (PYTHON, "health_rollups.py")),
    Benchmark("jobs_read", (PYTHON, "jobs_read.py")),
    Benchmark("reconcile", (PYTHON, "reconcile.py")),
    Benchmark("wrapper_overhead", (PYTHON, "wrapper_overhead.py", "--real-server")),
    Benchmark("cli_startup", (PYTHON, "cli_startup.py")),
    Benchmark("missed_runs", (PYTHON, "missed_runs.py")),
    Benchmark("convert", (PYTHON, "convert.py")),
    Benchmark("login_flood", (PYTHON, "login_flood.py")),
    Benchmark("gate", (PYTHON, "gate.py")),
    Benchmark("web_bundle", ("node", "web_bundle.mjs"), ("node", str(ROOT / "web/dist"))),
)


def missing(benchmark: Benchmark) -> str | None:
    """Say what a benchmark needs that this machine lacks (None when it can run)."""
    for need in benchmark.needs:
        if "/" in need:
            if not Path(need).exists():
                return f"{need} is missing (make web)"
        elif shutil.which(need) is None:
            return f"{need} is not installed"
    return None


def run(benchmark: Benchmark) -> list[dict[str, object]]:
    """Run one benchmark, echoing its output; return its RESULT lines."""
    print(f"\n## {benchmark.name}: {' '.join(benchmark.command[1:])}", flush=True)
    process = subprocess.Popen(
        benchmark.command, cwd=HERE, stdout=subprocess.PIPE, text=True, bufsize=1
    )
    assert process.stdout is not None
    found = []
    for line in process.stdout:
        if line.startswith(PREFIX):
            found.append(json.loads(line.removeprefix(PREFIX)))
        else:
            print(line, end="", flush=True)
    code = process.wait()
    if not found:
        found.append(
            {"script": benchmark.command[1], "what": "—", "target": "—",
             "measured": f"no result (exit code {code})", "met": False}
        )  # fmt: skip
    return found


def verdict(met: object) -> str:
    if met is None:
        return "—"
    return "met" if met else "**missed**"


def table(results: list[dict[str, object]], began: datetime, loads: tuple[str, str]) -> str:
    """Return the results as a Markdown table under a line saying when and how busy."""
    lines = [
        f"Measured {began:%Y-%m-%d %H:%M} UTC by `make bench` on {os.cpu_count()} cores; "
        f"load average (1, 5, 15 min) {loads[0]} before and {loads[1]} after.",
        "",
        "| script | what it measures | target | measured | |",
        "|---|---|---|---|---|",
    ]
    for result in results:
        lines.append(
            f"| `{result['script']}` | {result['what']} | {result['target']} | "
            f"{result['measured']} | {verdict(result['met'])} |"
        )
    return "\n".join(lines) + "\n"


def load_average() -> str:
    return ", ".join(f"{value:.1f}" for value in os.getloadavg())


def write_readme(text: str) -> None:
    """Replace the table between the markers in benchmarks/README.md."""
    readme = README.read_text(encoding="utf-8")
    start, end = readme.index(BEGIN) + len(BEGIN), readme.index(END)
    README.write_text(readme[:start] + "\n\n" + text + "\n" + readme[end:], encoding="utf-8")


def merge_rows(current: str, fresh: str) -> str:
    """The table `current` with the rows of `fresh` in place of those of the same scripts, and
    a line under its heading saying when and at what load `fresh` was measured."""
    fresh_lines = fresh.strip().splitlines()
    rows = {_script(line): line for line in fresh_lines if line.startswith("| `")}
    scripts = ", ".join(f"`{name}`" for name in rows)
    when = (
        fresh_lines[0]
        .removeprefix("Measured ")
        .replace("by `make bench`", "by `make bench --only`")
    )
    note = f"The rows of {scripts} were measured again {when}"
    lines = []
    for line in current.strip().splitlines():
        if line.startswith("| `") and _script(line) in rows:
            line = rows.pop(_script(line))
        elif line.startswith("| script"):
            lines.extend([note, ""])
        lines.append(line)
    lines.extend(rows.values())  # benchmarks new since the last full run
    return "\n".join(lines) + "\n"


def _script(row: str) -> str:
    return row.split("`")[1]


def current_table() -> str:
    readme = README.read_text(encoding="utf-8")
    return readme[readme.index(BEGIN) + len(BEGIN) : readme.index(END)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these benchmarks")
    parser.add_argument("--write-readme", action="store_true", help="update benchmarks/README.md")
    args = parser.parse_args()
    chosen = [b for b in BENCHMARKS if not args.only or b.name in args.only]
    began, before = datetime.now(UTC), load_average()
    started = time.monotonic()
    results: list[dict[str, object]] = []
    for benchmark in chosen:
        reason = missing(benchmark)
        if reason is not None:
            print(f"\n## {benchmark.name}: skipped, {reason}")
            results.append(
                {"script": benchmark.command[1], "what": "—", "target": "—",
                 "measured": f"skipped: {reason}", "met": None}
            )  # fmt: skip
            continue
        results.extend(run(benchmark))
    text = table(results, began, (before, load_average()))
    print(f"\n# All benchmarks ({time.monotonic() - started:.0f} s)\n\n{text}")
    if args.write_readme:
        write_readme(merge_rows(current_table(), text) if args.only else text)
        print(f"wrote the table into {README.relative_to(ROOT)}")
    return 0 if all(r["met"] is not False for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
