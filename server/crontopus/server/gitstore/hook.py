"""The pre-receive hook of managed repositories: `python -m crontopus.server.gitstore.hook`.

`git receive-pack` runs it after the pushed objects arrived in a quarantine
directory and before any ref moves. It validates each ref update with
`validate_ref_update`; on any problem it prints them (git relays the lines to
the pusher as `remote: …`) and exits non-zero, so nothing is accepted. A push without
problems may still get warnings (a secret-looking variable with its value in the manifest):
they are printed the same way, and the push is accepted.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import TextIO

import pygit2

from crontopus.core.manifest import Problem

from .layout import BRANCH_REF
from .validation import JOB_QUOTA_VARIABLE, ZERO_ID, push_warnings, validate_ref_update


def check_push(
    git_dir: str, commands: Iterable[str], quarantine: str | None, max_jobs: int | None = None
) -> list[Problem]:
    """Validate the `old new ref` lines git feeds a pre-receive hook."""
    repo = pygit2.Repository(git_dir)
    if quarantine:
        # The pushed objects are not in the repository proper until the hook says yes.
        repo.odb.add_disk_alternate(quarantine)
    problems: list[Problem] = []
    for line in commands:
        fields = line.split()
        if len(fields) == 3:
            old, new, ref = fields
            problems.extend(validate_ref_update(repo, ref, old, new, max_jobs))
    return problems


def check_warnings(git_dir: str, commands: Iterable[str], quarantine: str | None) -> list[Problem]:
    """Return the warnings of the accepted `old new ref` lines of a push."""
    repo = pygit2.Repository(git_dir)
    if quarantine:
        repo.odb.add_disk_alternate(quarantine)
    warnings: list[Problem] = []
    for line in commands:
        fields = line.split()
        if len(fields) == 3 and fields[2] == BRANCH_REF and fields[1] != ZERO_ID:
            old, new = fields[0], fields[1]
            warnings.extend(push_warnings(repo, None if old == ZERO_ID else old, new))
    return warnings


def report_warnings(warnings: list[Problem], out: TextIO) -> None:
    """Print the warnings of an accepted push."""
    out.write(f"Crontopus accepted this push with {len(warnings)} warning(s):\n")
    for warning in warnings:
        out.write(f"  warning: {warning}\n")


def report(problems: list[Problem], out: TextIO) -> None:
    """Print a refusal the way a person reading `git push` output needs it."""
    out.write(f"Crontopus refused this push ({len(problems)} problem(s)):\n")
    for problem in problems:
        out.write(f"  {problem}\n")
    out.write("Fix the files above, commit, and push again.\n")


def main() -> int:
    """Run as git's pre-receive hook; return the exit status."""
    git_dir = os.environ.get("GIT_DIR", ".")
    try:
        # The server sets the quota for the git process it starts (gitstore/http.py).
        quota = os.environ.get(JOB_QUOTA_VARIABLE)
        max_jobs = int(quota) if quota else None
        commands = list(sys.stdin)
        quarantine = os.environ.get("GIT_QUARANTINE_PATH")
        problems = check_push(git_dir, commands, quarantine, max_jobs)
    except Exception as error:  # a crash must refuse the push, never let it through
        sys.stderr.write(f"Crontopus could not check this push: {error!r}\n")
        return 1
    if problems:
        report(problems, sys.stderr)
        return 1
    try:
        warnings = check_warnings(git_dir, commands, quarantine)
    except Exception as error:  # warnings are advice: they never refuse a valid push
        sys.stderr.write(f"Crontopus could not look for warnings: {error!r}\n")
        return 0
    if warnings:
        report_warnings(warnings, sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
