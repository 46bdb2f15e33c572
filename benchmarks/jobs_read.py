"""Reading the jobs of a 5,000-manifest repository: the Git store against pygit2 alone.

Builds a managed repository holding 5,000 manifests in 10 namespaces, then times:

- raw:   pygit2 alone walking HEAD's tree and reading every blob (the floor);
- cold:  the first `snapshot()` of a fresh store (read and validate every manifest);
- warm:  a repeated `snapshot()` at the same HEAD plus listing its jobs (the cache);
- next:  the snapshot of a commit that changed one file (unchanged blobs are not re-parsed);
- push:  the pre-receive validation of that one-file commit (what a `git push` waits for).

    .venv/bin/python benchmarks/jobs_read.py [--jobs 5000] [--repeat 20]

Target: warm at most 2x raw.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import pygit2
from results import record

from crontopus.server.gitstore import Author, ManagedGitStore, Put, validate_push

TENANT = "bench"
AUTHOR = Author("Benchmark", "bench@example.com")


def manifest(name: str, namespace: str, job_id: uuid.UUID, minute: int) -> str:
    """Return a realistic manifest (labels, env, args, targets)."""
    return (
        "apiVersion: crontopus.io/v1\n"
        "kind: Job\n"
        "metadata:\n"
        f"  id: {job_id}\n"
        f"  name: {name}\n"
        f"  namespace: {namespace}\n"
        "  labels: {team: platform, tier: batch}\n"
        "spec:\n"
        f'  schedule: "{minute} */2 * * *"\n'
        "  timezone: Europe/Berlin\n"
        f"  command: /opt/scripts/{name}.sh\n"
        '  args: ["--full", "--quiet"]\n'
        "  env: {PGHOST: db1, RETRIES: '3'}\n"
        "  timeout: 3600\n"
        "  graceTime: 300\n"
        "  concurrency: forbid\n"
        "  targets: {labels: {role: db}}\n"
    )


def raw_read(path: Path) -> int:
    """Read every blob of HEAD with pygit2 alone; return the bytes read."""
    repo = pygit2.Repository(str(path))
    commit = repo[repo.references["refs/heads/main"].target].peel(pygit2.Commit)
    total = 0
    for entry in commit.tree:
        if isinstance(entry, pygit2.Tree):
            for child in entry:
                if isinstance(child, pygit2.Blob):
                    total += len(child.data)
    return total


async def best(runs: int, action: Callable[[], Awaitable[object]]) -> float:
    """Return the median seconds of `runs` awaits of `action`."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        await action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


async def main(jobs: int, repeat: int) -> None:
    """Build the repository, time each way of reading it and print the figures."""
    with tempfile.TemporaryDirectory(prefix="crontopus-bench-") as tmp:
        root = Path(tmp) / "git"
        writer = ManagedGitStore(root)
        await writer.ensure_repository(TENANT)
        changes = [
            Put(
                f"ns-{n % 10}/job-{n}.yaml",
                manifest(f"job-{n}", f"ns-{n % 10}", uuid.uuid4(), n % 60),
            )
            for n in range(jobs)
        ]
        start = time.perf_counter()
        await writer.commit_changes(TENANT, changes, AUTHOR, f"bench: {jobs} jobs")
        build = time.perf_counter() - start
        path = writer.repo_path(TENANT)

        async def raw() -> int:
            return await asyncio.to_thread(raw_read, path)

        raw_s = await best(repeat, raw)

        cold_times = []
        store = writer
        for _ in range(3):
            store = ManagedGitStore(root)
            start = time.perf_counter()
            snap = await store.snapshot(TENANT)
            cold_times.append(time.perf_counter() - start)
        cold_s = statistics.median(cold_times)
        assert len(snap.jobs) == jobs, snap.problems[:3]

        async def warm() -> int:
            current = await store.snapshot(TENANT)
            return len(list(current.jobs_in("ns-3")) + list(current.jobs.values()))

        warm_s = await best(repeat * 10, warm)

        first = next(iter(snap.jobs.values()))
        edited = first.text.replace("--quiet", "--verbose")
        await store.commit_changes(
            TENANT, [Put(first.path, edited, first.blob_id)], AUTHOR, "bench: one edit"
        )
        start = time.perf_counter()
        latest = await store.snapshot(TENANT)
        next_s = time.perf_counter() - start

        repo = pygit2.Repository(str(path))
        parent = str(repo[latest.commit_id or ""].peel(pygit2.Commit).parent_ids[0])
        start = time.perf_counter()
        problems = validate_push(repo, parent, latest.commit_id or "")
        push_s = time.perf_counter() - start
        assert problems == [], problems

    print(f"jobs                     {jobs}")
    print(f"commit of all jobs       {build * 1000:9.1f} ms")
    print(f"raw pygit2 blob read     {raw_s * 1000:9.1f} ms")
    print(f"cold snapshot (parse)    {cold_s * 1000:9.1f} ms   {cold_s / raw_s:7.1f}x raw")
    print(f"warm snapshot (cached)   {warm_s * 1000:9.3f} ms   {warm_s / raw_s:7.3f}x raw")
    print(f"after a one-file commit  {next_s * 1000:9.1f} ms   {next_s / raw_s:7.1f}x raw")
    print(f"push check of that commit{push_s * 1000:9.1f} ms   {push_s / raw_s:7.1f}x raw")
    verdict = "met" if warm_s <= 2 * raw_s else "MISSED"
    print(f"target warm <= 2x raw:   {verdict}")
    record(
        "jobs_read.py",
        f"reading {jobs:,} manifests",
        "warm <= 2x raw pygit2",
        f"warm {warm_s * 1000:.2f} ms vs raw {raw_s * 1000:.1f} ms; cold {cold_s * 1000:.0f} ms; "
        f"push check {push_s * 1000:.0f} ms",
        warm_s <= 2 * raw_s,
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=20)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.jobs, arguments.repeat))
