"""The `crontopus-agent` command.

`run-job` is parsed by hand before anything else is imported: the scheduler runs it for every
job, so its start-up cost is the wrapper's overhead (benchmarks/wrapper_overhead.py).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_REFUSED = 3  # `drivers convert`: the driver cannot express the schedule


def main(argv: Sequence[str] | None = None) -> int:
    """Run `crontopus-agent`; return the process exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    fast = _run_job_arguments(args)
    if fast is not None:
        return _run_job(*fast)
    from crontopus.agent.commands import dispatch

    return dispatch(args)


def _run_job_arguments(args: list[str]) -> tuple[str, str | None, bool, bool] | None:
    """Recognise `[--state-dir DIR] run-job UUID [--state-dir DIR] [--gate] [--manual]`."""
    state_dir: str | None = None
    job: str | None = None
    gate = manual = False
    seen_command = False
    rest = list(args)
    while rest:
        word = rest.pop(0)
        if word == "--state-dir" and rest:
            state_dir = rest.pop(0)
        elif word.startswith("--state-dir="):
            state_dir = word.partition("=")[2]
        elif word == "run-job" and not seen_command:
            seen_command = True
        elif word == "--gate" and seen_command:
            gate = True
        elif word == "--manual" and seen_command:
            manual = True
        elif seen_command and job is None and not word.startswith("-"):
            job = word
        else:
            return None
    if not seen_command or job is None:
        return None
    return job, state_dir, gate, manual


def _run_job(job: str, state_dir: str | None, gate: bool = False, manual: bool = False) -> int:
    import uuid

    from crontopus.agent.statedir import StateDir, resolve_state_dir
    from crontopus.agent.wrapper import run_job

    try:
        job_id = uuid.UUID(job)
    except ValueError:
        print(f"crontopus-agent run-job: {job!r} is not a job UUID", file=sys.stderr)
        return EXIT_USAGE
    return run_job(StateDir(resolve_state_dir(state_dir)), job_id, gate=gate, manual=manual)
