"""Reconcile 1,000 jobs with the cron driver on a file-backed crontab: full apply and no-op.

A bare job repository with 1,000 manifests is synced into a fresh state directory (the full
apply: fetch, parse, plan, 1,000 job configs, one crontab write), then synced again with
nothing changed (the no-op every daemon cycle pays: fetch, read the crontab, compare).

    .venv/bin/python benchmarks/reconcile.py [--jobs 1000] [--rounds 5]

Targets: no-op sync at most 0.3 s, full apply at most 3 s (best of the rounds).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pygit2
from results import record

from crontopus.agent.config import AgentConfig
from crontopus.agent.statedir import StateDir
from crontopus.agent.sync import Syncer
from crontopus.drivers.cron.driver import CronDriver

FOREIGN = b"MAILTO=ops@example.com\n# nightly\n5 4 * * * /usr/bin/backup --all\n"
NOOP_TARGET = 0.3
APPLY_TARGET = 3.0


def build_repository(path: Path, jobs: int) -> None:
    """Write `jobs` manifests over 10 namespaces into one commit on main."""
    repo = pygit2.init_repository(str(path), bare=True)
    root = repo.TreeBuilder()
    for n in range(10):
        namespace = f"team-{n}"
        tree = repo.TreeBuilder()
        for i in range(n, jobs, 10):
            name = f"job-{i:05d}"
            text = (
                "apiVersion: crontopus.io/v1\nkind: Job\nmetadata:\n"
                f"  id: {uuid.uuid4()}\n  name: {name}\n  namespace: {namespace}\n"
                f'spec:\n  schedule: "{i % 60} {i % 24} * * *"\n'
                f"  command: /opt/jobs/{name}.sh --verbose\n  timeout: 600\n"
            )
            tree.insert(f"{name}.yaml", repo.create_blob(text.encode()), pygit2.GIT_FILEMODE_BLOB)
        root.insert(namespace, tree.write(), pygit2.GIT_FILEMODE_TREE)
    signature = pygit2.Signature("bench", "bench@example.com")
    repo.create_commit("refs/heads/main", signature, signature, "jobs", root.write(), [])


def one_round(base: Path, repository: Path, jobs: int) -> tuple[float, float]:
    """Return (full apply seconds, no-op seconds) for a fresh state dir and crontab."""
    crontab = base / "crontab"
    crontab.write_bytes(FOREIGN)
    state = StateDir(base / "state")
    state.create()
    state.write_token("cte_benchmark")
    options = {"crontab_file": str(crontab), "machine_zone": "UTC", "cron_tz": "no"}
    config = AgentConfig(
        driver="cron",
        driver_options=options,
        repository_url=repository.as_uri(),
        wrapper="/usr/local/bin/crontopus-agent",
    )
    syncer = Syncer(state, config, CronDriver.from_options(options))
    started = time.perf_counter()
    outcome = syncer.sync()
    applied = time.perf_counter() - started
    assert outcome.plan is not None
    assert len(outcome.plan.add) == jobs, outcome.plan.lines()[-1]
    started = time.perf_counter()
    again = syncer.sync()
    noop = time.perf_counter() - started
    assert again.skipped, "the second sync was expected to change nothing"
    assert crontab.read_bytes().startswith(FOREIGN)
    return applied, noop


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="crontopus-reconcile-") as temp:
        repository = Path(temp) / "jobs.git"
        build_repository(repository, args.jobs)
        results = []
        for n in range(args.rounds):
            base = Path(temp) / f"round-{n}"
            base.mkdir()
            results.append(one_round(base, repository, args.jobs))
    applies = [a for a, _ in results]
    noops = [b for _, b in results]
    print(f"jobs: {args.jobs}, rounds: {args.rounds}")
    print(
        f"full apply: best {min(applies):.3f} s, median {statistics.median(applies):.3f} s"
        f" (target <= {APPLY_TARGET} s)"
    )
    print(
        f"no-op sync: best {min(noops):.3f} s, median {statistics.median(noops):.3f} s"
        f" (target <= {NOOP_TARGET} s)"
    )
    ok = min(applies) <= APPLY_TARGET and min(noops) <= NOOP_TARGET
    print("PASS" if ok else "FAIL")
    record(
        "reconcile.py",
        f"{args.jobs:,} jobs through the cron driver",
        f"full <= {APPLY_TARGET} s, no-op <= {NOOP_TARGET} s",
        f"full {min(applies):.2f} to {statistics.median(applies):.2f} s, "
        f"no-op {min(noops):.3f} to {statistics.median(noops):.3f} s (best to median)",
        ok,
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
